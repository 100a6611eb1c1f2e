"""Where the outside actions (webhook, e-mail, script) run: a few daemon threads
with a queue, so neither the daemon's loop nor a WebDAV request waits for a
slow server.

``close(timeout)`` lets what is under way finish for a while and stops the
pauses between webhook retries at once (``stopping``); what is still queued or
running then is reported to ``on_dropped`` and left (threads are daemonic: a
stop is never held up by a server that does not answer).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any, Callable

log = logging.getLogger(__name__)

#: what the task is (handed to on_dropped), and the task
Task = tuple[Any, Callable[[], None]]


class Effects:
    def __init__(self, threads: int, on_dropped: Callable[[Any], None]) -> None:
        self.stopping = threading.Event()
        self.on_dropped = on_dropped
        self._queue: queue.Queue[Task | None] = queue.Queue()
        self._busy: dict[int, Any] = {}
        self._threads = [threading.Thread(target=self._work, name=f"paperfs-workflow-{n}",
                                          daemon=True) for n in range(threads)]
        self._started = False
        self._lock = threading.Lock()

    def submit(self, what: Any, task: Callable[[], None]) -> None:
        """Run *task* soon in a worker thread; *what* names it if it must be dropped."""
        with self._lock:
            if self.stopping.is_set():
                self.on_dropped(what)
                return
            if not self._started:  # threads only once there is something to do
                self._started = True
                for thread in self._threads:
                    thread.start()
        self._queue.put((what, task))

    def pause(self, seconds: float) -> bool:
        """Wait between tries; False when the daemon stops meanwhile (give up)."""
        return not self.stopping.wait(seconds)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            what, task = item
            self._busy[threading.get_ident()] = what
            try:
                task()
            except Exception:  # noqa: BLE001 - tasks record their own outcome; never die
                log.exception("workflow action %s failed", what)
            finally:
                self._busy.pop(threading.get_ident(), None)

    def close(self, timeout: float = 10.0) -> None:
        with self._lock:
            self.stopping.set()
            started = self._started
        if not started:
            return
        for _thread in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for what in list(self._busy.values()):
            self.on_dropped(what)
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                self.on_dropped(item[0])
