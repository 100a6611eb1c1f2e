"""Apache Solr index backend (Solr 9, standalone core or SolrCloud collection).

The client is pysolr: ``pysolr.Solr`` on ``<index.url>/<collection>`` for a
standalone core, ``pysolr.SolrCloud`` with ``pysolr.ZooKeeper`` (kazoo) for a
SolrCloud collection found through ``index.zk_hosts``. The collection is made
from the configset in config/solr/paperfs (``paperfs solr init``); its schema
name carries the version (``paperfs-1``), checked on the first request.

What is indexed (besides the schema's named fields; see config/solr/README.md)
uses the configset's dynamic fields, so both backends answer alike:

* ``tags_fold_lc`` / ``owner_fold_lc``: ``fold(value)`` (search.match.fold):
  whole-value, case- and accent-insensitive ``tag:`` / ``owner:``;
* ``title_fold_s``: ``fold(title)``, the title sort (code point order, as the
  embedded index sorts);
* ``path_t``: the sidecar path as text (``path:`` searches words in it);
* ``has_ss``: the fields the document has a value in (``field:*``);
* ``added_s`` / ``modified_s``: the timestamps exactly as in the sidecar;
* ``paperfs_rebuild_l``: the generation of the last full rebuild.

Commits: ``commit_within_ms`` None makes every ``upsert``/``delete`` one
soft commit before it returns (visible at once, as the embedded index; the
contract tests use this). A number sends the updates with ``commitWithin``
(what the daemon uses: visible within that time, cheap). ``rebuilding()``
sends batches without commits from a background sender and commits once at
the end, then removes documents the rebuild did not write.

Errors: ``SolrUnavailableError`` (cannot reach Solr / ZooKeeper, or no live
replica) and ``SolrSetupError`` (wrong URL, no such core/collection, schema
too old) — both one line that says what to do.

Differences from the embedded index, by nature of Solr:

* Scores are Lucene BM25 numbers (larger is better, like the embedded index);
  in SolrCloud the configset's ExactStatsCache makes every shard score with
  the collection's term statistics (distributed IDF), so the ranking does not
  depend on how documents are spread over shards. Requests that score
  nothing send ``distrib.statsCache=false`` to skip that extra round trip.
* ``rebuilding()`` writes into the live collection; an interrupted rebuild
  leaves the documents it already sent (which are the tree's current state)
  and removes nothing. The next full rebuild completes it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import queue
import re
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import urlencode

import pysolr
import requests

from paperfs.errors import PaperfsError, SearchBackendError, UsageError
from paperfs.index.base import FiledRef, Index, IndexEntry, check_page
from paperfs.index.model import (MARK_END, MARK_START, FacetCount, Facets, Hit, SearchResult,
                                 StoredDocument, Suggestion, User, fallback_snippet,
                                 snippet_text)
from paperfs.index.solr_query import (HIGHLIGHT_FIELDS, MATCH_ALL, compile_query,
                                      permission_filter, quoted, solr_day, solr_instant)
from paperfs.search.match import fold
from paperfs.search.query import Node, parse

log = logging.getLogger(__name__)


class _Quiet(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Everything at DEBUG: pysolr logs each request at INFO and each failure with a
    traceback at ERROR, kazoo each reconnection attempt at WARNING; paperfs says
    itself, once and clearly, when Solr or ZooKeeper cannot be reached."""

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.pop("exc_info", None)
        kwargs.pop("stack_info", None)
        if self.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug(msg, *args, **kwargs)

    def exception(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self.log(logging.ERROR, msg, *args, **kwargs)


_pysolr_log = _Quiet(logging.getLogger(__name__ + ".http"), {})
_kazoo_log = _Quiet(logging.getLogger(__name__ + ".zookeeper"), {})


class _PysolrWatchFilter(logging.Filter):
    """pysolr.ZooKeeper's watchers log each cluster-state change (the whole state) at
    INFO through the "pysolr" logger, and warn that /clusterstate.json is missing,
    which is normal since Solr 9: keep only real warnings."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return False
        return not str(record.msg).startswith("No cluster state available")


def _quiet_pysolr_watchers() -> None:
    logger = logging.getLogger("pysolr")
    if not any(isinstance(f, _PysolrWatchFilter) for f in logger.filters):
        logger.addFilter(_PysolrWatchFilter())

SCHEMA_PREFIX = "paperfs-"
#: the schema version this paperfs needs (config/solr/paperfs/conf/schema.xml)
SCHEMA_VERSION = 1
SCHEMA_NAME = f"{SCHEMA_PREFIX}{SCHEMA_VERSION}"
MAX_LIMIT = 1000
#: documents per update request of a rebuild
BULK_BATCH = 500

_HIT_FIELDS = ("doc_id", "title", "correspondent", "document_type", "created", "added",
               "added_s", "tags", "asn", "path")
_REF_FIELDS = "doc_id,path,original_sha256,archive_sha256,mtime_ns,size"
_STORED_FIELDS = ("doc_id,title,correspondent,document_type,created,added,added_s,modified,"
                  "modified_s,tags,asn,owner,path,notes,content")
_SORTS = {
    "created": "created asc,doc_id asc",
    "-created": "created desc,doc_id desc",
    "added": "added asc,doc_id asc",
    "-added": "added desc,doc_id desc",
    "modified": "modified asc,doc_id asc",
    "-modified": "modified desc,doc_id desc",
    "title": "title_fold_s asc,doc_id asc",
    "-title": "title_fold_s desc,doc_id desc",
    "id": "doc_id asc",
    "-id": "doc_id desc",
}
_RANKED_SORT = "score desc,doc_id asc"
_UNRANKED_SORT = _SORTS["-created"]
_FIELD_SUGGEST = {"tag": "tags", "correspondent": "correspondent", "type": "document_type",
                  "owner": "owner"}
_WORD_SUGGEST: dict[str | None, str] = {None: "text", "title": "title", "content": "content",
                                        "note": "notes", "path": "path_t"}


# ---------------------------------------------------------------- errors


class SolrIndexError(SearchBackendError):
    """The Solr index cannot be used."""

    exit_code = 9


class SolrUnavailableError(SolrIndexError):
    """Solr (or ZooKeeper) cannot be reached right now."""


class SolrSetupError(SolrIndexError):
    """Solr answers, but not as a paperfs collection: wrong URL, no collection, old schema."""


class _HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_HTTP_ERROR = re.compile(r"Solr responded with an error \(HTTP (\d+)\): (.*)", re.S)


def _http_status(exc: pysolr.SolrError) -> tuple[int | None, str]:
    m = _HTTP_ERROR.match(str(exc))
    if not m:
        return None, str(exc)
    text = m.group(2).strip()
    reason = re.match(r"\[Reason: (.*?)\]\s*$", text, re.S)
    return int(m.group(1)), (reason.group(1) if reason else text).strip()


# ---------------------------------------------------------------- clients


class _Solr(pysolr.Solr):
    def _get_log(self) -> Any:
        return _pysolr_log


class _ZooKeeper(pysolr.ZooKeeper):
    """pysolr's cluster-state watcher, choosing only replicas on live nodes."""

    def getHosts(self, collname: str, only_leader: bool = False,  # noqa: N802 (pysolr API)
                 seen_aliases: Any = None) -> list[str]:
        hosts = super().getHosts(collname, only_leader=only_leader, seen_aliases=seen_aliases)
        live = set(self.liveNodes or ())
        if not live:
            return hosts
        return [h for h in hosts if _node_name(h) in live]


def _node_name(base_url: str) -> str:
    """http://127.0.0.1:8983/solr -> 127.0.0.1:8983_solr (ZooKeeper's live_nodes names)."""
    rest = base_url.split("://", 1)[-1]
    host, _, context = rest.partition("/")
    return f"{host}_{context.replace('/', '%2F')}"


class _Cloud(pysolr.SolrCloud):
    """pysolr's SolrCloud client: retries on another live replica while ``deadline`` lasts.

    Connection failures and 5xx answers (a node going down, a leader being
    elected) are retried; 4xx answers are returned at once.
    """

    def __init__(self, zookeeper: _ZooKeeper, collection: str, *, timeout: float,
                 retry_for: float, **kwargs: Any) -> None:
        self.retry_for = retry_for
        super().__init__(zookeeper, collection, timeout=timeout, **kwargs)

    def _get_log(self) -> Any:
        return _pysolr_log

    def _send_request(self, method: str, path: str = "", body: Any = None,
                      headers: Any = None, files: Any = None) -> str:
        deadline = time.monotonic() + self.retry_for
        attempt = 0
        while True:
            attempt += 1
            try:
                self.url = self.zookeeper.getRandomURL(self.collection)
                return pysolr.Solr._send_request(self, method, path, body, headers, files)
            except pysolr.SolrError as exc:
                status, _ = _http_status(exc)
                if status is not None and status < 500:
                    raise
                if time.monotonic() >= deadline:
                    raise
                _pysolr_log.debug("%s %s failed (attempt %d), retrying: %s", method, path,
                                  attempt, exc)
                time.sleep(min(0.1 * attempt, 1.0))

    def _update(self, *args: Any, **kwargs: Any) -> str:
        # Any live replica forwards an update to its shard leader.
        return pysolr.Solr._update(self, *args, **kwargs)


# ---------------------------------------------------------------- documents


def _clean(text: str) -> str:
    return text.replace(MARK_START, "").replace(MARK_END, "").replace("\x00", "")


def solr_document(entry: IndexEntry, generation: int | None = None) -> dict[str, Any]:
    """The Solr document for an index entry (plain JSON types)."""
    doc = entry.doc
    perms = doc.permissions
    content = _clean(doc.content)
    notes = [_clean(n) for n in doc.notes]
    has = ["title"] if doc.title else []
    if content.strip():
        has.append("content")
    if doc.correspondent is not None:
        has.append("correspondent")
    if doc.document_type is not None:
        has.append("type")
    if "\n".join(notes):
        has.append("note")
    if doc.tags:
        has.append("tag")
    if doc.owner is not None:
        has.append("owner")
    if doc.asn is not None:
        has.append("asn")
    out: dict[str, Any] = {
        "id": str(doc.id),
        "doc_id": doc.id,
        "title": _clean(doc.title),
        "title_fold_s": fold(doc.title),
        "tags": list(doc.tags),
        "tags_fold_lc": [fold(t) for t in doc.tags],
        "view_users": list(perms.view.users),
        "view_groups": list(perms.view.groups),
        "change_users": list(perms.change.users),
        "change_groups": list(perms.change.groups),
        "created": solr_day(doc.created),
        "year": doc.created.year,
        "added": solr_instant(doc.added),
        "added_s": doc.added.isoformat(),
        "modified": solr_instant(doc.modified),
        "modified_s": doc.modified.isoformat(),
        "path": entry.path,
        "path_t": [entry.path],
        "checksum": sorted({doc.original.sha256, doc.archive.sha256}),
        "original_sha256": doc.original.sha256,
        "archive_sha256": doc.archive.sha256,
        "original_filename": doc.original.filename,
        "mime_type": doc.original.mime_type,
        "pages": doc.archive.pages,
        "mtime_ns": entry.mtime_ns,
        "size": entry.size,
        "content": content,
        "notes": notes,
        "has_ss": has,
    }
    for name, value in (("correspondent", doc.correspondent),
                        ("document_type", doc.document_type), ("asn", doc.asn),
                        ("language", doc.language), ("owner", doc.owner)):
        if value is not None:
            out[name] = value
    if doc.owner is not None:
        out["owner_fold_lc"] = [fold(doc.owner)]
    if generation is not None:
        out["paperfs_rebuild_l"] = generation
    # Solr rejects an empty value for a point (number/date) field, and pysolr
    # drops empty strings and lists anyway.
    return {k: v for k, v in out.items() if v != [] and v != ""}


def _raw(decoded: dict[str, Any], next_page_query: Any = None) -> dict[str, Any]:
    """pysolr results class: the decoded response as it is."""
    return decoded


def _first(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _date(value: str) -> dt.date:
    return dt.date.fromisoformat(value[:10])


def _instant(exact: Any, solr_value: Any) -> dt.datetime:
    exact = _first(exact)
    if exact:
        return dt.datetime.fromisoformat(exact)
    return dt.datetime.fromisoformat(str(solr_value).replace("Z", "+00:00"))


def _ref(d: dict[str, Any]) -> FiledRef:
    return FiledRef(id=int(d["doc_id"]), path=d["path"],
                    original_sha256=d.get("original_sha256", ""),
                    archive_sha256=d.get("archive_sha256", ""),
                    mtime_ns=int(d.get("mtime_ns", 0)), size=int(d.get("size", 0)))


def _quote_value(value: str) -> str:
    if re.fullmatch(r"[\w.\-]+", value) and value not in ("AND", "OR", "NOT"):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ordered(counter: Counter[str]) -> tuple[FacetCount, ...]:
    return tuple(FacetCount(v, n) for v, n in sorted(counter.items(),
                                                      key=lambda item: (-item[1], item[0])))


def _pairs(flat: list[Any]) -> Iterator[tuple[str, int]]:
    for i in range(0, len(flat) - 1, 2):
        yield str(flat[i]), int(flat[i + 1])


# ---------------------------------------------------------------- the index


class SolrIndex(Index):
    """An Index on a Solr core (``url``) or SolrCloud collection (``zk_hosts``).

    Nothing is contacted until the first call; then the schema is checked
    once. ``timeout`` bounds every request; in SolrCloud a request that
    fails on one replica is retried on others for up to ``timeout``.
    """

    def __init__(self, *, url: str = "", zk_hosts: str = "", collection: str = "paperfs",
                 timeout: float = 10.0, commit_within_ms: int | None = 1000,
                 check_schema: bool = True) -> None:
        if not url and not zk_hosts:
            raise SolrSetupError("the Solr index needs index.url (standalone Solr) or "
                                 "index.zk_hosts (SolrCloud) in the configuration")
        if not collection:
            raise SolrSetupError("index.collection is empty: name the Solr core or collection")
        self.url = url.rstrip("/")
        self.zk_hosts = zk_hosts
        self.collection = collection
        self.timeout = timeout
        self.commit_within_ms = commit_within_ms
        self.check_schema = check_schema
        self.schema_name: str | None = None
        self._solr: pysolr.Solr | None = None
        self._zookeeper: _ZooKeeper | None = None
        self._lock = threading.RLock()

    @classmethod
    def from_config(cls, index_config: Any, **overrides: Any) -> "SolrIndex":
        kwargs: dict[str, Any] = dict(url=index_config.url, zk_hosts=index_config.zk_hosts,
                                      collection=index_config.collection,
                                      timeout=index_config.timeout_seconds,
                                      commit_within_ms=index_config.commit_within_ms)
        kwargs.update(overrides)
        return cls(**kwargs)

    @property
    def cloud(self) -> bool:
        return bool(self.zk_hosts)

    @property
    def where(self) -> str:
        """Where the collection is, for messages."""
        if self.cloud:
            return f"SolrCloud collection '{self.collection}' (ZooKeeper {self.zk_hosts})"
        return f"Solr core '{self.collection}' at {self.url}"

    # ------------------------------------------------------------ connection

    def connect(self) -> pysolr.Solr:
        """The client, connected and checked (idempotent)."""
        with self._lock:
            if self._solr is not None:
                return self._solr
            solr = self._open_cloud() if self.cloud else _Solr(
                f"{self.url}/{self.collection}", timeout=self.timeout, results_cls=_raw)
            self._solr = solr
            if self.check_schema:
                try:
                    self.schema_name = self._check_schema()
                except BaseException:
                    self._solr = None
                    raise
            return solr

    def _open_cloud(self) -> pysolr.Solr:
        from kazoo.client import KazooClient
        from kazoo.handlers.threading import KazooTimeoutError
        from kazoo.retry import KazooRetry

        if self._zookeeper is None:
            _quiet_pysolr_watchers()
            client = KazooClient(hosts=self.zk_hosts, read_only=True, timeout=self.timeout,
                                 connection_retry=KazooRetry(max_tries=-1, max_delay=5),
                                 command_retry=KazooRetry(max_tries=3, max_delay=2),
                                 logger=_kazoo_log)
            try:
                client.start(timeout=self.timeout)
            except (KazooTimeoutError, Exception) as exc:
                with contextlib.suppress(Exception):
                    client.stop()
                    client.close()
                raise SolrUnavailableError(
                    f"cannot reach ZooKeeper at {self.zk_hosts} within {self.timeout:g} s "
                    f"({type(exc).__name__}: {exc}); check index.zk_hosts and that "
                    "ZooKeeper runs") from None
            try:
                self._zookeeper = _ZooKeeper(self.zk_hosts, kazoo_client=client)
            except Exception as exc:
                with contextlib.suppress(Exception):
                    client.stop()
                    client.close()
                raise SolrUnavailableError(f"ZooKeeper at {self.zk_hosts}: {exc}") from None
        zk = self._zookeeper
        if self.collection not in (zk.collections or {}) and not (
                zk.aliases and self.collection in zk.aliases):
            known = ", ".join(sorted(zk.collections or {})) or "none"
            raise SolrSetupError(
                f"SolrCloud (ZooKeeper {self.zk_hosts}) has no collection "
                f"'{self.collection}' (collections: {known}); create it with "
                "'paperfs solr init', or fix index.collection")
        try:
            return _Cloud(zk, self.collection, timeout=self.timeout, retry_for=self.timeout,
                          results_cls=_raw)
        except pysolr.SolrError as exc:
            raise SolrUnavailableError(f"{self.where}: {exc}") from None

    def _check_schema(self) -> str:
        data = self._get_json("schema/name")
        name = str(data.get("name", ""))
        m = re.fullmatch(re.escape(SCHEMA_PREFIX) + r"(\d+)", name)
        if m is None:
            raise SolrSetupError(
                f"{self.where} does not use the paperfs schema (its schema is '{name}', "
                f"paperfs needs '{SCHEMA_NAME}'); point index.collection at a paperfs "
                "collection or create one with 'paperfs solr init'")
        if int(m.group(1)) < SCHEMA_VERSION:
            raise SolrSetupError(
                f"{self.where} has schema '{name}', paperfs needs '{SCHEMA_NAME}': "
                "schema too old, run paperfs solr init (then 'paperfs reindex')")
        return name

    def close(self) -> None:
        with self._lock:
            solr, self._solr = self._solr, None
            zk, self._zookeeper = self._zookeeper, None
        if solr is not None and solr.session is not None:
            solr.session.close()
        if zk is not None:
            with contextlib.suppress(Exception):
                zk.zk.stop()
                zk.zk.close()

    def _fail(self, exc: pysolr.SolrError, what: str) -> PaperfsError:
        status, message = _http_status(exc)
        if status is None:
            return SolrUnavailableError(
                f"{self.where} is unreachable ({what}: {message.split(': ', 1)[0]}); "
                "check that Solr runs and index.url / index.zk_hosts"
                + (", index.timeout_seconds" if "timed out" in message else ""))
        if status == 404:
            return SolrSetupError(
                f"{self.where} does not exist (HTTP 404 for {what}); check index.url (the "
                "base URL, ending in /solr) and index.collection, or create it with "
                "'paperfs solr init'")
        if status in (401, 403):
            return SolrSetupError(f"{self.where} refused access (HTTP {status}): {message}")
        if status >= 500:
            return SolrUnavailableError(f"{self.where} failed ({what}, HTTP {status}): "
                                        f"{message}")
        return SolrIndexError(f"{self.where} rejected {what} (HTTP {status}): {message}")

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        solr = self.connect()
        try:
            return fn(solr, *args, **kwargs)
        except pysolr.SolrError as exc:
            raise self._fail(exc, what) from None
        except (requests.RequestException, OSError) as exc:
            raise SolrUnavailableError(f"{self.where} is unreachable ({what}: {exc})") from None

    def _get_json(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        query = "?" + urlencode({"wt": "json", **(params or {})}, doseq=True)
        solr = self._solr if self._solr is not None else self.connect()

        def get(s: pysolr.Solr) -> dict[str, Any]:
            return json.loads(s._send_request("get", path + query))
        try:
            return get(solr)
        except pysolr.SolrError as exc:
            raise self._fail(exc, path) from None
        except (requests.RequestException, OSError) as exc:
            raise SolrUnavailableError(f"{self.where} is unreachable ({path}: {exc})") from None

    def _select(self, params: dict[str, Any], what: str = "a search") -> dict[str, Any]:
        params = dict(params)
        q = params.pop("q")
        if self.cloud:
            # The same query goes to the same replica of each shard: replicas score a
            # little differently (each merges its own segments), and pages of one
            # result list must not shift between requests.
            params.setdefault("shards.preference", "replica.base:stable:hash:q")
            if "score" not in str(params.get("fl", "")) + str(params.get("sort", "")):
                # Nothing is scored: skip the configset's distributed-IDF round trip
                # (ExactStatsCache) to every shard (Solr 9.6+; older ones ignore it).
                params.setdefault("distrib.statsCache", "false")
        return self._call(what, lambda s: s.search(q, **params))

    def ping(self) -> dict[str, Any]:
        """Reachable and a paperfs schema: the schema name and the number of documents."""
        self.connect()
        data = self._select({"q": MATCH_ALL, "rows": 0}, "a ping")
        return {"schema": self.schema_name or self._check_schema(),
                "documents": int(data["response"]["numFound"])}

    # ------------------------------------------------------------ writing

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

    # ------------------------------------------------------------ bookkeeping reads

    def ref(self, doc_id: int) -> FiledRef | None:
        data = self._get_json("get", {"id": str(int(doc_id)), "fl": _REF_FIELDS})
        return _ref(data["doc"]) if data.get("doc") else None

    def _one(self, fq: str) -> FiledRef | None:
        data = self._select({"q": MATCH_ALL, "fq": fq, "rows": 1, "fl": _REF_FIELDS,
                             "sort": "doc_id asc"})
        docs = data["response"]["docs"]
        return _ref(docs[0]) if docs else None

    def ref_by_path(self, path: str) -> FiledRef | None:
        return self._one(f"path:{quoted(path)}")

    def find_checksum(self, sha256: str) -> FiledRef | None:
        return self._one(f"checksum:{quoted(sha256)}")

    def refs(self) -> Iterator[FiledRef]:
        cursor = "*"
        while True:
            data = self._select({"q": MATCH_ALL, "rows": 1000, "fl": _REF_FIELDS,
                                 "sort": "doc_id asc,id asc", "cursorMark": cursor})
            for d in data["response"]["docs"]:
                yield _ref(d)
            nxt = data.get("nextCursorMark", cursor)
            if nxt == cursor:
                return
            cursor = nxt

    def ids(self, fq: str | None = None) -> Iterator[int]:
        cursor = "*"
        params: dict[str, Any] = {"q": MATCH_ALL, "rows": 5000, "fl": "doc_id",
                                  "sort": "id asc"}
        if fq:
            params["fq"] = fq
        while True:
            data = self._select({**params, "cursorMark": cursor})
            for d in data["response"]["docs"]:
                yield int(d["doc_id"])
            nxt = data.get("nextCursorMark", cursor)
            if nxt == cursor:
                return
            cursor = nxt

    def count(self) -> int:
        return int(self._select({"q": MATCH_ALL, "rows": 0})["response"]["numFound"])

    def max_id(self) -> int:
        docs = self._select({"q": MATCH_ALL, "rows": 1, "fl": "doc_id",
                             "sort": "doc_id desc"})["response"]["docs"]
        return int(docs[0]["doc_id"]) if docs else 0

    # ------------------------------------------------------------ searching

    @staticmethod
    def _parse(query: str | Node, now: dt.datetime | None) -> Node:
        return parse(query, now=now) if isinstance(query, str) else query

    @staticmethod
    def _filters(user: User) -> list[str]:
        perm = permission_filter(user.name, tuple(user.groups), user.superuser)
        return [perm] if perm else []

    def search(self, query: str | Node, *, user: User, sort: str = "relevance",
               limit: int = 25, offset: int = 0, highlight: bool = True,
               now: dt.datetime | None = None) -> SearchResult:
        check_page(sort, limit, offset, MAX_LIMIT)
        sq = compile_query(self._parse(query, now))
        if sq.never:
            return SearchResult(0, offset, limit, sort, ())
        if sort == "relevance":
            order = _RANKED_SORT if sq.ranked else _UNRANKED_SORT
        else:
            order = _SORTS[sort]
        params: dict[str, Any] = {
            "q": sq.q, "fq": sq.fq + self._filters(user), "rows": limit, "start": offset,
            "fl": ",".join(_HIT_FIELDS) + (",score" if sq.ranked else ""), "sort": order,
        }
        if highlight and limit:
            params.update(self._highlight_params(sq.hl_q))
        data = self._select(params)
        return SearchResult(int(data["response"]["numFound"]), offset, limit, sort,
                            tuple(self._hits(data, sq.ranked, highlight)))

    def listing(self, query: str | Node, *, user: User, page: int = MAX_LIMIT,
                now: dt.datetime | None = None) -> Iterator[list[Hit]]:
        """Every document matching ``query`` that ``user`` may view, by (created, id),
        in pages of ``page`` hits (what a WebDAV folder lists).

        The same matching as ``search``; no scores, no snippets. Paged with a
        cursor (``cursorMark``): no deep paging cost and no document skipped or
        repeated when the collection changes between pages.
        """
        if not 1 <= page <= MAX_LIMIT:
            raise UsageError(f"page must be between 1 and {MAX_LIMIT}, not {page}")
        sq = compile_query(self._parse(query, now))
        if sq.never:
            return
        params: dict[str, Any] = {
            "q": sq.q, "fq": sq.fq + self._filters(user), "rows": page,
            "fl": ",".join(_HIT_FIELDS), "sort": "created asc,doc_id asc,id asc",
        }
        cursor = "*"
        while True:
            data = self._select({**params, "cursorMark": cursor}, "a listing")
            hits = self._hits(data, False, False)
            if hits:
                yield hits
            nxt = data.get("nextCursorMark", cursor)
            if nxt == cursor or len(hits) < page:
                return
            cursor = nxt

    @staticmethod
    def _highlight_params(hl_q: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {
            "hl": "true", "hl.method": "unified", "hl.fl": ",".join(HIGHLIGHT_FIELDS),
            "hl.requireFieldMatch": "true", "hl.snippets": 1, "hl.fragsize": 160,
            "hl.tag.pre": MARK_START, "hl.tag.post": MARK_END, "hl.defaultSummary": "true",
            "hl.maxAnalyzedChars": 200_000,
        }
        if hl_q:
            params["hl.q"] = hl_q
            params["hl.qparser"] = "lucene"
        return params

    @staticmethod
    def _hits(data: dict[str, Any], ranked: bool, highlight: bool) -> list[Hit]:
        marked = data.get("highlighting", {}) or {}
        hits = []
        for d in data["response"]["docs"]:
            snippet = ""
            if highlight:
                parts = (marked.get(str(d["doc_id"])) or {}).get("content") or []
                text = parts[0] if parts else ""
                snippet = (snippet_text(text) if MARK_START in text
                           else fallback_snippet(text))
            hits.append(Hit(
                id=int(d["doc_id"]), title=d.get("title", ""),
                correspondent=d.get("correspondent"), document_type=d.get("document_type"),
                created=_date(d["created"]), added=_instant(d.get("added_s"), d["added"]),
                tags=tuple(d.get("tags", ())), asn=d.get("asn"), path=d["path"],
                score=float(d.get("score", 0.0)) if ranked else 0.0, snippet=snippet))
        return hits

    def facets(self, query: str | Node, *, user: User,
               now: dt.datetime | None = None) -> Facets:
        sq = compile_query(self._parse(query, now))
        if sq.never:
            return Facets(0)
        fq = ([] if sq.q == MATCH_ALL else [sq.q]) + sq.fq + self._filters(user)
        data = self._select({
            "q": MATCH_ALL, "fq": fq, "rows": 0, "facet": "true",
            "facet.field": ["tags", "correspondent", "document_type", "year"],
            "facet.limit": -1, "facet.mincount": 1, "facet.sort": "count",
            "facet.missing": "false",
        }, "facets")
        fields = data.get("facet_counts", {}).get("facet_fields", {})
        tags: Counter[str] = Counter()
        display: dict[str, str] = {}
        for value, n in _pairs(fields.get("tags", [])):
            key = fold(value)
            tags[key] += n
            display[key] = min(display.get(key, value), value)
        corr = Counter(dict(_pairs(fields.get("correspondent", []))))
        types = Counter(dict(_pairs(fields.get("document_type", []))))
        years = {str(int(y)).zfill(4): n for y, n in _pairs(fields.get("year", []))}
        return Facets(
            total=int(data["response"]["numFound"]),
            tags=_ordered(Counter({display[k]: n for k, n in tags.items()})),
            correspondents=_ordered(corr), types=_ordered(types),
            years=tuple(FacetCount(y, n) for y, n in sorted(years.items(), reverse=True)))

    # ------------------------------------------------------------ single documents

    def get(self, doc_id: int, user: User) -> StoredDocument | None:
        params: dict[str, Any] = {"id": str(int(doc_id)), "fl": _STORED_FIELDS}
        filters = self._filters(user)
        if filters:
            params["fq"] = filters
        d = self._get_json("get", params).get("doc")
        if not d:
            return None
        notes = d.get("notes") or []
        joined = "\n".join(notes)
        return StoredDocument(
            id=int(d["doc_id"]), title=d.get("title", ""),
            correspondent=d.get("correspondent"), document_type=d.get("document_type"),
            created=_date(_first(d["created"])), added=_instant(d.get("added_s"), d["added"]),
            modified=_instant(d.get("modified_s"), d["modified"]),
            tags=tuple(d.get("tags", ())), asn=d.get("asn"), owner=d.get("owner"),
            path=d["path"], notes=tuple(n for n in joined.split("\n") if n),
            content=d.get("content", ""))

    def more_like_this(self, doc_id: int, user: User, limit: int = 10) -> SearchResult:
        if self.get(doc_id, user) is None:
            return SearchResult(0, 0, limit, "relevance", ())
        mlt = (f"{{!mlt qf=title,content mintf=1 mindf=2 minwl=3 maxqt=12 "
               f"boost=true}}{int(doc_id)}")
        params: dict[str, Any] = {
            "q": mlt, "fq": [f"-doc_id:{int(doc_id)}"] + self._filters(user),
            "rows": limit, "fl": ",".join(_HIT_FIELDS) + ",score", "sort": _RANKED_SORT,
        }
        params.update(self._highlight_params(None))
        data = self._select(params, "more like this")
        return SearchResult(int(data["response"]["numFound"]), 0, limit, "relevance",
                            tuple(self._hits(data, True, True)))

    # ------------------------------------------------------------ suggestions

    def suggest(self, prefix: str, field: str | None = None, limit: int = 10, *,
                user: User) -> list[Suggestion]:
        if field is not None and field not in _FIELD_SUGGEST and field not in _WORD_SUGGEST:
            raise UsageError(f"no suggestions for field {field!r}")
        head = fold(prefix.strip())
        if not head or limit <= 0:
            return []
        out: list[Suggestion] = []
        value_fields = (["correspondent", "tag", "type"] if field is None
                        else [field] if field in _FIELD_SUGGEST else [])
        if value_fields:
            out.extend(self._suggest_values(head, value_fields, limit, user))
        if field in _WORD_SUGGEST:
            out.extend(self._suggest_words(head, _WORD_SUGGEST[field], limit, user))
        out.sort(key=lambda s: (-s.count, s.text.casefold(), s.field or ""))
        return out[:limit]

    def _suggest_values(self, head: str, names: list[str], limit: int,
                        user: User) -> list[Suggestion]:
        data = self._select({
            "q": MATCH_ALL, "fq": self._filters(user), "rows": 0, "facet": "true",
            "facet.field": [_FIELD_SUGGEST[n] for n in names], "facet.limit": -1,
            "facet.mincount": 1,
        }, "suggestions")
        fields = data.get("facet_counts", {}).get("facet_fields", {})
        out = []
        for name in names:
            counts: Counter[str] = Counter()
            display: dict[str, str] = {}
            for value, n in _pairs(fields.get(_FIELD_SUGGEST[name], [])):
                key = fold(value)
                if not key.startswith(head):
                    continue
                counts[key] += n
                display[key] = min(display.get(key, value), value)
            best = sorted(counts.items(), key=lambda item: (-item[1], display[item[0]]))
            for key, n in best[:limit]:
                value = display[key]
                out.append(Suggestion(value, name, n, f"{name}:{_quote_value(value)}"))
        return out

    def _suggest_words(self, head: str, solr_field: str, limit: int,
                       user: User) -> list[Suggestion]:
        data = self._get_json("terms", {
            "terms": "true", "terms.fl": solr_field, "terms.prefix": head,
            "terms.sort": "count", "terms.limit": limit * 4 + 10, "terms.mincount": 1,
        })
        flat = (data.get("terms") or {}).get(solr_field) or []
        # The index keeps unfolded forms too ("müller" beside "muller"): suggest
        # the folded word only, as the embedded index does.
        words = [t for t, _ in _pairs(flat) if t == fold(t)][:limit * 3]
        if not words:
            return []
        # Exact counts among the documents the user may view (terms counts
        # include deleted documents until segments merge, and everyone's).
        facet_queries = [f"{{!term f={solr_field}}}{w}" for w in words]
        counted = self._select({
            "q": MATCH_ALL, "fq": self._filters(user), "rows": 0, "facet": "true",
            "facet.query": facet_queries,
        }, "suggestions")
        counts = counted.get("facet_counts", {}).get("facet_queries", {})
        out = []
        for word, fq in zip(words, facet_queries):
            n = int(counts.get(fq, 0))
            if n:
                out.append(Suggestion(word, None, n, word))
        return out


# ---------------------------------------------------------------- administration


def default_configset() -> Path:
    """config/solr/paperfs of this paperfs source tree."""
    return Path(__file__).resolve().parents[2] / "config" / "solr" / "paperfs"


def _conf_dir(configset: Path) -> Path:
    conf = configset / "conf"
    if (conf / "solrconfig.xml").is_file():
        return conf
    if (configset / "solrconfig.xml").is_file():
        return configset
    raise UsageError(f"{configset} is not a Solr configset (no solrconfig.xml in it or in "
                     "its conf/); give the folder config/solr/paperfs of the paperfs source")


def configset_schema_name(configset: Path) -> str:
    m = re.search(r'<schema\s[^>]*name="([^"]+)"',
                  (_conf_dir(configset) / "schema.xml").read_text("utf-8"))
    return m.group(1) if m else ""


class SolrAdmin:
    """Creates or updates the core/collection from the configset (``paperfs solr init``).

    Standalone Solr has no API to upload a configset: a new core is created
    with CoreAdmin ``CREATE&configSet=NAME`` from ``<solr home>/configsets/NAME``
    (``solr_home`` copies the configset there first, when Solr runs on this
    machine), an existing one is reloaded. SolrCloud: the configset is
    written to ZooKeeper (``/configs/NAME``), then the collection is created
    with the Collections API, or reloaded when it exists.
    """

    def __init__(self, index: SolrIndex) -> None:
        self.index = index

    def _http(self, url: str, params: dict[str, Any], what: str) -> dict[str, Any]:
        try:
            resp = requests.get(url, params={**params, "wt": "json"},
                                timeout=max(self.index.timeout, 120.0))
        except requests.RequestException as exc:
            raise SolrUnavailableError(f"{url} is unreachable ({what}): {exc}") from None
        try:
            data = resp.json()
        except ValueError:
            data = {}
        if resp.status_code != 200 or data.get("error") or data.get("failure"):
            msg = ((data.get("error") or {}).get("msg") or data.get("failure")
                   or resp.text[:300])
            if resp.status_code == 404:
                raise SolrSetupError(f"{url}: not found (HTTP 404) — is index.url the Solr "
                                     f"base URL, ending in /solr? ({what})")
            raise SolrIndexError(f"{what} failed (HTTP {resp.status_code}): {msg}")
        return data

    def init(self, configset: Path, *, configset_name: str = "paperfs", shards: int = 1,
             replicas: int = 1, language: str | None = None,
             solr_home: Path | None = None) -> dict[str, Any]:
        conf = _conf_dir(configset)
        wanted = configset_schema_name(configset)
        if self.index.cloud:
            out = self._init_cloud(conf, configset_name, shards, replicas, language)
        else:
            out = self._init_standalone(conf, configset_name, language, solr_home)
        self.index.close()
        self.index.check_schema = True
        out["schema"] = self.index.ping()["schema"]
        out["configset_schema"] = wanted
        return out

    # ---- standalone

    def _cores_url(self) -> str:
        return f"{self.index.url}/admin/cores"

    def core_status(self) -> dict[str, Any] | None:
        data = self._http(self._cores_url(), {"action": "STATUS",
                                              "core": self.index.collection},
                          "asking for the core's status")
        status = (data.get("status") or {}).get(self.index.collection) or {}
        return status or None

    def _init_standalone(self, conf: Path, name: str, language: str | None,
                         solr_home: Path | None) -> dict[str, Any]:
        core = self.index.collection
        status = self.core_status()
        if solr_home is not None:
            target = solr_home / "configsets" / name
            if status and (Path(status.get("instanceDir", "")) / "core.properties").is_file():
                props = (Path(status["instanceDir"]) / "core.properties").read_text("utf-8")
                m = re.search(r"^configSet\s*=\s*(.+)$", props, re.M)
                if m:
                    target = solr_home / "configsets" / m.group(1).strip()
            _copy_conf(conf, target / "conf")
        if status:
            if language:
                log.warning("the core exists: its language is kept (paperfs.language is set "
                            "when a core is created)")
            self._http(self._cores_url(), {"action": "RELOAD", "core": core},
                       f"reloading core '{core}'")
            return {"mode": "standalone", "core": core, "action": "reloaded"}
        params: dict[str, Any] = {"action": "CREATE", "name": core, "configSet": name}
        if language:
            params["property.paperfs.language"] = language
        try:
            self._http(self._cores_url(), params, f"creating core '{core}'")
        except SolrIndexError as exc:
            raise SolrSetupError(
                f"{exc}. Standalone Solr creates a core from <solr home>/configsets/{name}: "
                f"copy config/solr/paperfs there (or run this on the Solr machine with "
                "--solr-home DIR), then run 'paperfs solr init' again") from None
        return {"mode": "standalone", "core": core, "action": "created"}

    # ---- cloud

    def _zk(self) -> Any:
        from kazoo.client import KazooClient
        client = KazooClient(hosts=self.index.zk_hosts, timeout=self.index.timeout,
                             logger=_kazoo_log)
        try:
            client.start(timeout=self.index.timeout)
        except Exception as exc:
            with contextlib.suppress(Exception):
                client.stop()
                client.close()
            raise SolrUnavailableError(f"cannot reach ZooKeeper at {self.index.zk_hosts} "
                                       f"({type(exc).__name__}: {exc})") from None
        return client

    def _node_url(self, zk: Any) -> str:
        nodes = zk.get_children("/live_nodes")
        if not nodes:
            raise SolrUnavailableError(f"no live Solr node registered in ZooKeeper "
                                       f"{self.index.zk_hosts}")
        scheme = "http"
        if zk.exists("/clusterprops.json"):
            with contextlib.suppress(ValueError):
                props = json.loads(zk.get("/clusterprops.json")[0] or b"{}")
                scheme = props.get("urlScheme", "http")
        host, _, context = sorted(nodes)[0].partition("_")
        return f"{scheme}://{host}/{context.replace('%2F', '/')}"

    def _collection_state(self, zk: Any) -> dict[str, Any] | None:
        path = f"/collections/{self.index.collection}/state.json"
        if not zk.exists(path):
            return None
        data = json.loads(zk.get(path)[0] or b"{}")
        return data.get(self.index.collection)

    def _init_cloud(self, conf: Path, name: str, shards: int, replicas: int,
                    language: str | None) -> dict[str, Any]:
        zk = self._zk()
        try:
            state = self._collection_state(zk)
            if state is not None:
                name = state.get("configName") or name
            _upload_conf(zk, conf, f"/configs/{name}")
            base = self._node_url(zk)
        finally:
            zk.stop()
            zk.close()
        collections = f"{base}/admin/collections"
        coll = self.index.collection
        if state is not None:
            if language:
                log.warning("the collection exists: its language is kept (paperfs.language "
                            "is set when a collection is created)")
            self._http(collections, {"action": "RELOAD", "name": coll},
                       f"reloading collection '{coll}'")
            return {"mode": "cloud", "collection": coll, "configset": name,
                    "action": "reloaded"}
        params: dict[str, Any] = {"action": "CREATE", "name": coll,
                                  "collection.configName": name, "numShards": shards,
                                  "replicationFactor": replicas, "waitForFinalState": "true"}
        if language:
            params["property.paperfs.language"] = language
        self._http(collections, params, f"creating collection '{coll}'")
        return {"mode": "cloud", "collection": coll, "configset": name, "action": "created",
                "shards": shards, "replicas": replicas}


def _copy_conf(conf: Path, target: Path) -> None:
    """Replace ``target`` (a configset's conf/) with a copy of ``conf``."""
    import shutil
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".paperfs-new")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(conf, tmp)
    old = target.with_name(target.name + ".paperfs-old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _upload_conf(zk: Any, conf: Path, root: str) -> None:
    """Write the configset files to ZooKeeper under ``root`` (others there are removed)."""
    files = {p.relative_to(conf).as_posix(): p.read_bytes()
             for p in sorted(conf.rglob("*")) if p.is_file()}
    zk.ensure_path(root)
    existing: set[str] = set()

    def walk(path: str, rel: str) -> None:
        for child in zk.get_children(path):
            child_path = f"{path}/{child}"
            child_rel = f"{rel}{child}"
            if zk.get_children(child_path):
                walk(child_path, child_rel + "/")
            existing.add(child_rel)
    walk(root, "")
    for rel, data in files.items():
        path = f"{root}/{rel}"
        if zk.exists(path):
            zk.set(path, data)
        else:
            zk.create(path, data, makepath=True)
    for rel in sorted(existing - set(files), key=len, reverse=True):
        if not any(f.startswith(rel + "/") for f in files):
            zk.delete(f"{root}/{rel}", recursive=True)


# ---------------------------------------------------------------- rebuilding


class _Rebuild(Index):
    """The target of ``SolrIndex.rebuilding()``: upserts go out in bulk, no commits.

    A background thread sends the batches (up to two in flight) while the
    caller reads the next sidecars. ``finish`` waits for them, deletes every
    document not written by this rebuild and commits once.
    """

    def __init__(self, index: SolrIndex, generation: int, senders: int = 2) -> None:
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
        self._queue.put(SolrIndex.update_body(batch))
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

    def get(self, doc_id: int, user: User) -> StoredDocument | None:
        return None

    def more_like_this(self, doc_id: int, user: User, limit: int = 10) -> SearchResult:
        return SearchResult(0, 0, limit, "relevance", ())

    def suggest(self, prefix: str, field: str | None = None, limit: int = 10, *,
                user: User) -> list[Suggestion]:
        return []


__all__ = ["SolrIndex", "SolrAdmin", "default_configset", "SolrIndexError",
           "SolrUnavailableError", "SolrSetupError", "SCHEMA_NAME", "SCHEMA_VERSION",
           "solr_document"]
