"""Who imports the OCR stack: only the workers.

The writer, WebDAV, `status`, `check` and `reindex` never run a prepare stage,
and the daemon names the workers' entry point instead of importing it
(messages.PREPARE), so none of them loads OCRmyPDF, pdfium, Pillow or img2pdf:
less memory at rest, faster start-up, and no way for a converter to reach the
archive except through the writer.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

OCR_STACK = ("ocrmypdf", "pypdfium2", "PIL", "img2pdf", "weasyprint")
REPO = Path(__file__).resolve().parent.parent

ENTRY_MODULES = [
    "paperfs.archive.store",  # the writer
    "paperfs.archive.writer",  # the writer interface
    "paperfs.dav.server",  # WebDAV
    "paperfs.daemon.status",  # paperfs status
    "paperfs.archive.check",  # paperfs check
    "paperfs.archive.reindex",  # paperfs reindex
    "paperfs.daemon.consumer",  # the daemon that hosts the writer
    "paperfs.runtime",  # what the daemon and the commands are built from
    "paperfs.cli",  # every command
    "paperfs.consume.messages",  # what the daemon sends its workers
    "paperfs.consume.pool",  # the workers' supervisor
    "paperfs.cluster.queue_pool",  # the daemon's pool when the workers are `paperfs worker`s
    "paperfs.cluster.scheduler_service",  # paperfs scheduler (its workers are other hosts')
    "paperfs.cluster.health",  # /metrics, /healthz, /readyz of every service
]


def _loaded(probe: str) -> list[str]:
    """What of the OCR stack a fresh interpreter has loaded after *probe*."""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=REPO)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.mark.parametrize("module", ENTRY_MODULES)
def test_entry_module_does_not_import_the_ocr_stack(module: str) -> None:
    path = REPO / module.replace(".", "/")
    if not (path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()):
        pytest.skip(f"{module} does not exist (any more)")
    probe = (f"import sys, {module}; "
             f"print(' '.join(m for m in {OCR_STACK!r} if m in sys.modules))")
    assert _loaded(probe) == [], f"importing {module} loads the OCR stack"


def test_the_probe_sees_the_ocr_stack_where_it_belongs() -> None:
    probe = ("import sys, paperfs.consume.pipeline; "
             f"print(' '.join(m for m in {OCR_STACK!r} if m in sys.modules))")
    assert {"pypdfium2", "PIL", "img2pdf"} <= set(_loaded(probe))
