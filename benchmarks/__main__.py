"""Run the benchmarks: ``python -m benchmarks [NAME [ARGS...]]``.

Without a name every registered benchmark runs with its defaults; with a name
only that one, and the remaining arguments go to it (``python -m benchmarks
search --help``). To add one, add a line to BENCHMARKS: name -> module with
``main(argv: list[str]) -> int``.
"""

from __future__ import annotations

import importlib
import sys

BENCHMARKS: dict[str, str] = {
    "consume": "benchmarks.bench_consume",
    "search": "benchmarks.bench_search",
    "dav": "benchmarks.bench_dav",
    "solr": "benchmarks.bench_solr",
    "matching": "benchmarks.bench_matching",
    "classifier": "benchmarks.bench_classifier",
    "workflows": "benchmarks.bench_workflows",
    "fields": "benchmarks.bench_fields",
    "takeover": "benchmarks.bench_takeover",
    "replica": "benchmarks.bench_replica",
    "pages": "benchmarks.bench_pages",
    "barcodes": "benchmarks.bench_barcodes",
    "queue": "benchmarks.bench_queue",
    "share": "benchmarks.bench_share",
    "import": "benchmarks.bench_import",
    "mail": "benchmarks.bench_mail",
    "mail_documents": "benchmarks.bench_mail_documents",
    "web": "benchmarks.bench_web",
}


def run(name: str, argv: list[str]) -> int:
    module = importlib.import_module(BENCHMARKS[name])
    return int(module.main(argv) or 0)


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        print("benchmarks:", ", ".join(BENCHMARKS))
        return 0
    if not argv:
        status = 0
        for name in BENCHMARKS:
            print(f"== {name} ==", flush=True)
            status |= run(name, [])
        return status
    name, rest = argv[0], argv[1:]
    if name not in BENCHMARKS:
        print(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    return run(name, rest)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
