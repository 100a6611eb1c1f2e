"""A full or read-only filesystem under the data root: recognising it, and waiting for room.

A write that fails with ENOSPC, EDQUOT or EROFS, or SQLite's "database or
disk is full", is not the fault of the document being written. Commands
stop with one line (StorageError). The daemon keeps running: RoomWait holds
each piece of work that found no room and tries it again, oldest first, once
its filesystem has room; consumption waits meanwhile and WebDAV keeps
serving reads.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import errno
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from paperfs.errors import DiskFullError, ReadOnlyStorageError, StorageError
from paperfs.index.sqlitelib import sqlite3

log = logging.getLogger(__name__)

_BY_ERRNO: dict[int, type[StorageError]] = {
    errno.ENOSPC: DiskFullError,
    errno.EDQUOT: DiskFullError,
    errno.EROFS: ReadOnlyStorageError,
}
#: the same problems in words: SQLite's exceptions carry no errno, and a worker's
#: errors reach the daemon as text
_BY_WORDS: dict[str, type[StorageError]] = {
    "database or disk is full": DiskFullError,
    "No space left on device": DiskFullError,
    "Disk quota exceeded": DiskFullError,
    "attempt to write a readonly database": ReadOnlyStorageError,
    "Read-only file system": ReadOnlyStorageError,
}

#: bytes free beyond a document's own needs before a retry is worth it
MIN_ROOM = 1024 * 1024
#: how often (seconds) the daemon looks again whether there is room
RETRY_SECONDS = 5.0
#: the same problem is logged again after this long (seconds), not on every retry
RELOG_SECONDS = 600.0


def storage_error(exc: BaseException, path: object = None) -> StorageError | None:
    """The StorageError behind exc (or the exceptions it was raised from), or None.

    path names the file when the exception does not (SQLite's never do)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, StorageError):
            return current
        if isinstance(current, OSError) and current.errno in _BY_ERRNO:
            # filename2 is the destination of a copy or rename: the file being written
            where = current.filename2 or current.filename or path or "?"
            return _BY_ERRNO[current.errno](where, os.strerror(current.errno))
        if isinstance(current, sqlite3.Error):
            for words, cls in _BY_WORDS.items():
                if words in str(current):
                    return cls(path or "the index", words)
        current = current.__cause__ or current.__context__
    return None


@contextlib.contextmanager
def storage_errors(path: object = None) -> Iterator[None]:
    """Raise StorageError for a full or read-only filesystem; other errors pass as they are."""
    try:
        yield
    except (OSError, sqlite3.Error) as exc:
        problem = storage_error(exc, path)
        if problem is None:
            raise
        raise problem from exc


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged writer may still use on path's filesystem."""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def read_only(path: Path) -> bool:
    """Whether path lies on a filesystem mounted read-only."""
    return bool(os.statvfs(path).f_flag & os.ST_RDONLY)


def worker_lacked_room(message: str, folder: Path, need: int) -> StorageError | None:
    """A worker's failure that was (or may have been) a lack of room, not the document's.

    A worker reports its errors as text, and a converter may have reworded an
    ENOSPC into "cannot read the image": so a document that failed while its
    filesystem had no room for it waits for room and is tried again (it then
    fails for its own reason, if it has one)."""
    for words, cls in _BY_WORDS.items():
        if words in message:
            return cls(folder, words)
    free = free_bytes(folder)
    if free < need:
        return DiskFullError(folder, f"{free:,} bytes free, {need:,} needed")
    return None


@dataclass
class Waiting:
    """One piece of work that found no room, and how to try it again."""

    #: what it is, for `paperfs status` (an inbox file, a sidecar)
    what: str
    #: does the work; raises StorageError while there is still no room
    retry: Callable[[], None]
    #: the file that could not be written (the filesystem that needs room)
    where: Path
    #: bytes that must be free there before a retry is worth it
    need: int


class RoomWait:
    """The daemon's pause while a filesystem is full (or read-only).

    hold() keeps the work that failed and pauses; retry() tries the waiting
    work again every RETRY_SECONDS once its filesystem has the room it needs,
    and ends the pause when all of it went through.
    """

    def __init__(self, retry_seconds: float = RETRY_SECONDS) -> None:
        self.retry_seconds = retry_seconds
        self.problem: StorageError | None = None
        self.waiting: collections.deque[Waiting] = collections.deque()
        self._since = 0.0
        self._next_retry = 0.0
        self._logged: tuple[str, float] = ("", 0.0)
        self._announce = False

    def announce(self) -> None:
        """Say in the log why consumption waits, from now on (the daemon does; a one-shot
        command raises the problem instead, and what it says would be wrong there)."""
        self._announce = True
        if self.problem is not None:
            self._say(self.problem)

    @property
    def paused(self) -> bool:
        return self.problem is not None

    def hold(self, problem: StorageError, what: str, retry: Callable[[], None],
             need: int = MIN_ROOM) -> None:
        self.waiting.append(Waiting(what, retry, Path(problem.path), need))
        self._pause(problem)

    def _pause(self, problem: StorageError) -> None:
        if self.problem is None:
            self._since = time.time()
        self.problem = problem
        self._next_retry = time.monotonic() + self.retry_seconds
        if self._announce:
            self._say(problem)

    def _say(self, problem: StorageError) -> None:
        message = f"{problem}; consumption waits and carries on by itself when there is room"
        last, when = self._logged
        if message != last or time.monotonic() - when >= RELOG_SECONDS:
            log.error("%s", message)
            self._logged = (message, time.monotonic())

    def retry(self) -> bool:
        """Try the waiting work again when it is time; True when the pause just ended."""
        if self.problem is None or time.monotonic() < self._next_retry:
            return False
        for _ in range(len(self.waiting)):
            item = self.waiting[0]
            if free_bytes(item.where) < item.need:
                self._next_retry = time.monotonic() + self.retry_seconds
                return False
            try:
                item.retry()
            except StorageError as problem:
                self._pause(problem)
                return False
            self.waiting.popleft()
        if self.waiting:  # a retry held new work (e.g. a failure that now has no room)
            self._next_retry = time.monotonic() + self.retry_seconds
            return False
        log.info("%s can be written again (%s is over): consumption carries on",
                 self.problem.path, self.problem.problem)
        self.problem = None
        self._logged = ("", 0.0)
        return True

    def status(self) -> dict[str, Any] | None:
        if self.problem is None:
            return None
        return {
            "problem": self.problem.problem,
            "path": self.problem.path,
            "message": str(self.problem),
            "since": dt.datetime.fromtimestamp(self._since, dt.timezone.utc).isoformat(),
            "waiting": [item.what for item in self.waiting],
        }
