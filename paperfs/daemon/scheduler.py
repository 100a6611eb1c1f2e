"""Jobs that run every so often: the daemon's upkeep and polling intake sources.

Each ``ScheduledJob`` runs first on the scheduler's first pass, then again
``every_seconds`` after it last ran, and only while its ``when`` says so
(index maintenance waits until nothing is being consumed). Jobs of a pass
run one after the other; a job that fails is logged and tried again at its
next time, the others still run.

The daemon's loop makes a pass on each of its turns (``run_due``), so its
jobs change the data root in the same thread, in order, as everything the
daemon does; a process without that loop (``paperfs dav``) runs the passes
in a thread of their own (``start``/``stop``).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable

log = logging.getLogger(__name__)

#: the longest a job waits past its time (seconds)
TICK_SECONDS = 1.0


def always() -> bool:
    return True


@dataclass(frozen=True)
class ScheduledJob:
    #: what it does, for the log ("expiring the trash")
    name: str
    every_seconds: float
    run: Callable[[], object]
    #: whether it may run now (else it stays due)
    when: Callable[[], bool] = always


class Scheduler:
    def __init__(self, jobs: Iterable[ScheduledJob], *, tick: float = TICK_SECONDS) -> None:
        self.jobs = list(jobs)
        self.tick = min([tick, *(job.every_seconds for job in self.jobs)])
        #: job name -> when it last ran (monotonic); absent: not yet
        self._last: dict[str, float] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, job: ScheduledJob) -> None:
        self.jobs.append(job)
        self.tick = min(self.tick, job.every_seconds)

    def run_due(self) -> None:
        """One pass: every job whose time has come and that may run now."""
        for job in self.jobs:
            now = time.monotonic()
            last = self._last.get(job.name)
            if last is not None and now - last < job.every_seconds:
                continue
            if not job.when():
                continue
            self._last[job.name] = now
            log.debug("scheduled job: %s", job.name)  # counted by the cluster tests
            try:
                job.run()
            except Exception:  # noqa: BLE001 - one failing job must not stop the others
                log.exception("scheduled job: %s failed (tried again at its next time)",
                              job.name)

    def start(self) -> None:
        """Make the passes in a background thread, each ``tick`` seconds."""
        self._thread = threading.Thread(target=self._loop, name="paperfs-scheduler",
                                        daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stopping.wait(self.tick):
            self.run_due()

    def stop(self) -> None:
        """Stop after the job that runs now, if any."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(60)
            self._thread = None
