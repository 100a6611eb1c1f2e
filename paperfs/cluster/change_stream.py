"""The change stream: the writer tells every dav replica what changed in the catalog.

The writer's index (paperfs/index/mirrored.py) tells a ``ChangePublisher``
every write it applied; the publisher appends it to the Redis stream
``<prefix>changes`` (XADD, trimmed to about ``MAXLEN`` entries). An entry is
one operation: ``upsert`` (documents filed, edited, moved, restored: their
ids and archive paths), ``delete`` (trashed, purged, gone: their ids) or
``resync`` (something bigger happened: a rebuild, a writer that may have
lost entries; the replica compares its catalog with the tree).

A ``ChangeFollower`` (in each `paperfs dav`, paperfs/cluster/replica_catalog.py)
remembers the stream id it started from and reads on from there (XREAD
BLOCK, in a thread). Applying an entry is idempotent: the replica reads the
named document's sidecar from the shared tree, so an entry seen twice or
late does no harm. When the follower cannot be sure it saw everything — the
stream was trimmed past its position, Redis restarted (a new run id), the
stream is new — it resyncs from the tree and goes on from the position it
took *before* the resync.

The publisher never blocks the writer: entries wait in memory while Redis is
unreachable and are sent in order when it is back. Entries a writer still
held when it died are not lost for the replicas: the next writer publishes
``resync`` when it opens.
"""

from __future__ import annotations

import collections
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable

from paperfs.cluster.redis_keys import key, redis_client

if TYPE_CHECKING:
    from paperfs.config import Config

log = logging.getLogger(__name__)

#: entries kept in the stream (approximately): replicas further behind resync from the tree
MAXLEN = 100_000
#: how long one XREAD waits for news (seconds); also how soon a stop is noticed
BLOCK_SECONDS = 2.0
#: back-off while Redis is unreachable
RETRY_MIN, RETRY_MAX = 0.5, 10.0

UPSERT, DELETE, RESYNC = "upsert", "delete", "resync"


def stream_key(config: "Config") -> str:
    return key(config, "changes")


@dataclass(frozen=True)
class Change:
    """One entry: ``items`` are (id, archive path) for upsert, (id, "") for delete."""

    op: str
    items: tuple[tuple[int, str], ...] = ()

    def fields(self) -> dict[str, str]:
        return {"op": self.op, "items": json.dumps([list(item) for item in self.items])}

    @classmethod
    def from_fields(cls, fields: dict[bytes, bytes]) -> "Change":
        items = json.loads(fields.get(b"items", b"[]"))
        return cls(fields[b"op"].decode(), tuple((int(i), str(p)) for i, p in items))


class ChangePublisher:
    """The writer's side: ``changed(op, items)`` returns at once; a thread sends."""

    def __init__(self, config: "Config") -> None:
        self.config = config
        self.stream = stream_key(config)
        self._pending: collections.deque[Change] = collections.deque()
        self._wake = threading.Condition()
        self._stopping = False
        #: the last problem reaching Redis (None while all is well), for status
        self.problem: str | None = None
        self._thread = threading.Thread(target=self._run, name="change-publisher", daemon=True)
        self._thread.start()
        # Entries an earlier writer held when it died never reached the stream.
        self.changed(RESYNC, ())

    def changed(self, op: str, items: Iterable[tuple[int, str]]) -> None:
        with self._wake:
            self._pending.append(Change(op, tuple(items)))
            self._wake.notify()

    def backlog(self) -> int:
        return len(self._pending)

    def _run(self) -> None:
        client = redis_client(self.config)
        delay = 0.0
        while True:
            with self._wake:
                while not self._pending and not self._stopping:
                    self._wake.wait()
                if not self._pending:
                    return
                change = self._pending[0]
            try:
                client.xadd(self.stream, change.fields(), maxlen=MAXLEN, approximate=True)
            except Exception as exc:  # noqa: BLE001 - redis' errors: kept, sent later
                delay = min(max(delay * 2, RETRY_MIN), RETRY_MAX)
                if self.problem is None:
                    log.warning("change stream: cannot reach Redis (%s); %d change(s) kept, "
                                "sent when it is back", exc, len(self._pending))
                self.problem = str(exc)
                with self._wake:
                    if self._stopping:
                        return
                    self._wake.wait(delay)
                continue
            with self._wake:
                self._pending.popleft()
            if self.problem is not None:
                log.warning("change stream: Redis is back; the kept changes are sent")
                self.problem, delay = None, 0.0

    def close(self, timeout: float = 5.0) -> None:
        """Send what is pending (up to ``timeout``), then stop."""
        deadline = time.monotonic() + timeout
        while self._pending and self.problem is None and time.monotonic() < deadline:
            time.sleep(0.02)
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join(timeout=2.0)
        if self._pending:
            log.warning("change stream: %d change(s) not sent; the next writer asks the "
                        "replicas to resync", len(self._pending))


class ChangeFollower:
    """A replica's side: applies each entry after ``start_from`` in a thread.

    ``apply(change)`` brings the local catalog in step with one entry;
    ``resync()`` compares the whole catalog with the tree.
    """

    def __init__(self, config: "Config", apply: Callable[[Change], None],
                 resync: Callable[[], None]) -> None:
        self.config = config
        self.stream = stream_key(config)
        self.apply = apply
        self.resync = resync
        self.client = redis_client(config)
        #: the id of the last entry applied ("0-0": none yet)
        self.position = "0-0"
        self._run_id: str | None = None
        #: the last problem reaching Redis (None while all is well), for /healthz and status
        self.problem: str | None = None
        self.applied = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def catch_up(self) -> None:
        """Take the stream's current position, then resync from the tree: whatever
        changes during the resync is read again from the stream afterwards."""
        self.position = self._last_id()
        self._run_id = self._redis_run_id()
        self.resync()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="change-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(BLOCK_SECONDS + 5)

    def _last_id(self) -> str:
        last = self.client.xrevrange(self.stream, count=1)
        return last[0][0].decode() if last else "0-0"

    def _redis_run_id(self) -> str:
        return str(self.client.info("server").get("run_id", ""))

    def _run(self) -> None:
        delay = 0.0
        while not self._stop.is_set():
            try:
                if self.problem is not None or self._redis_run_id() != self._run_id:
                    self._after_outage()
                self._follow()
            except Exception as exc:  # noqa: BLE001 - Redis away, or a bad entry: retried
                delay = min(max(delay * 2, RETRY_MIN), RETRY_MAX)
                if self.problem is None:
                    log.warning("change stream: %s; the local catalog may fall behind until "
                                "Redis answers again", exc)
                self.problem = str(exc)
                self._stop.wait(delay)
            else:
                delay = 0.0

    def _after_outage(self) -> None:
        """Back in touch with Redis: go on where we were if the stream still holds
        that place, otherwise resync."""
        first = self.client.xrange(self.stream, count=1)
        trimmed = bool(first) and self.client.xlen(self.stream) >= MAXLEN and \
            _id(self.position) < _id(first[0][0].decode())
        gone = not first and self.position != "0-0"
        if self._redis_run_id() != self._run_id or trimmed or gone:
            log.warning("change stream: entries may have been missed (Redis restarted or "
                        "the stream was trimmed); resyncing the local catalog from the tree")
            self.catch_up()
        elif self.problem is not None:
            log.warning("change stream: Redis is back; following from %s", self.position)
        self.problem = None

    def _follow(self) -> None:
        answer = self.client.xread({self.stream: self.position}, count=500,
                                   block=int(BLOCK_SECONDS * 1000))
        for _stream, entries in answer or ():
            for entry_id, fields in entries:
                change = Change.from_fields(fields)
                if change.op == RESYNC:
                    self.resync()
                else:
                    self.apply(change)
                self.position = entry_id.decode()
                self.applied += 1


def _id(entry_id: str) -> tuple[int, int]:
    """A stream id as a comparable pair: "1700000000000-3" -> (1700000000000, 3)."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)
