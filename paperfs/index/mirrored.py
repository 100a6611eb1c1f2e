"""``index.backend: solr``: the embedded catalog, mirrored to Solr through a journal.

The embedded index stays, as the local **catalog**, and Solr gets a mirror
of it through the update journal (paperfs/index/journal.py):

* writes (``upsert``/``delete``/``clear``) are journaled first (fsynced),
  then applied to the catalog, then a background sender pushes the journal
  to Solr in order (batched, ``commitWithin=index.commit_within_ms``) and
  acknowledges what Solr took. Filing never waits for Solr and never fails
  because of it: with Solr down the records wait on disk (across restarts)
  and are sent when it is back, retried with back-off up to every 30 s;
* the lookups the writer does on every filing (``ref``, ``ref_by_path``,
  ``find_checksum``, ``refs``, ``max_id``, ``count``) are answered by the
  catalog: exact, immediate (Solr shows an update only after its commit),
  and independent of the network;
* searches, facets, ``get``, more-like-this, suggestions and WebDAV folder
  listings (``listing``: Solr's documents and order, each page completed
  from the catalog) go to Solr. While Solr is unreachable they fail with
  one clear line, or, with ``index.fallback: true``, are answered by the
  catalog (which is always up to date);
* ``rebuilding()`` (``paperfs reindex``) sends every document to Solr in bulk
  with one commit at the end and brings the catalog in step on the way (only
  what differs is written); the journal's backlog is then obsolete and
  acknowledged. ``rebuild_with(stemming)`` rebuilds the catalog aside as well.

Readers (no journal: search, WebDAV, status) start no sender; their writes
are refused.

**Decision** (docs/architecture.md): the catalog costs a second copy of the
text on the local disk (about what Solr stores), and buys the invariant that
consumption never depends on Solr, an exact duplicate check, and a fallback.
Listings with Solr come from Solr, as the issue of the Solr backend asks;
Solr shows a change only after its commit (``index.commit_within_ms``,
default 1 s), so a folder lists a document that was just tagged, moved or
filed up to that long later. Everything that resolves *one* path or acts on
documents stays on the catalog (paperfs/dav/catalog.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from typing import Any, Callable, Iterable, Iterator, Protocol, TypeVar

from paperfs.access.permissions import can_view
from paperfs.errors import PaperfsError, SearchBackendError, UsageError
from paperfs.index.base import FiledLookups, FiledRef, Index, IndexEntry, Keep
from paperfs.index.catalog import CatalogEntry
from paperfs.index.journal import Journal
from paperfs.index.model import Facets, SearchResult, StoredDocument, Suggestion, User
from paperfs.index.solr import (SolrIndex, SolrIndexError, SolrUnavailableError,
                                solr_document)
from paperfs.index.sqlite import SqliteIndex
from paperfs.search.tree import Node

log = logging.getLogger(__name__)

T = TypeVar("T")

#: records per request when the sender catches up
PUSH_RECORDS = 500
#: back-off between attempts while Solr is unreachable (seconds)
RETRY_MIN, RETRY_MAX = 0.5, 30.0
#: hits per page of a listing from Solr (each page completed in one catalog lookup)
LISTING_PAGE = 1000


class ChangeSink(Protocol):
    """Where the writer's index reports each write (the change stream)."""

    def changed(self, op: str, items: Iterable[tuple[int, str]]) -> None: ...

    def close(self) -> None: ...


class _CatalogLookups(FiledLookups):
    """The writer's lookups, answered by the catalog: exact, immediate, local."""

    catalog: FiledLookups

    def ref(self, doc_id: int) -> FiledRef | None:
        return self.catalog.ref(doc_id)

    def ref_by_path(self, path: str) -> FiledRef | None:
        return self.catalog.ref_by_path(path)

    def find_checksum(self, sha256: str) -> FiledRef | None:
        return self.catalog.find_checksum(sha256)

    def find_asn(self, asn: int) -> FiledRef | None:
        return self.catalog.find_asn(asn)

    def refs(self) -> Iterator[FiledRef]:
        return self.catalog.refs()

    def count(self) -> int:
        return self.catalog.count()

    def max_id(self) -> int:
        return self.catalog.max_id()


class MirroredIndex(_CatalogLookups, Index):
    """The embedded catalog, mirrored to Solr through the journal (see the module doc)."""

    def __init__(self, catalog: SqliteIndex, remote: SolrIndex, journal: Journal | None, *,
                 fallback: bool = False, push_records: int = PUSH_RECORDS) -> None:
        self.catalog = catalog
        self.remote = remote
        self.journal = journal
        self.fallback = fallback
        self.push_records = push_records
        #: the last problem sending to Solr (None while all is well)
        self.push_error: PaperfsError | None = None
        self._wake = threading.Event()
        self._idle = threading.Condition()
        self._stop = False
        self._paused = 0
        self._busy = False
        self._fallback_warned = False
        self._thread: threading.Thread | None = None
        #: told every write after the catalog applied it: the change stream of a split
        #: deployment (paperfs/cluster/change_stream.py; set by index/factory.py)
        self.changes: ChangeSink | None = None
        if journal is not None:
            self._thread = threading.Thread(target=self._run, name="solr-sender", daemon=True)
            self._thread.start()
            if journal.backlog():
                log.info("index journal: %d update(s) for %s to send", journal.backlog(),
                         remote.where)
                self._wake.set()

    # ------------------------------------------------------------ writing

    def _journal(self) -> Journal:
        if self.journal is None:
            raise UsageError("this index is open read-only (no journal)")
        return self.journal

    def upsert(self, entries: Iterable[IndexEntry]) -> None:
        entries = list(entries)
        if not entries:
            return
        self._journal().append(("add", solr_document(e)) for e in entries)
        self.catalog.upsert(entries)
        self._wake.set()
        if self.changes is not None:
            self.changes.changed("upsert", [(e.doc.id, e.path) for e in entries])

    def delete(self, ids: Iterable[int]) -> None:
        ids = [int(i) for i in ids]
        if not ids:
            return
        self._journal().append(("delete", i) for i in ids)
        self.catalog.delete(ids)
        self._wake.set()
        if self.changes is not None:
            self.changes.changed("delete", [(i, "") for i in ids])

    def clear(self) -> None:
        self._journal().append([("clear", None)])
        self.catalog.clear()
        self._wake.set()
        if self.changes is not None:
            self.changes.changed("resync", ())

    def maintain(self, on_start: Callable[[], None] | None = None) -> None:
        # The catalog has no champion lists (Solr ranks); this drops any left from
        # when the archive was on the embedded index.
        self.catalog.maintain(on_start)

    # ------------------------------------------------------------ the sender

    def _run(self) -> None:
        delay = 0.0
        try:
            self.remote.connect()  # say at start-up when Solr is not usable
        except PaperfsError as exc:
            delay = RETRY_MIN
            self._note_problem(exc, delay)
        while True:
            self._wake.wait(timeout=delay or None)
            self._wake.clear()
            with self._idle:
                if self._stop:
                    return
                if self._paused:
                    continue
                self._busy = True
            try:
                self._push_all()
            except SolrUnavailableError as exc:
                delay = min(max(delay * 2, RETRY_MIN), RETRY_MAX)
                self._note_problem(exc, delay)
            except (SolrIndexError, PaperfsError) as exc:
                delay = RETRY_MAX
                self._note_problem(exc, delay)
            except Exception as exc:  # a stage boundary: keep the sender alive
                delay = RETRY_MAX
                log.exception("index journal: sending to Solr failed")
                self._note_problem(PaperfsError(str(exc)), delay)
            else:
                if self.push_error is not None:
                    log.warning("index journal: %s is back; the backlog has been sent",
                                self.remote.where)
                self.push_error = None
                delay = 0.0
            finally:
                with self._idle:
                    self._busy = False
                    self._idle.notify_all()

    def _note_problem(self, exc: PaperfsError, delay: float) -> None:
        first = self.push_error is None or type(self.push_error) is not type(exc)
        self.push_error = exc
        backlog = self.journal.backlog() if self.journal is not None else 0
        if first:
            level = logging.WARNING if isinstance(exc, SolrUnavailableError) else logging.ERROR
            log.log(level, "index journal: %s; %d update(s) kept on disk, sent when it works "
                    "again (retrying up to every %.0f s)", exc, backlog, RETRY_MAX)
        else:
            log.debug("index journal: still failing (%d waiting, next try in %.1f s): %s",
                      backlog, delay, exc)

    def _push_all(self) -> int:
        journal = self._journal()
        if self.push_error is not None:
            self.remote.connect()  # checks again (address, collection, schema)
        sent = 0
        while True:
            records = journal.pending(self.push_records)
            if not records:
                return sent
            self.remote.apply([r.as_op() for r in records])
            journal.ack(records[-1].seq)
            sent += len(records)

    def flush(self, timeout: float = 30.0) -> bool:
        """Push the backlog now; True when it is empty (within ``timeout``)."""
        if self.journal is None:
            return True
        deadline = time.monotonic() + timeout
        while self.journal.backlog():
            if time.monotonic() >= deadline:
                return False
            with self._idle:
                if not self._busy:
                    self._wake.set()
                self._idle.wait(timeout=min(0.2, max(0.0, deadline - time.monotonic())))
        return True

    def backlog(self) -> int:
        return self.journal.backlog() if self.journal is not None else 0

    @contextlib.contextmanager
    def _sender_paused(self) -> Iterator[None]:
        with self._idle:
            self._paused += 1
            while self._busy:
                self._idle.wait()
        try:
            yield
        finally:
            with self._idle:
                self._paused -= 1
            self._wake.set()

    def close(self) -> None:
        if self._thread is not None:
            if self.backlog() and self.push_error is None:
                self.flush(timeout=min(5.0, self.remote.timeout))
            with self._idle:
                self._stop = True
            self._wake.set()
            self._thread.join(timeout=self.remote.timeout + 5)
            self._thread = None
        if self.journal is not None:
            self.journal.close()
        if self.changes is not None:
            self.changes.close()
        self.catalog.close()
        self.remote.close()

    # ------------------------------------------------------------ rebuilding

    @property
    def stemming(self) -> str:
        return self.catalog.stemming

    @contextlib.contextmanager
    def rebuilding(self) -> Iterator[Index]:
        """Solr: every document sent again (bulk, one commit), the rest dropped. The
        catalog: brought in step on the way (a document whose sidecar path, mtime and
        size are what the catalog has is not written again; ids the tree no longer
        has are dropped) — the daemon's start-up rule, so a reindex costs about what
        Solr alone costs. ``rebuild_with`` (a new stemming choice) rebuilds both."""
        journal = self._journal()
        self.remote.connect()  # fail now, not after reading every sidecar
        with self._sender_paused():
            superseded = journal.last_seq
            with self.remote.rebuilding() as new_remote:
                target = _Refresh(self.catalog, new_remote)
                yield target
                target.finish()
            # Everything journaled before is in the rebuilt collection now.
            journal.ack(superseded)
        if self.changes is not None:
            self.changes.changed("resync", ())

    def rebuild_with(self, stemming: str) -> contextlib.AbstractContextManager[Index]:
        """The catalog with another stemming choice (Solr's analysis is the collection's)."""
        return self._rebuild(lambda: self.catalog.rebuild_with(stemming))

    @contextlib.contextmanager
    def _rebuild(self, catalog_rebuild: Callable[[], Any]) -> Iterator[Index]:
        journal = self._journal()
        self.remote.connect()  # fail now, not after reading every sidecar
        with self._sender_paused():
            superseded = journal.last_seq
            with catalog_rebuild() as new_catalog, self.remote.rebuilding() as new_remote:
                yield _Both(new_catalog, new_remote)
            # Everything journaled before is in the rebuilt collection now.
            journal.ack(superseded)
        if self.changes is not None:
            self.changes.changed("resync", ())

    # ------------------------------------------------------------ searching (Solr)

    def fall_back(self, exc: SearchBackendError, what: str) -> None:
        """Solr failed at ``what``: return when the catalog should answer instead (Solr
        unreachable and ``index.fallback: true``), else raise the one-line error."""
        if not isinstance(exc, SolrUnavailableError):
            raise exc
        if not self.fallback:
            raise SolrUnavailableError(
                f"{exc}. {what[:1].upper() + what[1:]} needs Solr; set index.fallback: true "
                "to answer from the embedded index while Solr is down") from None
        if not self._fallback_warned:
            log.warning("%s; answering from the embedded index until it is back", exc)
            self._fallback_warned = True

    def solr_answered(self) -> None:
        """Solr answered again (the next fallback is worth a warning again)."""
        self._fallback_warned = False

    def _read(self, what: str, fn: Callable[[Index], T]) -> T:
        try:
            result = fn(self.remote)
        except SolrUnavailableError as exc:
            self.fall_back(exc, what)
            return fn(self.catalog)
        self.solr_answered()
        return result

    def search(self, query: Any, *, user: User, sort: str = "relevance", limit: int = 25,
               offset: int = 0, highlight: bool = True, now: Any = None) -> SearchResult:
        return self._read("searching", lambda i: i.search(
            query, user=user, sort=sort, limit=limit, offset=offset, highlight=highlight,
            now=now))

    def facets(self, query: Any, *, user: User, now: Any = None) -> Facets:
        return self._read("counting facets", lambda i: i.facets(query, user=user, now=now))

    def get(self, doc_id: int, user: User) -> StoredDocument | None:
        return self._read("reading a document", lambda i: i.get(doc_id, user))

    def more_like_this(self, doc_id: int, user: User, limit: int = 10) -> SearchResult:
        return self._read("finding similar documents",
                          lambda i: i.more_like_this(doc_id, user, limit))

    def suggest(self, prefix: str, field: str | None = None, limit: int = 10, *,
                user: User) -> list[Suggestion]:
        return self._read("suggesting", lambda i: i.suggest(prefix, field, limit, user=user))

    def listing(self, node: Node, user: User,
                keep: Keep | None = None) -> Iterator[CatalogEntry]:
        """Solr says which documents and in which order; the catalog completes each
        page (current title, date, path, checksum, change time, owner and
        permissions, re-checked with ``can_view``), so a listed file can be opened,
        renamed or moved at once, a document deleted meanwhile is left out, and one
        whose permissions were just narrowed is not shown. ``keep`` sees Solr's hit.
        Solr unreachable: with ``index.fallback`` the (rest of the) listing comes
        from the catalog, otherwise the one-line error (``fall_back``)."""
        last: tuple[dt.date, int] | None = None
        try:
            for hits in self.remote.listing_pages(node, user=user, page=LISTING_PAGE):
                current = self.catalog.entries([h.id for h in hits])
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
            self.fall_back(exc, "listing a WebDAV folder")
            for entry in self.catalog.stream(node, user, keep):
                if last is None or (entry.created, entry.id) > last:
                    yield entry
            return
        self.solr_answered()


class _RebuildTarget(_CatalogLookups, Index):
    """What a rebuild writes to (the catalog and Solr); every read is the catalog's."""

    catalog: Index

    def search(self, *args: Any, **kwargs: Any) -> SearchResult:
        return self.catalog.search(*args, **kwargs)

    def facets(self, *args: Any, **kwargs: Any) -> Facets:
        return self.catalog.facets(*args, **kwargs)

    def get(self, doc_id: int, user: User) -> StoredDocument | None:
        return self.catalog.get(doc_id, user)

    def more_like_this(self, doc_id: int, user: User, limit: int = 10) -> SearchResult:
        return self.catalog.more_like_this(doc_id, user, limit)

    def suggest(self, prefix: str, field: str | None = None, limit: int = 10, *,
                user: User) -> list[Suggestion]:
        return self.catalog.suggest(prefix, field, limit, user=user)

    def listing(self, node: Node, user: User,
                keep: Keep | None = None) -> Iterator[CatalogEntry]:
        return self.catalog.listing(node, user, keep)


class _Refresh(_RebuildTarget):
    """Rebuild target: every batch to Solr; to the catalog only what differs from it."""

    def __init__(self, catalog: SqliteIndex, remote: Index) -> None:
        self.catalog = catalog
        self.remote = remote
        self.seen: set[int] = set()
        self.written = 0

    def upsert(self, entries: Iterable[IndexEntry]) -> None:
        entries = list(entries)
        self.remote.upsert(entries)  # queued for the background senders
        changed = []
        for entry in entries:
            self.seen.add(entry.doc.id)
            ref = self.catalog.ref(entry.doc.id)
            if ref is None or (ref.path, ref.mtime_ns, ref.size) != (
                    entry.path, entry.mtime_ns, entry.size):
                changed.append(entry)
        if changed:
            self.catalog.upsert(changed)
            self.written += len(changed)

    def finish(self) -> None:
        gone = [ref.id for ref in self.catalog.refs() if ref.id not in self.seen]
        if gone:
            self.catalog.delete(gone)

    def delete(self, ids: Iterable[int]) -> None:
        self.catalog.delete(list(ids))

    def clear(self) -> None:
        pass


class _Both(_RebuildTarget):
    """Rebuild target: every batch into the new catalog and to Solr."""

    def __init__(self, catalog: Index, remote: Index) -> None:
        self.catalog = catalog
        self.remote = remote

    def upsert(self, entries: Iterable[IndexEntry]) -> None:
        entries = list(entries)
        self.remote.upsert(entries)  # queued for the background senders
        self.catalog.upsert(entries)

    def delete(self, ids: Iterable[int]) -> None:
        ids = list(ids)
        self.catalog.delete(ids)

    def clear(self) -> None:
        self.catalog.clear()


__all__ = ["MirroredIndex"]
