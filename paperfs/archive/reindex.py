"""Rebuild the index from archive/ (sidecars only: no OCR, no PDF parsing).

``rebuild`` builds a complete new index aside (for SQLite: a new file next to
the old one, renamed over it at the end), so a rebuild that is interrupted —
Ctrl-C, SIGKILL, power loss — leaves the old index untouched; running it
again starts over. ``changed=True`` is the daemon's start-up sync: only
sidecars whose (mtime, size) differ from the index are read (hand edits are
applied as the daemon would), vanished ones are dropped.

Both take the writer lock: the daemon and a reindex never write at once.
"""

from __future__ import annotations

import collections
import logging
import multiprocessing
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from paperfs.archive.document import read_sidecar
from paperfs.archive.layout import DataRoot
from paperfs.archive.recovery import finish_interrupted
from paperfs.archive.treesync import SyncReport, iter_sidecars, sync
from paperfs.config import Config
from paperfs.errors import SidecarError
from paperfs.index.base import Index, IndexEntry
from paperfs.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass
class ReindexReport:
    changed_only: bool
    scanned: int = 0
    indexed: int = 0
    removed: int = 0
    seconds: float = 0.0
    documents: int = 0
    stemming: str = "none"
    problems: list[str] = field(default_factory=list)
    #: time spent on the index's housekeeping at the end (champion lists)
    maintain_seconds: float = 0.0
    #: thumbnails made (missing ones only) and PDFs that could not be rendered
    thumbnails: tuple[int, int] = (0, 0)

    @property
    def rate(self) -> float:
        return self.scanned / self.seconds if self.seconds else 0.0


#: sidecars per transaction of a full rebuild
REBUILD_BATCH = 2000
#: sidecars one parser process reads per task
_CHUNK = 250
#: below this many sidecars a rebuild parses in this process
_PARALLEL_FROM = 2000

#: (sidecar path, document id, what the index's writer takes or None, problem)
_Parsed = tuple[str, int, Any, str]


def _parse_chunk(paths: list[str], archive_dir: str,
                 prepare: Callable[[IndexEntry], Any] | None) -> list[_Parsed]:
    """Read sidecars (in a parser process) into index entries, or into what the
    index's ``prepare`` makes of them (its rows: built here, in parallel)."""
    out: list[_Parsed] = []
    prefix = os.path.join(archive_dir, "")
    for path in paths:
        try:
            st = os.stat(path)
            doc = read_sidecar(Path(path))
        except (SidecarError, OSError) as exc:
            out.append((path, 0, None, str(exc)))
            continue
        if path.startswith(prefix) and path.endswith(".yml") and os.sep == "/":
            rel = path[len(prefix):-4]  # what relative_to().with_suffix("") gives, faster
        else:
            rel = Path(path).relative_to(archive_dir).with_suffix("").as_posix()
        entry = IndexEntry(doc=doc, path=rel, mtime_ns=st.st_mtime_ns, size=st.st_size)
        out.append((path, doc.id, prepare(entry) if prepare else entry, ""))
    return out


def _chunks(paths: Iterator[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for path in paths:
        chunk.append(path)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _parsed(archive_dir: Path, workers: int,
            prepare: Callable[[IndexEntry], Any] | None) -> Iterator[_Parsed]:
    """Every sidecar parsed, in the walk order of treesync.iter_sidecars.

    YAML parsing is most of the cost of a rebuild, so it runs in ``workers``
    processes while this one writes the index; at most a few chunks are in
    flight, so memory stays flat however large the archive is.
    """
    paths = (entry.path for entry in iter_sidecars(archive_dir))
    if workers <= 0:
        for chunk in _chunks(paths, _CHUNK):
            yield from _parse_chunk(chunk, str(archive_dir), prepare)
        return
    # Parsers keep working while this process writes a batch: enough chunks in
    # flight to cover two batches, and no more (bounded memory).
    in_flight = max(workers * 3, 2 * REBUILD_BATCH // _CHUNK)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers) as pool:
        window: collections.deque = collections.deque()
        for chunk in _chunks(paths, _CHUNK):
            window.append(pool.apply_async(_parse_chunk,
                                           (chunk, str(archive_dir), prepare)))
            if len(window) >= in_flight:
                yield from window.popleft().get()
        while window:
            yield from window.popleft().get()


def rebuild_into(index: Index, root: DataRoot, *, workers: int | None = None,
                 progress: Callable[[int], None] | None = None) -> SyncReport:
    """Fill an empty index from archive/: ``treesync.sync(rebuild=True)`` with the
    sidecars parsed in parallel (same walk order, same problems reported)."""
    report = SyncReport()
    seen: set[int] = set()
    batch: list[Any] = []
    if workers is None:
        total = sum(1 for _ in iter_sidecars(root.archive))
        workers = min(os.cpu_count() or 1, 4) if total >= _PARALLEL_FROM else 0
    # An index that can build its rows from an entry (SqliteIndex) gets them from
    # the parser processes; any other takes the entries.
    prepare = index.prepare
    write = index.upsert_rows if prepare else index.upsert
    for path, doc_id, item, problem in _parsed(root.archive, workers, prepare):
        report.scanned += 1
        if progress:
            progress(1)
        if item is None:
            report.problems.append(problem)
            continue
        if doc_id in seen:
            report.problems.append(f"{path}: id {doc_id} is used by another sidecar too")
            continue
        seen.add(doc_id)
        batch.append(item)
        if len(batch) >= REBUILD_BATCH:
            write(batch)
            report.indexed += len(batch)
            batch = []
    if batch:
        write(batch)
        report.indexed += len(batch)
    for problem in report.problems:
        log.error("%s", problem)
    return report


def _make_thumbnails(root: DataRoot, documents: list[tuple[int, str, Path]],
                     progress_for: Callable[[int], Callable[[int], None] | None]
                     ) -> tuple[int, int]:
    """The web page's missing thumbnails (paperfs/web/thumbnails.py; pdfium is
    imported only now)."""
    from paperfs.web.thumbnails import make_missing

    return make_missing(root, documents, progress_for(len(documents)))


def count_sidecars(root: DataRoot) -> int:
    return sum(1 for _ in iter_sidecars(root.archive))


def reindex(runtime: Runtime | Config, *, changed: bool = False, stemming: str | None = None,
            progress: Callable[[int], None] | None = None,
            on_total: Callable[[int], None] | None = None,
            on_maintain: Callable[[], None] | None = None,
            thumbnails: Callable[[int], Callable[[int], None] | None] | None = None
            ) -> ReindexReport:
    """Rebuild (or, with ``changed``, bring up to date) the index of a data root;
    then the index's housekeeping (``on_maintain`` is told when that starts).
    ``thumbnails``: make the web page's missing thumbnails too; called with the
    number of documents, it returns their progress callback (or None)."""
    runtime = Runtime.of(runtime)
    root = runtime.root
    started = time.perf_counter()
    report = ReindexReport(changed_only=changed)
    # Interrupted pair moves are finished before the tree is read.
    with runtime.archive(recover=False, command="paperfs reindex") as archive:
        total = count_sidecars(root)
        if on_total is not None:
            on_total(total)
        index = archive.index
        finish_interrupted(archive)
        if changed:
            result = sync(archive, progress=progress)
        else:
            building = (index.rebuild_with(stemming) if stemming is not None
                        else index.rebuilding())
            workers = min(os.cpu_count() or 1, 4) if total >= _PARALLEL_FROM else 0
            with building as fresh:
                result = rebuild_into(fresh, root, workers=workers, progress=progress)
        maintain_started = time.perf_counter()
        index.maintain(on_maintain)  # a rebuilt index has no champion lists yet
        report.maintain_seconds = time.perf_counter() - maintain_started
        report.scanned = result.scanned
        report.indexed = result.indexed
        report.removed = result.removed
        report.problems = list(result.problems)
        report.documents = index.count()
        report.stemming = index.stemming
        documents = ([(r.id, r.archive_sha256, root.archive / (r.path + ".pdf"))
                      for r in index.refs()] if thumbnails is not None else [])
    report.seconds = time.perf_counter() - started
    log.info("reindex%s: %d sidecars, %d indexed, %d removed in %.1f s",
             " --changed" if changed else "", report.scanned, report.indexed, report.removed,
             report.seconds)
    if thumbnails is not None:  # after the index, outside the writer lock and its timing
        report.thumbnails = _make_thumbnails(root, documents, thumbnails)
    return report
