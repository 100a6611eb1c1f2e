"""Thread-safe access to the one writer for other threads of the daemon (WebDAV).

The consumer's main loop and, e.g., WebDAV request threads all change the
archive through the same Archive object; this lock makes their changes happen
one at a time, as if there were one writer thread.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, TypeVar

from paperfs.archive.store import Archive
from paperfs.archive.document import Document

T = TypeVar("T")


class LockedWriter:
    def __init__(self, archive: Archive, lock: threading.RLock | None = None) -> None:
        self.archive = archive
        self.lock = lock or threading.RLock()

    def run(self, operation: Callable[[Archive], T]) -> T:
        """Run any writer operation with exclusive access to the archive."""
        with self.lock:
            return operation(self.archive)

    def update(self, doc_id: int, change: Callable[[Document], Document]) -> Document:
        return self.run(lambda a: a.update(doc_id, change))

    def sidecar_changed(self, sidecar: Path) -> str:
        return self.run(lambda a: a.sidecar_changed(sidecar))
