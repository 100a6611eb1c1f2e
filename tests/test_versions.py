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
