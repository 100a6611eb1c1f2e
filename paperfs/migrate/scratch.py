"""Temporary folders of an import under .paperfs/migrate/ that a kill -9 cannot leave behind.

An unpacked zip is as large as the export; ``TemporaryDirectory`` removes it
at the end of a run, but not after a kill -9 or a power loss. Each folder
here is held by an flock on ``<folder>.lock``, taken before the folder is
made; the next import (or dry run) removes every folder of the kind whose
lock nobody holds, and leaves those of a run still going.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
from pathlib import Path
from typing import Iterator

LOCK_SUFFIX = ".lock"


def _held_lock(lock: Path, wait: bool) -> int | None:
    """An fd holding lock's flock, or None when another process holds it."""
    fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def sweep(parent: Path, prefix: str) -> int:
    """Remove the folders *prefix*… under *parent* that no running import holds."""
    removed = 0
    for folder in parent.glob(prefix + "*"):
        if not folder.is_dir():
            continue
        lock = folder.with_name(folder.name + LOCK_SUFFIX)
        fd = _held_lock(lock, wait=False)
        if fd is None:
            continue  # a run still going
        try:
            shutil.rmtree(folder, ignore_errors=True)
            lock.unlink(missing_ok=True)
            removed += 1
        finally:
            os.close(fd)
    return removed


@contextlib.contextmanager
def scratch_folder(parent: Path, prefix: str) -> Iterator[Path]:
    """A new folder *prefix*… under *parent*, removed at the end (or by the next sweep)."""
    parent.mkdir(parents=True, exist_ok=True)
    sweep(parent, prefix)
    folder = parent / f"{prefix}{secrets.token_hex(6)}"
    lock = folder.with_name(folder.name + LOCK_SUFFIX)
    fd = _held_lock(lock, wait=True)
    assert fd is not None
    try:
        folder.mkdir()
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        lock.unlink(missing_ok=True)
        os.close(fd)
