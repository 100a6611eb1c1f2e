"""Which services of a tenant run where: each records itself in Redis, `status` lists them.

Every service (dav, worker, scheduler) calls ``register(config, ROLE)`` once it
runs; a thread writes its record every ``cluster.heartbeat_seconds``:

    PREFIX services            a sorted set: service id -> its last heartbeat (epoch s)
    PREFIX service:<id>        a hash: role, host, pid, started, heartbeat, state, detail

The hash expires after ``KEEP_BEATS`` missed heartbeats, so a service that
died without saying so (kill -9, host lost) is shown as stale for a while and
then forgotten; a clean stop removes its record at once. Redis being down
costs a service nothing but its record: the heartbeat is tried again.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from paperfs.cluster.redis_keys import key, redis_client

if TYPE_CHECKING:
    import redis

    from paperfs.config import Config

log = logging.getLogger(__name__)

ROLES = ("dav", "worker", "scheduler")
#: a service whose heartbeat is older than this many periods is shown as stale
STALE_BEATS = 2.5
#: ... and forgotten after this many
KEEP_BEATS = 30


def _now_iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat(timespec="seconds")


class Registration:
    """One service's record in Redis, kept fresh by a heartbeat thread until ``close``."""

    def __init__(self, config: Config, role: str, *, state: str = "running",
                 detail: str = "") -> None:
        if role not in ROLES:
            raise ValueError(f"unknown service role {role!r} (one of {', '.join(ROLES)})")
        self.client = redis_client(config)
        self.every = float(config.cluster.heartbeat_seconds)
        self.role, self.host, self.pid = role, socket.gethostname(), os.getpid()
        self.id = f"{role}:{self.host}:{self.pid}"
        self.started = _now_iso(time.time())
        self.state, self.detail = state, detail
        self.index_key = key(config, "services")
        self.record_key = key(config, "service", self.id)
        self._stopping = threading.Event()
        self._beat_now = threading.Event()
        self._unreachable = False
        self._thread = threading.Thread(target=self._loop, name=f"paperfs-{role}-heartbeat",
                                        daemon=True)
        self._thread.start()

    def set_state(self, state: str, detail: str = "") -> None:
        """Say what the service does now ("standby", "active", …); written at once."""
        self.state, self.detail = state, detail
        self._beat_now.set()

    def beat(self) -> None:
        """Write the record now (the thread calls it every heartbeat period)."""
        now = time.time()
        record = {"role": self.role, "host": self.host, "pid": str(self.pid),
                  "started": self.started, "heartbeat": repr(now), "state": self.state,
                  "detail": self.detail}
        with self.client.pipeline() as pipe:
            pipe.hset(self.record_key, mapping=record)
            pipe.expire(self.record_key, int(self.every * KEEP_BEATS) + 1)
            pipe.zadd(self.index_key, {self.id: now})
            pipe.execute()

    def _loop(self) -> None:
        import redis

        while not self._stopping.is_set():
            try:
                self.beat()
                if self._unreachable:
                    log.info("%s: Redis reachable again, heartbeat resumed", self.role)
                self._unreachable = False
            except redis.RedisError as exc:
                if not self._unreachable:
                    log.warning("%s: cannot record the heartbeat in Redis (%s); trying again",
                                self.role, exc)
                self._unreachable = True
            self._beat_now.wait(self.every)
            self._beat_now.clear()

    def close(self) -> None:
        """Stop the heartbeat and remove the record (a clean stop)."""
        import redis

        self._stopping.set()
        self._beat_now.set()
        self._thread.join(10)
        try:
            with self.client.pipeline() as pipe:
                pipe.delete(self.record_key)
                pipe.zrem(self.index_key, self.id)
                pipe.execute()
        except redis.RedisError:
            pass  # it expires on its own


def register(config: Config, role: str, *, state: str = "running",
             detail: str = "") -> Registration:
    """Record this process as a ``role`` service of ``config``'s tenant until ``close()``."""
    return Registration(config, role, state=state, detail=detail)


@dataclass(frozen=True)
class ServiceInfo:
    id: str
    role: str
    host: str
    pid: int
    started: str
    heartbeat: str
    #: seconds since the last heartbeat
    age: float
    stale: bool
    state: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def list_services(client: "redis.Redis", config: Config) -> list[ServiceInfo]:
    """Every service of the tenant that beat within ``KEEP_BEATS`` periods, by role and
    host; forgets the ids whose record expired."""
    every = float(config.cluster.heartbeat_seconds)
    index_key = key(config, "services")
    now = time.time()
    client.zremrangebyscore(index_key, "-inf", now - every * KEEP_BEATS)
    ids = [member.decode() for member in client.zrange(index_key, 0, -1)]
    with client.pipeline() as pipe:
        for service_id in ids:
            pipe.hgetall(key(config, "service", service_id))
        records = pipe.execute()
    out = []
    for service_id, raw in zip(ids, records):
        if not raw:
            client.zrem(index_key, service_id)
            continue
        record = {k.decode(): v.decode() for k, v in raw.items()}
        beat = float(record.get("heartbeat") or 0)
        out.append(ServiceInfo(id=service_id, role=record.get("role", "?"),
                               host=record.get("host", "?"), pid=int(record.get("pid") or 0),
                               started=record.get("started", ""), heartbeat=_now_iso(beat),
                               age=round(now - beat, 1), stale=now - beat > every * STALE_BEATS,
                               state=record.get("state", ""), detail=record.get("detail", "")))
    return sorted(out, key=lambda s: (ROLES.index(s.role) if s.role in ROLES else 9,
                                      s.host, s.pid))
