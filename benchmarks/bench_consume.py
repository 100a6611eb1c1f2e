"""Consume benchmarks: OCR throughput vs plain ocrmypdf, born-digital throughput
(also with 1,000 labels and the classifier on), daemon memory at rest.
Run: .venv/bin/python -m benchmarks consume [ocr|digital|classify|memory] [--vocabulary syllables]

Targets (issue 2): OCR throughput ≥ 0.9× the reference (`ocrmypdf --jobs 1`,
as many at once as there are cores); born-digital ≥ 20 documents/s on 2 cores;
daemon RSS at rest ≤ 150 MB; with labels and classifier ≥ 0.9× without (issue 14).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks.bench_matching import VOCABULARIES, make_labels, vocabulary
from tests.samples import make_scan, make_text_pdf

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PAPERFS = [sys.executable, "-m", "paperfs"]
CORES = os.cpu_count() or 1


def _new_root(base: Path, name: str, extra: str = "") -> Path:
    root = base / name
    subprocess.run([*PAPERFS, "init", str(root)], check=True, capture_output=True)
    with open(root / "paperfs.yml", "a") as f:
        f.write(extra)
    return root


def _scans(base: Path, n: int) -> list[Path]:
    folder = base / "scans"
    folder.mkdir()
    files = []
    for i in range(n):
        png = make_scan(folder / f"scan-{i:02d}.png",
                        [f"Benchmark scan number {i}", "ACME Corporation", "Invoice 2024-03-15",
                         "The quick brown fox jumps over the lazy dog.",
                         "Total amount due: 1,234.56 EUR"], dpi=300)
        pdf = png.with_suffix(".pdf")
        subprocess.run([BIN / "img2pdf", str(png), "-o", str(pdf)], check=True)
        png.unlink()
        files.append(pdf)
    return files


def _consume(root: Path, files: list[Path]) -> float:
    start = time.perf_counter()
    subprocess.run([*PAPERFS, "--root", str(root), "consume", *map(str, files)],
                   check=True, capture_output=True, env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    return time.perf_counter() - start


def _reference_ocr(files: list[Path], out: Path) -> float:
    out.mkdir()
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}

    def one(src: Path) -> None:
        subprocess.run([BIN / "ocrmypdf", "--jobs", "1", "-q", str(src), str(out / src.name)],
                       check=True, env=env)

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(CORES) as pool:
        list(pool.map(one, files))
    return time.perf_counter() - start


def bench_ocr(base: Path, n: int = 20) -> dict:
    files = _scans(base, n)
    reference = _reference_ocr(files, base / "ref-out")
    ours = _consume(_new_root(base, "ocr-root"), files)
    return {"files": n, "reference_s": reference, "paperfs_s": ours,
            "reference_per_min": 60 * n / reference, "paperfs_per_min": 60 * n / ours,
            "ratio": reference / ours}


def _digital_files(folder: Path, n: int, words: list[str] | None = None) -> list[Path]:
    folder.mkdir()
    rng = random.Random(2)
    files = []
    for i in range(n):
        extra = [" ".join(rng.choice(words) for _ in range(10))] * 3 if words else []
        files.append(make_text_pdf(folder / f"doc-{i:03d}.pdf",
                                   [f"Born-digital benchmark document {i}", "Invoice date 15.03.2024",
                                    "Lorem ipsum dolor sit amet, consectetur adipiscing elit.",
                                    *extra] * 5, pages=1 + i % 3))
    return files


def _steady_docs_per_s(root: Path, files: list[Path], *, warm: int = 4, queue: str = "") -> float:
    """Documents per second in-process, from the first claim to the last filing, warm workers
    (``warm`` files consumed first); ``queue``: through `paperfs worker`s (bench_queue.py)."""
    code = (
        "import sys, time, os\n"
        "from pathlib import Path\n"
        "from paperfs.config import load_config\n"
        "from paperfs.daemon.consumer import Consumer\n"
        f"c = Consumer(load_config(Path({str(root)!r}) / 'paperfs.yml'))\n"
        "c.open()\n"
        "files = [Path(p) for p in sys.argv[1:]]\n"
        f"c.claim_files(files[:{warm}]); c.consume_now()  # warm the workers\n"
        f"t = time.perf_counter(); c.claim_files(files[{warm}:]); c.consume_now()\n"
        "print(time.perf_counter() - t); c.close()\n"
    )
    env = {**os.environ, "OMP_THREAD_LIMIT": "1", **({"PAPERFS_QUEUE": queue} if queue else {})}
    out = subprocess.run([sys.executable, "-c", code, *map(str, files)], check=True,
                         capture_output=True, text=True, env=env)
    return (len(files) - warm) / float(out.stdout.strip().splitlines()[-1])


def _serial_cpu_ms(root: Path, files: list[Path], *, warm: int = 4) -> list[float]:
    """CPU time (ms) of each document consumed one at a time by a serial consumer (every
    stage in the one process). Other work on a shared machine only ever adds to a figure,
    so the median of many is far steadier than a throughput."""
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from paperfs.config import load_config\n"
        "from paperfs.daemon.consumer import Consumer\n"
        f"c = Consumer(load_config(Path({str(root)!r}) / 'paperfs.yml'), serial=True)\n"
        "c.open()\n"
        "files = [Path(p) for p in sys.argv[1:]]\n"
        f"c.claim_files(files[:{warm}]); c.consume_now()  # labels parsed, rules compiled\n"
        f"for f in files[{warm}:]:\n"
        "    t = time.process_time(); c.claim_files([f]); c.consume_now()\n"
        "    print((time.process_time() - t) * 1e3)\n"
        "c.close()\n"
    )
    out = subprocess.run([sys.executable, "-c", code, *map(str, files)], check=True,
                         capture_output=True, text=True, env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    return [float(line) for line in out.stdout.split()]


def bench_digital(base: Path, n: int = 200) -> dict:
    files = _digital_files(base / "digital", n)
    root = _new_root(base, "digital-root")
    # Whole command (start-up, spawning workers) and steady state (in-process, timed from
    # the first claim to the last filing) are both reported.
    whole = _consume(root, files[: n // 2])
    return {"files": n, "whole_command_docs_per_s": (n // 2) / whole,
            "steady_docs_per_s": _steady_docs_per_s(root, files[n // 2:])}


def _labels_yml(labels: list[tuple[str, str]]) -> str:
    """1,000 generated rules as labels.yml: 70 % tags, 20 % correspondents, 10 % types."""
    kinds: dict[str, dict] = {"tags": {}, "correspondents": {}, "document_types": {}}
    for i, (algorithm, match) in enumerate(labels):
        kind = "tags" if i % 10 < 7 else "correspondents" if i % 10 < 9 else "document_types"
        kinds[kind][f"label {i}"] = {"algorithm": algorithm, **({"match": match} if match else {})}
    return yaml.safe_dump(kinds, allow_unicode=True, sort_keys=False)


def _train_model(root: Path, words: list[str], labels_text: str) -> int:
    """A model of the labels' auto labels, trained on generated letters (as `paperfs train` would)."""
    from paperfs.classify.labels import parse_labels
    from paperfs.classify.learned import Example, save_model, train

    labels = parse_labels(labels_text)
    learned = {kind: labels.learned(kind) for kind in ("tags", "correspondents", "document_types")}
    rng = random.Random(3)
    names = {kind: sorted(names) for kind, names in learned.items()}
    examples = []
    for i in range(2000):
        correspondent = rng.choice(names["correspondents"] + [None]) if names["correspondents"] else None
        vocab = words[hash(correspondent) % 1500:][:200] if correspondent else words
        examples.append(Example(" ".join(rng.choice(vocab) for _ in range(150)), correspondent,
                                rng.choice(names["document_types"] + [None]) if names["document_types"] else None,
                                tuple(rng.sample(names["tags"], min(2, len(names["tags"]))))))
    save_model(train(examples, learned), root / ".paperfs" / "classifier.pickle")
    return sum(len(v) for v in names.values())


def bench_classify(base: Path, n: int = 200, rounds: int = 2, kind: str = "letters") -> dict:
    """Born-digital steady state with 1,000 labels and a trained classifier vs without,
    alternating (A B A B) so both see the same machine; *kind*: the words (bench_matching)."""
    rng = random.Random(14)
    words = vocabulary(rng, kind=kind)
    labels_text = _labels_yml(make_labels(rng, 1000, words[:2000], words[2000:]))
    files = _digital_files(base / "classify-docs", n, words[:2000])
    roots = {}
    for name in ("plain", "classified", "plain-serial", "classified-serial"):
        roots[name] = _new_root(base, f"{name}-root")
        if name.startswith("classified"):
            (roots[name] / "labels.yml").write_text(labels_text)
            learned = _train_model(roots[name], words, labels_text)
    results: dict[str, list[float]] = {name: [] for name in roots}
    for i in range(rounds):
        chunk = files[i * n // rounds:(i + 1) * n // rounds]
        for name, root in roots.items():
            if name.endswith("serial"):
                results[name].extend(_serial_cpu_ms(root, chunk))
            else:
                results[name].append(_steady_docs_per_s(root, chunk))
    plain_cpu = statistics.median(results["plain-serial"])
    classified_cpu = statistics.median(results["classified-serial"])
    return {"files": n, "learned_labels": learned, "plain": results["plain"],
            "classified": results["classified"],
            "ratio": statistics.mean(results["classified"]) / statistics.mean(results["plain"]),
            "plain_cpu_ms": plain_cpu, "classified_cpu_ms": classified_cpu,
            "cpu_ratio": plain_cpu / classified_cpu}


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def bench_memory(base: Path) -> dict:
    root = _new_root(base, "mem-root", "consume:\n  worker_idle_seconds: 3\n")
    proc = subprocess.Popen([*PAPERFS, "--root", str(root), "run"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(5)
        idle_fresh = _rss_mb(proc.pid)
        folder = base / "mem-docs"
        folder.mkdir()
        for i in range(10):
            make_text_pdf(folder / f"m{i}.pdf", [f"memory {i}"])
            os.rename(folder / f"m{i}.pdf", root / "inbox" / f"m{i}.pdf")
        deadline = time.time() + 60
        while len(list((root / "archive").rglob("*.yml"))) < 10 and time.time() < deadline:
            time.sleep(0.5)
        busy_total = _rss_mb(proc.pid) + sum(_rss_mb(c) for c in _children(proc.pid))
        time.sleep(8)  # workers retire after worker_idle_seconds
        at_rest = _rss_mb(proc.pid)
        at_rest_total = at_rest + sum(_rss_mb(c) for c in _children(proc.pid))
    finally:
        proc.terminate()
        proc.wait(30)
    return {"fresh_mb": idle_fresh, "after_batch_with_workers_mb": busy_total,
            "at_rest_mb": at_rest, "at_rest_incl_children_mb": at_rest_total}


PARTS = ("ocr", "digital", "classify", "memory")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks consume",
                                     description=__doc__.split("\n")[0])
    # No choices=: argparse (3.11) checks an empty nargs="*" list against them and fails.
    parser.add_argument("parts", nargs="*", metavar="PART",
                        help=f"what to measure: {', '.join(PARTS)} (default: all)")
    parser.add_argument("--vocabulary", choices=VOCABULARIES, default="letters",
                        help="classify: the words of labels and documents (bench_matching)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    args.parts = set(args.parts) or set(PARTS)
    return args


def parse_parts(argv: list[str]) -> set[str]:
    return parse_args(argv).parts


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv or [])
    parts = args.parts
    with tempfile.TemporaryDirectory(prefix="paperfs-bench-") as tmp:
        base = Path(tmp)
        print(f"consume benchmarks on {CORES} core(s)")
        if "ocr" in parts:
            ocr = bench_ocr(base)
            print(f"OCR, {ocr['files']} single-page 300-dpi scans:")
            print(f"  reference ocrmypdf --jobs 1 x{CORES} at once: {ocr['reference_s']:7.1f} s "
                  f"({ocr['reference_per_min']:.1f} pages/min)")
            print(f"  paperfs consume:                      {ocr['paperfs_s']:7.1f} s "
                  f"({ocr['paperfs_per_min']:.1f} pages/min)")
            print(f"  ratio paperfs/reference throughput:   {ocr['ratio']:.2f}  (target >= 0.90)")
        if "digital" in parts:
            dig = bench_digital(base)
            print(f"born-digital, {dig['files']} PDFs of 1-3 pages:")
            print(f"  steady state:                  {dig['steady_docs_per_s']:6.1f} docs/s  "
                  "(target >= 20)")
            print(f"  whole command incl. start-up:  {dig['whole_command_docs_per_s']:6.1f} docs/s")
        if "classify" in parts:
            cls = bench_classify(base, kind=args.vocabulary)
            runs = lambda values: ", ".join(f"{v:.1f}" for v in values)  # noqa: E731
            print(f"born-digital with 1,000 labels and a classifier ({cls['learned_labels']} auto "
                  f"labels), {cls['files']} PDFs, words of {args.vocabulary}, alternating runs:")
            print(f"  without labels:  {runs(cls['plain'])} docs/s")
            print(f"  with them:       {runs(cls['classified'])} docs/s")
            print(f"  ratio with/without: {cls['ratio']:.2f}  (target >= 0.90)")
            print("  serial consumer, CPU time per document, median (steadier on a shared machine):")
            print(f"    without labels: {cls['plain_cpu_ms']:.2f} ms; with them: "
                  f"{cls['classified_cpu_ms']:.2f} ms; ratio without/with {cls['cpu_ratio']:.2f}")
        if "memory" in parts:
            mem = bench_memory(base)
            print("daemon memory (RSS):")
            print(f"  at rest, fresh:                    {mem['fresh_mb']:6.1f} MB")
            print(f"  busy, daemon + workers:            {mem['after_batch_with_workers_mb']:6.1f} MB")
            print(f"  at rest after a batch:             {mem['at_rest_mb']:6.1f} MB  (target <= 150)")
            print(f"  at rest after a batch, + children: {mem['at_rest_incl_children_mb']:6.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
