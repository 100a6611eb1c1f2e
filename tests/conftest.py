"""Shared fixtures: the sample corpus and small generated documents."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest


os.environ.setdefault("OMP_THREAD_LIMIT", "1")

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"SAMPLE CORPUS MISSING: expected {CORPUS} (shared/corpus beside the "
                    "checkout); these tests need real documents")
    return CORPUS


@pytest.fixture
def frozen_today() -> dt.date:
    return dt.date(2024, 6, 1)
