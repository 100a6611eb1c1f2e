"""What WebDAV needs to know about documents, per user: the index's catalog and search.

Two sides (paperfs/index/factory.py ``open_readers``, one pair per request
thread):

* the **catalog** (always the embedded index: exact and immediate) answers
  everything that resolves *one* path or acts on documents: does /tags/x or
  /years/2021 exist (``first_hit``), a document's name inside a folder
  (``stream(..., exact=True)``, used by ``get_member``), ``/by-id``,
  ``/asn``, the archive tree, permission checks, and the documents a
  folder-wide change (DELETE or rename of /tags/x) applies to. So a client
  that has just renamed or moved a document finds it under its new name at
  once;
* the **search** side lists virtual folders (``stream``): with the embedded
  index that is the catalog's listing (one SQL statement read with a
  cursor); with ``index.backend: solr`` Solr says which documents a folder
  holds and in which order, and the catalog completes each page
  (paperfs/index/mirrored.py ``listing``). Solr shows a change only after
  its commit, so a folder lists a document that was just tagged, moved or
  filed up to ``index.commit_within_ms`` later. While Solr cannot be reached
  the listing fails with HTTP 503 and one line (paperfs/dav/context.py
  ``search_unavailable``), or with ``index.fallback: true`` comes from the
  catalog.

Listings are streamed, sorted by created date and id, with memory bounded
by a page. Single documents and "does this archive folder hold anything
this user may see" are answered with the permission rules of
paperfs/access/permissions.py.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Iterator

from paperfs.access.permissions import can_change, can_view
from paperfs.archive.layout import DataRoot
from paperfs.cluster.metrics import SEARCH_SECONDS
from paperfs.index.base import Keep
from paperfs.index.catalog import CatalogEntry as DocEntry
from paperfs.index.model import Hit, User
from paperfs.search.tree import Node

if TYPE_CHECKING:
    from paperfs.index.factory import Readers

__all__ = ["Catalog", "DocEntry"]

#: archive checksum -> PDF size (process-wide; a dict is thread-safe for get/set)
_SIZES: dict[str, int] = {}
_SIZES_MAX = 500_000


class Catalog:
    def __init__(self, readers: Readers, root: DataRoot) -> None:
        self.catalog = readers.catalog
        self.search = readers.search
        self._archive = str(root.archive)

    # ------------------------------------------------------------ listings

    def stream(self, node: Node, user: User, keep: Keep | None = None,
               *, exact: bool = False) -> Iterator[DocEntry]:
        """Every document matching ``node`` that ``user`` may view, by (created, id).

        ``keep`` (given a Hit or a DocEntry: both have the metadata fields)
        filters further, e.g. exact correspondent values. The listing comes
        from the search side (see the module doc); ``exact`` asks the catalog
        (exact and immediate: resolving one name, changing every document of
        a folder).
        """
        if exact:
            return self.catalog.stream(node, user, keep)
        return _timed(self.search.listing(node, user, keep))

    def first_hit(self, node: Node, user: User, keep: Keep | None = None) -> Hit | None:
        """One visible document matching ``node`` (and ``keep``), or None (the catalog:
        exact and immediate, so a folder a document was just moved into exists)."""
        return self.catalog.first(node, user, keep)

    # ------------------------------------------------------------ single documents

    def get(self, doc_id: int, user: User) -> DocEntry | None:
        """The document, if it exists and ``user`` may view it (with owner and permissions)."""
        return self._visible(self.catalog.entry(doc_id), user)

    def by_path(self, rel: str, user: User) -> DocEntry | None:
        return self._visible(self.catalog.entry_by_path(rel), user)

    @staticmethod
    def _visible(entry: DocEntry | None, user: User) -> DocEntry | None:
        if entry is None or entry.permissions is None:
            return None
        return entry if can_view(user, entry.owner, entry.permissions) else None

    def pdf_size(self, entry: DocEntry) -> int:
        """The archive PDF's size. Content-addressed: the same checksum, the same size,
        so sizes are remembered by checksum (a bounded cache shared by all requests)."""
        size = _SIZES.get(entry.sha256)
        if size is None:
            try:
                size = os.stat(os.path.join(self._archive, entry.path + ".pdf")).st_size
            except FileNotFoundError:
                return 0
            if len(_SIZES) >= _SIZES_MAX:
                _SIZES.clear()
            _SIZES[entry.sha256] = size
        return size

    def can_change(self, entry: DocEntry, user: User) -> bool:
        if entry.permissions is None:
            full = self.catalog.entry(entry.id)
            if full is None or full.permissions is None:
                return False
            entry = full
        return can_change(user, entry.owner, entry.permissions)

    # ------------------------------------------------------------ archive folders

    def folder_visible(self, rel_dir: str, user: User) -> bool:
        """Whether archive/<rel_dir>/ holds (at any depth) a document ``user`` may view."""
        return self.catalog.any_visible_under(rel_dir, user)


def _timed(entries: Iterator[DocEntry]) -> Iterator[DocEntry]:
    """A search listing, its time (to the last entry read) in paperfs_search_seconds."""
    started = time.perf_counter()
    try:
        yield from entries
    finally:
        SEARCH_SECONDS.observe(time.perf_counter() - started)
