"""End to end: the real daemon, real files dropped into its inbox, real OCR."""

from __future__ import annotations

import os
import random
import shutil
import time

import pytest

from tests.samples import make_scan, make_text_pdf
from tests.daemon import Daemon
from tests.helpers import archive_state, drop, failed_state, filed_count, init_root, sha256

pytestmark = pytest.mark.slow


@pytest.fixture
def daemon(tmp_path):
    root = init_root(tmp_path)
    d = Daemon(root, tmp_path / "daemon.log")
    yield d
    if d.proc is not None and d.proc.poll() is None:
        d.stop()


def test_corpus_files_are_consumed(daemon, corpus, tmp_path):
    inputs = {
        "scan.pdf": corpus / "scans/skew.pdf",
        "digital.pdf": corpus / "digital/pngx-simple-digital.pdf",
        "photo.png": corpus / "scans/pngx-simple.png",
        "photo.jpg": corpus / "scans/pngx-simple.jpg",
        "photo.webp": corpus / "scans/pngx-document.webp",
        "photo.heic": corpus / "scans/pngx-simple.heic",
        "pages.tiff": corpus / "scans/pngx-multi-page-images.tiff",
    }
    note = tmp_path / "note.txt"
    note.write_text("Meeting notes from 12.11.2021: paperfs works\n")
    daemon.start()
    for name, src in inputs.items():
        drop(src, daemon.root.inbox, name)
    drop(note, daemon.root.inbox)
    daemon.wait_settled(240)
    docs = archive_state(daemon.root)
    assert failed_state(daemon.root) == {}, daemon.log()
    by_name = {d.original.filename: d for d in docs.values()}
    assert set(by_name) == set(inputs) | {"note.txt"}
    for name, src in inputs.items():
        doc = by_name[name]
        assert doc.original.sha256 == sha256(src)
        assert doc.content.strip(), f"{name} has no text"
    assert "LinnSequencer" in by_name["scan.pdf"].content.replace(" ", "")
    assert by_name["scan.pdf"].archive.ocr and by_name["scan.pdf"].archive.pdfa
    assert not by_name["digital.pdf"].archive.ocr
    assert by_name["pages.tiff"].archive.pages > 1
    assert "paperfs works" in by_name["note.txt"].content
    assert daemon.stop() == 0


def test_bad_input_gets_a_clear_outcome(daemon, corpus, tmp_path):
    daemon.start()
    inbox = daemon.root.inbox
    for broken in sorted((corpus / "broken").iterdir()):
        drop(broken, inbox)
    (inbox / "zero.pdf").write_bytes(b"")
    long_name = "L" * 240 + ".pdf"
    make_text_pdf(tmp_path / "long.pdf", ["long name 01.01.2011"])
    drop(tmp_path / "long.pdf", inbox, long_name)
    make_text_pdf(tmp_path / "u.pdf", ["unicode name 02.02.2012"])
    drop(tmp_path / "u.pdf", inbox, "Rechnung Müller – 東京 ☃.pdf")
    make_text_pdf(tmp_path / "dots.pdf", ["dots 03.03.2013"])
    drop(tmp_path / "dots.pdf", inbox, "report..%2e%2e%2f..pdf")
    folder = tmp_path / "folder"
    folder.mkdir()
    make_text_pdf(folder / "inside.pdf", ["inside a folder 04.04.2014"])
    shutil.copytree(folder, inbox / "dropped folder")
    outside = tmp_path / "secret.pdf"
    make_text_pdf(outside, ["secret outside the inbox"])
    os.symlink(outside, inbox / "link.pdf")
    os.symlink(tmp_path / "nowhere.pdf", inbox / "dangling.pdf")
    daemon.wait_settled(120)
    docs = archive_state(daemon.root)
    failed = failed_state(daemon.root)
    names = {d.original.filename for d in docs.values()}
    assert {long_name, "Rechnung Müller – 東京 ☃.pdf", "report..%2e%2e%2f..pdf", "inside.pdf"} <= names
    assert all("secret" not in d.content for d in docs.values()), "symlink was followed"
    assert failed["link.pdf"]["reason"] == "unsupported"
    assert failed["dangling.pdf"]["reason"] == "unsupported"
    assert outside.exists() and (daemon.root.failed / "link.pdf").is_symlink()
    assert failed["zero.pdf"]["reason"] == "empty"
    assert failed["pngx-encrypted.pdf"]["reason"] == "encrypted"
    assert failed["pngx-password-is-test.pdf"]["reason"] == "encrypted"
    for name in ("invalid.pdf", "pngx-invalid_pdf.pdf"):
        # either repaired and filed, or failed with a reason; never lost
        assert name in failed or name in names, name
    for name, info in failed.items():
        assert info["message"] and info["reason"], name
    assert not (daemon.root.inbox / "dropped folder").exists()
    assert daemon.proc.poll() is None, "the daemon keeps running"
    assert daemon.stop() == 0


def test_aborted_upload_is_not_consumed(daemon, tmp_path):
    pdf = make_text_pdf(tmp_path / "full.pdf", ["a complete document 05.05.2015"] * 40)
    data = pdf.read_bytes()
    daemon.env["PAPERFS_INBOX__INCOMPLETE_SECONDS"] = "6"
    daemon.start()
    target = daemon.root.inbox / "upload.pdf"
    with open(target, "wb") as f:  # half a PDF, then closed: what an aborted FTP upload leaves
        f.write(data[: len(data) // 2])
    time.sleep(3)
    assert target.exists(), "an incomplete PDF must not be taken"
    assert archive_state(daemon.root) == {}
    with open(target, "ab") as f:  # the upload resumes and completes
        f.write(data[len(data) // 2:])
    daemon.wait_settled(60)
    [doc] = archive_state(daemon.root).values()
    assert doc.original.sha256 == sha256(pdf)
    # and one that never completes ends in failed/ after incomplete_seconds
    (daemon.root.inbox / "never.pdf").write_bytes(data[: len(data) // 3])
    daemon.wait_settled(60)
    assert failed_state(daemon.root)["never.pdf"]["reason"] == "broken"
    assert len(archive_state(daemon.root)) == 1
    daemon.stop()


def test_hand_edit_of_a_sidecar_is_applied_by_the_daemon(daemon, tmp_path):
    daemon.start()
    drop(make_text_pdf(tmp_path / "memo.pdf", ["memo of 06.06.2016"]), daemon.root.inbox)
    daemon.wait_settled(60)
    [doc] = archive_state(daemon.root).values()
    sidecar = next(daemon.root.archive.rglob("*.yml"))
    sidecar.write_text(sidecar.read_text().replace("correspondent: null", "correspondent: Umbrella"))
    target = daemon.root.archive / "Umbrella/2016/2016-06-06 memo.yml"
    daemon.wait_for(target.exists, 20, "the pair to move")
    daemon.wait_for(lambda: not sidecar.exists(), 5, "the old sidecar to go")
    bad = target.read_text().replace("asn: null", "asn: lots")
    target.write_text(bad)
    note = target.with_name("2016-06-06 memo.paperfs-error.txt")
    daemon.wait_for(note.exists, 20, "the error note")
    assert "asn" in note.read_text()
    assert target.exists() and target.with_suffix(".pdf").exists()
    daemon.stop()


def test_sigterm_returns_unfinished_work_to_the_queue(daemon, tmp_path):
    daemon.env["PAPERFS_CONSUME__TIMEOUT_SECONDS"] = "2"  # shutdown grace = min(30, timeout)
    daemon.start()
    for i in range(3):
        drop(make_scan(tmp_path / f"scan{i}.png", [f"Scan number {i}", "12.12.2012"]),
             daemon.root.inbox)
    daemon.wait_for(lambda: daemon.status().get("in_flight"), 30, "work in progress")
    assert daemon.stop() == 0
    leftover = len(list(daemon.root.work.iterdir())) + len(list(daemon.root.inbox.iterdir()))
    done = len(archive_state(daemon.root)) + len(failed_state(daemon.root))
    assert leftover + done == 3
    daemon.env["PAPERFS_CONSUME__TIMEOUT_SECONDS"] = "120"
    daemon.start()
    daemon.wait_settled(180)
    docs = archive_state(daemon.root)
    assert len(docs) + len(failed_state(daemon.root)) == 3
    daemon.stop()


def test_crash_at_random_moments_loses_and_duplicates_nothing(daemon, tmp_path):
    """SIGKILL the daemon and its workers at random instants during a batch."""
    rng = random.Random(int(os.environ.get("PAPERFS_CRASH_SEED", "20261122")))
    sources = tmp_path / "sources"
    sources.mkdir()
    inputs = [make_text_pdf(sources / f"digital-{i:02d}.pdf",
                            [f"Crash test document {i}", f"{(i % 28) + 1:02d}.03.2020"],
                            pages=1 + i % 3) for i in range(24)]
    inputs += [make_scan(sources / f"scan-{i}.png", [f"Scanned crash page {i}"], dpi=150)
               for i in range(3)]
    empty = sources / "empty.pdf"
    empty.write_bytes(b"")
    inputs.append(empty)
    daemon.env["PAPERFS_INBOX__INCOMPLETE_SECONDS"] = "1"
    daemon.start()
    for src in inputs:
        drop(src, daemon.root.inbox)
    for _round in range(6):
        time.sleep(rng.uniform(0.1, 2.5))
        daemon.kill()
        daemon.start(wait_ready=rng.random() < 0.5)
    daemon.wait_settled(300)
    docs = archive_state(daemon.root)
    failed = failed_state(daemon.root)
    filed = {}
    for doc in docs.values():
        filed.setdefault(doc.original.sha256, []).append(doc.id)
    for src in inputs:
        digest = sha256(src)
        in_archive = len(filed.get(digest, []))
        in_failed = src.name in failed
        assert in_archive + in_failed == 1, (src.name, in_archive, in_failed, daemon.log()[-3000:])
    assert failed["empty.pdf"]["reason"] == "empty"
    assert not any(daemon.root.work.iterdir())
    assert not list(daemon.root.journal.iterdir())
    daemon.stop()


def test_files_present_at_start_and_subfolders_as_tags(daemon, tmp_path):
    """Files already waiting are consumed at start-up; subfolder names become tags."""
    daemon.env["PAPERFS_INBOX__SUBFOLDERS_AS_TAGS"] = "true"
    daemon.env["PAPERFS_CONSUME__WORKER_IDLE_SECONDS"] = "1"
    make_text_pdf(tmp_path / "w.pdf", ["waiting since before the start 07.07.2017"])
    drop(tmp_path / "w.pdf", daemon.root.inbox / "Taxes" / "2017")
    ignored = daemon.root.inbox / "@eaDir" / "w.pdf"
    drop(tmp_path / "w.pdf", ignored.parent)
    (daemon.root.inbox / "scan.pdf.part").write_bytes(b"%PDF-1.4 still uploading")
    daemon.start()
    daemon.wait_for(lambda: filed_count(daemon.root) == 1, 60, "the waiting file")
    [doc] = archive_state(daemon.root).values()
    assert doc.tags == ("Taxes", "2017")
    assert doc.source["path"] == "inbox/Taxes/2017/w.pdf"
    time.sleep(1.5)
    assert ignored.exists() and (daemon.root.inbox / "scan.pdf.part").exists()
    assert not (daemon.root.inbox / "Taxes").exists(), "emptied subfolders are removed"
    # idle workers retire, so the daemon at rest holds no OCR processes
    daemon.wait_for(lambda: daemon.status().get("worker_processes") == 0, 10, "idle workers")
    daemon.stop()
