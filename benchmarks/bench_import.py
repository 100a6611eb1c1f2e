"""Import benchmark: paperfs import-paperless of a generated export of born-digital PDFs.

    .venv/bin/python -m benchmarks import [--docs 2000] [--version 3]

Generates an export of ``--docs`` documents (tests/paperless_exports.py: one
born-digital PDF each with a text layer, no archive version, one tag), then
times the whole import (read, checksums, filing in batches, index, trash and
user files, and the classifier's retraining the export's one auto label asks for) and, as the reference measured in the same run, copying the same files
into a fresh folder twice (an original and an archive PDF per document, as
the import writes). Prints documents per second, the target (≥ 200 docs/s)
and the ratio to the reference.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

TARGET = 200.0


def _import(export: Path, work: Path) -> float:
    from paperfs.migrate.importer import run_import
    from paperfs.runtime import Runtime
    from tests.helpers import config_for, init_root

    root = init_root(work)
    runtime = Runtime(config_for(root))
    started = time.perf_counter()
    summary = run_import(runtime, export)
    seconds = time.perf_counter() - started
    runtime.close()
    assert summary.imported == len(summary.plan.documents), summary
    return seconds


def _copy(export: Path, work: Path) -> float:
    started = time.perf_counter()
    for n, pdf in enumerate(sorted(export.glob("*.pdf"))):
        for kind in ("a", "b"):
            target = work / kind / f"{n // 1000:04d}" / pdf.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(pdf, target)
    import os

    os.sync()
    return time.perf_counter() - started


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks import")
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--version", type=int, default=3, choices=(1, 2, 3))
    args = parser.parse_args(argv)
    from tests.paperless_exports import make_export

    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        base = Path(tmp)
        started = time.perf_counter()
        export = make_export(base / "export", args.version, docs=args.docs)
        print(f"generated a {args.version}.x export of {args.docs} documents in "
              f"{time.perf_counter() - started:.1f} s")
        copy_s = _copy(export, base / "copy")
        import_s = _import(export, base / "import")
    rate, copy_rate = args.docs / import_s, args.docs / copy_s
    print(f"import: {import_s:.1f} s, {rate:.0f} docs/s (target ≥ {TARGET:.0f}: "
          f"{rate / TARGET:.2f}× the target)")
    print(f"reference, copying the same files twice: {copy_s:.2f} s, {copy_rate:.0f} docs/s; "
          f"import/copy = {copy_s / import_s:.2f} of the copy's speed")
    return 0 if rate >= TARGET else 1
