"""Double-sided collation: the odd-page pass waits for the even-page pass, then the
two become one document (pages checked by their text); the real daemon waits
across a restart; a wrong page count fails both files; a first pass left
alone past the window is filed alone."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from paperfs.config import load_config
from paperfs.consume.jobs import WorkQueue
from paperfs.consume.messages import PrepareTask
from paperfs.consume.pipeline import prepare
from paperfs.daemon.status import collect_status
from paperfs.errors import ConsumeError
from tests.daemon import Daemon
from tests.helpers import (archive_state, config_for, drop, failed_count, failed_state, filed_count,
                           init_root, page_texts, sha256)

FOLDER = "double-sided"


@pytest.fixture
def root(tmp_path):
    return init_root(tmp_path)


@pytest.fixture
def daemon(root, tmp_path):
    d = Daemon(root, tmp_path / "daemon.log", double_sided__enabled="true",
               ocr__mode="never")
    yield d
    if d.proc is not None and d.proc.poll() is None:
        d.stop()


def passes(tmp_path: Path, odd: int, even: int) -> tuple[Path, Path]:
    """A stack of odd + even pages scanned single-sided: fronts in order, then the
    backs as the turned-over stack comes out (last back first)."""
    from fpdf import FPDF

    def pdf(name: str, numbers: list[int]) -> Path:
        out = FPDF()
        out.set_font("helvetica", size=14)
        for number in numbers:
            out.add_page()
            out.cell(0, 10, f"Sheet side number {number}")
        out.output(str(tmp_path / name))
        return tmp_path / name

    return (pdf("fronts.pdf", list(range(1, 2 * odd, 2))),
            pdf("backs.pdf", list(range(2 * even, 0, -2))))


def collate(root, tmp_path, first: Path, second: Path):
    """The recipe on a second pass and its first, as the daemon hands it to a worker."""
    work = WorkQueue(root.work)
    job1 = work.claim(first, source="inbox/double-sided/" + first.name, copy=True)
    job2 = work.claim(second, source="inbox/double-sided/" + second.name, copy=True)
    config = config_for(root, ocr__mode="never")
    return prepare(PrepareTask.for_job(job2, ocr=config.ocr, dates=config.consume,
                                       first_pass=job1))


def test_two_passes_interleave_in_page_order(root, tmp_path):
    [proposal] = collate(root, tmp_path, *passes(tmp_path, 3, 3))
    assert page_texts(proposal.archive_pdf) == [f"Sheet side number {n}" for n in range(1, 7)]
    assert proposal.original_filename == "fronts.pdf" and proposal.title == "fronts"
    assert [(p["name"], p["pages"]) for p in proposal.source["collated"]] == [
        ("fronts.pdf", 3), ("backs.pdf", 3)]


def test_a_blank_last_back_may_be_missing(root, tmp_path):
    [proposal] = collate(root, tmp_path, *passes(tmp_path, 3, 2))
    assert page_texts(proposal.archive_pdf) == [f"Sheet side number {n}" for n in range(1, 6)]


@pytest.mark.parametrize("odd, even", [(2, 3), (4, 2)])
def test_page_counts_that_do_not_fit_are_an_error(root, tmp_path, odd, even):
    with pytest.raises(ConsumeError, match=rf"has {odd} page\(s\), the second .* has {even}"):
        collate(root, tmp_path, *passes(tmp_path, odd, even))


def test_the_corpus_passes_through_the_daemon_with_a_crash_between(daemon, root, corpus):
    odd = corpus / "double-sided/pngx-double-sided-odd.pdf"
    even = corpus / "double-sided/pngx-double-sided-even.pdf"
    daemon.start()
    drop(odd, root.inbox / FOLDER)
    daemon.wait_for(lambda: daemon.status().get("double_sided_waiting"), 30, "the first pass")
    [waiting] = daemon.status()["double_sided_waiting"]
    assert waiting["source"] == f"inbox/{FOLDER}/{odd.name}"
    daemon.kill()  # not even a clean stop: the waiting is on disk
    # without a daemon, status reads the waiting pass from its job
    [waiting] = collect_status(load_config(root.root / "paperfs.yml"))["double_sided_waiting"]
    assert waiting["source"] == f"inbox/{FOLDER}/{odd.name}"

    daemon.start()
    daemon.wait_for(lambda: daemon.status().get("double_sided_waiting"), 30,
                    "the first pass waiting again after the restart")
    assert (root.inbox / FOLDER).is_dir()  # kept for the scanner, though empty
    drop(even, root.inbox / FOLDER)
    daemon.wait_for(lambda: filed_count(root) == 1 and not any(root.work.iterdir()),
                    60, "the collated document")
    [doc] = archive_state(root).values()
    pdf = root.archive / next(root.archive.rglob("*.pdf")).relative_to(root.archive)
    assert page_texts(pdf) == [f"This is page {n}" for n in range(1, 6)]
    assert doc.tags == ()  # the collating folder is no tag
    assert [(p["name"], p["sha256"]) for p in doc.source["collated"]] == [
        (odd.name, sha256(odd)), (even.name, sha256(even))]
    daemon.wait_for(lambda: daemon.status()["double_sided_waiting"] == [], 5,
                    "status without the first pass")


def test_a_wrong_page_count_keeps_both_files_in_failed(daemon, root, tmp_path):
    fronts, backs = passes(tmp_path, 2, 4)
    daemon.start()
    drop(fronts, root.inbox / FOLDER)
    daemon.wait_for(lambda: daemon.status().get("double_sided_waiting"), 30, "the first pass")
    drop(backs, root.inbox / FOLDER)
    daemon.wait_for(lambda: failed_count(root) == 2, 60, "both passes in failed/")
    failed = failed_state(root)
    assert set(failed) == {"fronts.pdf", "backs.pdf"}
    assert {info["reason"] for info in failed.values()} == {"double-sided"}
    assert "has 2 page(s), the second backs.pdf has 4" in failed["backs.pdf"]["message"]
    assert sha256(root.failed / "fronts.pdf") == sha256(fronts)
    assert sha256(root.failed / "backs.pdf") == sha256(backs)
    assert archive_state(root) == {}
    daemon.wait_for(lambda: not any(root.work.iterdir()), 10, "no job left")


def test_a_first_pass_alone_past_the_window_is_filed_alone(root, tmp_path):
    daemon = Daemon(root, tmp_path / "daemon.log", double_sided__enabled="true",
                    double_sided__window_seconds="2", ocr__mode="never")
    fronts, _ = passes(tmp_path, 2, 2)
    daemon.start()
    try:
        drop(fronts, root.inbox / "scans" / FOLDER)
        daemon.wait_for(lambda: daemon.status().get("double_sided_waiting"), 30, "waiting")
        started = time.monotonic()
        daemon.wait_for(lambda: filed_count(root) == 1, 30, "the pass filed alone")
        assert time.monotonic() - started > 0.5
        [doc] = archive_state(root).values()
        assert doc.archive.pages == 2 and "collated" not in doc.source
        assert "no second pass" in daemon.log()
    finally:
        daemon.stop()


def test_a_pair_claimed_before_a_crash_is_collated_at_the_next_start(root, tmp_path):
    """The crash came after the second pass recorded its first, before it was filed:
    the next start prepares the pair again (the first pass does not wait again)."""
    from paperfs.daemon.consumer import Consumer

    fronts, backs = passes(tmp_path, 2, 2)
    work = WorkQueue(root.work)
    first = work.claim(fronts, source=f"inbox/{FOLDER}/fronts.pdf", copy=True)
    first = first.record(waiting_since="2026-01-01T00:00:00+00:00")
    second = work.claim(backs, source=f"inbox/{FOLDER}/backs.pdf", copy=True)
    second.record(collate_with=first.job_id)
    consumer = Consumer(config_for(root, ocr__mode="never", double_sided__enabled="true"),
                        serial=True)
    consumer.open()
    try:
        assert consumer.collator.waiting == {}
        [result] = consumer.consume_now()
    finally:
        consumer.close()
    assert page_texts(root.archive / f"{result.path}.pdf") == [
        f"Sheet side number {n}" for n in range(1, 5)]
    assert not any(root.work.iterdir())
