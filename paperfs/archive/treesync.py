"""Bring the index in step with archive/ (the tree is the truth).

Used at daemon start-up (sidecars edited, moved or deleted while it was
down) and by ``paperfs reindex``. Reads sidecars only: no OCR, no PDF parsing.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from paperfs.archive.store import Archive
from paperfs.archive.document import read_sidecar
from paperfs.errors import SidecarError
from paperfs.index.base import IndexEntry

log = logging.getLogger(__name__)

BATCH = 500


@dataclass
class SyncReport:
    scanned: int = 0
    indexed: int = 0
    removed: int = 0
    problems: list[str] = field(default_factory=list)


def iter_sidecars(archive: Path) -> Iterator[os.DirEntry]:
    """Every *.yml under archive/, depth first, sorted for a stable order."""
    stack = [archive]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name, reverse=True)
        except FileNotFoundError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            elif entry.name.endswith(".yml") and entry.is_file(follow_symlinks=False):
                yield entry


def sync(archive: Archive, *, rebuild: bool = False,
         progress: Callable[[int], None] | None = None,
         apply_edits: bool = True) -> SyncReport:
    """Index what changed (or everything, with rebuild) and drop what is gone.

    With apply_edits, a sidecar changed since it was indexed is handled like a
    hand edit (validated, applied, moved by its template); without, it is just
    indexed as it is.
    """
    index = archive.index
    report = SyncReport()
    seen: set[int] = set()
    batch: list[IndexEntry] = []
    if rebuild:
        index.clear()

    def flush() -> None:
        if batch:
            index.upsert(batch)
            report.indexed += len(batch)
            batch.clear()

    for entry in iter_sidecars(archive.root.archive):
        report.scanned += 1
        if progress:
            progress(1)
        path = Path(entry.path)
        rel = archive.rel_of(path)
        st = entry.stat(follow_symlinks=False)
        ref = None if rebuild else index.ref_by_path(rel)
        if ref is not None and (ref.mtime_ns, ref.size) == (st.st_mtime_ns, st.st_size):
            seen.add(ref.id)
            continue
        if apply_edits and ref is not None:
            flush()
            outcome = archive.sidecar_changed(path)
            if outcome == "invalid":
                report.problems.append(f"{path}: invalid edit, not applied")
            seen.add(ref.id)
            continue
        try:
            doc = read_sidecar(path)
        except (SidecarError, OSError) as exc:
            report.problems.append(str(exc))
            continue
        if doc.id in seen:
            report.problems.append(f"{path}: id {doc.id} is used by another sidecar too")
            continue
        seen.add(doc.id)
        batch.append(IndexEntry(doc=doc, path=rel, mtime_ns=st.st_mtime_ns, size=st.st_size))
        if len(batch) >= BATCH:
            flush()
    flush()
    if not rebuild:
        gone = [ref.id for ref in index.refs() if ref.id not in seen]
        if gone:
            index.delete(gone)
            report.removed = len(gone)
    for problem in report.problems:
        log.error("%s", problem)
    return report
