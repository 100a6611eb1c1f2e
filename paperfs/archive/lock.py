"""The writer lock: only one process changes a data root at a time.

``.paperfs/writer.lock`` is held with flock(2) by the process that writes (the
daemon, a one-shot ``paperfs consume``, ``reindex``, ``check --fix``, ``edit``
with no daemon running); it holds that process's pid so that a second one can
say who is in the way. The kernel drops the lock when the process dies, so a
crash never leaves a data root locked.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from paperfs.archive.storage import storage_errors
from paperfs.errors import WriterLockedError


class WriterLock:
    """Only one process changes a data root; a second one is told who holds it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock now."""
        return self._fd is not None

    def acquire(self) -> None:
        with storage_errors(self.path):  # a read-only data root: one line, not a traceback
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise WriterLockedError(f"{self.path.parent.parent}: another paperfs process "
                                f"(pid {holder}) is working on this data root") from None
        holder = f"{os.getpid()}\n".encode()
        # Written over the old pid before truncating: on a full disk the block is reused.
        os.pwrite(fd, holder, 0)
        os.ftruncate(fd, len(holder))
        self._fd = fd

    def acquire_for(self, what: str) -> None:
        """Acquire for a command that cannot run beside the daemon; the error says so."""
        try:
            self.acquire()
        except WriterLockedError as exc:
            raise WriterLockedError(
                f"{exc}. '{what}' needs the writer lock: stop the daemon first (it keeps the "
                "index in step by itself while it runs), then run it again") from None

    def held_elsewhere(self) -> bool:
        try:
            self.acquire()
        except WriterLockedError:
            return True
        self.release()
        return False

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
