"""The queue: `paperfs run` with ``queue`` set hands OCR jobs to `paperfs worker`s over Redis.

Everything real: a redis-server (tests/redis_server.py), the daemon and the
workers as subprocesses of this interpreter, real files dropped into the inbox,
processes killed with SIGKILL. What each test shows is the delivery contract of
docs/deployment.md: every job is filed exactly once (one sidecar, one id, one
original) whatever dies, and a job that kills every worker ends in failed/.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.daemon import Daemon
from tests.dav_support import free_port
from tests.helpers import archive_state, drop, failed_state, filed_count, init_root
from tests.redis_server import RedisServer, redis_server  # noqa: F401 (fixture)
from tests.samples import make_scan, make_text_pdf

pytestmark = pytest.mark.slow


class Worker:
    """`paperfs worker` in a process group of its own (its prefork children with it)."""

    def __init__(self, root, log: Path, *args: str, **env: str) -> None:
        self.root, self.log_path, self.args = root, log, args
        self.env = {**os.environ, **{k if k.isupper() else f"PAPERFS_{k.upper()}": v
                                     for k, v in env.items()}}
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Worker":
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "paperfs", "--root", str(self.root.root), "worker",
                 *self.args], stdout=log, stderr=subprocess.STDOUT, env=self.env,
                start_new_session=True)
        wait_for(lambda: "ready." in self.log(), 60, "the worker to be ready", self)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def children(self) -> list[int]:
        """The pool processes (prefork children of the main process)."""
        assert self.proc is not None
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return [int(pid) for pid in out.stdout.split()]

    def kill(self) -> None:
        """The host lost: SIGKILL to the main process and its children at once."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM: Celery's warm shutdown."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"worker did not stop on SIGTERM:\n{self.log()[-3000:]}")
        return self.proc.returncode


def wait_for(predicate, timeout: float, what: str, *processes) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        exited = [p for p in processes if p.proc is not None and p.proc.poll() is not None]
        if exited:
            raise AssertionError(f"exited waiting for {what}:\n{exited[0].log()[-3000:]}")
        time.sleep(0.1)
    logs = "\n".join(p.log()[-3000:] for p in processes)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}:\n{logs}")


@pytest.fixture
def cluster(tmp_path, redis_server):  # noqa: F811 - the fixture
    """start(kind, ...) -> a Worker or the daemon; all of them stopped at the end."""
    started: list = []

    def start_worker(*args: str, extra_env: dict | None = None, **config) -> Worker:
        name = f"worker{len(started)}"
        worker = Worker(cluster.root, tmp_path / f"{name}.log", "--concurrency", "1",
                        "--hostname", f"{name}@test", *args, queue=redis_server.url,
                        **config, **(extra_env or {}))
        started.append(worker)
        return worker.start()

    def start_daemon(**config) -> Daemon:
        daemon = Daemon(cluster.root, tmp_path / "daemon.log", queue=redis_server.url, **config)
        started.append(daemon)
        return daemon.start()

    class cluster:  # noqa: N801 - a namespace
        redis = redis_server
        root = None
        worker = staticmethod(start_worker)
        daemon = staticmethod(start_daemon)

        @staticmethod
        def init(extra: str = "") -> None:
            cluster.root = init_root(tmp_path, extra)

    yield cluster
    for process in reversed(started):
        if process.proc is not None and process.proc.poll() is None:
            os.killpg(process.proc.pid, signal.SIGKILL)
            process.proc.wait(10)


def deliveries(worker_log: str, filename: str) -> list[int]:
    return [int(n) for n in re.findall(rf"\({re.escape(filename)}\): delivery (\d+)", worker_log)]


def filed_once(root, names: set[str]) -> None:
    """Every name filed exactly once: one sidecar, one id, one original each."""
    docs = archive_state(root)
    filed = sorted(doc.original.filename for doc in docs.values())
    assert filed == sorted(names), filed
    originals = [p for p in root.originals.rglob("*") if p.is_file()]
    assert len(originals) == len(names), originals


def test_the_runtime_picks_the_queue_pool_when_a_queue_is_set(tmp_path, redis_server):  # noqa: F811
    from paperfs.cluster.queue_pool import QueuePool
    from paperfs.consume.messages import PREPARE
    from paperfs.consume.pool import SerialPool, WorkerPool
    from paperfs.daemon.pool_protocol import Pool
    from paperfs.runtime import Runtime
    from tests.helpers import config_for

    root = init_root(tmp_path)
    queued = Runtime(config_for(root, queue=redis_server.url))
    pool = queued.worker_pool(PREPARE)
    assert isinstance(pool, QueuePool) and isinstance(pool, Pool)
    assert (pool.free, pool.processes) == (pool.size, 0)
    queued.close()
    assert isinstance(Runtime(config_for(root, queue=redis_server.url))
                      .worker_pool(PREPARE, serial=True), SerialPool)
    assert isinstance(Runtime(config_for(root)).worker_pool(PREPARE), WorkerPool)


def test_a_batch_shared_by_two_workers_of_a_tenant(cluster, tmp_path):
    cluster.init("tenant: acme\n")
    src = tmp_path / "src"
    src.mkdir()
    metrics_port = free_port()
    workers = [cluster.worker(cluster__metrics_port=str(metrics_port)), cluster.worker()]
    stranger = cluster.worker(tenant="other")  # same Redis, another deployment
    daemon = cluster.daemon()
    names = {f"letter{i}.pdf" for i in range(3)} | {f"scan{i}.png" for i in range(3)}
    for name in sorted(names):
        if name.endswith(".pdf"):
            drop(make_text_pdf(src / name, [f"Invoice {name}", "Total 12.50 EUR"]),
                 cluster.root.inbox)
        else:
            drop(make_scan(src / name, [f"Scanned letter {name}", "Kind regards"]),
                 cluster.root.inbox)
    daemon.wait_settled(120)
    filed_once(cluster.root, names)
    # each worker is a service `paperfs status` lists (the other tenant's is not)
    out = subprocess.run([sys.executable, "-m", "paperfs", "--root", str(cluster.root.root),
                          "status", "--json"], capture_output=True, text=True, check=True,
                         env={**os.environ, "PAPERFS_QUEUE": cluster.redis.url})
    listed = [s for s in json.loads(out.stdout)["cluster"]["services"] if s["role"] == "worker"]
    assert len(listed) == 2 and not any(s["stale"] for s in listed), listed
    # and counts its prepare processes' OCR seconds on its metrics port
    page = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read()
    count = re.search(rb"^paperfs_ocr_seconds_count (\S+)$", page, re.M)
    assert count and float(count.group(1)) >= 1, page[:2000]
    done = [sum(len(deliveries(w.log(), n)) for n in names) for w in workers]
    assert sum(done) == len(names) and all(done), done  # each took some, none twice
    assert "delivery" not in stranger.log()
    keys = cluster.redis.keys()
    assert keys and all(k.startswith(("paperfs:acme:", "paperfs:other:")) for k in keys), keys
    # what a filed job left in Redis is forgotten: its task id, its count, its result
    assert not [k for k in keys if ":job:" in k or "celery-task-meta" in k], keys
    assert daemon.stop() == 0
    assert all(w.stop() == 0 for w in workers)


def test_the_redis_password_is_in_no_log_and_no_status(tmp_path):
    with RedisServer(password="s3cret-Pw0rd") as redis:
        root = init_root(tmp_path)
        worker = Worker(root, tmp_path / "worker.log", "--concurrency", "1", queue=redis.url)
        daemon = Daemon(root, tmp_path / "daemon.log", queue=redis.url)
        try:
            worker.start()
            daemon.start()
            drop(make_text_pdf(tmp_path / "letter.pdf", ["Behind a password"]), root.inbox)
            daemon.wait_settled(60)
            assert filed_count(root) == 1
            status = subprocess.run([sys.executable, "-m", "paperfs", "--root", str(root.root),
                                     "status"], capture_output=True, text=True,
                                    env={**os.environ, "PAPERFS_QUEUE": redis.url})
            assert status.returncode == 0, status.stderr
            for text in (worker.log(), daemon.log(), status.stdout + status.stderr,
                         root.status_file.read_text()):
                assert "s3cret-Pw0rd" not in text
        finally:
            for process in (daemon, worker):
                if process.proc is not None and process.proc.poll() is None:
                    os.killpg(process.proc.pid, signal.SIGKILL)


def _wait_delivery(worker: Worker, name: str, number: int) -> None:
    wait_for(lambda: number in deliveries(worker.log(), name), 60,
             f"delivery {number} of {name}", worker)


def test_a_killed_pool_process_is_redelivered_and_filed_once(cluster, tmp_path):
    cluster.init()
    worker = cluster.worker()
    daemon = cluster.daemon()
    drop(make_scan(tmp_path / "scan.png", ["Killed in the middle", "of its OCR"]),
         cluster.root.inbox)
    _wait_delivery(worker, "scan.png", 1)
    time.sleep(0.3)  # inside OCRmyPDF
    (child,) = worker.children()
    os.kill(child, signal.SIGKILL)
    daemon.wait_settled(120)
    filed_once(cluster.root, {"scan.png"})
    # task_reject_on_worker_lost: requeued, not acknowledged as failed
    assert deliveries(worker.log(), "scan.png") == [1, 2]
    assert failed_state(cluster.root) == {}


def test_a_lost_host_s_job_comes_back_after_the_visibility_timeout(cluster, tmp_path):
    cluster.init("cluster:\n  visibility_timeout_seconds: 3\n")
    first = cluster.worker()
    daemon = cluster.daemon()
    drop(make_scan(tmp_path / "scan.png", ["The host of this worker", "is lost"]),
         cluster.root.inbox)
    _wait_delivery(first, "scan.png", 1)
    first.kill()  # main process and pool process: nobody acknowledges or requeues
    killed = time.monotonic()
    assert any(":unacked" in k for k in cluster.redis.keys())
    second = cluster.worker()
    _wait_delivery(second, "scan.png", 2)
    assert time.monotonic() - killed >= 3 - 0.5
    daemon.wait_settled(120)
    filed_once(cluster.root, {"scan.png"})


def test_a_redelivery_while_the_first_delivery_still_runs_files_once(cluster, tmp_path):
    """The visibility timeout shorter than the OCR: two workers prepare the same job
    at once; one result is read, the job is filed once, the late one does no harm."""
    cluster.init("cluster:\n  visibility_timeout_seconds: 1\n  max_deliveries: 100\n")
    workers = [cluster.worker(), cluster.worker()]
    daemon = cluster.daemon()
    drop(make_scan(tmp_path / "slow.png", ["Slow to OCR " * 4] * 12),
         cluster.root.inbox)
    wait_for(lambda: sum(len(deliveries(w.log(), "slow.png")) for w in workers) >= 2, 60,
             "a second delivery while the first runs", *workers)
    daemon.wait_settled(120)
    time.sleep(2)  # the other delivery finishes (or finds its job gone)
    filed_once(cluster.root, {"slow.png"})
    assert not any(cluster.root.work.iterdir())


def test_jobs_queued_before_a_daemon_restart_are_filed_once(cluster, tmp_path):
    """No worker yet: the jobs wait in Redis; the daemon crashes, restarts and sends them
    again; the worker then skips the tasks of before the restart."""
    cluster.init()
    src = tmp_path / "src"
    src.mkdir()
    daemon = cluster.daemon()
    names = {"first.pdf", "second.pdf"}
    for name in sorted(names):
        drop(make_text_pdf(src / name, [f"Waiting for a worker: {name}"]), cluster.root.inbox)
    daemon.wait_for(lambda: len(daemon.status().get("in_flight", ())) == 2, 30, "jobs sent")
    daemon.kill()  # (a clean stop would wait 30 s for them to finish first)
    daemon.start()
    daemon.wait_for(lambda: len(daemon.status().get("in_flight", ())) == 2, 30, "jobs sent again")
    worker = cluster.worker()
    daemon.wait_settled(60)
    filed_once(cluster.root, names)
    wait_for(lambda: worker.log().count("skipping stale task") == 2, 10, "stale tasks skipped",
             worker)
    assert all(deliveries(worker.log(), name) == [1] for name in names)


def test_a_job_over_the_time_limit_fails_as_with_the_local_pool(cluster, tmp_path):
    cluster.init()
    worker = cluster.worker(consume__timeout_seconds="1")  # the worker enforces it
    daemon = cluster.daemon()
    drop(make_scan(tmp_path / "long.png", ["Longer than a second " * 4] * 12), cluster.root.inbox)
    daemon.wait_settled(60)
    failed = failed_state(cluster.root)
    assert list(failed) == ["long.png"], failed
    assert "consume.timeout_seconds" in str(failed["long.png"]), failed
    assert deliveries(worker.log(), "long.png") == [1]  # failed, not redelivered


def test_a_job_that_kills_every_worker_fails_after_max_deliveries(cluster, tmp_path):
    cluster.init("cluster:\n  max_deliveries: 3\n")
    src = tmp_path / "src"
    src.mkdir()
    worker = cluster.worker(extra_env={"TEST_PAPERFS_WORKER_DIES_ON": "poison.pdf"})
    daemon = cluster.daemon()
    drop(make_text_pdf(src / "poison.pdf", ["This one kills its worker"]), cluster.root.inbox)
    drop(make_text_pdf(src / "fine.pdf", ["This one is fine"]), cluster.root.inbox)
    daemon.wait_settled(120)
    filed_once(cluster.root, {"fine.pdf"})
    failed = failed_state(cluster.root)
    assert list(failed) == ["poison.pdf"], failed
    assert "died 3 times" in str(failed["poison.pdf"]), failed
    assert deliveries(worker.log(), "poison.pdf") == [1, 2, 3, 4]
    assert worker.stop() == 0


def test_redis_down_for_30_seconds_loses_nothing(cluster, tmp_path):
    cluster.init()
    src = tmp_path / "src"
    src.mkdir()
    worker = cluster.worker("--concurrency", "2")
    daemon = cluster.daemon()
    before = {f"before{i}.pdf" for i in range(3)}
    for name in sorted(before):
        drop(make_text_pdf(src / name, [f"Before the outage {name}"]), cluster.root.inbox)
    drop(make_scan(src / "inflight.png", ["In the worker when Redis goes"]), cluster.root.inbox)
    _wait_delivery(worker, "inflight.png", 1)
    cluster.redis.stop()
    during = {f"during{i}.pdf" for i in range(3)}
    for name in sorted(during):
        drop(make_text_pdf(src / name, [f"Dropped during the outage {name}"]),
             cluster.root.inbox)
    # the daemon keeps claiming onto disk: the inbox empties, nothing fails
    wait_for(lambda: not any(cluster.root.inbox.iterdir()), 30, "the inbox claimed", daemon)
    time.sleep(30 - 2)
    assert failed_state(cluster.root) == {}
    cluster.redis.start()
    daemon.wait_settled(120)
    filed_once(cluster.root, before | during | {"inflight.png"})
    assert failed_state(cluster.root) == {}
    assert "is unavailable" in daemon.log()
    assert worker.stop() == 0
