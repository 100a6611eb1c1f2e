"""A Pool (daemon/pool_protocol.py) whose workers are `paperfs worker`s behind Redis.

The consumer runs unchanged over it: ``submit`` sends a PrepareTask to the
tenant's Celery queue, ``poll`` reads the results of what is in flight (one
MGET every 20 ms while jobs are in flight, none while idle) and hands back Outcomes as the local pool does. ``size`` bounds
how many jobs wait in Redis at once; the rest wait in .paperfs/work on disk.

Each job has one *current* task id in Redis (``job:ID:task``). A task that is
not its job's current one (sent before a daemon restart, or before Redis lost
its data) does nothing when a worker takes it, and a result under any other id
is never read: so a job is prepared by one delivery at a time and filed once.

Redis down: ``submit`` raises PoolUnavailable (the consumer keeps the job
queued and tries again); ``poll`` returns nothing until Redis answers. Redis
back without its data (no persistence: another run_id): everything in flight
is sent again.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Hashable

from paperfs.cluster.celery_app import PREPARE_TASK, make_app, queue_name
from paperfs.cluster.redis_keys import redacted_url, redis_client
from paperfs.cluster.tasks import DELIVERIES_TTL_SECONDS, current_task_key, deliveries_key
# the local pool's rebuilding of a worker's error, so both pools report alike
from paperfs.consume.messages import PREPARE
from paperfs.consume.pool import Outcome, _rebuild_error as rebuild_error
from paperfs.daemon.pool_protocol import PoolUnavailable
from paperfs.errors import ConsumeError, DocumentTimeoutError, WorkerCrashedError

if TYPE_CHECKING:
    from paperfs.config import Config

log = logging.getLogger(__name__)

#: jobs in Redis at once per configured worker (consume.workers, default: cores)
DEPTH_PER_WORKER = 4
#: how often poll() asks Redis whether it restarted
RUN_ID_CHECK_SECONDS = 2.0
POLL_INTERVAL = 0.02


@dataclass
class _Flight:
    task: Any
    task_id: str = ""
    #: not (or no longer) in Redis: sent again by poll() when Redis answers
    unsent: bool = True


class QueuePool:
    def __init__(self, config: Config, func: str = PREPARE) -> None:
        self.config = config
        #: the Pool protocol's: what the workers run (tasks.prepare_task calls this entry point)
        self.func = func
        self.size = max(8, DEPTH_PER_WORKER * config.workers)
        self.app = make_app(config)
        self.redis = redis_client(config)
        self._flights: dict[Hashable, _Flight] = {}
        self._run_id: str | None = None
        self._run_id_checked = 0.0
        self._down_since: float | None = None

    # ------------------------------------------------------------ the protocol

    @property
    def free(self) -> int:
        return self.size - len(self._flights)

    @property
    def processes(self) -> int:
        return 0  # the workers are other processes, on other hosts

    def in_flight(self) -> list[Hashable]:
        return list(self._flights)

    def submit(self, key: Hashable, task: Any) -> None:
        flight = _Flight(task)
        try:
            self._check_run_id(force=self._run_id is None)
            self._send(str(key), flight)
        except _REDIS_ERRORS as exc:
            self._went_down(exc)
            raise PoolUnavailable(f"the queue at {redacted_url(self.config.queue)} is "
                                  f"unavailable: {exc}") from exc
        self._flights[key] = flight

    def poll(self, timeout: float) -> list[Outcome]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                outcomes = self._collect()
                self._came_back()
            except _REDIS_ERRORS as exc:
                self._went_down(exc)
                outcomes = []
            left = deadline - time.monotonic()
            if outcomes or left <= 0:
                return outcomes
            time.sleep(min(POLL_INTERVAL, left))

    def retire_idle(self) -> None:
        pass  # nothing of ours idles: the workers scale themselves

    def shutdown(self, *, kill: bool = False) -> None:
        """Forget what is in flight: the jobs stay on disk, and their tasks in Redis are
        stale once the restarted daemon sends them again (a new current task id)."""
        self._flights.clear()
        self.redis.close()

    # ------------------------------------------------------------ sending

    def _send(self, job_id: str, flight: _Flight) -> None:
        task_id = f"{job_id}-{uuid.uuid4().hex[:12]}"
        # The current id first: a worker that takes the task must find it. Deliveries
        # count the current task's (a daemon restart is not the job's doing).
        with self.redis.pipeline() as pipe:
            pipe.set(current_task_key(self.config, job_id), task_id, ex=DELIVERIES_TTL_SECONDS)
            pipe.delete(deliveries_key(self.config, job_id))
            pipe.execute()
        self.app.send_task(PREPARE_TASK, args=(flight.task,), task_id=task_id,
                           queue=queue_name(self.config), retry=False)
        flight.task_id, flight.unsent = task_id, False

    def _check_run_id(self, *, force: bool = False) -> None:
        """Redis restarted without its data: send again whatever was in flight."""
        now = time.monotonic()
        if not force and now - self._run_id_checked < RUN_ID_CHECK_SECONDS:
            return
        run_id = self.redis.info("server")["run_id"]
        self._run_id_checked = now
        if self._run_id is not None and run_id != self._run_id and self._flights:
            log.warning("the queue's Redis restarted (its data is gone): sending %d job(s) again",
                        len(self._flights))
            for flight in self._flights.values():
                flight.unsent = True
        self._run_id = run_id

    # ------------------------------------------------------------ collecting

    def _collect(self) -> list[Outcome]:
        self._check_run_id()
        for job_id, flight in self._flights.items():
            if flight.unsent:
                self._send(str(job_id), flight)
        if not self._flights:
            return []
        backend = self.app.backend
        keys = list(self._flights)
        values = self.redis.mget([backend.get_key_for_task(self._flights[k].task_id) for k in keys])
        outcomes = []
        for job_key, value in zip(keys, values):
            if value is None:
                continue
            meta = backend.decode_result(value)
            if meta["status"] not in ("SUCCESS", "FAILURE"):
                continue
            flight = self._flights.pop(job_key)
            outcomes.append(Outcome(job_key, **_outcome_of(meta)))
            self._forget(str(job_key), flight.task_id)
        return outcomes

    def _forget(self, job_id: str, task_id: str) -> None:
        self.redis.delete(self.app.backend.get_key_for_task(task_id),
                          current_task_key(self.config, job_id),
                          deliveries_key(self.config, job_id))

    # ------------------------------------------------------------ outages

    def _went_down(self, exc: BaseException) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning("the queue at %s is unavailable (%s); jobs wait until it answers",
                        redacted_url(self.config.queue), exc)

    def _came_back(self) -> None:
        if self._down_since is not None:
            log.warning("the queue at %s answers again after %.0fs",
                        redacted_url(self.config.queue), time.monotonic() - self._down_since)
            self._down_since = None


def _outcome_of(meta: dict) -> dict:
    """An Outcome's result or error from a finished task's result record."""
    result = meta["result"]
    if meta["status"] == "SUCCESS":
        if result[0] == "ok":
            return {"result": result[1]}
        return {"error": rebuild_error(result[1], result[2])}
    name = type(result).__name__
    if name == "TimeLimitExceeded":
        return {"error": DocumentTimeoutError(
            "processing took longer than consume.timeout_seconds; raise the limit for very "
            "large scans")}
    if name == "WorkerLostError":
        return {"error": WorkerCrashedError(f"the worker processing this document died ({result})")}
    return {"error": ConsumeError(f"{name}: {result}")}


def _redis_errors() -> tuple[type[BaseException], ...]:
    import kombu.exceptions
    import redis.exceptions

    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
            kombu.exceptions.OperationalError, ConnectionError, OSError)


_REDIS_ERRORS = _redis_errors()
