"""The consume recipe: its stages in order, and inputs that yield several
documents or none, filed crash-safely part by part."""

from __future__ import annotations

import pickle
from pathlib import Path

import pikepdf
import pytest

import paperfs.archive.store as store
from paperfs.archive.document import read_sidecar
from paperfs.consume.jobs import Job
from paperfs.consume.messages import PrepareTask, WorkItem
from paperfs.consume.pipeline import COMMIT_STAGES, PREPARE_STAGES, Stage, prepare
from paperfs.consume.stages import detect
from paperfs.daemon.consumer import Consumer
from tests.helpers import archive_state, config_for, init_root, sha256
from tests.samples import make_text_pdf


@pytest.fixture
def root(tmp_path):
    return init_root(tmp_path)


def split_pages(item: WorkItem) -> tuple[WorkItem, ...]:
    """A split stage for tests: one document per page."""
    parts = []
    with pikepdf.open(item.pdf or item.original) as pdf:
        for number, page in enumerate(pdf.pages, 1):
            out = item.scratch / f"page-{number}.pdf"
            single = pikepdf.new()
            single.pages.append(page)
            single.save(out, deterministic_id=True)
            part = item.part(number, out, f"{Path(item.filename).stem} p{number}.pdf",
                             f"{item.title} p{number}")
            parts.append(detect.run(part))
    return tuple(parts)


def nothing(item: WorkItem) -> tuple[WorkItem, ...]:
    """A split stage for tests: the input holds nothing to file."""
    return ()


def recipe(split) -> tuple[Stage, ...]:
    return tuple(Stage("split", split) if s.name == "split" else s for s in PREPARE_STAGES)


def daemon(root, split=None) -> Consumer:
    """A one-shot consumer (serial pool) whose worker runs the recipe with *split*."""
    consumer = Consumer(config_for(root), serial=True)
    consumer.open()
    if split is not None:
        consumer.pool.func = lambda task: prepare(task, recipe(split))
    return consumer


class Crash(BaseException):
    """Stands in for SIGKILL: nothing catches it."""


def test_the_recipe_names_its_stages_in_order():
    assert [s.name for s in PREPARE_STAGES] == ["collate", "detect", "mail", "office", "convert",
                                               "split", "text", "dates", "classify"]
    assert COMMIT_STAGES == ("place", "write", "index")


def test_messages_between_daemon_and_worker_pickle(root, tmp_path):
    src = make_text_pdf(tmp_path / "p.pdf", ["pickled 01.02.2003"])
    consumer = daemon(root)
    try:
        consumer.claim_files([src])
        task = consumer._task(consumer.jobs.popleft())
        assert pickle.loads(pickle.dumps(task)) == task
        assert isinstance(task, PrepareTask) and task.source["kind"] == "cli"
        proposals = prepare(task)
        assert pickle.loads(pickle.dumps(proposals)) == proposals
        [proposal] = proposals
        assert proposal.title == "p" and proposal.original_sha256 == sha256(src)
        assert proposal.language == "eng" and proposal.created.year == 2003
    finally:
        consumer.close()


def test_one_input_filed_as_two_documents(root, tmp_path):
    src = make_text_pdf(tmp_path / "batch.pdf", ["Batch letter 05.06.2007"], pages=2)
    consumer = daemon(root, split_pages)
    done = []
    consumer.on_input_done = done.append  # what moves `paperfs consume`'s progress bar
    try:
        consumer.claim_files([src])
        results = consumer.consume_now()
    finally:
        consumer.close()
    assert [r.error for r in results] == [None, None]
    assert done == [str(src.resolve())]
    docs = archive_state(root)
    assert sorted(d.title for d in docs.values()) == ["batch p1", "batch p2"]
    assert {d.original.filename for d in docs.values()} == {"batch p1.pdf", "batch p2.pdf"}
    assert all(d.archive.pages == 1 for d in docs.values())
    assert [r.path for r in results] == ["Unknown/2007/2007-06-05 batch p1",
                                         "Unknown/2007/2007-06-05 batch p2"]
    assert not any(root.work.iterdir())


def test_an_input_with_nothing_to_file(root, tmp_path):
    src = make_text_pdf(tmp_path / "blank.pdf", ["only separator sheets"])
    consumer = daemon(root, nothing)
    done = []
    consumer.on_input_done = done.append
    try:
        consumer.claim_files([src])
        assert consumer.consume_now() == []
    finally:
        consumer.close()
    assert done == [str(src.resolve())]
    assert archive_state(root) == {}
    assert not any(root.work.iterdir()) and not any(root.failed.iterdir())


def test_a_two_part_job_interrupted_between_parts_finishes_only_the_second(
        root, tmp_path, monkeypatch):
    src = make_text_pdf(tmp_path / "batch.pdf", ["Batch letter 05.06.2007"], pages=2)
    consumer = daemon(root, split_pages)
    written = []
    real_write = store.write_sidecar

    def crash_before_second_sidecar(path, doc):
        if written:
            raise Crash
        written.append(doc.id)
        return real_write(path, doc)

    monkeypatch.setattr(store, "write_sidecar", crash_before_second_sidecar)
    try:
        consumer.claim_files([src])
        with pytest.raises(Crash):
            consumer.consume_now()
    finally:
        consumer.close()
    monkeypatch.undo()
    [folder] = root.work.iterdir()
    job = Job.load(folder)
    # both parts were given an id and a path before anything of theirs was written
    assert len(job.parts) == 2 and all(p.doc_id and p.archive_path for p in job.parts)
    first, second = (root.archive / part.archive_path for part in job.parts)
    assert read_sidecar(first.with_suffix(".yml")).id == job.parts[0].doc_id
    assert second.with_suffix(".pdf").exists() and not second.with_suffix(".yml").exists()

    restarted = daemon(root, split_pages)
    try:
        results = restarted.consume_now()
    finally:
        restarted.close()
    docs = archive_state(root)  # every sidecar parses and matches its files
    assert sorted(docs) == sorted(p.doc_id for p in job.parts)
    assert [r.doc.id for r in results] == [p.doc_id for p in job.parts]
    assert {d.title for d in docs.values()} == {"batch p1", "batch p2"}
    assert len({d.original.sha256 for d in docs.values()}) == 2
    assert not any(root.work.iterdir())
