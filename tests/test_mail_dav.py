"""/mail/<id>/ over WebDAV: a mail and its attachments seen from each other."""

from __future__ import annotations

from pathlib import Path

from paperfs.config import DateConfig, OcrConfig
from paperfs.consume.jobs import WorkQueue
from paperfs.consume.messages import PrepareTask
from paperfs.consume.pipeline import prepare
from tests.dav_support import running
from tests.mail_samples import make_mail, write_mail


def test_a_mail_and_its_attachments_in_one_folder(tmp_path: Path):
    eml = write_mail(tmp_path / "order.eml", make_mail("Order 77", attachments=[
        ("terms.txt", b"Terms of sale\n", "text/plain"),
        ("delivery.txt", b"Delivery note 77\n", "text/plain")]))
    filed = []

    def file_mail(archive):
        queue = WorkQueue(archive.root.work)
        job = queue.claim(eml, source=str(eml), copy=True)
        task = PrepareTask.for_job(job, ocr=OcrConfig(), dates=DateConfig())
        _, docs = archive.commit(job, prepare(task))
        queue.finish(job)
        filed.extend(doc for doc, _ in docs)

    with running(tmp_path / "dav", file_mail) as dav:
        mail, *attachments = filed
        assert mail.extra["mail"]["role"] == "mail" and len(attachments) == 2
        listed = dav.names(f"/mail/{mail.id}/")
        assert len(listed) == 3 and any("Order 77" in n for n in listed)
        assert any("terms" in n for n in listed) and any("delivery" in n for n in listed)
        # from an attachment's id: the same folder
        assert dav.names(f"/mail/{attachments[0].id}/") == listed
        [terms] = [n for n in listed if "terms" in n]
        got = dav.request("GET", f"/mail/{attachments[0].id}/{terms}")
        assert got.status == 200 and got.body.startswith(b"%PDF")
        # a document that is not part of a mail, or no document: no folder
        assert dav.request("PROPFIND", "/mail/99999/", headers={"Depth": "1"}).status == 404
        assert dav.names("/mail/") == []


def test_another_users_mail_folder_is_not_there(tmp_path: Path):
    """A mail a rule filed for bob (owner: bob): bob sees its folder, alice sees none,
    neither from the mail's id nor from an attachment's, nor its files by name."""
    eml = write_mail(tmp_path / "private.eml", make_mail("Payslip", attachments=[
        ("payslip.txt", b"Salary March\n", "text/plain")]))
    filed = []

    def file_mail(archive):
        queue = WorkQueue(archive.root.work)
        job = queue.claim(eml, source="mail", copy=True, owner="bob")
        task = PrepareTask.for_job(job, ocr=OcrConfig(), dates=DateConfig())
        _, docs = archive.commit(job, prepare(task))
        queue.finish(job)
        filed.extend(doc for doc, _ in docs)

    with running(tmp_path / "dav", file_mail) as dav:
        mail, attachment = filed
        assert (mail.owner, attachment.owner) == ("bob", "bob")
        listed = dav.names(f"/mail/{mail.id}/", user="bob")
        assert len(listed) == 2
        for doc_id in (mail.id, attachment.id):
            got = dav.request("PROPFIND", f"/mail/{doc_id}/", user="alice",
                              headers={"Depth": "1"})
            assert got.status == 404, (doc_id, got.status)
            for name in listed:
                assert dav.request("GET", f"/mail/{doc_id}/{name}", user="alice").status == 404
