"""`paperfs scheduler`: one active per tenant, takeover after a kill -9, status, metrics.

Real components only: a redis-server (tests/redis_server.py), the schedulers
and `paperfs worker` as subprocesses of this interpreter, real files dropped
into the inbox. Every process is started in its own session and killed with
its group at the end, also when a test fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import archive_state, drop, failed_state, filed_count, init_root
from tests.redis_server import free_port, redis_server  # noqa: F401 (fixture)
from tests.samples import make_text_pdf
from tests.cluster_services import Service, fetch, start as start_service, wait_for

#: the lease the tests run with: the takeover bound they check
LEASE = 3.0
ACTIVE = re.compile(r"^(\S+ \S+) INFO paperfs\.cluster\.leadership: scheduler: active", re.M)
JOB_RUN = re.compile(r"^(\S+ \S+) DEBUG paperfs\.daemon\.scheduler: scheduled job: ", re.M)


@pytest.fixture
def cluster(tmp_path, redis_server):  # noqa: F811 - the fixture
    root = init_root(tmp_path, (f"queue: {redis_server.url}\ntenant: sched\nlog_level: DEBUG\n"
                                f"cluster:\n  leader_lease_seconds: {LEASE}\n"
                                "  heartbeat_seconds: 0.5\n"))
    started: list[Service] = []

    def start(name: str, *args: str, **env: str) -> Service:
        service = start_service(root, name, *args, **env)
        started.append(service)
        return service

    yield root, redis_server, start
    for service in started:
        service.kill()


def status(root) -> dict:
    out = subprocess.run([sys.executable, "-m", "paperfs", "--root", str(root.root), "status",
                          "--json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def leader_pid(root) -> int | None:
    leader = (status(root)["cluster"] or {}).get("leader")
    return leader["pid"] if leader else None


def times(pattern: re.Pattern, text: str) -> list[str]:
    return pattern.findall(text)  # "2026-12-04 19:32:40,700": sorts as time


@pytest.mark.slow
def test_two_schedulers_one_active_status_metrics_and_redis_down(cluster):
    root, redis, start = cluster
    ports = [free_port(), free_port()]
    first, second = (start(f"scheduler{i}", "scheduler", cluster__metrics_port=str(port))
                     for i, port in enumerate(ports))
    pids = {first.proc.pid, second.proc.pid}
    holder = wait_for(lambda: leader_pid(root), 30, "a leader", [first, second])
    assert holder in pids
    active, standby = (first, second) if holder == first.proc.pid else (second, first)
    active_port, standby_port = ports if active is first else ports[::-1]
    # both are listed, with their states; the standby names the one it waits for
    def both_listed():
        services = status(root)["cluster"]["services"]
        return len(services) == 2 and all(s["state"] in ("active", "standby") for s in services)\
            and services

    services = wait_for(both_listed, 30, "both services", [active, standby])
    states = {s["pid"]: s for s in services}
    assert states[active.proc.pid]["state"] == "active"
    assert states[standby.proc.pid]["state"] == "standby"
    assert f"pid {active.proc.pid}" in states[standby.proc.pid]["detail"]
    text = subprocess.run([sys.executable, "-m", "paperfs", "--root", str(root.root), "status"],
                          capture_output=True, text=True, timeout=60).stdout
    assert f"scheduler:   active on {socket.gethostname()} pid {active.proc.pid}" in text
    assert "standby (waiting for the lock held by" in text
    # exactly one runs the scheduled jobs
    wait_for(lambda: times(JOB_RUN, active.log()), 30, "scheduled jobs to run", [active])
    time.sleep(LEASE)
    assert times(JOB_RUN, standby.log()) == [], standby.log()[-3000:]
    # metrics and health, from both
    code, metrics = fetch(f"http://127.0.0.1:{active_port}/metrics")
    assert code == 200
    for name in ("paperfs_queue_depth", "paperfs_queue_in_flight", "paperfs_jobs_total",
                 "paperfs_ocr_seconds", "paperfs_search_seconds", "paperfs_redis_up 1.0"):
        assert name in metrics, name
    assert 'paperfs_services{role="scheduler",state="standby"} 1.0' in metrics
    assert fetch(f"http://127.0.0.1:{standby_port}/readyz") == (200, "ready (standby)\n")
    assert fetch(f"http://127.0.0.1:{active_port}/healthz") == (200, "ok\n")
    # a clean stop hands over at once; the jobs never ran in both at the same time
    assert active.stop() == 0
    wait_for(lambda: times(ACTIVE, standby.log()), 10, "the standby to take over", [standby])
    wait_for(lambda: times(JOB_RUN, standby.log()), 10, "the new active one's jobs", [standby])
    assert times(JOB_RUN, standby.log())[0] >= times(JOB_RUN, active.log())[-1]
    # Redis down: status says so, readiness fails, the active one stops acting within the lease
    redis.stop()
    went = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "paperfs", "--root", str(root.root), "status"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert f"PROBLEM: Redis unreachable at {redis.url}" in out.stdout
    code, body = fetch(f"http://127.0.0.1:{standby_port}/readyz")
    assert code == 503 and "Redis unreachable" in body
    assert standby.proc.wait(LEASE + 5) == 75, standby.log()[-3000:]
    assert time.monotonic() - went <= LEASE + 1
    assert "leadership lost: Redis unreachable" in standby.log()


@pytest.mark.slow
def test_a_hung_redis_stops_the_active_scheduler_within_the_lease(cluster):
    """Redis stopped (SIGSTOP: connections hang instead of being refused): the renewal
    blocks in its socket timeout, the guard still ends the active one in time."""
    root, redis, start = cluster
    active = start("scheduler0", "scheduler")
    wait_for(lambda: times(ACTIVE, active.log()), 30, "the scheduler to lead", [active])
    time.sleep(LEASE / 3 + 0.2)  # just after a renewal
    os.kill(redis.process.pid, signal.SIGSTOP)
    hung = time.monotonic()
    try:
        assert active.proc.wait(LEASE + 5) == 75, active.log()[-3000:]
        assert time.monotonic() - hung < LEASE, "it kept acting past the lease"
    finally:
        os.kill(redis.process.pid, signal.SIGCONT)


@pytest.mark.slow
def test_kill_the_active_scheduler_during_a_batch(cluster, tmp_path):
    root, _redis, start = cluster
    count = 40  # 12 were filed between two looks on a quiet machine (CI)
    sources = [make_text_pdf(tmp_path / f"letter-{i:02d}.pdf", [f"Letter number {i}",
                                                                "Invoice 03.04.2024"])
               for i in range(count)]
    start("worker", "worker", "--concurrency", "2", log_level="INFO")
    first = start("scheduler0", "scheduler")
    second = start("scheduler1", "scheduler")
    holder = wait_for(lambda: leader_pid(root), 30, "a leader", [first, second])
    active, standby = (first, second) if holder == first.proc.pid else (second, first)
    for source in sources:
        drop(source, root.inbox)
    wait_for(lambda: filed_count(root) >= 2, 120, "the first documents", [active])
    assert filed_count(root) < count, "the batch ended before the kill; make it larger"
    active.kill()
    killed = time.monotonic()
    wait_for(lambda: times(ACTIVE, standby.log()), LEASE + 5, "the standby to take over",
             [standby])
    takeover = time.monotonic() - killed
    assert takeover <= LEASE + 1, f"takeover took {takeover:.1f} s (lease {LEASE} s)"
    # the killed one said nothing: status shows it stale, beside the new active one
    services = {s["pid"]: s for s in status(root)["cluster"]["services"]}
    assert services[active.proc.pid]["stale"] and not services[standby.proc.pid]["stale"]
    assert services[standby.proc.pid]["state"] == "active"
    wait_for(lambda: filed_count(root) == count and not any(root.work.iterdir())
             and not any(p.is_file() for p in root.inbox.rglob("*")), 180,
             "every document", [standby])
    docs = archive_state(root)
    assert failed_state(root) == {}
    assert sorted(d.original.filename for d in docs.values()) == \
        sorted(s.name for s in sources), "each input filed exactly once"
    print(f"takeover after kill -9: {takeover:.2f} s (lease {LEASE} s)")


UNITS = {"paperfs-scheduler.service": ("Type=notify", "WatchdogSec=", "Restart=on-failure",
                                       "ExecStart=/opt/paperfs/venv/bin/paperfs scheduler"),
         "paperfs-worker@.service": ("Restart=on-failure", "KillMode=mixed",
                                     "ExecStart=/opt/paperfs/venv/bin/paperfs worker"),
         "paperfs-dav.service": ("Restart=on-failure", "CacheDirectory=paperfs",
                                 "PAPERFS_DAV__CACHE_DIR=/var/cache/paperfs",
                                 "ExecStart=/opt/paperfs/venv/bin/paperfs dav")}


@pytest.mark.parametrize("name", sorted(UNITS))
def test_the_scale_out_units_parse(tmp_path, name):
    text = (Path(__file__).resolve().parents[1] / "systemd" / name).read_text()
    for directive in (*UNITS[name], "NoNewPrivileges=yes", "ProtectSystem=strict",
                      "ReadWritePaths=/srv/paperfs", "RequiresMountsFor=/srv/paperfs"):
        assert directive in text, directive
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip(f"SYSTEMD-ANALYZE MISSING: the keys of {name} are checked, "
                    "systemd-analyze verify cannot run here")
    # verify resolves ExecStart: point it at this checkout's paperfs; a template needs an instance
    local = tmp_path / name.replace("@.", "@1.")
    local.write_text(text.replace("/opt/paperfs/venv/bin/paperfs",
                                  str(Path(sys.executable).parent / "paperfs")))
    out = subprocess.run([analyze, "verify", str(local)], capture_output=True, text=True)
    problems = [line for line in out.stderr.splitlines()
                if local.name in line and "User" not in line]
    assert not problems, out.stderr


def test_the_registry_marks_a_silent_service_stale_and_forgets_a_stopped_one(tmp_path,
                                                                             redis_server):  # noqa: F811
    from paperfs.cluster.services import Registration, list_services
    from tests.helpers import config_for

    root = init_root(tmp_path, f"queue: {redis_server.url}\ntenant: reg\n"
                               "cluster:\n  heartbeat_seconds: 0.2\n")
    config = config_for(root)
    client = redis_server.client()
    worker = Registration(config, "worker", detail="2 processes")
    dav = Registration(config, "dav", state="serving")
    try:
        listed = wait_for(lambda: len(list_services(client, config)) == 2
                          and list_services(client, config), 5, "both records", [])
        assert [(s.role, s.state, s.detail, s.stale) for s in listed] == [
            ("dav", "serving", "", False), ("worker", "running", "2 processes", False)]
        assert all(key.startswith("paperfs:reg:") for key in redis_server.keys())
        worker._stopping.set()  # its heartbeat stops, as in a kill -9
        wait_for(lambda: [s.stale for s in list_services(client, config)] == [False, True],
                 5, "the worker to be stale", [])
        dav.close()  # a clean stop: gone at once
        assert [s.role for s in list_services(client, config)] == ["worker"]
    finally:
        worker.close()
        dav.close()


def test_status_trusts_a_fresh_status_file_of_a_scheduler_on_another_host(tmp_path):
    """Its pid means nothing on this host; the file, rewritten every second, does."""
    from paperfs.daemon.status import STALE_STATUS_SECONDS, collect_status
    from tests.helpers import config_for

    root = init_root(tmp_path)
    root.status_file.write_text(json.dumps({"running": True, "pid": 999999999,
                                            "host": "another-host", "in_flight": []}))
    assert collect_status(config_for(root))["daemon"]["running"] is True
    old = time.time() - STALE_STATUS_SECONDS - 1
    os.utime(root.status_file, (old, old))
    assert collect_status(config_for(root))["daemon"]["running"] is False


def test_status_with_redis_unreachable_names_it_without_the_password(tmp_path):
    from paperfs.cluster.overview import cluster_status, describe
    from tests.helpers import config_for

    port = free_port()  # nothing listens there
    root = init_root(tmp_path, f"queue: redis://:s3cret@127.0.0.1:{port}/0\n")
    cluster = cluster_status(config_for(root))
    text = "\n".join(describe(cluster))
    assert cluster["problem"].startswith(f"Redis unreachable at redis://:***@127.0.0.1:{port}/0")
    assert "PROBLEM: Redis unreachable" in text
    assert "s3cret" not in json.dumps(cluster) + text
