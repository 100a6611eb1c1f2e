"""The worker side of consumption: one input file in, an archive PDF and its facts out.

Everything here runs in a worker process, takes a picklable task and returns
a picklable result; it never touches archive/ or the index (that is the
writer's job, in one place, so two documents never race for a path).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from paperfs.config import DateConfig, OcrConfig
from paperfs.consume.stages.content_dates import find_created_date
from paperfs.errors import ConsumeError
from paperfs.consume.stages.ocr import produce_archive

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerTask:
    job_id: str
    input: Path
    scratch: Path
    filename: str
    file_mtime: float
    ocr: OcrConfig
    dates: DateConfig


@dataclass(frozen=True)
class Processed:
    """What a worker learned about one input."""

    job_id: str
    archive_pdf: Path
    title: str
    created: dt.date
    created_from_content: bool
    content: str
    pages: int
    mime_type: str
    original_sha256: str
    archive_sha256: str
    ocr_performed: bool
    pdfa: bool


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


_SEPARATORS = re.compile(r"[_\s]+")


def title_from_filename(filename: str) -> str:
    """'2024-03_Invoice_ACME.pdf' -> '2024-03 Invoice ACME'."""
    stem = Path(filename).stem if "." in filename.strip(".") else filename
    title = _SEPARATORS.sub(" ", unicodedata.normalize("NFC", stem)).strip(" .-")
    return title or "Untitled"


def process(task: WorkerTask) -> Processed:
    # A retried job starts from a clean scratch folder: no partial output survives.
    shutil.rmtree(task.scratch, ignore_errors=True)
    task.scratch.mkdir(parents=True)
    original_sha = sha256_file(task.input)
    try:
        result = produce_archive(task.input, task.scratch, task.ocr)
    except ConsumeError as exc:
        # Messages should name the user's file, not the job's internal copy.
        message = str(exc).replace(str(task.input), task.filename)
        raise type(exc)(message.replace(task.input.name, task.filename)) from None
    created = find_created_date(result.text, date_order=task.dates.date_order,
                                languages=list(task.dates.date_languages),
                                min_year=task.dates.min_year)
    from_content = created is not None
    if created is None:
        created = dt.datetime.fromtimestamp(task.file_mtime).date()
    archive_sha = sha256_file(result.archive_pdf)
    log.info("job %s: %d page(s), %s, ocr=%s", task.job_id, result.pages, result.mime_type,
             result.ocr_performed)
    return Processed(
        job_id=task.job_id,
        archive_pdf=result.archive_pdf,
        title=title_from_filename(task.filename),
        created=created,
        created_from_content=from_content,
        content=result.text,
        pages=result.pages,
        mime_type=result.mime_type,
        original_sha256=original_sha,
        archive_sha256=archive_sha,
        ocr_performed=result.ocr_performed,
        pdfa=result.pdfa,
    )
