"""Writing to Solr: updates with the commit policy, and full rebuilds in bulk.

Commits: ``commit_within_ms`` None makes every ``upsert``/``delete`` one
soft commit before it returns (visible at once, as the embedded index; the
contract tests use this). A number sends the updates with ``commitWithin``
(what the daemon uses: visible within that time, cheap). ``rebuilding()``
sends batches without commits from a background sender and commits once at
the end, then removes documents the rebuild did not write. It writes into
the live collection: an interrupted rebuild leaves the documents it already
sent (which are the tree's current state) and removes nothing; the next full
rebuild completes it.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from typing import Any, Iterable, Iterator

import pysolr

from paperfs.errors import PaperfsError, UsageError
from paperfs.index.base import FiledRef, Index, IndexEntry
from paperfs.index.catalog import CatalogEntry
from paperfs.index.model import Facets, SearchResult, StoredDocument, Suggestion, User
from paperfs.index.solr_client import SolrConnection
from paperfs.index.solr_documents import solr_document

#: documents per update request of a rebuild
BULK_BATCH = 500


class SolrWrites(SolrConnection):
    """The writes of ``SolrIndex``."""

    def _post(self, body: str, *, commit: str | None = None, what: str = "an update",
              timeout: float | None = None) -> None:
        """Send a JSON update command; ``commit``: None (default policy), 'none', 'hard'."""
        kwargs: dict[str, Any] = {"solrapi": "JSON", "clean_ctrl_chars": False}
        if commit == "hard":
            kwargs["commit"] = True
        elif commit == "none":
            pass
        elif self.commit_within_ms is None:
            kwargs["softCommit"] = True
        else:
            kwargs["commitWithin"] = self.commit_within_ms

        def send(s: pysolr.Solr) -> Any:
            if timeout is None:
                return s._update(body, **kwargs)
            saved = s.timeout
            s.timeout = max(saved, timeout)
            try:
                return s._update(body, **kwargs)
            finally:
                s.timeout = saved
        self._call(what, send)

    @staticmethod
    def update_body(ops: Iterable[tuple[str, Any]]) -> str:
        """One JSON update command with adds and deletes in order.

        ``ops``: ("add", solr_document), ("delete", doc_id) or ("clear", None).
        Solr applies the parts of one request in order (JSON with repeated keys).
        """
        parts = []
        for op, value in ops:
            if op == "add":
                parts.append('"add":{"doc":' + json.dumps(value, ensure_ascii=False) + "}")
            elif op == "delete":
                parts.append('"delete":{"id":' + json.dumps(str(value)) + "}")
            elif op == "clear":
                parts.append('"delete":{"query":"*:*"}')
            else:
                raise ValueError(f"unknown update operation {op!r}")
        return "{" + ",".join(parts) + "}"

    def apply(self, ops: list[tuple[str, Any]], *, commit: str | None = None) -> None:
        """Send adds/deletes (see ``update_body``) in one request."""
        if ops:
            self._post(self.update_body(ops), commit=commit,
                       what=f"an update of {len(ops)} document(s)",
                       timeout=60.0 if len(ops) > 50 else None)

    def upsert(self, entries: Iterable[IndexEntry]) -> None:
        docs = [("add", solr_document(e)) for e in entries]
        for start in range(0, len(docs), BULK_BATCH):
            self.apply(docs[start:start + BULK_BATCH],
                       commit="none" if start + BULK_BATCH < len(docs) else None)

    def delete(self, ids: Iterable[int]) -> None:
        ops = [("delete", int(i)) for i in ids]
        if ops:
            self.apply(ops)

    def clear(self) -> None:
        self._post('{"delete":{"query":"*:*"}}', commit="hard", what="clearing the index")

    def commit(self, *, expunge_deletes: bool = False) -> None:
        """A hard commit (visible); ``expunge_deletes`` also merges away replaced and
        deleted documents, so term statistics (and scores) are those of a fresh index."""
        if expunge_deletes:
            self._post('{"commit":{"expungeDeletes":true}}', commit="none",
                       what="a commit", timeout=300.0)
        else:
            self._post("{}", commit="hard", what="a commit")

    @contextlib.contextmanager
    def rebuilding(self) -> Iterator["Index"]:
        """Send every document again (batched, one commit at the end), then drop the rest."""
        builder = _Rebuild(self, generation=time.time_ns())
        try:
            yield builder
        except BaseException:
            builder.abort()
            raise
        builder.finish()


class _Rebuild(Index):
    """The target of ``SolrIndex.rebuilding()``: upserts go out in bulk, no commits.

    A background thread sends the batches (up to two in flight) while the
    caller reads the next sidecars. ``finish`` waits for them, deletes every
    document not written by this rebuild and commits once.
    """

    def __init__(self, index: SolrWrites, generation: int, senders: int = 2) -> None:
        self.index = index
        self.generation = generation
        self.sent = 0
        self._queue: queue.Queue[str | None] = queue.Queue(maxsize=senders * 2)
        self._error: BaseException | None = None
        self._threads = [threading.Thread(target=self._send_loop, daemon=True,
                                          name=f"solr-rebuild-{i}") for i in range(senders)]
        for t in self._threads:
            t.start()

    def _send_loop(self) -> None:
        while True:
            body = self._queue.get()
            if body is None:
                return
            if self._error is not None:
                continue
            try:
                self.index._post(body, commit="none", what="a rebuild batch", timeout=120.0)
            except BaseException as exc:  # reported by the caller's thread
                self._error = exc

    def _check(self) -> None:
        if self._error is not None:
            raise self._error

    def upsert(self, entries: Iterable[IndexEntry]) -> None:
        batch: list[tuple[str, Any]] = []
        for entry in entries:
            batch.append(("add", solr_document(entry, self.generation)))
            if len(batch) >= BULK_BATCH:
                self._enqueue(batch)
                batch = []
        if batch:
            self._enqueue(batch)

    def _enqueue(self, batch: list[tuple[str, Any]]) -> None:
        self._check()
        self._queue.put(SolrWrites.update_body(batch))
        self.sent += len(batch)

    def _drain(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join()

    def finish(self) -> None:
        self._drain()
        self._check()
        self.index._post(json.dumps({"delete": {"query": f"*:* -paperfs_rebuild_l:"
                                                         f"{self.generation}"}}),
                         commit="none", what="removing documents the rebuild did not find",
                         timeout=120.0)
        # Every document was replaced: drop the old versions from the segments too, so
        # the term statistics are those of a fresh index (cheap: the old segments are
        # (nearly) all deleted).
        self.index.commit(expunge_deletes=True)

    def abort(self) -> None:
        self._drain()
        with contextlib.suppress(PaperfsError):
            self.index.commit()

    # The rebuild target only receives upserts; everything else is the live index's.
    def delete(self, ids: Iterable[int]) -> None:
        raise UsageError("a rebuild only adds documents")

    def clear(self) -> None:
        pass

    def ref(self, doc_id: int) -> FiledRef | None:
        return None

    def ref_by_path(self, path: str) -> FiledRef | None:
        return None

    def find_checksum(self, sha256: str) -> FiledRef | None:
        return None

    def find_asn(self, asn: int) -> FiledRef | None:
        return None

    def refs(self) -> Iterator[FiledRef]:
        return iter(())

    def count(self) -> int:
        return self.sent

    def max_id(self) -> int:
        return 0

    def search(self, *args: Any, **kwargs: Any) -> SearchResult:
        raise UsageError("the index is being rebuilt")

    def facets(self, *args: Any, **kwargs: Any) -> Facets:
        raise UsageError("the index is being rebuilt")

    def listing(self, *args: Any, **kwargs: Any) -> Iterator[CatalogEntry]:
        raise UsageError("the index is being rebuilt")

    def get(self, doc_id: int, user: User) -> StoredDocument | None:
        return None

    def more_like_this(self, doc_id: int, user: User, limit: int = 10) -> SearchResult:
        return SearchResult(0, 0, limit, "relevance", ())

    def suggest(self, prefix: str, field: str | None = None, limit: int = 10, *,
                user: User) -> list[Suggestion]:
        return []
