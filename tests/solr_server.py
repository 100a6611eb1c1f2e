"""A real Apache Solr for the tests: session fixtures around solr/run.sh.

``solr_standalone`` and ``solr_cloud`` start one server each per test session
(standalone: a JettySolrRunner with the core "paperfs"; cloud: 2 nodes and
an embedded ZooKeeper with the collection "paperfs", 2 shards x 2 replicas),
both from the configset in config/solr/paperfs, on 127.0.0.1 only, and stop
them with SIGTERM at the end. ``--exit-on-eof`` and ``--watch-pid`` make a
server die with the test run even when pytest is killed.

``TEST_SOLR_CONFIGSET=DIR`` starts them with another configset (to try a
change to config/solr/paperfs before making it).

Without Java or the Solr install (``solr/install.sh``), the Solr tests fail
loudly when ``CI`` is set and are skipped (with the reason in the summary)
elsewhere.

Use in a test module::

    from tests.solr_server import solr_cloud, solr_standalone  # noqa: F401 (fixtures)
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterator

import pytest

REPO = Path(__file__).resolve().parents[1]
RUN = REPO / "solr" / "run.sh"
INSTALL = REPO / "solr" / "install.sh"
READY = "PAPERFS_SOLR_READY "
FAILED = "PAPERFS_SOLR_FAILED "
EVENT = "PAPERFS_SOLR_EVENT "
ERROR = "PAPERFS_SOLR_ERROR "
START_TIMEOUT = 240.0


def configset() -> Path:
    """The configset the test servers use (config/solr/paperfs unless overridden)."""
    other = os.environ.get("TEST_SOLR_CONFIGSET")
    return Path(other).resolve() if other else REPO / "config" / "solr" / "paperfs"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(reason: str) -> None:
    """Fail in CI, skip elsewhere; the message says how to get Solr."""
    message = (f"SOLR NOT AVAILABLE: {reason}. Install it with solr/install.sh (Java 17 with "
               "javac and Maven needed; 'make test' does it)")
    if _in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


_install_checked: dict[str, str] = {}


def ensure_installed() -> None:
    """Java present and solr/install.sh done (cached: ~10 ms when installed)."""
    if "ok" in _install_checked:
        return
    if "error" in _install_checked:
        unavailable(_install_checked["error"])
    for tool in ("java", "javac"):
        if shutil.which(os.environ.get("JAVA", "java") if tool == "java" else tool) is None:
            _install_checked["error"] = f"'{tool}' is not on PATH"
            unavailable(_install_checked["error"])
    try:
        done = subprocess.run([str(INSTALL)], capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        _install_checked["error"] = f"solr/install.sh could not run: {exc}"
        unavailable(_install_checked["error"])
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        _install_checked["error"] = "solr/install.sh failed: " + " | ".join(tail)
        unavailable(_install_checked["error"])
    _install_checked["ok"] = "yes"


class SolrServer:
    """One solr/run.sh process; ``info`` is its ready line."""

    def __init__(self, mode: str, base_dir: Path, *args: str) -> None:
        self.mode = mode
        self.base_dir = base_dir
        self.args = args
        self.proc: subprocess.Popen[str] | None = None
        self.info: dict[str, Any] = {}
        self._stderr: IO[str] | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return self.info["url"]

    @property
    def zk_hosts(self) -> str:
        return self.info["zk_hosts"]

    @property
    def collection(self) -> str:
        return self.info["collection"]

    @property
    def home(self) -> Path:
        """The standalone Solr home (configsets/, cores)."""
        return self.base_dir / "home"

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = (self.base_dir.parent / f"{self.base_dir.name}.stderr").read_text(
                errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def start(self, timeout: float = START_TIMEOUT) -> dict[str, Any]:
        ensure_installed()
        self.base_dir.parent.mkdir(parents=True, exist_ok=True)
        self._stderr = open(self.base_dir.parent / f"{self.base_dir.name}.stderr", "w")
        cmd = [str(RUN), self.mode, "--base-dir", str(self.base_dir), "--exit-on-eof",
               "--watch-pid", str(os.getpid()), "--configset", str(configset()),
               "--configset-name", "paperfs", *self.args]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._stderr, text=True, bufsize=1, cwd=REPO)
        line = self._readline(timeout)
        if line.startswith(READY):
            self.info = json.loads(line[len(READY):])
            return self.info
        self.stop()
        if line.startswith(FAILED):
            raise RuntimeError(f"solr/run.sh {self.mode} failed: {line[len(FAILED):]}\n"
                               f"{self.log_tail()}")
        raise RuntimeError(f"solr/run.sh {self.mode} did not get ready within {timeout:.0f} s "
                           f"(got {line!r})\n{self.log_tail()}")

    def _readline(self, timeout: float) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return ""
                if sel.select(timeout=left):
                    return self.proc.stdout.readline()
                if self.proc.poll() is not None:
                    return self.proc.stdout.readline()
        finally:
            sel.close()

    def command(self, line: str, timeout: float = 180.0) -> dict[str, Any]:
        """A stdin command (cloud: ``stop-node N``, ``start-node N``, ``status``)."""
        assert self.proc is not None and self.proc.stdin is not None
        with self._lock:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
            answer = self._readline(timeout)
        if answer.startswith(EVENT):
            return json.loads(answer[len(EVENT):])
        raise RuntimeError(f"'{line}' failed: {answer!r}\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        if self._stderr is not None:
            self._stderr.close()
        self.proc = None


@pytest.fixture(scope="session")
def solr_base() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="paperfs-test-solr-"))
    yield base
    shutil.rmtree(base, ignore_errors=True)


def _serve(mode: str, base: Path) -> Iterator[SolrServer]:
    ensure_installed()
    server = SolrServer(mode, base / mode)
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def solr_standalone(solr_base: Path) -> Iterator[SolrServer]:
    """A standalone Solr (core "paperfs") for the whole session."""
    yield from _serve("standalone", solr_base)


@pytest.fixture(scope="session")
def solr_cloud(solr_base: Path) -> Iterator[SolrServer]:
    """SolrCloud: 2 nodes + ZooKeeper, collection "paperfs" (2 shards x 2 replicas)."""
    yield from _serve("cloud", solr_base)


# ---------------------------------------------------------------- network faults


@dataclass
class _Pipe:
    a: socket.socket
    b: socket.socket


class TcpProxy:
    """A TCP forwarder on 127.0.0.1 (or ``listen_host``: a test network's bridge,
    tests/netns.py) to ``target`` that can be cut and restored.

    ``cut()`` closes the listening socket and every open connection (clients
    get "connection refused", as when Solr is down); ``restore()`` listens
    again on the same port.
    """

    def __init__(self, target_host: str, target_port: int, *,
                 listen_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.listen_host = listen_host
        self.port = 0
        self._server: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self.restore()

    def url_for(self, url: str) -> str:
        """``url`` (which points at the target) rewritten to go through the proxy."""
        host, port = self.target
        return url.replace(f"{host}:{port}", f"{self.listen_host}:{self.port}")

    def restore(self) -> None:
        with self._lock:
            if self._server is not None:
                return
            server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind((self.listen_host, self.port))
            server.listen(64)
            self.port = server.getsockname()[1]
            self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            server, self._server = self._server, None
            conns, self._conns = self._conns, []
        if server is not None:
            # shutdown() first: it wakes the thread blocked in accept(). close() alone
            # leaves that accept() holding the socket open and listening, so the next
            # connection would be accepted (then dropped) instead of refused.
            try:
                server.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            server.close()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    close = cut

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._server is not server:
                    client.close()
                    upstream.close()
                    return
                self._conns += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
