"""What WebDAV needs to know about documents, from the index, per user.

Listings of virtual folders (``stream``) are streamed, sorted by created
date and id, with memory bounded by a page:

* with the embedded SQLite index: one SQL statement (the index's own query
  compiler and permission filter, ``SqliteIndex.compile``/``_filtered``)
  read with a cursor;
* with ``index.backend: solr`` (``MirroredIndex``): **from Solr**, paged with
  a cursor (``SolrIndex.listing``: the same matching and permission filter
  as a search). Which documents a folder holds, and in which order, is
  Solr's answer; each page is then completed from the embedded catalog in
  one batch (current title, date, path, checksum, change time, owner and
  permissions, re-checked with ``can_view``), so a listed file can be opened,
  renamed or moved at once, a document deleted meanwhile is left out, and a
  document whose permissions were just narrowed is not shown. When Solr
  cannot be reached: with ``index.fallback: true`` the listing (or its rest)
  comes from the catalog, otherwise the request fails with HTTP 503 and one
  line (paperfs/dav/context.py ``search_unavailable``);
* with any other backend: ``Index.search`` pages (1000 per page, no
  snippets).

**Decision** (docs/architecture.md): listings with Solr come from Solr, as
the issue of the Solr backend asks (every search, facet, saved search and
virtual folder served by Solr). Solr shows a change only after its commit
(``index.commit_within_ms``, default 1 s), so a folder lists a document that
was just tagged, moved or filed up to that long later. Everything that
resolves *one* path or acts on documents stays on the catalog, which is
exact and immediate: ``first_hit``/``exists`` (does /tags/x or /years/2021
exist), a document's name inside a folder (``stream(..., exact=True)``, used
by ``get_member``), ``/by-id``, ``/asn``, the archive tree, permission
checks, and the documents a folder-wide change (DELETE or rename of
/tags/x) applies to. So a client that has just renamed or moved a document
finds it under its new name at once, even before the folder listing shows
it.

``Hit`` carries no checksum or change time, so each page of the generic
path is completed by one batch lookup (the archive checksum, used as ETag,
and the sidecar's mtime, i.e. when the metadata last changed, used as
Last-Modified). Single documents (``/by-id/7.pdf``, a file in ``/archive``)
and "does this archive folder hold anything this user may see" are answered
with the same permission rules in Python (paperfs/access/permissions.py).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from paperfs.archive.document import Grants, Permissions, read_sidecar
from paperfs.errors import SearchBackendError, SidecarError
from paperfs.index.base import Index
from paperfs.index.model import Hit, User
from paperfs.archive.layout import DataRoot
from paperfs.access.permissions import can_change, can_view
from paperfs.search.query import Node
from paperfs.index.sqlitelib import sqlite3

log = logging.getLogger(__name__)

PAGE = 1000
#: archive checksum -> PDF size (process-wide; a dict is thread-safe for get/set)
_SIZES: dict[str, int] = {}
_SIZES_MAX = 500_000


@dataclass(slots=True)
class DocEntry:
    id: int
    title: str
    created: dt.date
    added: dt.datetime
    #: archive-relative path without suffix
    path: str
    correspondent: str | None
    document_type: str | None
    asn: int | None
    #: the archive PDF's SHA-256 (the ETag)
    sha256: str
    #: when the metadata last changed (the sidecar's mtime), seconds
    mtime: float
    #: None until known (listings from the index do not carry them)
    owner: str | None = None
    permissions: Permissions | None = None


def _entry(hit: Hit, sha: str, mtime_ns: int) -> DocEntry:
    return DocEntry(id=hit.id, title=hit.title, created=hit.created, added=hit.added,
                    path=hit.path, correspondent=hit.correspondent,
                    document_type=hit.document_type, asn=hit.asn, sha256=sha,
                    mtime=mtime_ns / 1e9)


_DOC_COLUMNS = ("id, title, created, added, path, correspondent, document_type, asn,"
                " archive_sha256, mtime_ns, owner, view_users, view_groups, change_users,"
                " change_groups")


def _perms(vu: str, vg: str, cu: str, cg: str) -> Permissions:
    return Permissions(view=Grants(tuple(json.loads(vu)), tuple(json.loads(vg))),
                       change=Grants(tuple(json.loads(cu)), tuple(json.loads(cg))))


def _row_entry(row: tuple) -> DocEntry:
    return DocEntry(id=row[0], title=row[1], created=dt.date.fromisoformat(row[2]),
                    added=dt.datetime.fromisoformat(row[3]), path=row[4],
                    correspondent=row[5], document_type=row[6], asn=row[7], sha256=row[8],
                    mtime=row[9] / 1e9, owner=row[10],
                    permissions=_perms(row[11], row[12], row[13], row[14]))


class Catalog:
    def __init__(self, index: Index, root: DataRoot) -> None:
        self.index = index
        self.root = root
        self._archive = str(root.archive)
        # The embedded index, or with Solr the embedded catalog kept beside it (always
        # up to date, paperfs/index/factory.py): exact lookups and fast paths through
        # its connection.
        self._local: Any = getattr(index, "catalog", index)
        #: with Solr (MirroredIndex): where folder listings come from
        self._mirror: Any = index if (self._local is not index
                                      and hasattr(index, "remote")) else None
        db = getattr(self._local, "db", None)
        self._db: sqlite3.Connection | None = db if isinstance(db, sqlite3.Connection) else None

    # ------------------------------------------------------------ listings

    def stream(self, node: Node, user: User, keep: Callable[[Any], bool] | None = None,
               *, exact: bool = False) -> Iterator[DocEntry]:
        """Every document matching ``node`` that ``user`` may view, by (created, id).

        ``keep`` (given a Hit or a DocEntry: both have the metadata fields)
        filters further, e.g. exact correspondent values. With Solr the
        listing comes from Solr (see the module doc); ``exact`` asks the
        catalog instead (exact and immediate: resolving one name, changing
        every document of a folder).
        """
        if self._mirror is not None and not exact:
            yield from self._stream_solr(node, user, keep)
            return
        if self._db is not None and hasattr(self._local, "_filtered"):
            try:
                rows = self._stream_sqlite(node, user)
                first = next(rows, None)
            except (sqlite3.Error, AttributeError, TypeError) as exc:
                log.warning("index fast path failed (%s); using the generic one", exc)
                self._db = None
            else:
                if first is not None:
                    for entry in itertools.chain((first,), rows):
                        if keep is None or keep(entry):
                            yield entry
                return
        yield from self._stream_pages(node, user, keep)

    def _stream_sqlite(self, node: Node, user: User) -> Iterator[DocEntry]:
        """One SQL statement read with a cursor: the same matches and permission filter
        as ``SqliteIndex.search`` (its compiler), without counting or paging."""
        index: Any = self._local
        compiled = index.compile(node)
        if compiled.never:
            return
        source, where, params = index._filtered(compiled, user)
        cursor = self._db.execute(  # type: ignore[union-attr]
            "SELECT d.id, d.title, d.created, d.added, d.path, d.correspondent,"
            " d.document_type, d.asn, d.archive_sha256, d.mtime_ns"
            f" FROM {source} WHERE {where} ORDER BY d.created ASC, d.id ASC", params)
        date, stamp = dt.date.fromisoformat, dt.datetime.fromisoformat
        while rows := cursor.fetchmany(500):
            for r in rows:
                yield DocEntry(r[0], r[1], date(r[2]), stamp(r[3]), r[4], r[5], r[6], r[7],
                               r[8], r[9] / 1e9)

    def _stream_solr(self, node: Node, user: User,
                     keep: Callable[[Any], bool] | None) -> Iterator[DocEntry]:
        """Solr says which documents and in which order; the catalog completes each
        page (current metadata, permissions re-checked; deleted ones left out)."""
        mirror = self._mirror
        last: tuple[dt.date, int] | None = None
        try:
            for hits in mirror.remote.listing(node, user=user, page=PAGE):
                current = self._entries([h.id for h in hits])
                for hit in hits:
                    key = (hit.created, hit.id)
                    if last is not None and key <= last:
                        continue
                    last = key
                    if keep is not None and not keep(hit):
                        continue
                    entry = current.get(hit.id)
                    if entry is not None and entry.permissions is not None and can_view(
                            user, entry.owner, entry.permissions):
                        yield entry
        except SearchBackendError as exc:
            # index.fallback: the (rest of the) listing from the catalog; else one line
            mirror.fall_back(exc, "listing a WebDAV folder")
            for entry in self.stream(node, user, keep, exact=True):
                if last is None or (entry.created, entry.id) > last:
                    yield entry
            return
        mirror.solr_answered()

    def _entries(self, ids: list[int]) -> dict[int, DocEntry]:
        """The catalog's current entries (with owner and permissions) of ``ids``."""
        if not ids:
            return {}
        if self._db is not None:
            try:
                marks = ",".join("?" * len(ids))
                return {row[0]: _row_entry(row) for row in self._db.execute(
                    f"SELECT {_DOC_COLUMNS} FROM documents WHERE id IN ({marks})", ids)}
            except sqlite3.Error as exc:
                log.warning("index fast path failed (%s); using the generic one", exc)
                self._db = None
        out = {}
        for doc_id in ids:
            entry = self._get(doc_id)
            if entry is not None:
                out[doc_id] = entry
        return out

    def _stream_pages(self, node: Node, user: User,
                      keep: Callable[[Any], bool] | None) -> Iterator[DocEntry]:
        offset = 0
        last: tuple[dt.date, int] | None = None
        while True:
            result = self._local.search(node, user=user, sort="created", limit=PAGE,
                                        offset=offset, highlight=False)
            hits = result.hits
            if not hits:
                return
            details = self._details([h.id for h in hits])
            for hit in hits:
                key = (hit.created, hit.id)
                if last is not None and key <= last:
                    continue  # shifted by a concurrent change between pages
                last = key
                if keep is not None and not keep(hit):
                    continue
                found = details.get(hit.id)
                if found is not None:
                    yield _entry(hit, *found)
            if len(hits) < PAGE:
                return
            offset += len(hits)

    def exists(self, node: Node, user: User, keep: Callable[[Hit], bool] | None = None) -> bool:
        """Whether any document matching ``node`` (and ``keep``) is visible to ``user``
        (the catalog: exact and immediate)."""
        if keep is None:
            return self._local.search(node, user=user, sort="id", limit=1,
                                      highlight=False).total > 0
        offset, page = 0, 50
        while True:
            hits = self._local.search(node, user=user, sort="id", limit=page, offset=offset,
                                      highlight=False).hits
            if any(keep(h) for h in hits):
                return True
            if len(hits) < page:
                return False
            offset += len(hits)
            page = min(PAGE, page * 4)

    def first_hit(self, node: Node, user: User,
                  keep: Callable[[Hit], bool] | None = None) -> Hit | None:
        """One visible document matching ``node`` (and ``keep``), or None (the catalog:
        exact and immediate, so a folder a document was just moved into exists)."""
        offset, page = 0, 20
        while True:
            hits = self._local.search(node, user=user, sort="id", limit=page, offset=offset,
                                      highlight=False).hits
            for hit in hits:
                if keep is None or keep(hit):
                    return hit
            if len(hits) < page:
                return None
            offset += len(hits)
            page = min(PAGE, page * 4)

    def _details(self, ids: list[int]) -> dict[int, tuple[str, int]]:
        if self._db is not None:
            try:
                marks = ",".join("?" * len(ids))
                return {r[0]: (r[1], r[2]) for r in self._db.execute(
                    f"SELECT id, archive_sha256, mtime_ns FROM documents WHERE id IN ({marks})",
                    ids)}
            except sqlite3.Error as exc:
                log.warning("index fast path failed (%s); using the generic one", exc)
                self._db = None
        out = {}
        for doc_id in ids:
            ref = self._local.ref(doc_id)
            if ref is not None:
                out[doc_id] = (ref.archive_sha256, ref.mtime_ns)
        return out

    # ------------------------------------------------------------ single documents

    def get(self, doc_id: int, user: User) -> DocEntry | None:
        """The document, if it exists and ``user`` may view it (with owner and permissions)."""
        entry = self._get(doc_id)
        if entry is None or entry.permissions is None:
            return None
        return entry if can_view(user, entry.owner, entry.permissions) else None

    def by_path(self, rel: str, user: User) -> DocEntry | None:
        if self._db is not None:
            try:
                row = self._db.execute(f"SELECT {_DOC_COLUMNS} FROM documents WHERE path = ?",
                                       (rel,)).fetchone()
            except sqlite3.Error:
                row = None
                self._db = None
            else:
                if row is None:
                    return None
                entry = _row_entry(row)
                return entry if can_view(user, entry.owner, entry.permissions) else None
        ref = self.index.ref_by_path(rel)
        return self.get(ref.id, user) if ref is not None else None

    def _get(self, doc_id: int) -> DocEntry | None:
        if self._db is not None:
            try:
                row = self._db.execute(f"SELECT {_DOC_COLUMNS} FROM documents WHERE id = ?",
                                       (doc_id,)).fetchone()
                return _row_entry(row) if row else None
            except sqlite3.Error as exc:
                log.warning("index fast path failed (%s); using the generic one", exc)
                self._db = None
        ref = self.index.ref(doc_id)
        if ref is None:
            return None
        try:
            doc = read_sidecar(self.root.archive / (ref.path + ".yml"))
        except (OSError, SidecarError):
            return None
        return DocEntry(id=doc.id, title=doc.title, created=doc.created, added=doc.added,
                        path=ref.path, correspondent=doc.correspondent,
                        document_type=doc.document_type, asn=doc.asn, sha256=ref.archive_sha256,
                        mtime=ref.mtime_ns / 1e9, owner=doc.owner, permissions=doc.permissions)

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
            full = self._get(entry.id)
            if full is None or full.permissions is None:
                return False
            entry = full
        return can_change(user, entry.owner, entry.permissions)

    # ------------------------------------------------------------ archive folders

    def folder_visible(self, rel_dir: str, user: User) -> bool:
        """Whether archive/<rel_dir>/ holds (at any depth) a document ``user`` may view."""
        lo, hi = rel_dir.rstrip("/") + "/", rel_dir.rstrip("/") + "0"  # '0' follows '/'
        if self._db is not None:
            try:
                if user.superuser:
                    return self._db.execute(
                        "SELECT 1 FROM documents WHERE path >= ? AND path < ? LIMIT 1",
                        (lo, hi)).fetchone() is not None
                if self._db.execute(
                        "SELECT 1 FROM documents WHERE path >= ? AND path < ?"
                        " AND (owner IS NULL OR owner = ?) LIMIT 1",
                        (lo, hi, user.name)).fetchone() is not None:
                    return True
                cur = self._db.execute(
                    "SELECT owner, view_users, view_groups, change_users, change_groups"
                    " FROM documents WHERE path >= ? AND path < ? AND (view_users != '[]'"
                    " OR view_groups != '[]' OR change_users != '[]' OR change_groups != '[]')",
                    (lo, hi))
                while rows := cur.fetchmany(256):
                    for owner, vu, vg, cu, cg in rows:
                        if can_view(user, owner, _perms(vu, vg, cu, cg)):
                            return True
                return False
            except sqlite3.Error as exc:
                log.warning("index fast path failed (%s); using the generic one", exc)
                self._db = None
        folder = self.root.archive / rel_dir
        for dirpath, _dirs, files in os.walk(folder):
            for name in files:
                if name.endswith(".yml"):
                    try:
                        doc = read_sidecar(Path(dirpath) / name)
                    except (OSError, SidecarError):
                        continue
                    if can_view(user, doc.owner, doc.permissions):
                        return True
        return False
