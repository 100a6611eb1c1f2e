"""E-mails as documents: an .eml becomes a mail document and one document per
attachment, linked both ways (docs/mail-documents.md). Filed by the real
pipeline and writer (a one-shot consumer); the PDFs checked by their text."""

from __future__ import annotations

import http.server
import itertools
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pypdfium2 as pdfium
import pytest

import paperfs.archive.store as store
from paperfs.archive.check import check
from paperfs.archive.document import read_sidecar
from paperfs.archive.reindex import reindex
from paperfs.daemon.consumer import Consumer
from tests.helpers import archive_state, config_for, failed_state, init_root, page_texts
from tests.mail_samples import make_mail, write_mail
from tests.test_consumer import consume as consume_files
from tests.samples import make_text_pdf


@pytest.fixture
def root(tmp_path):
    return init_root(tmp_path)


def consume(root, *paths: Path, mail: dict | None = None) -> list:
    """File *paths* as the IMAP half hands them over (source "mail", settings with
    "mail"), or as `paperfs consume` does when *mail* is None."""
    if mail is None:
        return consume_files(root, paths)
    consumer = Consumer(config_for(root), serial=True)
    consumer.open()
    try:
        consumer.jobs.extend(consumer.queue.claim(path, source="mail", copy=True,
                                                  settings={"mail": mail}) for path in paths)
        return consumer.consume_now()
    finally:
        consumer.close()


def by_role(docs: dict) -> tuple[list, list]:
    mails = [d for d in docs.values() if d.extra.get("mail", {}).get("role") == "mail"]
    parts = [d for d in docs.values() if d.extra.get("mail", {}).get("role") == "attachment"]
    return mails, parts


def pdf_bytes(tmp_path: Path, text: str) -> bytes:
    return make_text_pdf(tmp_path / f"{abs(hash(text))}.pdf", [text]).read_bytes()


# ----------------------------------------------------------------- the corpus


def test_corpus_mails_become_documents(root, corpus):
    names = ["pngx-simple_text.eml", "pngx-eml_with_umlaut.eml", "pngx-html.eml"]
    consume(root, *(corpus / "mail" / n for n in names), mail={"exclude": ["*.txt"]})
    docs = archive_state(root)
    mails, parts = by_role(docs)
    by_title = {d.title: d for d in mails}
    assert set(by_title) == {"Simple Text Mail", "No Umlauts here", "HTML Message"}
    simple = by_title["Simple Text Mail"]
    assert simple.created.isoformat() == "2022-10-12"  # the mail's Date
    assert simple.original.filename == "pngx-simple_text.eml"
    assert simple.original.mime_type == "message/rfc822"
    text = page_texts(root.archive / f"{_path(root, simple)}.pdf")
    assert len(text) == 1 and "From Some One <mail@someserver.de>" in text[0]
    assert "Subject Simple Text Mail" in text[0] and "This is just a simple Text Mail." in text[0]
    assert "Subject: Simple Text Mail" in simple.content  # header and body indexed
    assert "üöäüäö" in by_title["No Umlauts here"].content
    # The HTML mail (its 600 KB text attachment, 212 pages, left out here: the daemon
    # test in test_inbox_readiness.py files it and checks the links).
    html = by_title["HTML Message"]
    assert parts == [] and html.extra["mail"]["attachments"] == []
    assert html.extra["mail"]["skipped"] == [
        {"name": "600+kbfile.txt", "reason": "not consumed: left out by the rule's file-name "
                                             "patterns"}]
    assert html.extra["mail"]["message_id"] == "<a9215c39-5464-8dbf-bb8a-c9fa95eee30f@example.de>"
    html_pdf = root.archive / f"{_path(root, html)}.pdf"
    [page] = page_texts(html_pdf)
    assert "Some Text" in page and "Attachments 600+kbfile.txt (not consumed: left out" in page
    assert _images_on_first_page(html_pdf) == 1  # the inline cid: image; the remote one not
    assert check(config_for(root)).ok
    report = reindex(config_for(root))  # from the sidecars alone: their links stay as they are
    assert report.problems == [] and report.documents == 3
    assert archive_state(root) == docs


def test_a_broken_eml_that_is_no_mail_is_plain_text(root, corpus):
    consume(root, corpus / "mail" / "pngx-broken.eml")
    [doc] = archive_state(root).values()
    assert doc.original.mime_type == "text/plain" and "mail" not in doc.extra


# ----------------------------------------------------------- generated mails


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802
        _Recorder.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_html_is_rendered_without_fetching_or_running_anything(root, tmp_path):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        from tests.samples import make_scan

        png = make_scan(tmp_path / "logo.png", ["LOGO"], dpi=20).read_bytes()
        html = (f"<html><head><link rel='stylesheet' href='http://127.0.0.1:{port}/css'>"
                f"<script>document.write('SCRIPTRAN')</script></head>"
                f"<body onload=\"fetch('http://127.0.0.1:{port}/onload')\">"
                f"<h1>Dear Jane</h1><p>Your invoice is ready.</p>"
                f"<img src='http://127.0.0.1:{port}/pixel.png' alt='remote pixel'>"
                f"<img src='file:///etc/hostname' alt='local file'>"
                f"<img src='cid:logo@acme' alt='inline logo'>"
                f"<iframe src='http://127.0.0.1:{port}/frame'></iframe></body></html>")
        mail = make_mail("Your invoice", html=html, inline=[("logo.png", png, "image/png",
                                                             "logo@acme")])
        consume(root, write_mail(tmp_path / "invoice.eml", mail))
    finally:
        server.shutdown()
    assert _Recorder.hits == []  # nothing fetched
    [doc] = archive_state(root).values()  # the inline logo is not an attachment (inline: false)
    pdf = root.archive / f"{_path(root, doc)}.pdf"
    [page] = page_texts(pdf)
    assert "Dear Jane" in page and "Your invoice is ready." in page
    assert "SCRIPTRAN" not in page and "SCRIPTRAN" not in doc.content
    assert _images_on_first_page(pdf) == 1  # cid: shown
    assert doc.title == "Your invoice" and doc.created.isoformat() == "2023-05-17"


def test_non_utf8_subjects(root, tmp_path):
    encoded = (b"From: a@example.org\r\nTo: b@example.org\r\nDate: Tue, 3 Jan 2023 10:00:00 +0100"
               b"\r\nSubject: =?iso-8859-1?q?Stromrechnung_f=FCr_M=E4rz?=\r\n\r\nBetrag 12,50\r\n")
    raw = (b"From: a@example.org\r\nTo: b@example.org\r\nDate: Tue, 3 Jan 2023 10:00:00 +0100"
           b"\r\nSubject: Gr\xfc\xdfe aus K\xf6ln\r\nContent-Type: text/plain; charset=latin-1"
           b"\r\n\r\nSch\xf6ne Gr\xfc\xdfe\r\n")
    (tmp_path / "encoded.eml").write_bytes(encoded)
    (tmp_path / "raw.eml").write_bytes(raw)
    consume(root, tmp_path / "encoded.eml", tmp_path / "raw.eml")
    docs = {d.original.filename: d for d in archive_state(root).values()}
    assert docs["encoded.eml"].title == "Stromrechnung für März"
    assert docs["raw.eml"].title == "Grüße aus Köln"
    assert "Schöne Grüße" in docs["raw.eml"].content


def test_attachments_by_their_bytes_and_what_is_not_consumed(root, tmp_path, corpus):
    pdf = pdf_bytes(tmp_path, "Invoice 4711 total 99.00")
    zip_bytes = b"PK\x03\x04" + bytes(200)
    attachments = [("photo.jpg", pdf, "image/jpeg"),  # lies: the bytes are a PDF
                   ("files.zip", zip_bytes, "application/zip"),
                   ("locked.pdf", (corpus / "broken/pngx-password-is-test.pdf").read_bytes(),
                    "application/pdf"),
                   ("notes.txt", b"call back on Monday\n", "text/plain")]
    consume(root, write_mail(tmp_path / "m.eml", make_mail(attachments=attachments)))
    docs = archive_state(root)
    [mail], parts = by_role(docs)
    assert {p.original.filename: p.original.mime_type for p in parts} == {
        "photo.jpg": "application/pdf", "notes.txt": "text/plain"}
    assert sorted(mail.extra["mail"]["attachments"]) == sorted(p.id for p in parts)
    assert all(p.extra["mail"]["of"] == mail.id for p in parts)
    skipped = {s["name"]: s["reason"] for s in mail.extra["mail"]["skipped"]}
    assert "ZIP archives are not supported" in skipped["files.zip"]
    assert "password" in skipped["locked.pdf"]  # failed in the text stage: only that part
    [page] = page_texts(root.archive / f"{_path(root, mail)}.pdf")
    assert "files.zip (not consumed: ZIP archives are not supported" in page
    assert not failed_state(root)
    # The parts not filed are still in the archive: in the mail's original .eml.
    assert b"files.zip" in (root.root / mail.original.path).read_bytes()


_PEAK_PROBE = """
import json, sys
from pathlib import Path
from paperfs.config import DateConfig, OcrConfig
from paperfs.consume.messages import PrepareTask
from paperfs.consume.pipeline import prepare
eml, scratch = Path(sys.argv[1]), Path(sys.argv[2])
task = PrepareTask(job_id="j", input=eml, scratch=scratch, filename=eml.name, file_mtime=0,
                   ocr=OcrConfig(), dates=DateConfig())
proposals = prepare(task)
# VmHWM: this program's peak (ru_maxrss would count the forked test process's pages too)
status = Path("/proc/self/status").read_text()
peak_kb = int(status.split("VmHWM:")[1].split()[0])
print(json.dumps({"peak_mb": peak_kb // 1024,
                  "names": [p.original_filename for p in proposals],
                  "skipped": proposals[0].mail["skipped"]}))
"""


def test_a_50_mb_attachment_is_skipped_unread(tmp_path):
    big = bytes(50 * 1024 * 1024)
    mail = make_mail(attachments=[("huge.pdf", big, "application/pdf"),
                                  ("small.pdf", pdf_bytes(tmp_path, "small"), "application/pdf")])
    eml = write_mail(tmp_path / "big.eml", mail)
    del big, mail
    done = subprocess.run([sys.executable, "-c", _PEAK_PROBE, str(eml), str(tmp_path / "s")],
                          capture_output=True, text=True, cwd=Path(__file__).parents[1],
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["names"] == ["big.eml", "small.pdf"]
    [skipped] = got["skipped"]
    assert skipped["name"] == "huge.pdf"
    assert "50.0 MB is more than ocr.mail_attachment_max_mb (25 MB)" in skipped["reason"]
    # the 70 MB .eml is never held whole: the parser alone took 636 MB for it
    assert got["peak_mb"] < 200, got


def test_rules_settings_choose_parts_and_the_record_is_copied(root, tmp_path):
    pdf = pdf_bytes(tmp_path, "Statement March")
    mail = make_mail("Statement 03/2023", attachments=[
        ("statement.PDF", pdf, "application/pdf"), ("terms.pdf", pdf_bytes(tmp_path, "T&C"),
                                                    "application/pdf"),
        ("notes.txt", b"n\n", "text/plain")])
    eml = write_mail(tmp_path / "s.eml", mail)
    consume(root, eml, mail={"consume": "attachments", "include": ["*.pdf"],
                             "exclude": ["terms*"], "title_from": "subject",
                             "record": "acct/INBOX/7/42"})
    [doc] = archive_state(root).values()
    assert doc.original.filename == "statement.PDF" and doc.title == "Statement 03/2023"
    assert doc.extra["mail"] == {"role": "attachment", "record": "acct/INBOX/7/42",
                                 "name": "statement.PDF"}  # no mail document: no "of"
    assert doc.source["kind"] == "mail"  # what workflows filter on (source: mail)


def test_consume_mail_only_and_inline_parts(root, tmp_path):
    png = __import__("tests.samples", fromlist=["x"]).make_scan(
        tmp_path / "i.png", ["INLINE"], dpi=20).read_bytes()
    mail = make_mail("Photo", html="<p>see <img src='cid:i1'></p>",
                     inline=[("i.png", png, "image/png", "i1")],
                     attachments=[("a.txt", b"attached\n", "text/plain")])
    eml = write_mail(tmp_path / "p.eml", mail)
    consume(root, eml, mail={"consume": "mail", "record": "r1"})
    [doc] = archive_state(root).values()
    assert doc.extra["mail"]["role"] == "mail" and doc.extra["mail"]["attachments"] == []
    assert doc.extra["mail"]["record"] == "r1"
    for sidecar in root.archive.rglob("*.yml"):
        sidecar.with_suffix(".pdf").unlink()
        sidecar.unlink()
    root2 = init_root(tmp_path / "two")
    consume(root2, eml, mail={"consume": "both", "inline": True})
    _, parts = by_role(archive_state(root2))
    assert sorted(p.original.filename for p in parts) == ["a.txt", "i.png"]


def test_a_mail_with_nothing_to_consume_is_done_without_documents(root, tmp_path, caplog):
    eml = write_mail(tmp_path / "hello.eml", make_mail("Hello"))
    with caplog.at_level(logging.INFO):
        results = consume(root, eml, mail={"consume": "attachments", "record": "r2"})
    assert results == [] and archive_state(root) == {}
    assert not any(root.failed.iterdir()) and not any(root.work.iterdir())
    assert "no consumable part" in caplog.text


def test_broken_mime_keeps_what_can_be_read(root, tmp_path, caplog):
    pdf = pdf_bytes(tmp_path, "Readable part")
    mail = bytes(make_mail("Broken structure", attachments=[
        ("good.pdf", pdf, "application/pdf"), ("bad.txt", b"x" * 300, "text/plain")]))
    # cut the closing boundary and garble the last part's base64
    mail = mail[:mail.rindex(b"--")].rstrip() + b"\r\n!!!not base64!!!\r\n"
    (tmp_path / "broken.eml").write_bytes(mail)
    with caplog.at_level(logging.WARNING):
        consume(root, tmp_path / "broken.eml")
    assert "broken.eml: broken MIME structure (" in caplog.text
    [doc], parts = by_role(archive_state(root))
    assert doc.title == "Broken structure"
    assert "good.pdf" in [p.original.filename for p in parts]
    assert not failed_state(root)


def test_a_forwarded_message_is_a_mail_document_of_its_own(root, tmp_path):
    inner = make_mail("Original offer", text="The offer is 300 EUR.\n")
    outer = make_mail("Fwd: offer")
    outer.add_attachment(inner)
    consume(root, write_mail(tmp_path / "fwd.eml", outer))
    [mail], [nested] = by_role(archive_state(root))
    assert nested.title == "Original offer" and "The offer is 300 EUR." in nested.content
    assert nested.extra["mail"]["of"] == mail.id


def test_an_attachment_already_archived_is_linked_not_refused(root, tmp_path):
    pdf = pdf_bytes(tmp_path, "Terms and conditions")
    for n in (1, 2):  # the first mail has it twice, under two names
        twice = [("terms.pdf", pdf, "application/pdf")] + [("AGB.pdf", pdf, "application/pdf")]
        mail = make_mail(f"Order {n}", attachments=twice[:3 - n])
        consume(root, write_mail(tmp_path / f"o{n}.eml", mail))
    mails, [terms] = by_role(archive_state(root))
    assert sorted(m.title for m in mails) == ["Order 1", "Order 2"]
    assert all(m.extra["mail"]["attachments"] == [terms.id] for m in mails)
    assert not failed_state(root)


class Crash(BaseException):
    """Stands in for SIGKILL: nothing catches it."""


def test_links_survive_a_crash_between_parts(root, tmp_path, monkeypatch):
    mail = make_mail(attachments=[("a.txt", b"first\n", "text/plain"),
                                  ("b.txt", b"second\n", "text/plain")])
    eml = write_mail(tmp_path / "c.eml", mail)
    real_write, writes = store.write_sidecar, itertools.count()

    def crash(*_args):
        raise Crash

    monkeypatch.setattr(store, "write_sidecar",
                        lambda path, doc: crash() if next(writes) else real_write(path, doc))
    with pytest.raises(Crash):
        consume(root, eml)
    [first] = [read_sidecar(s) for s in root.archive.rglob("*.yml")]  # the mail, then the crash
    monkeypatch.setattr(store, "write_sidecar", real_write)
    consumer = Consumer(config_for(root), serial=True)
    consumer.open()  # the start-up finds the job and prepares it again
    try:
        consumer.consume_now()
    finally:
        consumer.close()
    [mail_doc], parts = by_role(archive_state(root))
    assert mail_doc.id == first.id and first.extra["mail"] == mail_doc.extra["mail"]
    assert sorted(mail_doc.extra["mail"]["attachments"]) == sorted(p.id for p in parts)
    assert all(p.extra["mail"]["of"] == mail_doc.id for p in parts) and len(parts) == 2


# ------------------------------------------------------------------ helpers


def _path(root, doc) -> str:
    [sidecar] = [s for s in root.archive.rglob("*.yml") if f"\nid: {doc.id}\n" in s.read_text()]
    return sidecar.relative_to(root.archive).with_suffix("").as_posix()


def _images_on_first_page(pdf: Path) -> int:
    doc = pdfium.PdfDocument(pdf)
    try:
        return sum(1 for obj in doc[0].get_objects(max_depth=5)
                   if obj.type == pdfium.raw.FPDF_PAGEOBJ_IMAGE)
    finally:
        doc.close()


def test_invalid_mail_settings_fail_the_mail_with_the_reason(root, tmp_path):
    eml = write_mail(tmp_path / "x.eml", make_mail("X"))
    consume(root, eml, mail={"consume": "everything", "include": "*.pdf"})
    [failed] = failed_state(root).values()
    assert failed["message"].startswith("x.eml: the mail rule's settings are invalid: ")
    assert "consume must be one of attachments, mail, both" in failed["message"]
    assert "include must be a list of file-name patterns" in failed["message"]
    assert archive_state(root) == {}


def test_consume_attachments_keeps_the_mail_when_an_attachment_cannot_be_consumed(root,
                                                                                tmp_path):
    """consume: attachments, and a part is a ZIP or too large: the mail document is filed
    after all (its .eml original holds the part; a rule's delete would otherwise lose
    it), naming the reason. A part the rule's patterns leave out does not count."""
    pdf = pdf_bytes(tmp_path, "Invoice 12")
    zip_only = write_mail(tmp_path / "zip.eml", make_mail("Scans", attachments=[
        ("scans.zip", b"PK\x03\x04" + bytes(200), "application/zip")]))
    big = write_mail(tmp_path / "big.eml", make_mail("Big", attachments=[
        ("huge.pdf", bytes(2 * 1024 * 1024), "application/pdf"),
        ("invoice.pdf", pdf, "application/pdf")]))
    left_out = write_mail(tmp_path / "left.eml", make_mail("Left", attachments=[
        ("notes.txt", b"n\n", "text/plain"), ("invoice-2.pdf", pdf_bytes(tmp_path, "I 2"),
                                              "application/pdf")]))
    (root.root / "paperfs.yml").write_text((root.root / "paperfs.yml").read_text()
                                           + "ocr:\n  mail_attachment_max_mb: 1\n")
    for eml in (zip_only, big, left_out):
        consume(root, eml, mail={"consume": "attachments", "exclude": ["*.txt"],
                                 "record": eml.stem})
    mails, parts = by_role(archive_state(root))
    assert sorted(m.title for m in mails) == ["Big", "Scans"]
    skipped = {m.title: [s["name"] for s in m.extra["mail"]["skipped"]] for m in mails}
    assert skipped == {"Scans": ["scans.zip"], "Big": ["huge.pdf"]}
    assert sorted(p.original.filename for p in parts) == ["invoice-2.pdf", "invoice.pdf"]
    [big_mail] = [m for m in mails if m.title == "Big"]
    [invoice] = [p for p in parts if p.original.filename == "invoice.pdf"]
    assert big_mail.extra["mail"]["attachments"] == [invoice.id]
    assert not failed_state(root)
