"""The supervised worker pool: a hung or crashed worker fails only its own document."""

from __future__ import annotations

import time

from paperfs.errors import DocumentTimeoutError, EncryptedFileError, WorkerCrashedError
from paperfs.pool import SerialPool, WorkerPool
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
