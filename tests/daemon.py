"""Start the real daemon (`paperfs run`) on a data root, as a user or systemd would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from paperfs.archive.layout import DataRoot


class Daemon:
    def __init__(self, root: DataRoot, log: Path, **env: str) -> None:
        self.root = root
        self.log_path = log
        self.env = {**os.environ, "OMP_THREAD_LIMIT": "1",
                    **{f"PAPERFS_{k.upper()}": v for k, v in env.items()}}
        self.proc: subprocess.Popen | None = None

    def start(self, wait_ready: bool = True) -> "Daemon":
        self.root.status_file.unlink(missing_ok=True)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "paperfs", "--root", str(self.root.root), "run"],
            stdout=self._log, stderr=subprocess.STDOUT, env=self.env,
            start_new_session=True)
        if wait_ready:
            self.wait_for(lambda: self.status().get("running"), 60, "daemon ready")
        return self

    def status(self) -> dict:
        try:
            return json.loads(self.root.status_file.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def wait_for(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"daemon exited ({self.proc.returncode}) waiting for "
                                     f"{what}:\n{self.log()}")
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}:\n{self.log()[-4000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def settled(self) -> bool:
        """Nothing left in the inbox, the queue or the workers."""
        s = self.status()
        inbox_files = [p for p in self.root.inbox.rglob("*") if p.is_file() or p.is_symlink()]
        return (bool(s) and not s.get("in_flight") and s.get("queued") == 0
                and s.get("waiting_in_inbox") == 0 and not inbox_files
                and not any(self.root.work.iterdir()))

    def wait_settled(self, timeout: float = 120) -> None:
        # Two settled readings a status-interval apart: the status is written every second.
        self.wait_for(self.settled, timeout, "the inbox to be consumed")
        time.sleep(1.2)
        self.wait_for(self.settled, timeout, "the inbox to be consumed")

    def kill(self) -> None:
        """A crash: SIGKILL to the daemon and its workers at once."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._log.close()

    def stop(self, timeout: float = 60) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise AssertionError(f"daemon did not stop on SIGTERM:\n{self.log()[-4000:]}")
        self._log.close()
        return code
