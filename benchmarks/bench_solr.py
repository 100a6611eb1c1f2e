"""Solr benchmark: the embedded index and Solr side by side on the same archive.

    .venv/bin/python -m benchmarks solr [--count 100000] [--queries 40] [--mode standalone|cloud]
                                        [--url URL | --zk-hosts HOSTS --collection NAME]

1. The synthetic archive of the search benchmark (benchmarks/gen_archive.py,
   cached in ~/.cache/paperfs-bench/) is read, never written: every index is
   built in a temporary folder.
2. A Solr is started with solr/run.sh (standalone by default, 1 GB heap), unless
   ``--url`` / ``--zk-hosts`` point at one (its collection is emptied!), and
   warmed up with 5,000 documents (a Solr in service has compiled its code).
3. Reindex, documents/s: the embedded index alone (``SqliteIndex.rebuilding``),
   Solr alone (``SolrIndex.rebuilding``: batches of 1,000 from two sender
   threads, no commit until the end) and what ``paperfs reindex`` does with
   ``index.backend: solr`` (``MirroredIndex.rebuilding``: Solr, and the embedded
   catalog brought in step on the way), with the catalog in step (switching an
   archive over, a later reindex) and empty (a new data root).
4. Queries as the local admin, top 25 with highlighted snippets: rare words,
   high-hit words, two words, phrases, prefixes, word + tag + date range; facet
   counts. After a warm-up with other queries of the same kinds, each query runs
   once (no result cache helps either backend); p50/p95 over ``--queries``
   queries of each kind, the same queries on both backends.
5. A newly filed document: upserted through the mirrored index the daemon uses
   (journal → Solr with ``commitWithin`` = 1000 ms) until a search finds it.

Targets (issue 5): reindex into Solr ≥ 1,000 documents/s; search p95 ≤ 50 ms;
facets p95 ≤ 50 ms; a newly filed document visible ≤ 2 s.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

from benchmarks.bench_search import archive_for, machine, pct
from benchmarks.gen_archive import Generator, Spec, iter_docs
from paperfs.index.base import Index, IndexEntry
from paperfs.index.mirrored import MirroredIndex
from paperfs.index.journal import Journal
from paperfs.index.model import LOCAL_ADMIN
from paperfs.index.solr import SolrAdmin, SolrIndex, default_configset
from paperfs.index.sqlite import SqliteIndex
from paperfs.archive.layout import DataRoot
from paperfs.archive.reindex import rebuild_into

TARGETS = {"reindex_rate": 1000, "search_p95_ms": 50, "facets_p95_ms": 50, "visible_s": 2.0}


def reindex_rate(index_factory: Callable[[], Index], root: DataRoot, count: int
                 ) -> tuple[float, float]:
    """(documents/s, seconds) of a full rebuild of ``root`` into the index."""
    index = index_factory()
    try:
        start = time.perf_counter()
        with index.rebuilding() as target:
            report = rebuild_into(target, root)
        seconds = time.perf_counter() - start
    finally:
        index.close()
    if report.indexed != count:
        raise SystemExit(f"reindex indexed {report.indexed} of {count} documents: "
                         f"{report.problems[:3]}")
    return count / seconds, seconds


def query_sets(embedded: SqliteIndex, seed: int, n: int) -> dict[str, list[str]]:
    """``n`` queries of each kind, chosen from the embedded index's vocabulary."""
    db = embedded.db
    total = embedded.count()
    rng = random.Random(seed)
    vocab = db.execute("SELECT term, doc FROM fts_vocab WHERE term GLOB '[a-z]*'"
                       " AND length(term) > 3").fetchall()
    rare = sorted(t for t, c in vocab if 1 <= c <= 5)
    high = sorted(t for t, c in vocab if c > 0.2 * total)
    mid = sorted(t for t, c in vocab if 0.02 * total < c < 0.1 * total)
    tags = [r[0] for r in db.execute("SELECT tag_fold, count(*) FROM document_tags"
                                     " GROUP BY tag_fold ORDER BY 2 DESC LIMIT 10")]
    corr = [r[0] for r in db.execute("SELECT DISTINCT correspondent FROM documents"
                                     " WHERE correspondent IS NOT NULL")]
    years = sorted(int(r[0]) for r in db.execute(
        "SELECT DISTINCT substr(created, 1, 4) FROM documents"))

    def combo(i: int) -> str:
        word, tag, year = rng.choice(high), rng.choice(tags), rng.choice(years[:-1])
        q = f'{word} tag:"{tag}" created:[{year} to {year + 1}]'
        return q + (" -tag:paid" if i % 3 == 2 and tag != "paid" else "")

    def facet(i: int) -> str:
        pick = i % 3
        if pick == 0:
            return f'correspondent:"{rng.choice(corr)}"'
        return rng.choice(mid) if pick == 1 else rng.choice(high)

    return {
        "rare word": [rng.choice(rare) for _ in range(n)],
        "high-hit word (>20%)": [rng.choice(high) for _ in range(n)],
        "two words": [f"{rng.choice(mid)} {rng.choice(high)}" for _ in range(n)],
        "phrase": [f'"{rng.choice(high)} {rng.choice(high)}"' for _ in range(n)],
        "prefix": [rng.choice(mid)[:4] + "*" for _ in range(n)],
        "word + tag + date range": [combo(i) for i in range(n)],
        "facets": ["*"] + [facet(i) for i in range(n - 1)],
    }


def latencies(index: Index, warm: dict[str, list[str]], queries: dict[str, list[str]]
              ) -> dict[str, dict[str, float]]:
    """Milliseconds per query, each query run once after a warm-up with *other* queries
    (so neither backend answers from a result cache: Solr's queryResultCache, the
    embedded index's facet cache)."""
    def run(kind: str, q: str) -> int:
        if kind == "facets":
            return index.facets(q, user=LOCAL_ADMIN).total
        return index.search(q, user=LOCAL_ADMIN, limit=25, highlight=True).total

    for kind, items in warm.items():
        for q in items:
            run(kind, q)
    out = {}
    for kind, items in queries.items():
        times, hits = [], []
        for q in items:
            start = time.perf_counter()
            hits.append(run(kind, q))
            times.append((time.perf_counter() - start) * 1000)
        out[kind] = {"n": len(items), "p50": pct(times, 0.5), "p95": pct(times, 0.95),
                     "hits": statistics.median(hits) if hits else 0}
    return out


def visibility(index: MirroredIndex, runs: int = 10) -> list[float]:
    """Upsert a new document through the mirror; seconds until Solr's search finds it."""
    base = index.catalog.max_id() + 1
    gen = Generator(Spec(count=1, seed=99))
    seconds = []
    try:
        for n in range(runs):
            doc, rel, _ = gen.document(base + n)
            word = f"freshword{n}x{base}"
            doc = doc.replace(content=doc.content + f"\n{word}")
            start = time.perf_counter()
            index.upsert([IndexEntry(doc=doc, path="bench/" + rel, mtime_ns=1, size=1)])
            while index.remote.search(word, user=LOCAL_ADMIN, limit=1).total == 0:
                if time.perf_counter() - start > 30:
                    raise SystemExit("a filed document never became visible in Solr")
                time.sleep(0.02)
            seconds.append(time.perf_counter() - start)
    finally:
        index.delete(range(base, base + runs))
        index.flush(30)
    return seconds


def embedded_visibility(path: Path, runs: int = 10) -> list[float]:
    writer = SqliteIndex(path)
    reader = SqliteIndex(path, create=False)
    base = writer.max_id() + 1
    gen = Generator(Spec(count=1, seed=99))
    seconds = []
    try:
        for n in range(runs):
            doc, rel, _ = gen.document(base + n)
            word = f"freshword{n}x{base}"
            doc = doc.replace(content=doc.content + f"\n{word}")
            start = time.perf_counter()
            writer.upsert([IndexEntry(doc=doc, path="bench/" + rel, mtime_ns=1, size=1)])
            while reader.search(word, user=LOCAL_ADMIN, limit=1).total == 0:
                time.sleep(0.001)
            seconds.append(time.perf_counter() - start)
    finally:
        writer.delete(range(base, base + runs))
        writer.close()
        reader.close()
    return seconds


def solr_index_mb(index: SolrIndex) -> float:
    """Size of the collection's index on disk, all replicas (CoreAdmin STATUS per node)."""
    import requests

    try:
        if index.cloud:
            zk = SolrAdmin(index)._zk()
            try:
                nodes = zk.get_children("/live_nodes")
            finally:
                zk.stop()
                zk.close()
            bases = [f"http://{n.split('_', 1)[0]}/solr" for n in nodes]
        else:
            bases = [index.url]
        total = 0
        for base in bases:
            status = requests.get(f"{base}/admin/cores", params={"action": "STATUS",
                                                                 "wt": "json"},
                                  timeout=30).json()["status"]
            for core in status.values():
                name = core.get("cloud", {}).get("collection") or core.get("name")
                if name == index.collection:
                    total += core["index"]["sizeInBytes"]
        return total / 2**20
    except Exception:  # only a figure for the report
        return 0.0
    finally:
        index.close()


def _start_solr(mode: str, base: Path) -> tuple[object, dict[str, str]]:
    from tests.solr_server import SolrServer

    os.environ.setdefault("PAPERFS_SOLR_JAVA_OPTS",
                          "-Xms1g -Xmx1g -XX:+UseParallelGC -XX:+ExitOnOutOfMemoryError")
    server = SolrServer(mode, base / f"solr-{mode}")
    server.start()
    where = ({"zk_hosts": server.zk_hosts} if mode == "cloud" else {"url": server.url})
    return server, {**where, "collection": server.collection}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks solr",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--queries", type=int, default=40, help="queries of each kind")
    parser.add_argument("--mode", choices=("standalone", "cloud"), default="standalone",
                        help="the Solr to start (with solr/run.sh)")
    parser.add_argument("--url", help="use this standalone Solr instead (collection emptied)")
    parser.add_argument("--zk-hosts", help="use this SolrCloud instead (collection emptied)")
    parser.add_argument("--collection", default="paperfs")
    args = parser.parse_args(argv)

    print(f"machine: {machine()}")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    archive, generated = archive_for(args.count, args.seed)
    if generated is not None:
        print(f"generated {args.count:,} documents in {generated:.1f} s")
    root = DataRoot(archive)
    work = Path(tempfile.mkdtemp(prefix="paperfs-bench-solr-"))
    server = None
    try:
        if args.url or args.zk_hosts:
            where = {"url": args.url or "", "zk_hosts": args.zk_hosts or "",
                     "collection": args.collection}
            mode = "cloud" if args.zk_hosts else "standalone"
        else:
            print(f"starting Solr ({args.mode}) …", flush=True)
            server, where = _start_solr(args.mode, work)
            mode = args.mode
        solr_kwargs = {k: v for k, v in where.items() if v}

        def solr(**kw: object) -> SolrIndex:
            return SolrIndex(timeout=60.0, **{**solr_kwargs, **kw})  # type: ignore[arg-type]

        probe = solr(check_schema=False)
        if args.url or args.zk_hosts:
            SolrAdmin(probe).init(default_configset())
        probe.close()

        lines = [("measure", "embedded", f"Solr ({mode})", "Solr/embedded", "target (Solr)")]
        print(f"reindex {args.count:,} documents: embedded …", flush=True)
        embedded_path = work / "embedded.sqlite3"
        emb_rate, emb_s = reindex_rate(lambda: SqliteIndex(embedded_path), root, args.count)
        print(f"  {emb_rate:,.0f} documents/s ({emb_s:.1f} s)")
        # A Solr that just started compiles its analysis chains while the first
        # thousands of documents arrive; a Solr in service is warm. Warm it up.
        warm_index = solr()
        try:
            warm_index.upsert([IndexEntry(doc=d, path=p, mtime_ns=0, size=0)
                               for d, p in iter_docs(Spec(count=5000, seed=args.seed + 7))])
        finally:
            warm_index.close()
        print("reindex: Solr alone …", flush=True)
        solr_rate, solr_s = reindex_rate(lambda: solr(), root, args.count)
        print(f"  {solr_rate:,.0f} documents/s ({solr_s:.1f} s)")
        def mirrored() -> MirroredIndex:
            return MirroredIndex(SqliteIndex(work / "catalog.sqlite3"),
                                 solr(commit_within_ms=1000), Journal(work / "journal"))

        # paperfs reindex with index.backend: solr, when the catalog is in step (the
        # usual case: switching from the embedded index, or a later reindex) …
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{embedded_path}{suffix}").exists():
                shutil.copy(f"{embedded_path}{suffix}", work / f"catalog.sqlite3{suffix}")
        print("reindex: paperfs reindex with index.backend: solr (catalog in step) …",
              flush=True)
        both_rate, both_s = reindex_rate(mirrored, root, args.count)
        print(f"  {both_rate:,.0f} documents/s ({both_s:.1f} s)")
        # … and into a new data root, where the catalog is written too
        for leftover in work.glob("catalog.sqlite3*"):
            leftover.unlink()
        print("reindex: paperfs reindex with index.backend: solr (empty catalog) …",
              flush=True)
        fresh_rate, fresh_s = reindex_rate(mirrored, root, args.count)
        print(f"  {fresh_rate:,.0f} documents/s ({fresh_s:.1f} s)")
        lines.append(("reindex, documents/s", f"{emb_rate:,.0f}", f"{solr_rate:,.0f}",
                      f"{solr_rate / emb_rate:.2f}", f"≥ {TARGETS['reindex_rate']:,}"))
        lines.append(("paperfs reindex, backend solr, catalog in step, documents/s", "",
                      f"{both_rate:,.0f}", f"{both_rate / emb_rate:.2f}",
                      f"≥ {TARGETS['reindex_rate']:,}"))
        lines.append(("paperfs reindex, backend solr, empty catalog, documents/s", "",
                      f"{fresh_rate:,.0f}", f"{fresh_rate / emb_rate:.2f}", ""))

        emb_mb = sum(p.stat().st_size for p in work.glob("embedded.sqlite3*")) / 2**20
        solr_mb = solr_index_mb(solr())
        lines.append(("index size on disk", f"{emb_mb:,.0f} MB",
                      f"{solr_mb:,.0f} MB" if solr_mb else "?",
                      f"{solr_mb / emb_mb:.2f}" if solr_mb else "", ""))
        embedded = SqliteIndex(embedded_path, create=False)
        if hasattr(embedded, "facet_cache_size"):
            embedded.facet_cache_size = 0  # measure the counting, not the cache
        remote = solr()
        try:
            warm = query_sets(embedded, args.seed + 1, 10)
            queries = query_sets(embedded, args.seed, args.queries)
            print("queries …", flush=True)
            emb = latencies(embedded, warm, queries)
            sol = latencies(remote, warm, queries)
        finally:
            embedded.close()
            remote.close()
        for kind in queries:
            target = TARGETS["facets_p95_ms" if kind == "facets" else "search_p95_ms"]
            for q in ("p50", "p95"):
                e, s = emb[kind][q], sol[kind][q]
                lines.append((f"{kind} ({emb[kind]['n']} queries, median "
                              f"{sol[kind]['hits']:,.0f} hits), {q}", f"{e:.1f} ms",
                              f"{s:.1f} ms", f"{s / e:.2f}" if e else "",
                              f"≤ {target} ms" if q == "p95" else ""))
        all_search = [sol[k]["p95"] for k in queries if k != "facets"]
        print("newly filed documents …", flush=True)
        emb_vis = embedded_visibility(embedded_path)
        index = mirrored()
        try:
            vis = visibility(index)
        finally:
            index.close()
        for name, fn in (("p50", statistics.median), ("max", max)):
            e, s = fn(emb_vis), fn(vis)
            lines.append((f"filed → found by a search, {name}", f"{e * 1000:.1f} ms",
                          f"{s * 1000:.0f} ms", f"{s / e:.0f}" if e else "",
                          f"≤ {TARGETS['visible_s']:g} s" if name == "max" else ""))
        widths = [max(len(str(line[i])) for line in lines) for i in range(5)]
        print()
        for line in lines:
            print("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                            for i, (c, w) in enumerate(zip(line, widths))))
        ok = (solr_rate >= TARGETS["reindex_rate"] and both_rate >= TARGETS["reindex_rate"]
              and max(all_search) <= TARGETS["search_p95_ms"]
              and sol["facets"]["p95"] <= TARGETS["facets_p95_ms"]
              and max(vis) <= TARGETS["visible_s"])
        print(f"\nload average after: {os.getloadavg()[0]:.2f}")
        print("all targets met" if ok else "SOME TARGETS MISSED")
        return 0 if ok else 1
    finally:
        if server is not None:
            server.stop()  # type: ignore[attr-defined]
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
