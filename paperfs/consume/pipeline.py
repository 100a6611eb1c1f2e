"""Consumption as a recipe of named stages: intake → prepare → commit.

intake (the daemon, main thread)
    a source hands over a file: the inbox watcher (inbox/, and WebDAV uploads
    land there), or ``paperfs consume``. ``WorkQueue.claim`` (jobs.py) moves it
    into a job folder; the daemon sends the job as a ``PrepareTask`` to a
    worker (messages.py).
prepare (a worker process: ``prepare``, the stages in ``PREPARE_STAGES``)
    turns the input into ``ProposedDocument``s: none, one or several. Each
    stage is a function of stages/ that takes a ``WorkItem`` and returns it
    changed, several of them (a split), or none (an empty tuple).
commit (the writer, main thread: ``Archive.commit`` in archive/store.py)
    the steps in ``COMMIT_STAGES``, part by part, each decision recorded in
    job.yml before it is acted on, so that a restart finishes exactly the
    parts not yet filed.

Nothing here touches archive/ or the index: a worker writes only into its
job's scratch folder.
"""

from __future__ import annotations

import logging
import re
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, Union

from paperfs.archive.document import ArchiveInfo, sha256_file
from paperfs.consume.messages import PrepareTask, ProposedDocument, WorkItem
from paperfs.consume import collation
from paperfs.consume.stages import classify, content_dates, convert, detect, mail, ocr, office, split
from paperfs.errors import ConsumeError
from paperfs.mail_documents import links as mail_links

log = logging.getLogger(__name__)

StageResult = Union[WorkItem, Sequence[WorkItem]]


@dataclass(frozen=True)
class Stage:
    """A named step of prepare: the item changed, several items, or none."""

    name: str
    run: Callable[[WorkItem], StageResult]


PREPARE_STAGES: tuple[Stage, ...] = (
    Stage("collate", collation.run),  # two passes of a double-sided scan become one PDF
    Stage("detect", detect.run),  # the type, from the bytes (stages/detect.py)
    Stage("mail", mail.run),  # an .eml: the mail document and its attachments (stages/mail.py)
    Stage("office", office.run),  # an office document becomes a PDF (LibreOffice)
    Stage("convert", convert.run),  # an image or a text file becomes a PDF
    Stage("split", split.run),  # one input, several documents: barcodes (consume/barcodes.py)
    Stage("text", ocr.run),  # the text layer: kept, or OCRmyPDF; the PDF to file
    Stage("dates", content_dates.run),  # the created date, from the text
    Stage("classify", classify.run),  # correspondent, type, tags (none yet)
)

#: the writer's steps for each proposed document (Archive.commit, archive/store.py)
COMMIT_STAGES = (
    "place",  # an id and an archive path, recorded in job.yml
    "write",  # the original, the PDF, then the sidecar: the commit point
    "index",  # the index learns the document
)


def prepare(task: PrepareTask,
            stages: Sequence[Stage] = PREPARE_STAGES) -> tuple[ProposedDocument, ...]:
    """The worker's entry point: one claimed input in, its documents out."""
    # A retried job starts from a clean scratch folder: no partial output survives.
    shutil.rmtree(task.scratch, ignore_errors=True)
    task.scratch.mkdir(parents=True)
    items = [WorkItem(task=task, original=task.input, filename=task.filename,
                      scratch=task.scratch,
                      title=title_from_filename(task.first_pass_name or task.filename),
                      tags=task.tags, correspondent=task.correspondent,
                      document_type=task.document_type)]
    failed: list[tuple[WorkItem, str]] = []  # a mail's attachments that a stage failed
    try:
        for stage in stages:
            items = [out for item in items for out in _run(stage, item, failed)]
    except ConsumeError as exc:
        # Messages should name the user's file, not the job's internal copy.
        message = str(exc).replace(str(task.input), task.filename)
        raise type(exc)(message.replace(task.input.name, task.filename)) from None
    items, links = mail_links.settle(items, failed)
    proposals = tuple(propose(item, link) for item, link in zip(items, links))
    for p in proposals:
        log.info("job %s: %d page(s), %s, ocr=%s", task.job_id, p.archive.pages, p.mime_type,
                 p.archive.ocr)
    if not proposals:
        log.info("job %s: nothing to file in %s", task.job_id, task.filename)
    return proposals


def _outputs(result: StageResult) -> Sequence[WorkItem]:
    return (result,) if isinstance(result, WorkItem) else result


def _run(stage: Stage, item: WorkItem, failed: list[tuple[WorkItem, str]]) -> Sequence[WorkItem]:
    """The stage's outputs; a mail's attachment that fails is noted, not the whole job."""
    try:
        return _outputs(stage.run(item))
    except ConsumeError as exc:
        if not (item.mail and item.mail.get("role") == "attachment"):
            raise
        message = str(exc).replace(str(item.original), item.filename)
        message = message.replace(item.original.name, item.filename)
        failed.append((item, mail_links.short_reason(message, item.filename)))
        return ()


def propose(item: WorkItem, mail: Mapping[str, Any] | None = None) -> ProposedDocument:
    """The finished item as a document for the writer."""
    if item.archive_pdf is None or item.created is None:
        raise RuntimeError(f"{item.filename}: the recipe has no text or no dates stage")
    return ProposedDocument(
        archive_pdf=item.archive_pdf,
        original_file=item.original,
        original_filename=item.filename,
        mime_type=item.mime,
        original_sha256=sha256_file(item.original),
        archive=ArchiveInfo(sha256=sha256_file(item.archive_pdf), pages=item.pages,
                            pdfa=item.pdfa, ocr=item.ocr_performed),
        title=item.title,
        created=item.created,
        content=item.text or "",
        language=item.task.ocr.languages,
        correspondent=item.correspondent,
        document_type=item.document_type,
        tags=item.tags,
        owner=item.task.owner,
        source={**item.task.source, **item.provenance},
        asn=item.asn,
        classify_problems=item.classify_problems,
        mail=mail,
    )


_SEPARATORS = re.compile(r"[_\s]+")


def title_from_filename(filename: str) -> str:
    """'2024-03_Invoice_ACME.pdf' -> '2024-03 Invoice ACME'."""
    stem = Path(filename).stem if "." in filename.strip(".") else filename
    title = _SEPARATORS.sub(" ", unicodedata.normalize("NFC", stem)).strip(" .-")
    return title or "Untitled"
