"""A `paperfs SUBCOMMAND` as a process of its own (scheduler, worker, dav), for the
cluster tests and benchmarks: its own session (killed with its children), its own log."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


class Service:
    """One `paperfs …` process on the data root, logging to ``NAME.log`` beside it."""

    def __init__(self, root, name: str, *args: str, **env: str) -> None:
        self.root, self.name, self.args = root, name, args
        self.log_path = root.root.parent / f"{name}.log"
        self.env = {**os.environ, "OMP_THREAD_LIMIT": "1",
                    **{f"PAPERFS_{k.upper()}": v for k, v in env.items()}}
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Service":
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "paperfs", "--root", str(self.root.root), *self.args],
                stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """A crash or a lost host: SIGKILL to the process and its children at once."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as systemd stops it; the exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"{self.name} did not stop on SIGTERM:\n{self.log()[-3000:]}")
        return self.proc.returncode


def wait_for(predicate, timeout: float, what: str, *services: Service, poll: float = 0.05):
    """predicate()'s first true value within ``timeout`` s, else an error with the logs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    logs = "\n".join(f"--- {s.name}:\n{s.log()[-3000:]}" for s in services)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{logs}")
