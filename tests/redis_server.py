"""A real redis-server for the tests: started on 127.0.0.1, a free port, a temp dir, no persistence.

``RedisServer`` is a context manager; ``stop()`` and ``start()`` again restart it
on the same port and dir (the "Redis down for 30 s" tests). ``keys()`` lists
every key (to check a tenant's prefix). The ``redis_server`` fixture gives a
fresh server per test and stops it also when the test fails.

Without redis-server (Debian package redis-server; ``make install-test``
installs it) the tests fail loudly when ``CI`` is set and are skipped with
the reason elsewhere.

Use in a test module::

    from tests.redis_server import RedisServer, redis_server  # noqa: F401 (fixture)
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

START_TIMEOUT = 10.0


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_redis() -> str:
    """The redis-server binary; fails in CI, skips loudly elsewhere when it is absent."""
    binary = shutil.which("redis-server")
    if binary is None:
        message = ("REDIS NOT AVAILABLE: 'redis-server' is not on PATH. Install the Debian package "
                   "redis-server (scripts/install-system-deps.sh --test; 'make install-test' does it)")
        if _in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    try:
        import redis  # noqa: F401
    except ImportError:  # pragma: no cover - pyproject.toml installs it
        pytest.fail("the Python package 'redis' is missing: pip install -e '.[test]'", pytrace=False)
    return binary


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """One redis-server process; the port and dir survive stop()/start()."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None,
                 password: str | None = None):
        self.binary = require_redis()
        self.host = host
        #: requirepass (the URL carries it: checks that no log or status shows it)
        self.password = password
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="paperfs-redis-"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{self.host}:{self.port}/0"

    def start(self) -> RedisServer:
        if self.process is not None and self.process.poll() is None:
            return self
        log = open(self.dir / "redis.log", "ab")
        self.process = subprocess.Popen(
            [self.binary, "--bind", self.host, "--port", str(self.port), "--dir", str(self.dir),
             "--save", "", "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no",
             *(["--requirepass", self.password] if self.password else [])],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {(self.dir / 'redis.log').read_text()[-2000:]}")
            if self._ping():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on {self.url} within {START_TIMEOUT} s")

    def stop(self) -> None:
        """Kill the server (its data is gone: no persistence); the port stays ours to start() again."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def client(self):
        import redis

        return redis.Redis(host=self.host, port=self.port, password=self.password,
                           socket_timeout=5)

    def keys(self) -> list[str]:
        """Every key in the server, sorted."""
        return sorted(k.decode() for k in self.client().scan_iter(count=1000))

    def _ping(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5) as conn:
                auth = f"AUTH {self.password}\r\n".encode() if self.password else b""
                conn.sendall(auth + b"PING\r\n")
                reply = b""
                while reply.count(b"\r\n") < (2 if auth else 1):
                    chunk = conn.recv(64)
                    if not chunk:
                        break
                    reply += chunk
                return reply.endswith(b"+PONG\r\n")
        except OSError:
            return False

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.close()
