"""Thumbnails: the first page of a document's archive PDF as a small WebP.

Made once per document version, on the first request for it, and kept under
``.paperfs/thumbnails/`` named by id and the archive PDF's checksum
(paperfs/archive/layout.py ``DataRoot.thumbnail``): a new version gets a new
one, and the old one is removed when it is made. ``paperfs reindex`` makes the
missing ones (``make_missing``); purging a document from the trash removes
its thumbnails (paperfs/archive/trash.py). pdfium and Pillow are imported only
here, when a thumbnail is made, never by merely starting the daemon; pdfium is
not thread-safe, so one thumbnail is rendered at a time per process, and a
request waiting for the same thumbnail finds it made (never rendered twice).
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import threading
from pathlib import Path
from typing import Callable, Iterable

from paperfs.archive.layout import DataRoot

log = logging.getLogger(__name__)

#: the thumbnail's width in pixels (shown at half: sharp on high-density screens)
WIDTH = 240
#: a page far taller than wide (a receipt roll, or a PDF made to exhaust memory) is
#: rendered at most this high, narrower then: the render's memory stays bounded
MAX_HEIGHT = 4 * WIDTH
QUALITY = 60

_RENDER = threading.Lock()


def render(pdf: Path, target: Path) -> None:
    """The first page of ``pdf`` as WebP into ``target`` (written whole, then renamed)."""
    import pypdfium2 as pdfium  # only where thumbnails are made

    with _RENDER:
        document = pdfium.PdfDocument(str(pdf))
        try:
            page = document[0]
            try:
                scale = min(WIDTH / max(page.get_width(), 1.0),
                            MAX_HEIGHT / max(page.get_height(), 1.0))
                image = page.render(scale=scale).to_pil()
            finally:
                page.close()
        finally:
            document.close()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        image.convert("RGB").save(tmp, "WEBP", quality=QUALITY, method=4)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


class Thumbnails:
    def __init__(self, root: DataRoot) -> None:
        self.root = root
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, doc_id: int, archive_sha256: str, pdf: Path) -> Path | None:
        """The thumbnail of this version (made now if missing); None when the PDF
        cannot be rendered (logged once per version: the file stays without one)."""
        target = self.root.thumbnail(doc_id, archive_sha256)
        if target.exists():
            return target
        with self._guard:
            lock = self._locks.setdefault(doc_id, threading.Lock())
        with lock:
            if target.exists():  # made by the request that held the lock
                return target
            failed = target.with_suffix(".failed")
            if failed.exists():
                return None
            try:
                render(pdf, target)
            except Exception as exc:  # noqa: BLE001 - a damaged PDF has no thumbnail
                log.warning("doc %d: no thumbnail: %s", doc_id, exc)
                try:  # remembered, so it is not tried on every request
                    failed.parent.mkdir(parents=True, exist_ok=True)
                    failed.write_text(f"{exc}\n")
                except OSError:  # a full or read-only disk: tried again next time
                    pass
                return None
            finally:
                with self._guard:
                    self._locks.pop(doc_id, None)
            for old in self.root.thumbnails_of(doc_id):
                if old != target:
                    old.unlink(missing_ok=True)
            return target


#: below this many missing thumbnails they are made in this process
_PARALLEL_FROM = 200
_CHUNK = 50


def _make_chunk(root: str, items: list[tuple[int, str, str]]) -> list[bool]:
    """Make the thumbnails of a chunk (in a worker process): made or not, for each."""
    thumbnails = Thumbnails(DataRoot(Path(root)))
    return [thumbnails.get(doc_id, sha, Path(pdf)) is not None for doc_id, sha, pdf in items]


def make_missing(root: DataRoot, documents: Iterable[tuple[int, str, Path]],
                 progress: Callable[[int], None] | None = None,
                 workers: int | None = None) -> tuple[int, int]:
    """Make the thumbnail of every (id, archive checksum, PDF) that has none:
    (made, failed). What ``paperfs reindex`` runs after the index is rebuilt;
    many are rendered in worker processes (one per core, at most 4)."""
    missing: list[tuple[int, str, str]] = []
    for doc_id, sha256, pdf in documents:
        if root.thumbnail(doc_id, sha256).exists():
            if progress is not None:
                progress(1)
        else:
            missing.append((doc_id, sha256, str(pdf)))
    workers = min(os.cpu_count() or 1, 4) if workers is None else workers
    chunks = [missing[i:i + _CHUNK] for i in range(0, len(missing), _CHUNK)]
    if len(missing) < _PARALLEL_FROM or workers < 2:
        results: Iterable[list[bool]] = (_make_chunk(str(root.root), c) for c in chunks)
        return _counted(results, progress)
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        results = pool.imap_unordered(functools.partial(_make_chunk, str(root.root)), chunks)
        return _counted(results, progress)


def _counted(results: Iterable[list[bool]], progress: Callable[[int], None] | None
             ) -> tuple[int, int]:
    made = failed = 0
    for outcome in results:
        made += sum(outcome)
        failed += len(outcome) - sum(outcome)
        if progress is not None:
            progress(len(outcome))
    return made, failed
