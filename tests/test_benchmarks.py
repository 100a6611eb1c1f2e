"""Every benchmark docs/performance.md tells users to run is registered and answers --help."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.__main__ import BENCHMARKS

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTED = sorted(set(re.findall(r"python -m benchmarks ([a-z_]+)",
                                   (ROOT / "docs" / "performance.md").read_text())))


def test_the_performance_page_names_benchmarks() -> None:
    assert DOCUMENTED, "docs/performance.md names no `python -m benchmarks NAME`"


@pytest.mark.parametrize("name", DOCUMENTED)
def test_documented_benchmark_is_registered_and_has_help(name: str) -> None:
    assert name in BENCHMARKS, f"docs/performance.md names {name!r}, not in benchmarks/__main__.py"
    run = subprocess.run([sys.executable, "-m", "benchmarks", name, "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert f"python -m benchmarks {name}" in run.stdout


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_every_registered_benchmark_is_documented(name: str) -> None:
    assert name in DOCUMENTED, f"benchmark {name!r} has no section in docs/performance.md"


def test_consume_benchmark_parts() -> None:
    from benchmarks.bench_consume import PARTS, parse_parts

    assert parse_parts([]) == set(PARTS)  # no argument: every part
    assert parse_parts(["digital", "memory"]) == {"digital", "memory"}
    with pytest.raises(SystemExit):
        parse_parts(["bogus"])
