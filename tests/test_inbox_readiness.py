"""Inbox readiness through the real daemon: types come from the bytes, not the name.

The daemon (`paperfs run`) watches a real inbox; files are written the way
scanners, phones and FTP uploads write them.
"""

from __future__ import annotations

import shutil
import time

import pytest

from tests.daemon import Daemon
from tests.helpers import archive_state, failed_state, init_root, sha256
from tests.samples import make_scan, make_text_pdf

pytestmark = pytest.mark.slow


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(init_root(tmp_path), tmp_path / "daemon.log")
    yield d
    if d.proc is not None and d.proc.poll() is None:
        d.stop()


def by_filename(docs: dict) -> dict:
    return {doc.original.filename: doc for doc in docs.values()}


def test_types_come_from_content_not_the_name(daemon, corpus, tmp_path):
    # incomplete_seconds as shipped (300 s): nothing here may wait for it.
    daemon.env["PAPERFS_INBOX__INCOMPLETE_SECONDS"] = "300"
    daemon.start()
    inbox = daemon.root.inbox
    shutil.copyfile(corpus / "scans/pngx-simple.jpg", inbox / "photo.pdf")  # a phone's naming
    make_text_pdf(tmp_path / "letter.pdf", ["a letter of 07.07.2017"])
    shutil.copyfile(tmp_path / "letter.pdf", inbox / "letter.jpg")
    daemon.wait_settled(120)
    docs = by_filename(archive_state(daemon.root))
    assert set(docs) == {"photo.pdf", "letter.jpg"}, failed_state(daemon.root)
    assert docs["photo.pdf"].original.sha256 == sha256(corpus / "scans/pngx-simple.jpg")
    assert docs["letter.jpg"].original.sha256 == sha256(tmp_path / "letter.pdf")
    assert daemon.stop() == 0


def test_pdf_rules_apply_to_pdf_content_whatever_its_name(daemon, corpus, tmp_path):
    daemon.env["PAPERFS_INBOX__INCOMPLETE_SECONDS"] = "8"
    daemon.start()
    inbox = daemon.root.inbox
    toc = (corpus / "digital/toc.pdf").read_bytes()
    # An aborted upload of a PDF saved with an incremental update: it stops
    # 839 bytes after the first revision's %%EOF (byte 2,161).
    (inbox / "aborted.pdf").write_bytes(toc[:3000])
    # A PDF named like a photo, uploaded in two goes.
    scan = make_scan(tmp_path / "scan.pdf", ["scanned on 08.08.2018"]).read_bytes()
    with open(inbox / "scan.jpg", "wb") as f:
        f.write(scan[: len(scan) // 2])
    time.sleep(3)  # ten times inbox.stable_seconds
    assert (inbox / "aborted.pdf").exists(), "a truncated PDF must not be taken"
    assert (inbox / "scan.jpg").exists(), "a half-written PDF named .jpg must not be taken"
    assert archive_state(daemon.root) == {}
    with open(inbox / "scan.jpg", "ab") as f:
        f.write(scan[len(scan) // 2:])
    daemon.wait_settled(120)
    [doc] = archive_state(daemon.root).values()
    assert doc.original.filename == "scan.jpg" and doc.original.sha256 == sha256(tmp_path / "scan.pdf")
    failed = failed_state(daemon.root)
    assert set(failed) == {"aborted.pdf"}
    assert failed["aborted.pdf"]["reason"] == "broken"
    assert "aborted.pdf" in failed["aborted.pdf"]["message"]
    assert (daemon.root.failed / "aborted.pdf").read_bytes() == toc[:3000]
    assert daemon.stop() == 0


def test_mail_files_are_filed_as_mail_and_attachments(daemon, corpus):
    daemon.start()
    mails = ["pngx-simple_text.eml", "pngx-html.eml"]
    for name in mails + ["pngx-broken.eml"]:
        shutil.copyfile(corpus / "mail" / name, daemon.root.inbox / name)
    daemon.wait_settled(120)
    assert failed_state(daemon.root) == {}
    docs = {d.original.filename: d for d in archive_state(daemon.root).values()}
    assert set(docs) == set(mails) | {"600+kbfile.txt", "pngx-broken.eml"}
    html, attachment = docs["pngx-html.eml"], docs["600+kbfile.txt"]
    assert html.extra["mail"]["attachments"] == [attachment.id]
    assert attachment.extra["mail"]["of"] == html.id
    assert docs["pngx-simple_text.eml"].title == "Simple Text Mail"
    # "This is not a valid eml." is plain text, and is filed as such.
    assert docs["pngx-broken.eml"].original.mime_type == "text/plain"
    assert daemon.stop() == 0
