"""Share links benchmark: what a link costs, against what the same thing costs logged in.

    python -m benchmarks share [--docs 1000] [--links 10000] [--requests 200] [--json]

A data root with ``--docs`` documents (all tagged m; small real PDFs, the
WebDAV tests' fixtures), a saved search ``tag:m`` and ``--links`` share links
in shares.json; the WebDAV server in this process on 127.0.0.1.

1. The store with that many links: an unknown token's lookup (every stored hash
   compared, what each /s/ request does), the file read again after a change,
   one link made.
2. Over HTTP, each ``--requests`` times, p50 and p95: a document link's page;
   its PDF, against the same PDF logged in (``GET /by-id/1.pdf``, Basic) as the
   reference; a search link's page (up to 1,000 documents), against the same
   listing logged in (depth-1 PROPFIND of ``/saved/M/``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable


def _percentiles(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    return {"p50_ms": round(statistics.median(times) * 1000, 2),
            "p95_ms": round(times[int(len(times) * 0.95) - 1] * 1000, 2)}


def _timed(port: int, method: str, path: str, headers: dict[str, str], n: int,
           expect: int) -> dict[str, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times = []
    try:
        for _ in range(n):
            started = time.perf_counter()
            conn.request(method, path, headers=headers)
            r = conn.getresponse()
            r.read()
            times.append(time.perf_counter() - started)
            if r.status != expect:
                raise SystemExit(f"{method} {path}: {r.status}, expected {expect}")
    finally:
        conn.close()
    return _percentiles(times)


def _once(action: Callable[[], object], repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


def _reread(store) -> None:
    """The file marked as changed (a new mtime), then read: what the first request
    after a change pays."""
    stamp = time.time_ns()
    os.utime(store.path, ns=(stamp, stamp))
    store.links()


def _fill_links(store, count: int) -> None:
    from paperfs.sharing.store import ShareLink, link_record, token_hash

    now = store.now()
    links = [ShareLink(secrets.token_hex(5), token_hash(secrets.token_urlsafe(32)), "document",
                       "1", "alice", now, now + dt.timedelta(days=30)) for _ in range(count)]
    store.path.write_text('{"shares": [\n' + ",\n".join(json.dumps(link_record(s)) for s in links)
                          + "\n]}\n")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks share", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--links", type=int, default=10000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from paperfs.search.saved import SavedSearches
    from paperfs.sharing.store import share_store
    from tests.dav_support import add_doc, auth_header, running

    def docs(archive) -> None:
        for i in range(1, args.docs + 1):
            add_doc(archive, i, f"Document {i}", dt.date(2020, 1, 1) + dt.timedelta(days=i % 2000),
                    owner="alice", tags=("m",), correspondent=f"Corp{i % 50}")
        SavedSearches(archive.root.root).add("M", "tag:m", owner="alice")

    result: dict[str, object] = {"docs": args.docs, "links": args.links}
    with tempfile.TemporaryDirectory() as tmp, \
            running(Path(tmp), docs, extra="  throttle_failures: 1000000\n") as dav:
        store = share_store(dav.root, dav.config)
        _fill_links(store, args.links - 2)
        unknown = secrets.token_urlsafe(32)
        store.links()
        result["store"] = {
            "find_unknown_ms": round(_once(lambda: store.find(unknown)) * 1000, 3),
            "read_after_change_ms": round(_once(lambda: _reread(store)) * 1000, 1),
            "create_ms": round(_once(lambda: store.create(
                "document", "1", "alice", dt.timedelta(days=1)), 1) * 1000, 1)}
        doc = store.create("document", "1", "alice", dt.timedelta(days=1))[1]
        search = store.create("search", "M", "alice", dt.timedelta(days=1))[1]
        login = {"Authorization": auth_header("alice")}
        n, port = args.requests, dav.port
        page = _timed(port, "GET", f"/s/{doc}", {}, n, 200)
        pdf = _timed(port, "GET", f"/s/{doc}/document.pdf", {}, n, 200)
        pdf_ref = _timed(port, "GET", "/by-id/1.pdf", login, n, 200)
        listing = _timed(port, "GET", f"/s/{search}", {}, max(n // 10, 5), 200)
        listing_ref = _timed(port, "PROPFIND", "/saved/M/", {**login, "Depth": "1"},
                             max(n // 10, 5), 207)
        result["http"] = {
            "document_page": page, "pdf": pdf, "pdf_logged_in": pdf_ref,
            "pdf_ratio_p50": round(pdf["p50_ms"] / pdf_ref["p50_ms"], 2),
            "search_page": listing, "search_listing_logged_in": listing_ref,
            "search_ratio_p50": round(listing["p50_ms"] / listing_ref["p50_ms"], 2)}
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    s, h = result["store"], result["http"]
    print(f"{args.links} links: unknown token {s['find_unknown_ms']} ms, file read after a "
          f"change {s['read_after_change_ms']} ms, a new link {s['create_ms']} ms")
    print(f"document page: p50 {h['document_page']['p50_ms']} ms, "
          f"p95 {h['document_page']['p95_ms']} ms")
    print(f"PDF through the link: p50 {h['pdf']['p50_ms']} ms, p95 {h['pdf']['p95_ms']} ms; "
          f"logged in (/by-id): p50 {h['pdf_logged_in']['p50_ms']} ms "
          f"-> ratio {h['pdf_ratio_p50']}")
    print(f"search page ({min(args.docs, 1000)} documents): p50 {h['search_page']['p50_ms']} ms"
          f", p95 {h['search_page']['p95_ms']} ms; logged-in PROPFIND of /saved/M/ "
          f"({args.docs}): p50 {h['search_listing_logged_in']['p50_ms']} ms -> ratio "
          f"{h['search_ratio_p50']}")
    return 0
