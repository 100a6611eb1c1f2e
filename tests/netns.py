"""Test hosts: Linux network namespaces on a bridge of their own.

A ``TestNetwork`` is one bridge in the root namespace with the address
``10.77.N.1/24`` (N chosen free per run) and any number of ``Host``s, each a
network namespace with its loopback up and one veth pair into the bridge
(``10.77.N.10``, ``.11``, …). The test process itself stays in the root
namespace and reaches every host, and every host reaches the bridge address:
a Redis (or Solr) bound to ``net.gateway`` is one server all hosts share,
while ``127.0.0.1`` inside a host is that host's alone — so no hidden
localhost assumption survives. A host has no DNS: anything that looks a
name up (http.server's getfqdn) waits for the resolver's timeout there.

Names carry the creating process's pid and a random run id
(``pfs-<pid>-<run>-<host>``, bridge ``pfbr<run>``), so parallel runs never
collide, and a run that died without cleaning up is swept away by the next
one (its pid is gone). Cleanup kills every process inside the hosts (their
process groups, then whatever ``ip netns pids`` still finds), deletes the
namespaces (which deletes their veths) and the bridge — also when the test
failed.

Without root or ``ip`` the fixture skips, loudly, with the reason; when
``CI`` is set it fails instead (CI runs as root and must create them).

Use::

    from tests.netns import test_network  # noqa: F401 (fixture)

    def test_x(test_network):
        a = test_network.host("a")
        proc = a.popen(["python", "-m", "http.server", "--bind", a.address, "8000"])
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import pytest

PREFIX = "pfs-"
BRIDGE_PREFIX = "pfbr"
SUBNET_BASE = "10.77"
_NETNS_NAME = re.compile(r"^pfs-(\d+)-([0-9a-f]{6})-")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(reason: str) -> None:
    """Fail in CI, skip (visibly, with the reason) elsewhere."""
    message = f"NETWORK NAMESPACES NOT AVAILABLE: {reason} (run as root with iproute2)"
    if _in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _netns_names() -> list[str]:
    out = _ip("netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _kill_netns_processes(netns: str) -> None:
    pids = _ip("netns", "pids", netns, check=False).stdout.split()
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


def sweep_leftovers() -> None:
    """Remove namespaces and bridges of runs whose process is gone."""
    dead_runs = set()
    for name in _netns_names():
        match = _NETNS_NAME.match(name)
        if match and not _pid_alive(int(match.group(1))):
            dead_runs.add(match.group(2))
            _kill_netns_processes(name)
            _ip("netns", "del", name, check=False)
    for run in dead_runs:
        _ip("link", "del", BRIDGE_PREFIX + run, check=False)


def _used_third_octets() -> set[int]:
    used = set()
    for line in _ip("-o", "-4", "addr", "show", check=False).stdout.splitlines():
        match = re.search(r"inet (\d+\.\d+)\.(\d+)\.\d+/", line)
        if match and match.group(1) == SUBNET_BASE:
            used.add(int(match.group(2)))
    return used


@dataclass
class Host:
    """One network namespace: a test host with its own loopback and one address."""

    name: str
    netns: str
    address: str
    processes: list[subprocess.Popen] = field(default_factory=list)

    def command(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *argv]

    def run(self, argv: Sequence[str], **kwargs) -> subprocess.CompletedProcess:
        """Run a command inside the host and wait for it (like subprocess.run)."""
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        kwargs.setdefault("timeout", 60)
        return subprocess.run(self.command(argv), **kwargs)

    def popen(self, argv: Sequence[str], **kwargs) -> subprocess.Popen:
        """Start a process inside the host in a process group of its own; the
        network's cleanup kills it if the test did not."""
        kwargs.setdefault("start_new_session", True)
        proc = subprocess.Popen(self.command(argv), **kwargs)
        self.processes.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, timeout: float = 10.0) -> int:
        """SIGTERM the process group, SIGKILL it after ``timeout``; its exit code."""
        return stop_group(proc, timeout)

    def kill_all(self) -> None:
        for proc in self.processes:
            stop_group(proc, 3.0)
        _kill_netns_processes(self.netns)


def stop_group(proc: subprocess.Popen, timeout: float = 10.0) -> int:
    """Stop a process started with start_new_session: TERM, then KILL, its group."""
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    _signal_group(proc, signal.SIGKILL)  # stragglers of the group, even if the leader exited
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return -9


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class TestNetwork:
    """A bridge and the hosts on it; ``close()`` removes everything it made."""

    __test__ = False  # not a test class, despite the name

    def __init__(self) -> None:
        self.run_id = secrets.token_hex(3)
        self.bridge = BRIDGE_PREFIX + self.run_id
        free = sorted(set(range(1, 255)) - _used_third_octets())
        if not free:
            raise RuntimeError(f"no free {SUBNET_BASE}.N.0/24 subnet left")
        octet = free[secrets.randbelow(len(free))]
        self.subnet = ipaddress.ip_network(f"{SUBNET_BASE}.{octet}.0/24")
        self.gateway = str(self.subnet.network_address + 1)
        self.hosts: dict[str, Host] = {}
        self._closed = False
        _ip("link", "add", self.bridge, "type", "bridge")
        try:
            _ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
        except Exception:
            self.close()
            raise

    def host(self, name: str) -> Host:
        """A new host on the network (name: letters and digits, unique in this network)."""
        if not re.fullmatch(r"[a-z0-9]{1,12}", name) or name in self.hosts:
            raise ValueError(f"bad or repeated host name {name!r}")
        index = len(self.hosts)
        netns = f"{PREFIX}{os.getpid()}-{self.run_id}-{name}"
        address = str(self.subnet.network_address + 10 + index)
        outside, inside = f"pfv{self.run_id}{index}", f"pfp{self.run_id}{index}"
        _ip("netns", "add", netns)
        host = Host(name, netns, address)
        self.hosts[name] = host
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", outside, "master", self.bridge)
        _ip("link", "set", outside, "up")
        _ip("link", "set", inside, "netns", netns)
        inns = ("netns", "exec", netns, "ip")
        _ip(*inns, "link", "set", "lo", "up")
        _ip(*inns, "link", "set", inside, "name", "eth0")
        _ip(*inns, "addr", "add", f"{address}/24", "dev", "eth0")
        _ip(*inns, "link", "set", "eth0", "up")
        _ip(*inns, "route", "add", "default", "via", self.gateway)
        return host

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for host in self.hosts.values():
            host.kill_all()
        for host in self.hosts.values():
            # deleting the namespace deletes the veth inside and so its peer on the bridge
            for _ in range(20):
                if _ip("netns", "del", host.netns, check=False).returncode == 0:
                    break
                time.sleep(0.1)
        _ip("link", "del", self.bridge, check=False)


def wait_for_port(host: str, port: int, timeout: float = 20.0, inside: Host | None = None) -> None:
    """Wait until a TCP port accepts (from the root namespace, or from ``inside``)."""
    deadline = time.monotonic() + timeout
    while True:
        if inside is None:
            try:
                with socket.create_connection((host, port), timeout=1):
                    return
            except OSError:
                pass
        else:
            probe = inside.run([sys.executable, "-c",
                                f"import socket; socket.create_connection(({host!r}, {port}), 1)"])
            if probe.returncode == 0:
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f} s")
        time.sleep(0.1)


def namespaces_unavailable() -> str | None:
    """Why this machine cannot make test hosts, or None."""
    if shutil.which("ip") is None:
        return "'ip' (iproute2) is not on PATH"
    if os.geteuid() != 0:
        return "not root (ip netns needs CAP_SYS_ADMIN and CAP_NET_ADMIN)"
    probe = f"{PREFIX}{os.getpid()}-probe"
    result = _ip("netns", "add", probe, check=False)
    if result.returncode != 0:
        return f"ip netns add failed: {result.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


@pytest.fixture
def test_network() -> Iterator[TestNetwork]:
    """A fresh bridge for one test; hosts via ``test_network.host(name)``."""
    reason = namespaces_unavailable()
    if reason:
        unavailable(reason)
    sweep_leftovers()
    net = TestNetwork()
    try:
        yield net
    finally:
        net.close()
