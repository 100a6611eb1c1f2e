"""Queue benchmarks: the consumer over Celery + Redis vs the local pool, same machine, same files.
Run: .venv/bin/python -m benchmarks queue [ocr|digital|redelivery] [--scans N] [--docs N]

ocr         scans/min through 2 `paperfs worker` processes vs the local pool of 2 (target ≥ 0.9×)
digital     born-digital documents/s through the queue vs the local pool (target ≥ 0.7×)
redelivery  a worker's pool process killed (kill -9) mid-OCR: seconds until the job runs
            again and until it is filed; the whole worker killed (a lost host) with a
            visibility timeout of 5 s: the same

Both throughputs are the steady state of one Consumer in a process (warm workers),
timed from the first claim to the last filing; each mode runs twice, alternating.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_consume import (PAPERFS, _digital_files, _new_root, _scans,
                                      _steady_docs_per_s)
from tests.redis_server import RedisServer

WARM = 2  # files each run consumes before the clock starts


class _Workers:
    """`paperfs worker --concurrency N` on a data root, until stop()."""

    def __init__(self, root: Path, queue: str, concurrency: int, log: Path, **env: str):
        self.log = log
        self.proc = subprocess.Popen(
            [*PAPERFS, "--root", str(root), "worker", "--concurrency", str(concurrency)],
            stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "PAPERFS_QUEUE": queue, **env})
        self.wait_log(lambda text: " ready." in text, 60)

    def wait_log(self, done, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace")
            if done(text):
                return text
            if self.proc.poll() is not None:
                raise RuntimeError(f"paperfs worker exited:\n{text[-3000:]}")
            time.sleep(0.02)
        raise TimeoutError(self.log.read_text(errors="replace")[-3000:])

    def children(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return [int(pid) for pid in out.stdout.split()]

    def stop(self, kill: bool = False) -> None:
        if self.proc.poll() is None:
            if kill:
                os.killpg(self.proc.pid, signal.SIGKILL)
            else:
                self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)


def _compare(base: Path, name: str, files: list[Path], redis: RedisServer) -> dict:
    """Local pool of 2 vs the queue with one worker of 2 processes, A B A B."""
    extra = "consume:\n  workers: 2\n"
    local_root = _new_root(base, f"{name}-local", extra)
    queue_root = _new_root(base, f"{name}-queue", extra)
    workers = _Workers(queue_root, redis.url, 2, base / f"{name}-worker.log")
    half = len(files) // 2
    local, queued = [], []
    try:
        for chunk in (files[:half], files[half:]):
            local.append(_steady_docs_per_s(local_root, chunk, warm=WARM))
            queued.append(_steady_docs_per_s(queue_root, chunk, warm=WARM, queue=redis.url))
    finally:
        workers.stop()
    return {"files": len(files), "local_docs_per_s": local, "queue_docs_per_s": queued,
            "ratio": statistics.mean(queued) / statistics.mean(local)}


def bench_ocr(base: Path, redis: RedisServer, n: int) -> dict:
    result = _compare(base, "ocr", _scans(base, n), redis)
    result["local_per_min"] = 60 * statistics.mean(result["local_docs_per_s"])
    result["queue_per_min"] = 60 * statistics.mean(result["queue_docs_per_s"])
    return result


def bench_digital(base: Path, redis: RedisServer, n: int) -> dict:
    return _compare(base, "digital", _digital_files(base / "digital", n), redis)


def _redelivered(base: Path, redis: RedisServer, *, host_lost: bool) -> dict:
    """kill -9 mid-OCR; seconds from the kill to the job's next delivery and to its filing."""
    name = "host" if host_lost else "child"
    root = _new_root(base, f"redeliver-{name}",
                     "cluster:\n  visibility_timeout_seconds: 5\n" if host_lost else "")
    folder = base / f"redeliver-{name}-in"
    folder.mkdir()
    scan = _scans(folder, 1)[0]
    first = _Workers(root, redis.url, 1, base / f"redeliver-{name}-1.log")
    env = {**os.environ, "OMP_THREAD_LIMIT": "1", "PAPERFS_QUEUE": redis.url}
    consume = subprocess.Popen([*PAPERFS, "--root", str(root), "consume", str(scan)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    second = None
    try:
        first.wait_log(lambda text: "delivery 1" in text, 60)
        time.sleep(0.5)  # inside OCRmyPDF
        killed = time.monotonic()
        if host_lost:
            first.stop(kill=True)
            second = _Workers(root, redis.url, 1, base / f"redeliver-{name}-2.log")
            again = second
        else:
            os.kill(first.children()[0], signal.SIGKILL)
            again = first
        again.wait_log(lambda text: "delivery 2" in text, 120)
        redelivered = time.monotonic() - killed
        consume.wait(300)
        filed = time.monotonic() - killed
    finally:
        for workers in (first, second):
            if workers is not None:
                workers.stop(kill=True)
        if consume.poll() is None:
            consume.kill()
    return {"redelivered_after_s": redelivered, "filed_after_s": filed,
            "filed": consume.returncode == 0}


PARTS = ("ocr", "digital", "redelivery")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks queue",
                                     description=__doc__.split("\n")[0],
                                     epilog="Run: python -m benchmarks queue [PARTS...]")
    parser.add_argument("parts", nargs="*", metavar="PART",
                        help=f"any of {', '.join(PARTS)} (default: all)")
    parser.add_argument("--scans", type=int, default=12, help="scans for ocr (default 12)")
    parser.add_argument("--docs", type=int, default=120, help="documents for digital (default 120)")
    args = parser.parse_args(argv)
    parts = args.parts or list(PARTS)
    if set(parts) - set(PARTS):
        parser.error(f"unknown part(s) {sorted(set(parts) - set(PARTS))}; known: {', '.join(PARTS)}")
    with tempfile.TemporaryDirectory(prefix="paperfs-bench-queue-") as tmp, RedisServer() as redis:
        base = Path(tmp)
        if "ocr" in parts:
            r = bench_ocr(base, redis, args.scans)
            print(f"ocr: local {r['local_per_min']:.1f}/min, queue {r['queue_per_min']:.1f}/min "
                  f"({r['files']} scans, 2 processes each): ratio {r['ratio']:.2f} (target ≥ 0.9)")
        if "digital" in parts:
            r = bench_digital(base, redis, args.docs)
            local, queued = statistics.mean(r["local_docs_per_s"]), statistics.mean(r["queue_docs_per_s"])
            print(f"digital: local {local:.1f} docs/s, queue {queued:.1f} docs/s "
                  f"({r['files']} documents): ratio {r['ratio']:.2f} (target ≥ 0.7)")
        if "redelivery" in parts:
            for host_lost in (False, True):
                r = _redelivered(base, redis, host_lost=host_lost)
                what = "whole worker (lost host, visibility 5 s)" if host_lost else "pool process"
                print(f"redelivery, {what} killed: again after {r['redelivered_after_s']:.1f} s, "
                      f"filed after {r['filed_after_s']:.1f} s (filed: {r['filed']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
