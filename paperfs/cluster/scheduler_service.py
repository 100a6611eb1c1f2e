"""``paperfs scheduler``: the daemon's work, done by exactly one process of a tenant.

A scheduler registers itself (paperfs/cluster/services.py), then waits as a
standby for the tenant's leadership lock (paperfs/cluster/leadership.py). Once
it holds it, it runs the same ``Daemon`` as ``paperfs run``, without WebDAV:
it takes the writer lock, recovers the tree, watches the inbox, dispatches to
the queue pool (``Runtime.worker_pool`` with ``queue`` set: Celery workers on
any host) and runs every scheduled job. If it can no longer be sure it holds
the lock, it exits at once with ``EXIT_LEADERSHIP_LOST`` (systemd restarts it
as a standby); the next active scheduler recovers from the tree as after a
crash.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Callable

from paperfs.cluster.health import serve_endpoints
from paperfs.cluster.leadership import Holder, Leadership
from paperfs.cluster.metrics import count_result
from paperfs.cluster.redis_keys import redacted_url, redis_client
from paperfs.cluster.services import register
from paperfs.daemon.service import Daemon
from paperfs.errors import UsageError

if TYPE_CHECKING:
    from paperfs.runtime import Runtime

log = logging.getLogger(__name__)

#: the exit status after losing the lock (EX_TEMPFAIL): not a clean stop, restart me
EXIT_LEADERSHIP_LOST = 75
#: how often a standby (or a scheduler still recovering) tells systemd's watchdog it lives
STANDBY_PING_SECONDS = 5.0


def _standby_detail(holder: Holder | None, problem: str | None) -> str:
    if problem:
        return problem
    if holder is None:
        return "waiting for the lock (free: taking it)"
    return f"waiting for the lock held by {holder.describe()}"


class SchedulerService:
    """One ``paperfs scheduler`` process: standby until it leads, then the daemon."""

    def __init__(self, runtime: Runtime) -> None:
        config = runtime.config
        if not config.queue:
            raise UsageError("paperfs scheduler needs 'queue: redis://HOST:PORT/DB' in "
                             "paperfs.yml (without it, 'paperfs run' does everything)")
        self.runtime = runtime
        self.stopping = threading.Event()
        self.state = "starting"
        self.daemon: Daemon | None = None
        self.leadership = Leadership(redis_client(config), config)

    def readiness(self) -> tuple[list[str], str]:
        """/readyz: a standby waiting and an active scheduler are both as they should be."""
        return [], self.state

    def run(self, notify: Callable[[str], None] = lambda s: None) -> int:
        """Wait for the lock, then serve until stop(); the exit status."""
        config = self.runtime.config
        registration = register(config, "scheduler", state="starting")
        endpoints = None
        try:
            endpoints = serve_endpoints(config, self.readiness)
            notify("READY=1\nSTATUS=standby: waiting for the scheduler lock")
            log.info("scheduler: standby on %s (tenant %s), lease %.0f s",
                     redacted_url(config.queue), config.tenant or "default",
                     self.leadership.lease)

            def on_standby(holder: Holder | None, problem: str | None) -> None:
                self.state = "standby"
                detail = _standby_detail(holder, problem)
                registration.set_state("standby", detail)
                notify(f"STATUS=standby: {detail}")

            pinging = threading.Thread(target=self._ping_while_standby, args=(notify,),
                                       daemon=True)
            pinging.start()
            if not self.leadership.wait(self.stopping, on_standby):
                return 0  # stopped while standby
            self.state = "active"
            registration.set_state("active")
            self.leadership.keep(on_lost=self._lost)
            try:
                self.daemon = Daemon(self.runtime, webdav=False, on_result=count_result)
                if self.stopping.is_set():
                    return 0
                self.daemon.run(notify=notify)
            finally:
                self.leadership.release()
            return 0
        finally:
            self.state = "stopped"
            if endpoints is not None:
                endpoints.stop()
            registration.close()

    def _ping_while_standby(self, notify: Callable[[str], None]) -> None:
        """systemd's watchdog runs from READY=1, sent at once: ping it while waiting and
        while the new active one recovers, until the consumer's loop pings it itself."""
        while not self.stopping.wait(STANDBY_PING_SECONDS) and not self._loop_started():
            notify("WATCHDOG=1")

    def _loop_started(self) -> bool:
        return (self.state == "stopped" or self.daemon is not None
                and self.daemon.consumer.inbox_watcher is not None)

    def _lost(self, reason: str) -> None:
        """Not sure of the lock any more: stop acting now, as a crash would."""
        log.critical("scheduler: leadership lost: %s; exiting at once (status %d) so that "
                     "only one scheduler acts", reason, EXIT_LEADERSHIP_LOST)
        os._exit(EXIT_LEADERSHIP_LOST)

    def stop(self) -> None:
        self.stopping.set()
        if self.daemon is not None:
            self.daemon.stop()
