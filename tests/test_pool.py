"""The supervised worker pool: a hung or crashed worker fails only its own document."""

from __future__ import annotations

import time

from paperfs.errors import DocumentTimeoutError, EncryptedFileError, WorkerCrashedError
from paperfs.config import DateConfig, OcrConfig
from paperfs.consume.messages import PREPARE, PrepareTask
from paperfs.consume.pool import SerialPool, WorkerPool
from tests.pool_tasks import task


def run_all(pool, tasks: dict, timeout: float = 60) -> dict:
    pending = dict(tasks)
    outcomes = {}
    deadline = time.monotonic() + timeout
    while (pending or pool.busy) and time.monotonic() < deadline:
        while pending and pool.free:
            key, arg = pending.popitem()
            pool.submit(key, arg)
        for outcome in pool.poll(0.2):
            outcomes[outcome.key] = outcome
    return outcomes


def test_hang_and_crash_fail_only_their_documents():
    pool = WorkerPool(task, workers=2, timeout=3, idle_seconds=60)
    try:
        outcomes = run_all(pool, {
            "hung": ("sleep", 60), "crashed": ("crash", 0), "encrypted": ("raise", 0),
            "bug": ("bug", 0), "ok1": ("sleep", 0.1), "ok2": ("fine", 0), "ok3": ("fine", 0),
        })
    finally:
        pool.shutdown()
    assert isinstance(outcomes["hung"].error, DocumentTimeoutError)
    assert isinstance(outcomes["crashed"].error, WorkerCrashedError)
    assert "signal 9" in str(outcomes["crashed"].error)
    assert isinstance(outcomes["encrypted"].error, EncryptedFileError)
    assert "ValueError: a bug in a stage" in str(outcomes["bug"].error)
    assert outcomes["ok1"].result == "slept 0.1"
    assert outcomes["ok2"].result == outcomes["ok3"].result == "fine"


def test_workers_are_single_threaded_and_retire_when_idle():
    pool = WorkerPool(task, workers=2, timeout=30, idle_seconds=0.5)
    try:
        outcomes = run_all(pool, {"a": ("env", 0)})
        assert outcomes["a"].result == "1"  # OMP_THREAD_LIMIT for tesseract
        assert len(pool._workers) == 1  # started on demand, one per document in flight
        time.sleep(0.7)
        pool.retire_idle()
        assert pool._workers == []
    finally:
        pool.shutdown()


def test_serial_pool_same_interface():
    pool = SerialPool(task)
    outcomes = run_all(pool, {"x": ("fine", 0), "y": ("raise", 0)})
    assert outcomes["x"].result == "fine"
    assert isinstance(outcomes["y"].error, EncryptedFileError)


def test_timeout_starts_when_the_worker_starts_the_document(monkeypatch):
    # Each new worker takes 2.5 s to import its task module; a 1 s document
    # limit must count the document, not the start-up.
    monkeypatch.setenv("PAPERFS_TEST_WORKER_IMPORT_SECONDS", "2.5")
    pool = WorkerPool(task, workers=2, timeout=1.5, idle_seconds=60)
    try:
        outcomes = run_all(pool, {"quick": ("sleep", 0.2), "hung": ("sleep", 30)})
    finally:
        pool.shutdown()
    assert outcomes["quick"].error is None and outcomes["quick"].result == "slept 0.2"
    assert isinstance(outcomes["hung"].error, DocumentTimeoutError)


def test_a_worker_that_never_starts_fails_its_document(monkeypatch):
    monkeypatch.setenv("PAPERFS_TEST_WORKER_IMPORT_SECONDS", "30")
    pool = WorkerPool(task, workers=1, timeout=1, startup_seconds=2, idle_seconds=60)
    started = time.monotonic()
    try:
        outcomes = run_all(pool, {"x": ("fine", 0)})
    finally:
        pool.shutdown()
    assert time.monotonic() - started < 15
    error = outcomes["x"].error
    assert isinstance(error, WorkerCrashedError) and "start this document within 2s" in str(error)


def test_born_digital_pdf_beside_an_ocr_job_with_a_short_timeout(corpus, tmp_path):
    # The reported case with the real pipeline: consume.timeout_seconds 1, two
    # workers, a scan being OCRed (which may time out) and a tiny born-digital
    # PDF, whose own work takes a few tens of milliseconds.
    # The pipeline by name, as the daemon gives it: imported in the worker only.
    pool = WorkerPool(PREPARE, workers=2, timeout=1, idle_seconds=60)

    def work(name: str, src) -> PrepareTask:
        return PrepareTask(job_id=name, input=src, scratch=tmp_path / name, filename=src.name,
                           file_mtime=0.0, ocr=OcrConfig(), dates=DateConfig())

    try:
        outcomes = run_all(pool, {"scan": work("scan", corpus / "scans/skew.pdf"),
                                  "digital": work("digital", corpus / "digital/pngx-simple-digital.pdf")})
    finally:
        pool.shutdown()
    assert outcomes["digital"].error is None, outcomes["digital"].error
    [proposal] = outcomes["digital"].result
    assert proposal.archive.pages == 1
    assert outcomes["scan"].error is None or isinstance(outcomes["scan"].error, DocumentTimeoutError)
