"""No module under paperfs/ is over 600 lines: a bigger one holds more than one
responsibility and is split by them (issue 12)."""

from __future__ import annotations

from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "paperfs"
LIMIT = 600


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")),
                         ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_module_stays_small(path: Path) -> None:
    lines = len(path.read_text("utf-8").splitlines())
    assert lines <= LIMIT, f"{path}: {lines} lines; split it by responsibility"
