"""What the consumer needs of a worker pool.

paperfs/consume/pool.py has two: ``WorkerPool`` (supervised processes, one
document each, with a time limit) and ``SerialPool`` (in this process, for
tests and debugging). A pool of remote workers (scale-out) is a third.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Hashable, Protocol, runtime_checkable

if TYPE_CHECKING:
    from paperfs.consume.pool import Outcome


class PoolUnavailable(Exception):
    """``submit`` could not hand the task over (the queue's Redis is down): the job
    stays queued in the consumer and is submitted again later."""


@runtime_checkable
class Pool(Protocol):
    #: the function each task is given to (in a worker)
    func: Callable[[Any], Any]
    #: how many tasks run at once at most
    size: int

    @property
    def free(self) -> int:
        """How many more tasks can be submitted now."""

    @property
    def processes(self) -> int:
        """Worker processes alive now (0 for a pool in this process)."""

    def submit(self, key: Hashable, task: Any) -> None:
        """Start ``task`` (picklable); its outcome comes back from ``poll`` under ``key``.
        Raises PoolUnavailable when it cannot now (nothing was started)."""

    def poll(self, timeout: float) -> list["Outcome"]:
        """The outcomes finished within ``timeout`` seconds (a result, or the error)."""

    def retire_idle(self) -> None:
        """Let workers idle for long go (the daemon at rest holds no OCR processes)."""

    def shutdown(self, *, kill: bool = False) -> None:
        """Stop every worker; ``kill``: without waiting for their documents."""
