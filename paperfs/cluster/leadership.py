"""Exactly one active scheduler per tenant: a lock in Redis, held while renewed.

The lock is redis-py's ``Lock`` (SET NX PX with a token, renewed and released by
Lua scripts that check the token): a standby blocks on it, the winner renews it
every third of ``cluster.leader_lease_seconds`` from a thread. The token says
who holds it (host, pid, since), so a standby and ``paperfs status`` can name
the active one by reading the one key.

Never two active: the lock lives ``lease`` seconds after the last renewal that
Redis accepted, measured from when it was *sent* (the earliest Redis can have
started the new lifetime). The holder stops acting at ``STOP_AT`` of that
lifetime if no renewal got through since, and at once if Redis says the token
is no longer its own (the key expired and a standby took it, or Redis lost
its data). Stopping is a hard exit (``keep``'s ``on_lost``): a graceful
stop could outlive the lease, and the writer's crash-safety protocol already
makes any instant a safe one to die at.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from paperfs.cluster.redis_keys import key

if TYPE_CHECKING:
    import redis

    from paperfs.config import Config

log = logging.getLogger(__name__)

#: the share of the lease after the last accepted renewal at which the holder gives up
STOP_AT = 5 / 6
#: how long one blocking attempt of a standby lasts before it looks at its stop flag
ATTEMPT_SECONDS = 1.0
#: how often a standby asks Redis for the lock (the takeover's granularity)
POLL_SECONDS = 0.1
#: how often the holder's guard looks at the time since the last accepted renewal
GUARD_SECONDS = 0.1


def lock_name(config: Config) -> str:
    return key(config, "scheduler", "leader")


@dataclass(frozen=True)
class Holder:
    """Who holds the lock, as its token says."""

    host: str
    pid: int
    since: str

    @classmethod
    def parse(cls, token: bytes | str | None) -> "Holder | None":
        if token is None:
            return None
        try:
            data = json.loads(token)
            return cls(host=str(data["host"]), pid=int(data["pid"]), since=str(data["since"]))
        except (ValueError, KeyError, TypeError):
            return None

    def describe(self) -> str:
        return f"{self.host} pid {self.pid} since {self.since}"


def current_holder(client: "redis.Redis", config: Config) -> Holder | None:
    """The active scheduler of this tenant, or None (no one holds the lock)."""
    return Holder.parse(client.get(lock_name(config)))


def _token() -> str:
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    return json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "since": now,
                       "id": uuid.uuid4().hex})


class Leadership:
    """The scheduler lock of one tenant, for one process: ``wait`` for it, ``keep`` it."""

    def __init__(self, client: "redis.Redis", config: Config) -> None:
        import redis.lock

        self.client = client
        self.lease = float(config.cluster.leader_lease_seconds)
        self.name = lock_name(config)
        self.lock = redis.lock.Lock(client, self.name, timeout=self.lease, sleep=POLL_SECONDS,
                                    thread_local=False)
        self.holder: Holder | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        #: monotonic time at which the last renewal that Redis accepted was sent
        self._last_accepted = 0.0
        self._lost: Callable[[str], None] = lambda reason: None
        self._losing = threading.Lock()

    # ------------------------------------------------------------ a standby

    def wait(self, stopping: threading.Event,
             on_standby: Callable[[Holder | None, str | None], None] = lambda h, p: None) -> bool:
        """Block until this process holds the lock (True) or ``stopping`` is set (False).
        ``on_standby(holder, problem)`` is called whenever who holds it, or what keeps
        Redis from answering, changes."""
        import redis

        seen: tuple[Holder | None, str | None] | None = None
        blocking = False  # the first try only looks: a standby says at once whom it waits for
        while not stopping.is_set():
            problem = None
            try:
                token = _token()
                if self.lock.acquire(blocking=blocking, blocking_timeout=ATTEMPT_SECONDS,
                                     token=token):
                    self.holder = Holder.parse(token)
                    log.info("scheduler: active (holding %s, lease %g s)", self.name, self.lease)
                    return True
                holder = Holder.parse(self.client.get(self.name))
                blocking = True
            except redis.RedisError as exc:
                holder, problem = None, f"Redis unreachable: {exc}"
            if (holder, problem) != seen:
                seen = (holder, problem)
                if problem:
                    log.warning("scheduler: standby; %s (trying again)", problem)
                elif holder:
                    log.info("scheduler: standby, waiting for the lock held by %s",
                             holder.describe())
                on_standby(holder, problem)
            if problem:
                stopping.wait(ATTEMPT_SECONDS)
        return False

    # ------------------------------------------------------------ the active one

    def keep(self, on_lost: Callable[[str], None]) -> None:
        """Renew the lock every third of the lease from a thread; ``on_lost(reason)`` when
        it can no longer be sure it holds it (it must stop acting at once). A guard
        thread watches the time, so a renewal stuck in a socket timeout cannot delay it."""
        self._lost = on_lost
        self._renew()  # now: the lease is counted from a time this process knows
        for target, name in ((self._renew_loop, "paperfs-leadership"),
                             (self._guard_loop, "paperfs-leadership-guard")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def _renew(self) -> None:
        """One renewal; LockError when the token is not ours any more."""
        sent = time.monotonic()
        self.lock.reacquire()  # the lifetime starts anew: lease seconds
        self._last_accepted = sent

    def _renew_loop(self) -> None:
        import redis
        from redis.exceptions import LockError

        every = self.lease / 3
        wait = every
        while not self._stopping.wait(wait):
            try:
                self._renew()
                wait = every
            except LockError as exc:
                self._lose(f"the lock is no longer ours ({exc}); another scheduler may be active")
                return
            except redis.RedisError as exc:
                left = self._last_accepted + self.lease * STOP_AT - time.monotonic()
                log.warning("scheduler: could not renew the lock (%s); giving up in %.1f s",
                            exc, max(left, 0))
                wait = min(1.0, every / 2)

    def _guard_loop(self) -> None:
        while not self._stopping.wait(GUARD_SECONDS):
            silent = time.monotonic() - self._last_accepted
            if silent >= self.lease * STOP_AT:
                self._lose(f"Redis unreachable: no renewal accepted for {silent:.1f} s "
                           f"(lease {self.lease:g} s)")
                return

    def _lose(self, reason: str) -> None:
        with self._losing:
            if not self._stopping.is_set():
                self._stopping.set()
                self._lost(reason)

    def release(self) -> None:
        """Stop renewing and let the lock go (a clean stop: a standby takes over at once)."""
        import redis
        from redis.exceptions import LockError

        self._stopping.set()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(10)
        try:
            self.lock.release()
        except (LockError, redis.RedisError) as exc:
            log.info("scheduler: lock not released (%s); it expires on its own", exc)
