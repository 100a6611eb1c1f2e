"""Workflows benchmark: what a scheduled pass costs the daemon's loop, and a run.

    .venv/bin/python -m benchmarks workflows [--count 20000] [--runs 300]

1. On the search benchmark's cached synthetic archive (``--count`` documents,
   generated and reindexed on first use), the scheduled pass's planning
   (``workflows/scheduled.py: Schedule.due``), which the daemon's loop makes
   every ``classify.workflow_check_seconds``, read-only (no run is made):
   - a workflow on ``created`` that no document is due on: the catalog alone;
   - a workflow on a custom date field: every sidecar must be read once
     (2,000 a pass), then a pass knows them all (steady state);
   each against the reference, streaming the catalog and doing nothing else.
2. On a fresh copy of ``--runs`` documents: scheduled runs that add a tag
   (the assignment, the run's record, one sidecar write and index update
   each), against the same change made as a user's edit
   (``LocalWriter.update``), per document.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.bench_search import archive_for, run_reindex
from benchmarks.gen_archive import Spec, generate

FIELD_WORKFLOWS = "Due:\n  triggers: [{scheduled: {field: due, offset: -7d}}]\n  actions: [{tags: [due]}]\n"
CREATED_WORKFLOWS = ("Future:\n  triggers: [{scheduled: {from: created, offset: 36500d}}]\n"
                     "  actions: [{tags: [x]}]\n")
RUN_WORKFLOWS = "Reminded:\n  triggers: [{scheduled: {from: added}}]\n  actions: [{tags: [reminded]}]\n"


def _passes(root: Path, reps: int) -> list[tuple[str, float, float]]:
    from paperfs.archive.document import read_sidecar
    from paperfs.archive.layout import DataRoot
    from paperfs.index.factory import open_catalog
    from paperfs.index.model import LOCAL_ADMIN
    from paperfs.search.tree import MatchAll
    from paperfs.workflows.definitions import parse_workflows
    from paperfs.workflows.runs import now
    from paperfs.workflows.scheduled import Schedule

    catalog = open_catalog(DataRoot(root), readonly=True, create=False)
    reads = 0

    def read(rel: str):
        nonlocal reads
        reads += 1
        return read_sidecar(root / "archive" / (rel + ".yml"))

    def timed(fn) -> float:
        times = []
        for _ in range(reps):
            started = time.perf_counter()
            fn()
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    try:
        reference = timed(lambda: sum(1 for _ in catalog.stream(MatchAll(), LOCAL_ADMIN)))
        rows = [("stream the catalog (reference)", reference, 1.0)]
        created = parse_workflows(CREATED_WORKFLOWS)
        schedule = Schedule()
        not_due = timed(lambda: list(schedule.due(created, catalog, now(), read)))
        rows.append(("pass, created: nothing due", not_due, not_due / reference))
        assert reads == 0, "the catalog's dates must spare every read"
        field = parse_workflows(FIELD_WORKFLOWS)
        schedule = Schedule()
        started, passes = time.perf_counter(), 0
        first = None
        while True:  # reads 2,000 sidecars a pass until every one is known
            before = reads
            pass_started = time.perf_counter()
            list(schedule.due(field, catalog, now(), read))
            first = first if first is not None else time.perf_counter() - pass_started
            passes += 1
            if reads == before:
                break
        rows.append((f"pass, custom field: first (2,000 reads)", first, first / reference))
        rows.append((f"  … all {reads:,} read, in {passes - 1} passes",
                     time.perf_counter() - started, (time.perf_counter() - started) / reference))
        steady = timed(lambda: list(schedule.due(field, catalog, now(), read)))
        rows.append(("pass, custom field: steady state", steady, steady / reference))
        return rows
    finally:
        catalog.close()


def _runs(count: int) -> tuple[float, float]:
    from paperfs.config import load_config
    from paperfs.runtime import Runtime
    from paperfs.workflows.engine import WorkflowEngine

    with tempfile.TemporaryDirectory(prefix="paperfs-bench-workflows-") as tmp:
        root = Path(tmp) / "data"
        generate(root, Spec(count=count * 2, seed=7))
        run_reindex(root)
        (root / "workflows.yml").write_text(RUN_WORKFLOWS)
        runtime = Runtime(load_config(root / "paperfs.yml"))
        writer = runtime.open_writer()
        catalog = runtime.open_catalog()
        engine = WorkflowEngine(runtime.config, runtime.root, writer)
        try:
            ids = [ref.id for ref in writer.archive.index.refs()]
            started = time.perf_counter()
            for doc_id in ids[count:]:  # the reference: a user's edit of the other half
                writer.update(doc_id, lambda d: d.replace(tags=(*d.tags, "edited")))
            edit = (time.perf_counter() - started) / (len(ids) - count)
            engine.schedule.reads_per_pass = len(ids)
            started = time.perf_counter()
            ran = engine.scheduled_pass(catalog)
            per_run = (time.perf_counter() - started) / ran
        finally:
            engine.close()
            catalog.close()
            runtime.close()
            shutil.rmtree(root, ignore_errors=True)
    return per_run, edit


def _index_usable(root: Path) -> bool:
    """An index of this version exists (the cache may hold one of an older schema)."""
    from paperfs.archive.layout import DataRoot
    from paperfs.errors import PaperfsError
    from paperfs.index.factory import open_catalog

    try:
        open_catalog(DataRoot(root), readonly=True, create=False).close()
    except PaperfsError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks workflows",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=20_000, help="documents of the pass")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--runs", type=int, default=300, help="scheduled runs timed")
    args = parser.parse_args(argv)

    root, _generated = archive_for(args.count, args.seed)
    if not _index_usable(root):
        run_reindex(root)
    print(f"scheduled pass over {args.count:,} documents (median of {args.reps}):")
    for what, seconds, ratio in _passes(root, args.reps):
        print(f"  {what:<42} {seconds * 1000:9.0f} ms   {ratio:5.1f}× the reference")
    per_run, edit = _runs(args.runs)
    print(f"a scheduled run adding a tag: {per_run * 1000:.1f} ms; the same change as an "
          f"edit: {edit * 1000:.1f} ms ({per_run / edit:.2f}×)")
    return 0
