"""WebDAV benchmark: big listings, large downloads, many clients at once.

    python -m benchmarks dav [--docs 100000] [--clients 50] [--seconds 60] [--dir DIR]

On a generated archive (benchmarks/gen_archive.py: sidecars + small real PDFs,
indexed with ``paperfs reindex``), with the paperfs WebDAV server and, for
reference, stock wsgidav (FilesystemProvider) each running in their own
process on 127.0.0.1:

1. Depth-1 PROPFIND of a virtual folder of 10,000 documents
   (``/search/id:[1 to 10000]/``), time to the last byte, median of 5 — with
   an empty body (allprop) and with the property list Finder/Explorer ask
   for. Reference: stock wsgidav on a plain folder of 10,000 files.
2. Memory: the server's peak RSS (VmHWM) after listing 1,000 then 10,000
   documents: streaming keeps it from growing with the folder. The same for
   stock wsgidav, which builds the whole response in memory.
3. GET of a 20 MB PDF: MB/s, median of 5.
4. N clients (processes x threads) for S seconds: a mix of GET of a random
   document (50 %), depth-0 PROPFIND of a random document (30 %) and depth-1
   PROPFIND of a random folder of 200 documents (20 %): errors, p50, p99.

Targets (issue 4): 1 ≤ 500 ms; 2 flat; 3 ≥ 300 MB/s; 4 zero errors, p99 ≤ 1 s.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

USER, PASSWORD = "bench", "bench-password"
FOLDER = "/search/id:[1 to 10000]/"
SMALL_FOLDER = "/search/id:[1 to 1000]/"
NAMED = (b'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop>'
         b"<D:resourcetype/><D:getcontentlength/><D:getlastmodified/><D:getetag/>"
         b"<D:creationdate/><D:displayname/><D:getcontenttype/></D:prop></D:propfind>")


def _auth() -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}


# ---------------------------------------------------------------- servers (subprocesses)


def _serve_paperfs(root: str, port: int) -> None:
    from paperfs.config import load_config
    from paperfs.dav.server import DavServer

    config = load_config(Path(root) / "paperfs.yml", environ={})
    server = DavServer(config, None, port=port)
    server.start()
    print("ready", flush=True)
    sys.stdin.read()
    server.stop()


def _serve_stock(folder: str, port: int) -> None:
    from cheroot import wsgi
    from wsgidav.fs_dav_provider import FilesystemProvider
    from wsgidav.wsgidav_app import WsgiDAVApp

    app = WsgiDAVApp({"provider_mapping": {"/": FilesystemProvider(folder, fs_opts={})},
                      "simple_dc": {"user_mapping": {"*": {USER: {"password": PASSWORD}}}},
                      "http_authenticator": {"accept_digest": False, "default_to_digest": False},
                      "property_manager": True, "lock_storage": True, "verbose": 0,
                      "logging": {"enable": False}})
    server = wsgi.Server(("127.0.0.1", port), app, numthreads=16)
    server.prepare()
    threading.Thread(target=server.serve, daemon=True).start()
    print("ready", flush=True)
    sys.stdin.read()
    server.stop()


class Server:
    def __init__(self, kind: str, target: Path, port: int) -> None:
        self.port = port
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.bench_dav", f"--serve-{kind}", str(target),
             str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if "ready" not in line:
            raise RuntimeError(f"{kind} server did not start")

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- measurements


def timed(port: int, method: str, path: str, headers: dict[str, str] | None = None,
          body: bytes | None = None, conn: http.client.HTTPConnection | None = None
          ) -> tuple[float, int, int]:
    """(seconds to the last byte, status, bytes), reading in 1 MB pieces."""
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    h = {**_auth(), **(headers or {})}
    started = time.perf_counter()
    conn.request(method, quote(path, safe="/:@!$&'()*+,;=~"), body=body, headers=h)
    r = conn.getresponse()
    size = 0
    while chunk := r.read(1 << 20):
        size += len(chunk)
    elapsed = time.perf_counter() - started
    if own:
        conn.close()
    return elapsed, r.status, size


def median_time(port: int, method: str, path: str, n: int = 5, **kw) -> tuple[float, int, int]:
    runs = [timed(port, method, path, **kw) for _ in range(n)]
    statuses = {r[1] for r in runs}
    return statistics.median(r[0] for r in runs), statuses.pop(), runs[0][2]


def _client(port: int, seconds: float, threads: int, max_id: int, seed: int,
            out: "multiprocessing.Queue") -> None:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def work(k: int) -> None:
        rng = random.Random(seed * 1000 + k)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, bad = [], []
        while time.monotonic() < stop_at:
            roll = rng.random()
            doc = rng.randint(1, max_id)
            if roll < 0.5:
                args = ("GET", f"/by-id/{doc}.pdf", None, None)
            elif roll < 0.8:
                args = ("PROPFIND", f"/by-id/{doc}.pdf", {"Depth": "0"}, NAMED)
            else:
                start = rng.randint(1, max(1, max_id - 200))
                args = ("PROPFIND", f"/search/id:[{start} to {start + 199}]/",
                        {"Depth": "1"}, NAMED)
            try:
                elapsed, status, _ = timed(port, args[0], args[1], args[2], args[3], conn=conn)
                if status not in (200, 207):
                    bad.append(f"{args[0]} {args[1]} -> {status}")
                mine.append(elapsed)
            except Exception as exc:  # noqa: BLE001 - counted as an error
                bad.append(f"{args[0]} {args[1]}: {exc!r}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        with lock:
            latencies.extend(mine)
            errors.extend(bad)

    pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.put((latencies, errors))


def concurrent(port: int, clients: int, seconds: float, max_id: int) -> dict:
    procs = max(1, min(8, clients // 6))
    per = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    queue: multiprocessing.Queue = multiprocessing.get_context("fork").Queue()
    workers = [multiprocessing.get_context("fork").Process(
        target=_client, args=(port, seconds, n, max_id, i, queue)) for i, n in enumerate(per)]
    for w in workers:
        w.start()
    latencies: list[float] = []
    errors: list[str] = []
    for _ in workers:
        lat, err = queue.get()
        latencies += lat
        errors += err
    for w in workers:
        w.join()
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0
    return {"requests": len(latencies), "errors": len(errors), "error_samples": errors[:5],
            "rps": len(latencies) / seconds, "p50_ms": pick(0.50) * 1000,
            "p99_ms": pick(0.99) * 1000, "max_ms": (latencies[-1] * 1000 if latencies else 0)}


# ---------------------------------------------------------------- setup


def prepare(root: Path, docs: int) -> Path:
    from benchmarks.gen_archive import Spec, generate
    from paperfs.config import load_config
    from paperfs.archive.reindex import reindex
    from paperfs.access.users import UserAdmin, users_path

    marker = root / ".bench-dav-ready"
    if marker.exists():
        count, _, big_path = marker.read_text().strip().partition("\n")
        if count == str(docs) and Path(big_path).exists():
            return Path(big_path)
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    gen = generate(root, Spec(count=docs), progress=True)
    print(f"generated {docs:,} documents in {time.perf_counter() - started:.0f} s", flush=True)
    (root / "paperfs.yml").write_text("data_root: .\ndav:\n  threads: 16\n")
    config = load_config(root / "paperfs.yml", environ={})
    started = time.perf_counter()
    reindex(config)
    print(f"indexed in {time.perf_counter() - started:.0f} s", flush=True)
    UserAdmin(users_path(root)).add_user(USER, PASSWORD, superuser=True)
    # one document gets a 20 MB PDF
    big = root / "archive" / (gen.paths[docs] + ".pdf")
    with open(big, "wb") as f:
        f.write(os.urandom(20 * 1024 * 1024))
    marker.write_text(f"{docs}\n{big}")
    return big


def plain_folder(folder: Path, count: int) -> None:
    target = folder / "plain"
    if target.exists() and len(os.listdir(target)) == count:
        return
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for i in range(count):
        (target / f"2020-01-01 Document {i}.pdf").write_bytes(b"%PDF-1.4\n" + b"x" * 400)


# ---------------------------------------------------------------- main


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("--serve-paperfs", "--serve-stock"):
        (_serve_paperfs if argv[0] == "--serve-paperfs" else _serve_stock)(argv[1], int(argv[2]))
        return 0
    parser = argparse.ArgumentParser(prog="python -m benchmarks dav",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "paperfs-bench-dav")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if args.docs < 10_000:
        parser.error("--docs must be at least 10000 (the folder benchmark lists 10,000)")

    big = prepare(args.dir / "data", args.docs)
    plain_folder(args.dir, 10_000)
    results: dict = {"docs": args.docs}
    paperfs = Server("paperfs", args.dir / "data", _free_port())
    stock = Server("stock", args.dir, _free_port())
    try:
        timed(paperfs.port, "PROPFIND", "/tags/", {"Depth": "1"})  # warm up
        timed(paperfs.port, "PROPFIND", SMALL_FOLDER, {"Depth": "1"}, NAMED)
        timed(stock.port, "PROPFIND", "/plain/", {"Depth": "1"})

        t, status, size = median_time(paperfs.port, "PROPFIND", FOLDER,
                                      headers={"Depth": "1"}, body=NAMED)
        results["propfind_10k_named_ms"] = round(t * 1000)
        results["propfind_10k_bytes"] = size
        assert status == 207
        t, status, size = median_time(paperfs.port, "PROPFIND", FOLDER, headers={"Depth": "1"})
        results["propfind_10k_allprop_ms"] = round(t * 1000)
        t, status, _ = median_time(stock.port, "PROPFIND", "/plain/", headers={"Depth": "1"},
                                   body=NAMED)
        results["stock_wsgidav_10k_named_ms"] = round(t * 1000)
        assert status == 207
        t, status, _ = median_time(stock.port, "PROPFIND", "/plain/", headers={"Depth": "1"})
        results["stock_wsgidav_10k_allprop_ms"] = round(t * 1000)
        results["ratio_named"] = round(results["propfind_10k_named_ms"]
                                       / max(1, results["stock_wsgidav_10k_named_ms"]), 2)

        # memory: listing 1,000 then 10,000 documents
        paperfs2 = Server("paperfs", args.dir / "data", _free_port())
        try:
            timed(paperfs2.port, "PROPFIND", "/by-id/1.pdf", {"Depth": "0"})
            base = paperfs2.peak_rss_mb()
            timed(paperfs2.port, "PROPFIND", SMALL_FOLDER, {"Depth": "1"})
            after_1k = paperfs2.peak_rss_mb()
            cold, _, _ = timed(paperfs2.port, "PROPFIND", FOLDER, {"Depth": "1"}, NAMED)
            results["propfind_10k_named_cold_ms"] = round(cold * 1000)
            after_10k = paperfs2.peak_rss_mb()
        finally:
            paperfs2.stop()
        results["paperfs_peak_rss_mb"] = {"start": round(base, 1), "after_1k": round(after_1k, 1),
                                          "after_10k": round(after_10k, 1)}
        stock2 = Server("stock", args.dir, _free_port())
        try:
            (args.dir / "small").mkdir(exist_ok=True)
            for i in range(1000):
                p = args.dir / "small" / f"d{i}.pdf"
                if not p.exists():
                    p.write_bytes(b"%PDF-1.4\n" + b"x" * 400)
            base = stock2.peak_rss_mb()
            timed(stock2.port, "PROPFIND", "/small/", {"Depth": "1"})
            after_1k = stock2.peak_rss_mb()
            timed(stock2.port, "PROPFIND", "/plain/", {"Depth": "1"})
            after_10k = stock2.peak_rss_mb()
        finally:
            stock2.stop()
        results["stock_peak_rss_mb"] = {"start": round(base, 1), "after_1k": round(after_1k, 1),
                                        "after_10k": round(after_10k, 1)}

        # GET of a 20 MB PDF
        big_id = args.docs
        timed(paperfs.port, "GET", f"/by-id/{big_id}.pdf")
        t, status, size = median_time(paperfs.port, "GET", f"/by-id/{big_id}.pdf")
        assert status == 200 and size == big.stat().st_size
        results["get_20mb_ms"] = round(t * 1000, 1)
        results["get_20mb_mb_per_s"] = round(size / t / 1e6)

        # many clients at once
        results["concurrent"] = {"clients": args.clients, "seconds": args.seconds,
                                 **concurrent(paperfs.port, args.clients, args.seconds,
                                              args.docs)}
        results["server_rss_after_mb"] = round(paperfs.rss_mb(), 1)
    finally:
        paperfs.stop()
        stock.stop()

    if args.json:
        print(json.dumps(results, indent=1))
    else:
        c = results["concurrent"]
        print(f"documents in the archive:              {args.docs:,}")
        print(f"PROPFIND depth 1, 10,000 docs (named): {results['propfind_10k_named_ms']} ms "
              f"({results['propfind_10k_bytes'] / 1e6:.1f} MB); stock wsgidav, plain folder: "
              f"{results['stock_wsgidav_10k_named_ms']} ms (ratio {results['ratio_named']})")
        print(f"PROPFIND depth 1, 10,000 docs (allprop): {results['propfind_10k_allprop_ms']} ms;"
              f" stock: {results['stock_wsgidav_10k_allprop_ms']} ms")
        print(f"  first listing after a start (PDF sizes not yet cached): "
              f"{results['propfind_10k_named_cold_ms']} ms")
        print(f"peak RSS paperfs start/1k/10k:         {results['paperfs_peak_rss_mb']} MB")
        print(f"peak RSS stock   start/1k/10k:         {results['stock_peak_rss_mb']} MB")
        print(f"GET 20 MB PDF:                         {results['get_20mb_ms']} ms = "
              f"{results['get_20mb_mb_per_s']} MB/s")
        print(f"{c['clients']} clients x {c['seconds']:.0f} s mixed:             "
              f"{c['requests']} requests ({c['rps']:.0f}/s), {c['errors']} errors, "
              f"p50 {c['p50_ms']:.0f} ms, p99 {c['p99_ms']:.0f} ms, max {c['max_ms']:.0f} ms")
        if c["errors"]:
            print("  errors:", c["error_samples"])
    ok = (results["propfind_10k_named_ms"] <= 500 and results["get_20mb_mb_per_s"] >= 300
          and results["concurrent"]["errors"] == 0 and results["concurrent"]["p99_ms"] <= 1000)
    print("targets met" if ok else "targets NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
