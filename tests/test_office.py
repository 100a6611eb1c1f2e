"""Office documents through LibreOffice (headless soffice from Debian): the
corpus and generated files filed with their text; a converter that hangs or
is killed fails only its document. The conversions in this process share its
warm profile (libreoffice.profile_dir)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from paperfs.consume import libreoffice
from paperfs.consume.stages import detect
from paperfs.errors import BrokenFileError, DocumentTimeoutError
from tests.helpers import archive_state, failed_state, init_root, page_texts
from tests.test_consumer import consume

pytestmark = pytest.mark.skipif(shutil.which("soffice") is None,
                                reason="LibreOffice (soffice) is not installed")


def soffice_convert(src: Path, fmt: str, out: Path) -> Path:
    """A fixture made by LibreOffice itself (python-docx is not installed)."""
    subprocess.run(["soffice", f"-env:UserInstallation={libreoffice.profile_dir().as_uri()}",
                    "--headless", "--convert-to", fmt, "--outdir", str(out), str(src)],
                   check=True, capture_output=True, timeout=120)
    return out / f"{src.stem}.{fmt.split(':')[0]}"


def test_corpus_and_generated_office_files_are_filed_with_their_text(tmp_path, corpus):
    made = tmp_path / "made"
    made.mkdir()
    (made / "budget.csv").write_text("Item,Amount\nRent 2023,1200\nPower,80\n")
    xlsx = soffice_convert(made / "budget.csv", "xlsx", made)
    (made / "letter.rtf").write_text(r"{\rtf1\ansi{\fonttbl\f0\fswiss Helvetica;}\f0 "
                                     r"Kündigung zum 31.03.2024\par Mit freundlichen Grüßen}",
                                     encoding="latin-1")
    (made / "memo.txt").write_text("Memo about the 2019 audit\n")
    doc = soffice_convert(made / "memo.txt", "doc:MS Word 97", made)
    lying = made / "report.pdf"  # an .odt named .pdf: the bytes decide
    shutil.copyfile(corpus / "office/pngx-sample.odt", lying)
    root = init_root(tmp_path)
    consume(root, [corpus / "office/pngx-sample.docx", xlsx, made / "letter.rtf", doc, lying])
    docs = {d.original.filename: d for d in archive_state(root).values()}
    assert set(docs) == {"pngx-sample.docx", "budget.xlsx", "letter.rtf", "memo.doc",
                         "report.pdf"}
    assert "This is an DOCX test document" in docs["pngx-sample.docx"].content
    assert "Rent 2023" in docs["budget.xlsx"].content
    assert "Kündigung zum 31.03.2024" in docs["letter.rtf"].content
    assert "Memo about the 2019 audit" in docs["memo.doc"].content
    assert docs["report.pdf"].original.mime_type == detect.ODT
    assert "This is an ODT test document" in docs["report.pdf"].content
    for d in docs.values():
        assert not d.archive.ocr and d.archive.pages == 1
        assert (root.root / d.original.path).read_bytes()  # the original kept as it was
    sample = docs["pngx-sample.docx"]
    assert (root.root / sample.original.path).read_bytes() == \
        (corpus / "office/pngx-sample.docx").read_bytes()
    [pdf] = [p for p in root.archive.rglob("*.pdf") if "pngx-sample" in p.name]
    assert "This is an DOCX test document" in page_texts(pdf)[0]


def test_a_hung_converter_is_stopped_and_only_its_document_fails(tmp_path, corpus):
    root = init_root(tmp_path, "ocr:\n  office_timeout_seconds: 0.2\n")
    pdf = tmp_path / "plain.txt"
    pdf.write_text("a plain text beside it\n")
    consume(root, [corpus / "office/pngx-sample.odt", pdf])
    [filed] = archive_state(root).values()
    assert filed.original.filename == "plain.txt"
    failed = failed_state(root)["pngx-sample.odt"]
    assert failed["reason"] == "timeout"
    assert "within 0.2 s (ocr.office_timeout_seconds)" in failed["message"]
    assert _soffice_processes(str(tmp_path)) == []  # the whole group was killed


def test_a_converter_killed_midway_fails_its_document(tmp_path, corpus):
    out = tmp_path / "out"
    src = tmp_path / "document.odt"
    shutil.copyfile(corpus / "office/pngx-sample.odt", src)
    errors: list[BaseException] = []

    def convert():
        try:
            libreoffice.to_pdf(src, out, timeout=60, name="sample.odt")
        except BaseException as exc:  # noqa: BLE001 - what the test looks at
            errors.append(exc)

    thread = threading.Thread(target=convert)
    thread.start()
    deadline = time.monotonic() + 30
    # the converter itself, soffice.bin (not its guard, nor oosplash)
    while not (found := _soffice_processes(str(out), "soffice.bin")) \
            and time.monotonic() < deadline:
        time.sleep(0.01)
    assert found, "soffice never started"
    os.kill(found[0], signal.SIGKILL)
    thread.join(60)
    [error] = errors
    assert isinstance(error, BrokenFileError)
    assert "sample.odt: LibreOffice could not convert it to PDF" in str(error)
    assert _soffice_processes(str(out)) == []
    # and the next conversion in this process works
    assert libreoffice.to_pdf(src, tmp_path / "again", timeout=60).is_file()


def test_the_timeout_message_names_the_setting(tmp_path, corpus):
    with pytest.raises(DocumentTimeoutError, match="office_timeout_seconds"):
        libreoffice.to_pdf(corpus / "office/pngx-sample.docx", tmp_path, timeout=0.05)


def _soffice_processes(marker: str, program: str = "soffice") -> list[int]:
    """Our soffice processes (their command line names *marker* and *program*), oldest
    first."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and program in cmdline and state != "Z":
            pids.append(int(entry.name))
    return sorted(pids)


def _gone(pid: int) -> bool:
    """The process has ended (or is a zombie its parent has not reaped yet)."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _still_running(pids: list[int], seconds: float = 5.0) -> list[int]:
    """Those of *pids* still running after a few seconds (a killed process takes a
    moment to exit on a busy machine)."""
    deadline = time.monotonic() + seconds
    while not all(_gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [pid for pid in pids if not _gone(pid)]


def test_a_timeout_kills_the_converters_whole_process_group(tmp_path, monkeypatch):
    # A converter that hangs for good, with a helper process of its own (as soffice's
    # oosplash starts soffice.bin): both must be gone after the timeout.
    fake = tmp_path / "bin" / "soffice"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {tmp_path}/helper.pid\nwait\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    src = tmp_path / "document.odt"
    src.write_bytes(b"whatever")
    with pytest.raises(DocumentTimeoutError, match="document.odt: LibreOffice did not convert"):
        libreoffice.to_pdf(src, tmp_path / "out", timeout=0.5)
    assert _still_running([int((tmp_path / "helper.pid").read_text())]) == []


def test_the_daemon_files_office_documents_dropped_into_the_inbox(tmp_path, corpus):
    from tests.daemon import Daemon

    daemon = Daemon(init_root(tmp_path), tmp_path / "daemon.log").start()
    try:
        for name in ("pngx-sample.docx", "pngx-sample.odt"):
            shutil.copyfile(corpus / "office" / name, daemon.root.inbox / name)
        daemon.wait_settled(120)
        docs = {d.original.filename: d for d in archive_state(daemon.root).values()}
        assert "This is an DOCX test document" in docs["pngx-sample.docx"].content
        assert "This is an ODT test document" in docs["pngx-sample.odt"].content
        assert failed_state(daemon.root) == {}
    finally:
        assert daemon.stop() == 0


def test_an_office_upload_is_taken_only_when_whole(tmp_path, corpus):
    from paperfs.consume.watcher import looks_complete

    whole = (corpus / "office/pngx-sample.docx").read_bytes()
    cut = tmp_path / "cut.docx"
    cut.write_bytes(whole[: len(whole) // 2])  # the central directory is at the end
    assert not looks_complete(cut, cut.stat().st_size)
    cut.write_bytes(whole)
    assert looks_complete(cut, cut.stat().st_size)


def test_a_worker_killed_at_its_timeout_takes_its_converter_with_it(tmp_path, corpus):
    """consume.timeout_seconds kills the worker while LibreOffice converts (its own
    timeout is far away): the converter and its helper go too, not left running for ever
    in their own session."""
    from tests.daemon import Daemon

    fake = tmp_path / "bin" / "soffice"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\necho $$ > {tmp_path}/soffice.pid\nsleep 300 &\n"
                    f"echo $! > {tmp_path}/helper.pid\nwait\n")
    fake.chmod(0o755)
    root = init_root(tmp_path, "ocr:\n  office_timeout_seconds: 300\n")
    config = root.root / "paperfs.yml"
    config.write_text(config.read_text().replace("timeout_seconds: 120", "timeout_seconds: 3"))
    daemon = Daemon(root, tmp_path / "daemon.log")
    daemon.env["PATH"] = f"{fake.parent}:{os.environ['PATH']}"
    daemon.start()
    try:
        shutil.copyfile(corpus / "office/pngx-sample.odt", root.inbox / "sample.odt")
        daemon.wait_for(lambda: "sample.odt" in failed_state(root), 60, "the worker's timeout")
        assert failed_state(root)["sample.odt"]["reason"] == "timeout"
        pids = [int((tmp_path / name).read_text()) for name in ("soffice.pid", "helper.pid")]
        assert _still_running(pids) == []
    finally:
        assert daemon.stop() == 0
        for name in ("soffice.pid", "helper.pid"):
            if (tmp_path / name).exists():
                try:
                    os.kill(int((tmp_path / name).read_text()), signal.SIGKILL)
                except ProcessLookupError:
                    pass
