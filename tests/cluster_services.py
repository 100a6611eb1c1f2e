"""`paperfs` services as subprocesses for the cluster tests, on a test host or on this one.

``start(root, name, *args, host=None, **env)`` runs ``python -m paperfs --root
ROOT ARGS`` in a process group of its own (inside ``host``'s network namespace
when given, tests/netns.py), logging to ``<tmp>/<name>.log``; ``PAPERFS_*``
overrides come from ``env``. ``wait_for`` polls and, on a timeout or a
service that died, fails with the services' logs. ``RemoteDav`` is
tests.dav_support's client for a server at any address.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.dav_support import Dav
from tests.netns import Host, stop_group


@dataclass
class Service:
    name: str
    log_path: Path
    proc: subprocess.Popen

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 10.0) -> int:
        return stop_group(self.proc, timeout)

    def kill(self) -> int:
        """A crash or a lost host: SIGKILL to its whole group, without a warning."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        return self.proc.wait(10)


def start(root, name: str, *args: str, host: Host | None = None, **env: str) -> Service:
    log_path = root.root.parent / f"{name}.log"
    environ = {**os.environ, "OMP_THREAD_LIMIT": "1",
               **{f"PAPERFS_{k.upper()}": v for k, v in env.items()}}
    argv = [sys.executable, "-m", "paperfs", "--root", str(root.root), *args]
    with open(log_path, "ab") as log:
        if host is not None:
            proc = host.popen(argv, stdout=log, stderr=subprocess.STDOUT, env=environ)
        else:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=environ,
                                    start_new_session=True)
    return Service(name, log_path, proc)


def wait_for(predicate, timeout: float, what: str, services: list[Service]):
    """``predicate()``'s first true value within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        for service in services:
            assert service.proc.poll() is None, f"{service.name} exited:\n{service.log()[-3000:]}"
        time.sleep(0.1)
    logs = "\n".join(f"--- {s.name}:\n{s.log()[-2500:]}" for s in services
                     if "worker" not in s.name or "Traceback" in s.log())
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{logs}")


def fetch(url: str) -> tuple[int, str]:
    """GET ``url``: its status and body, also for an error status (/readyz's 503)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class RemoteDav(Dav):
    """tests.dav_support.Dav for a server at ``address:port`` (a replica on a test host)."""

    address: str = "127.0.0.1"
    dav_port: int = 0

    @classmethod
    def at(cls, root, address: str, port: int) -> "RemoteDav":
        dav = cls(root, None, None)
        dav.address, dav.dav_port = address, port
        return dav

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.address, self.dav_port, timeout=30)

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.dav_port}/"


def pdf_names(dav: Dav, path: str, user: str = "alice") -> set[str]:
    """The PDFs a depth-1 PROPFIND lists in ``path`` (empty while the server is not up)."""
    try:
        response = dav.propfind(path, user)
    except OSError:
        return set()
    return {n for n in response.names() if n.endswith(".pdf")} if response.status == 207 \
        else set()
