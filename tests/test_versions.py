"""Versions: listed and restored; a crash at each step of the switch (the process
SIGKILLed there) leaves the previous version intact and current, or the new one
complete; edits handed to a running daemon."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from paperfs.archive.document import read_sidecar
from paperfs.archive.versions import CRASH_ENV, CRASH_STEPS, history, version_file
from paperfs.consume.stages.ocr import extract_text
from paperfs.daemon.consumer import Consumer
from paperfs.daemon.page_edits import PageEdits
from paperfs.runtime import Runtime
from tests.daemon import Daemon
from tests.helpers import archive_state, config_for, init_root, sha256
from tests.samples import make_text_pdf


def paperfs(root, *args, env=None, check=True):
    proc = subprocess.run([sys.executable, "-m", "paperfs", "--root", str(root.root),
                           *map(str, args)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def page_numbers(pdf):
    return [int(text.split("Page ")[1]) for text in extract_text(pdf)]


def the_document(root, doc_id=1):
    docs = archive_state(root)  # every PDF matches its sidecar, originals untouched
    sidecar = next(p for p in root.archive.rglob("*.yml") if read_sidecar(p).id == doc_id)
    return docs[doc_id], sidecar.with_suffix(".pdf")


@pytest.fixture(scope="module")
def filed(tmp_path_factory):
    """A data root with one 4-page letter, copied for each test."""
    tmp = tmp_path_factory.mktemp("filed")
    root = init_root(tmp)
    consumer = Consumer(config_for(root), serial=True)
    consumer.open()
    try:
        consumer.claim_files([make_text_pdf(tmp / "letter.pdf", ["Letter"], pages=4)])
        [result] = consumer.consume_now()
    finally:
        consumer.close()
    assert result.error is None
    return root


@pytest.fixture
def root(filed, tmp_path):
    shutil.copytree(filed.root, tmp_path / "data")
    return type(filed)(tmp_path / "data")


def test_versions_listed_and_restored_as_a_new_version(root):
    first = the_document(root)[0].archive.sha256
    paperfs(root, "pages", 1, "delete", "1")
    paperfs(root, "pages", 1, "rotate", "1", "90")
    listed = json.loads(paperfs(root, "pages", 1, "versions", "--json").stdout)
    assert [v["operation"] for v in listed] == ["filed", "delete 1", "rotate 1 90"]
    assert [v["pages"] for v in listed] == [4, 3, 3]
    assert listed[0]["sha256"] == first
    assert sha256(version_file(root, 1, 1)) == first
    assert page_numbers(version_file(root, 1, 2)) == [2, 3, 4]
    out = paperfs(root, "pages", 1, "restore", "1")
    assert "version 4 (restore 1), 4 page(s)" in out.stdout
    doc, pdf = the_document(root)
    assert sha256(pdf) == first and doc.archive.pages == 4
    assert [v.version for v in history(doc)] == [1, 2, 3, 4]
    assert "Page 1" in doc.content
    text = paperfs(root, "pages", 1, "versions").stdout.splitlines()
    assert text[-1].startswith("*   4") and "restore 1" in text[-1]


@pytest.mark.parametrize("step", CRASH_STEPS)
def test_a_crash_at_each_step_keeps_a_whole_version(root, tmp_path, step):
    other = make_text_pdf(tmp_path / "other.pdf", ["Other"], pages=1)
    paperfs(root, "consume", other)
    before, pdf = the_document(root)
    operation = ("merge", 2) if step == "merged" else ("split", 3)
    killed = paperfs(root, "pages", 1, *operation, env={CRASH_ENV: step}, check=False)
    assert killed.returncode == -9, killed.stderr
    # The next writer recovers: rolled back before the commit point, completed after.
    runtime = Runtime(config_for(root))
    writer = runtime.open_writer()
    committed = step in ("sidecar", "merged")
    doc, pdf = the_document(root)
    if committed:
        assert doc.archive.sha256 != before.archive.sha256
        assert sha256(version_file(root, 1, 1)) == before.archive.sha256
        assert not list(root.edits.iterdir()), "a committed request is gone"
    else:
        assert doc == before, "the previous version stays current"
        assert page_numbers(pdf) == [1, 2, 3, 4]
        assert not version_file(root, 1, 1).exists(), "the half-made version is removed"
        assert sorted(archive_state(root)) == [1, 2], "no split-off part is left"
        # The request is still queued: done once by the writer's next pass.
        edits = PageEdits(runtime.config, writer)
        done = []
        edits.on_done = lambda name, outcome: done.append(outcome)
        while not done:
            edits.run_pass(timeout=0.5)
        edits.close()
        doc, pdf = the_document(root)
    runtime.close()
    assert [v.version for v in history(doc)] == [1, 2], "the edit happened once"
    assert not list(root.journal.glob("edit-*"))
    if operation[0] == "split":
        assert page_numbers(pdf) == [1, 2]
        # (ids are never reused: a rolled-back attempt's id stays unused)
        assert len(archive_state(root)) == 3
    else:
        assert doc.archive.pages == 5 and sorted(archive_state(root)) == [1]
        assert (root.trash / "0000002").is_dir()


def test_an_edit_made_from_an_old_version_is_refused(root):
    runtime = Runtime(config_for(root))
    writer = runtime.open_writer()
    from paperfs.archive import pages, versions

    doc, pdf = the_document(root)
    requests = []
    for spec in ("1", "2"):  # two edits made from the same version
        folder = versions.new_request_folder(root)
        pages.delete(pdf, folder / "new.pdf", [int(spec) - 1])
        requests.append(versions.submit(versions.EditRequest(
            folder, 1, doc.archive.sha256, f"delete {spec}", "alice",
            (versions.Output("new.pdf", ()),))))
    edits = PageEdits(runtime.config, writer)
    done = {}
    edits.on_done = lambda name, outcome: done.setdefault(name, outcome)
    while len(done) < 2:
        edits.run_pass(timeout=0.5)
    edits.close()
    runtime.close()
    first, second = (done[r.folder.name] for r in requests)
    assert history(first)[-1].operation == "delete 1"
    assert "changed after this edit (delete 2) was made" in str(second)
    doc, pdf = the_document(root)
    assert page_numbers(pdf) == [2, 3, 4]
    [info] = root.failed.glob("*.error.yml")
    assert "stale-edit" in info.read_text()


def test_edits_beside_a_running_daemon(root, tmp_path):
    daemon = Daemon(root, tmp_path / "daemon.log").start()
    try:
        out = paperfs(root, "pages", 1, "move", "4", "--to", "1")
        assert "version 2 (move 4 --to 1)" in out.stdout, out.stderr
        assert "handed to the running daemon" in out.stderr
        out = paperfs(root, "pages", 1, "delete", "9", check=False)
        assert out.returncode == 2 and "has 4 pages" in out.stderr
        shown = json.loads(paperfs(root, "show", 1, "--json").stdout)
        assert shown["content"].index("Page 4") < shown["content"].index("Page 1")
    finally:
        daemon.stop()
    doc, pdf = the_document(root)
    assert page_numbers(pdf) == [4, 1, 2, 3]


def test_a_pdf_put_over_a_document_is_its_new_version(tmp_path):
    """Through the real WebDAV server inside the daemon: the text is made by the
    daemon's text stage, not in the request thread."""
    import hashlib
    import time

    from tests.dav_support import daemon_serving, req, send_and_hang_up, wait_for

    def wait(predicate, what):
        assert wait_for(predicate, 60), f"timed out waiting for {what}"

    with daemon_serving(tmp_path, "  inbox_idle_seconds: 0.3\n") as (service, dav):
        root = dav.root
        first = make_text_pdf(tmp_path / "first.pdf", ["Letter"], pages=3)
        assert dav.request("PUT", "/inbox/letter.pdf", body=first.read_bytes()).status == 201
        wait(lambda: service.consumer.results, "the upload to be filed")
        doc_id = service.consumer.results[0].doc.id
        before = dav.sidecar(doc_id)
        second = make_text_pdf(tmp_path / "second.pdf", ["Signed copy"], pages=2).read_bytes()
        # Refused, nothing changed: a user who may not see it, a body that is not a
        # whole PDF, a document locked by someone else.
        hidden = dav.request("PUT", f"/by-id/{doc_id}.pdf", "bob", body=second)
        missing = dav.request("PUT", "/by-id/999.pdf", "bob", body=second)
        assert (hidden.status, hidden.body.split(b"<hr")[0]) == (
            missing.status, missing.body.split(b"<hr")[0].replace(b"999", str(doc_id).encode()))
        r = dav.request("PUT", f"/by-id/{doc_id}.pdf", body=second[:-200])
        assert r.status == 400 and b"nothing was changed" in r.body
        # cut after an earlier revision's end marker: it opens, but it is not the whole file
        r = dav.request("PUT", f"/by-id/{doc_id}.pdf", body=second + b"\n1 0")
        assert r.status == 400 and b"cut off" in r.body
        lock = dav.request("LOCK", f"/by-id/{doc_id}.pdf", "alice", headers={
            "Content-Type": "application/xml", "Timeout": "Second-60"},
            body='<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope>'
                 '<D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>'
                 '</D:lockinfo>')
        assert lock.status == 200
        token = lock.headers["lock-token"]
        assert dav.request("PUT", f"/by-id/{doc_id}.pdf", "root", body=second).status == 423
        assert dav.request("UNLOCK", f"/by-id/{doc_id}.pdf", "alice",
                           headers={"Lock-Token": token}).status == 204
        # A client that hangs up halfway through the body.
        send_and_hang_up(dav, req("PUT", f"/by-id/{doc_id}.pdf", body=second[:300],
                                  headers={"Content-Length": str(len(second))}))
        time.sleep(1.0)
        assert dav.sidecar(doc_id).archive == before.archive
        assert not [p for p in root.edits.iterdir()], "refused uploads leave nothing"
        # Accepted: the new version is current a moment later, the old one kept.
        assert dav.request("PUT", f"/by-id/{doc_id}.pdf", body=second).status in (201, 204)
        wait(lambda: dav.sidecar(doc_id).archive.pages == 2, "the new version")
        doc = dav.sidecar(doc_id)
        assert "Signed copy" in doc.content and "Letter" not in doc.content
        assert [(v.operation, v.by) for v in history(doc)] == [("filed", None),
                                                              ("upload", "alice")]
        served = dav.request("GET", f"/by-id/{doc_id}.pdf").body
        assert hashlib.sha256(served).hexdigest() == doc.archive.sha256
        assert sha256(version_file(root, doc_id, 1)) == before.archive.sha256
        assert dav.names("/search/signed/") != []
        # Over its path in /archive too.
        path = "/archive/" + next(root.archive.rglob("*.pdf")).relative_to(
            root.archive).as_posix()
        assert dav.request("PUT", path, body=first.read_bytes()).status in (201, 204)
        wait(lambda: dav.sidecar(doc_id).archive.pages == 3, "the version put over /archive")


def test_check_reports_missing_damaged_and_orphaned_versions(root):
    from paperfs.archive.check import check

    paperfs(root, "pages", 1, "delete", "1")
    paperfs(root, "pages", 1, "delete", "1")
    assert check(config_for(root)).ok
    version_file(root, 1, 1).unlink()
    version_file(root, 1, 2).write_bytes(b"%PDF-1.4 damaged")
    orphan = version_file(root, 99, 1)
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"%PDF-1.4")
    kinds = {(p.kind, p.path) for p in check(config_for(root)).problems}
    assert kinds == {("missing-version", "versions/0000/0000001/v1.pdf"),
                     ("version-checksum", "versions/0000/0000001/v2.pdf"),
                     ("orphan-versions", "versions/0000/0000099")}


def test_a_document_deleted_for_good_takes_its_versions_along(root):
    paperfs(root, "pages", 1, "delete", "1")
    folder = version_file(root, 1, 1).parent
    runtime = Runtime(config_for(root))
    writer = runtime.open_writer()
    try:
        writer.trash(1, "alice", lambda doc: None)
        assert folder.is_dir(), "a trashed document keeps its versions (restorable)"
        writer.purge(1, lambda doc: None)
        assert not folder.exists() and not list(root.versions.iterdir())
        # ... and so does one whose time in the trash ran out.
        other = make_text_pdf(root.root / "other.pdf", ["Other"], pages=2)
        runtime.close()
        paperfs(root, "consume", other)
        paperfs(root, "pages", 2, "delete", 1)
        runtime = Runtime(config_for(root))
        writer = runtime.open_writer()
        writer.trash(2, "alice", lambda doc: None)
        assert version_file(root, 2, 1).exists()
        assert writer.expire_trash(0) == 1
        assert not list(root.versions.iterdir())
    finally:
        runtime.close()
