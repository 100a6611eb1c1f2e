"""Tasks for tests/test_pool.py; a module of their own so spawned workers can import them."""

from __future__ import annotations

import os
import signal
import time

from paperfs.errors import EncryptedFileError

# A worker imports this module when it starts (spawn): a slow import stands in
# for heavy imports on a busy machine. Set by the test, inherited by the worker.
time.sleep(float(os.environ.get("PAPERFS_TEST_WORKER_IMPORT_SECONDS", "0")))


def task(arg: tuple[str, float]) -> str:
    kind, seconds = arg
    if kind == "sleep":
        time.sleep(seconds)
        return f"slept {seconds}"
    if kind == "crash":
        os.kill(os.getpid(), signal.SIGKILL)
    if kind == "raise":
        raise EncryptedFileError("x.pdf is password-protected")
    if kind == "bug":
        raise ValueError("a bug in a stage")
    if kind == "env":
        return os.environ.get("OMP_THREAD_LIMIT", "")
    return kind
