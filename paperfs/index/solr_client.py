"""Talking to Solr: the pysolr clients, errors in one line, the connection and its checks.

The client is pysolr: ``pysolr.Solr`` on ``<index.url>/<collection>`` for a
standalone core, ``pysolr.SolrCloud`` with ``pysolr.ZooKeeper`` (kazoo) for a
SolrCloud collection found through ``index.zk_hosts``. The schema name
carries the version (``paperfs-1``), checked on the first request.

Errors: ``SolrUnavailableError`` (cannot reach Solr / ZooKeeper, or no live
replica) and ``SolrSetupError`` (wrong URL, no such core/collection, schema
too old) — both one line that says what to do.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
from typing import Any, Callable, Iterator, Self
from urllib.parse import urlencode

import pysolr
import requests

from paperfs.errors import PaperfsError, SearchBackendError
from paperfs.index.solr_query import MATCH_ALL


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


_pysolr_log = _Quiet(logging.getLogger("paperfs.index.solr.http"), {})
kazoo_log = _Quiet(logging.getLogger("paperfs.index.solr.zookeeper"), {})


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


def _raw(decoded: dict[str, Any], next_page_query: Any = None) -> dict[str, Any]:
    """pysolr results class: the decoded response as it is."""
    return decoded


class SolrConnection:
    """The connection to one Solr core or SolrCloud collection (the base of every
    part of ``SolrIndex``).

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
    def from_config(cls, index_config: Any, **overrides: Any) -> Self:
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
                                 logger=kazoo_log)
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

    def _pages(self, params: dict[str, Any],
               what: str = "a search") -> Iterator[list[dict[str, Any]]]:
        """The documents of a query, page by page with a cursor (``cursorMark``): no
        deep paging cost, and none skipped or repeated when the collection changes
        meanwhile. ``params`` sets ``rows`` and a sort that ends in a unique field."""
        cursor = "*"
        while True:
            data = self._select({**params, "cursorMark": cursor}, what)
            docs = data["response"]["docs"]
            if docs:
                yield docs
            nxt = data.get("nextCursorMark", cursor)
            if nxt == cursor or len(docs) < params["rows"]:
                return
            cursor = nxt

    def ping(self) -> dict[str, Any]:
        """Reachable and a paperfs schema: the schema name and the number of documents."""
        self.connect()
        data = self._select({"q": MATCH_ALL, "rows": 0}, "a ping")
        return {"schema": self.schema_name or self._check_schema(),
                "documents": int(data["response"]["numFound"])}
