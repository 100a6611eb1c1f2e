"""Shared fixtures: the sample corpus and small generated documents."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest


os.environ.setdefault("OMP_THREAD_LIMIT", "1")

# Real sample documents, part of the repository (tests/corpus/README.md).
CORPUS = Path(__file__).resolve().parent / "corpus"


@pytest.fixture(scope="session")
def corpus() -> Path:
    # Part of the checkout: a missing folder is a broken checkout, not a reason to skip.
    assert CORPUS.is_dir(), f"sample corpus missing: {CORPUS} (restore it from git)"
    return CORPUS


@pytest.fixture
def frozen_today() -> dt.date:
    return dt.date(2024, 6, 1)
