"""Process pool that isolates documents: a hung or crashed worker fails only its own.

Why not multiprocess.Pool or concurrent.futures.ProcessPoolExecutor:
- Pool cannot cancel one task: a hung OCR blocks its worker forever, and a
  worker killed by the OOM killer loses its task silently (the result never
  arrives).
- ProcessPoolExecutor marks the whole pool broken when one worker dies, failing
  every queued document, and has no per-task timeout either.
So each worker here is a ``multiprocess`` Process with its own pipe, supervised
by the caller's thread with ``connection.wait``: a worker past its deadline is
killed and replaced, a dead worker fails its one document. Workers are not
daemonic, so OCRmyPDF could start children; it is run with its thread
executor anyway (one document per worker, jobs=1). Workers start on demand
and exit after ``idle_seconds`` so the daemon at rest holds no OCR processes.

A document's time limit counts from the moment its worker starts it (the
worker says so over its pipe): starting a process and importing the pipeline
can take seconds on a busy machine and is not the document's doing. A worker
that does not start a document within ``startup_seconds`` fails it too.

The function a worker runs may be given by name (``"module:function"``): it is
then imported in the worker only, before its first task, so that the daemon
itself never loads the OCR stack.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Generic, Hashable, TypeVar, Union

import multiprocess as mp
from multiprocess.connection import wait

from paperfs.errors import ConsumeError, DocumentTimeoutError, WorkerCrashedError

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
#: a function, or its name as "module:function"
Entry = Union[Callable[[Any], Any], str]


def resolve(entry: Entry) -> Callable[[Any], Any]:
    """The function an entry names (imported here, in the process that runs it)."""
    if callable(entry):
        return entry
    module, _, name = entry.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Outcome(Generic[K]):
    key: K
    result: Any = None
    error: ConsumeError | None = None


def _die_with_parent(parent_pid: int) -> None:
    """Have the kernel kill this worker when the daemon dies (even by SIGKILL), so an
    orphan never keeps writing into a job the restarted daemon is redoing."""
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def _worker_main(conn: Any, entry: Entry, parent_pid: int) -> None:
    _die_with_parent(parent_pid)
    # One thread for tesseract/OpenMP: parallelism comes from the workers.
    os.environ["OMP_THREAD_LIMIT"] = "1"
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    func = resolve(entry)  # before the first task: imports do not count against its time
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        # CLOCK_MONOTONIC is system-wide, so the parent can use this instant.
        conn.send(("started", time.monotonic()))
        try:
            conn.send(("ok", func(task)))
        except ConsumeError as exc:
            conn.send(("error", type(exc).__name__, str(exc)))
        except BaseException as exc:  # noqa: BLE001 - the stage boundary
            log.debug("worker error: %s", traceback.format_exc())
            conn.send(("error", "ConsumeError", f"{type(exc).__name__}: {exc}"))


def _rebuild_error(name: str, message: str) -> ConsumeError:
    from paperfs import errors
    cls = getattr(errors, name, ConsumeError)
    if not (isinstance(cls, type) and issubclass(cls, ConsumeError)):
        cls = ConsumeError
    return cls(message)


class _Worker:
    def __init__(self, ctx: Any, func: Entry) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, func, os.getpid()), daemon=False,
                                   name="paperfs-worker")
        self.process.start()
        child.close()
        self.key: Any = None
        self.started = False  # the worker has begun its current document
        self.deadline = 0.0  # to start the document, then to finish it
        self.idle_since = time.monotonic()

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                pass
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self.conn.close()


class WorkerPool(Generic[K]):
    def __init__(self, func: Entry, *, workers: int, timeout: float,
                 idle_seconds: float = 60.0, startup_seconds: float = 120.0) -> None:
        self.func = func
        self.size = max(1, workers)
        self.timeout = timeout
        self.idle_seconds = idle_seconds
        self.startup_seconds = startup_seconds
        self._ctx = mp.get_context("spawn")
        self._workers: list[_Worker] = []

    @property
    def busy(self) -> int:
        return sum(1 for w in self._workers if w.key is not None)

    @property
    def free(self) -> int:
        return self.size - self.busy

    @property
    def processes(self) -> int:
        """Worker processes alive now (they start on demand and retire when idle)."""
        return len(self._workers)

    def in_flight(self) -> list[K]:
        return [w.key for w in self._workers if w.key is not None]

    def submit(self, key: K, task: Any) -> None:
        worker = next((w for w in self._workers if w.key is None), None)
        if worker is None:
            if len(self._workers) >= self.size:
                raise RuntimeError("no free worker; check pool.free first")
            worker = _Worker(self._ctx, self.func)
            self._workers.append(worker)
        worker.key = key
        worker.started = False
        worker.deadline = time.monotonic() + self.startup_seconds
        worker.conn.send(task)

    def poll(self, timeout: float) -> list[Outcome[K]]:
        """Wait up to timeout for results; also enforce deadlines and reap the dead."""
        outcomes: list[Outcome[K]] = []
        busy = [w for w in self._workers if w.key is not None]
        if busy:
            nearest = min(w.deadline for w in busy) - time.monotonic()
            timeout = max(0.0, min(timeout, nearest))
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout)
        else:
            time.sleep(timeout) if timeout > 0 else None
            ready = []
        now = time.monotonic()
        for worker in busy:
            if worker.conn in ready:
                outcome = self._receive(worker)
                if outcome is not None:
                    outcomes.append(outcome)
                    worker.key = None
                    worker.idle_since = now
                    continue
            if not worker.process.is_alive():
                code = worker.process.exitcode
                how = f"killed by signal {-code}" if code and code < 0 else f"exit code {code}"
                outcomes.append(Outcome(worker.key, error=WorkerCrashedError(
                    f"the worker processing this document died ({how}); "
                    "it may be out of memory or the file may crash a converter")))
                self._replace(worker)
            elif now >= worker.deadline:
                outcomes.append(Outcome(worker.key, error=self._overdue(worker)))
                self._replace(worker, kill=True)
        self.retire_idle()
        return outcomes

    def _receive(self, worker: _Worker) -> Outcome[K] | None:
        """Read what the worker sent: its result, or None (it only started, or its pipe broke)."""
        try:
            while True:
                message = worker.conn.recv()
                if message[0] != "started":
                    return self._outcome(worker.key, message)
                worker.started = True
                worker.deadline = message[1] + self.timeout
                if not worker.conn.poll():
                    return None
        except (EOFError, OSError):
            return None  # it died: the caller sees that from the process

    def _overdue(self, worker: _Worker) -> ConsumeError:
        if worker.started:
            return DocumentTimeoutError(
                f"processing took longer than consume.timeout_seconds={self.timeout:g}; "
                "raise the limit for very large scans")
        return WorkerCrashedError(
            f"no worker process could start this document within {self.startup_seconds:g}s "
            "(the machine is overloaded, or starting Python hangs); drop the file in again later")

    def _outcome(self, key: K, message: tuple) -> Outcome[K]:
        if message[0] == "ok":
            return Outcome(key, result=message[1])
        return Outcome(key, error=_rebuild_error(message[1], message[2]))

    def _replace(self, worker: _Worker, kill: bool = False) -> None:
        worker.stop(kill=True) if kill else worker.process.join(1)
        self._workers.remove(worker)

    def retire_idle(self) -> None:
        """Stop workers idle for longer than idle_seconds (call this regularly)."""
        now = time.monotonic()
        for worker in [w for w in self._workers if w.key is None]:
            if now - worker.idle_since > self.idle_seconds:
                worker.stop()
                self._workers.remove(worker)

    def shutdown(self, *, kill: bool = False) -> None:
        for worker in self._workers:
            worker.stop(kill=kill or worker.key is not None)
        self._workers.clear()


class SerialPool(Generic[K]):
    """Same interface, runs tasks inline: for unit tests and debugging."""

    def __init__(self, func: Entry, **_: Any) -> None:
        self.func = resolve(func)
        self.size = 1
        self._done: list[Outcome[K]] = []

    @property
    def free(self) -> int:
        return 1

    @property
    def busy(self) -> int:
        return 0

    processes = 0

    def in_flight(self) -> list[K]:
        return []

    def submit(self, key: K, task: Any) -> None:
        try:
            self._done.append(Outcome(key, result=self.func(task)))
        except ConsumeError as exc:
            self._done.append(Outcome(key, error=exc))
        except Exception as exc:  # noqa: BLE001 - the stage boundary
            self._done.append(Outcome(key, error=ConsumeError(f"{type(exc).__name__}: {exc}")))

    def poll(self, timeout: float) -> list[Outcome[K]]:
        done, self._done = self._done, []
        return done

    def retire_idle(self) -> None:
        pass

    def shutdown(self, *, kill: bool = False) -> None:
        pass
