"""What the stages of consumption hand each other (see pipeline.py for the stages).

Small picklable dataclasses, and nothing that imports the OCR stack: the
daemon and the writer import this module, the workers do the heavy work.

- ``PrepareTask``: what the daemon sends a worker for one claimed input;
- ``WorkItem``: one document in the making, passed from prepare stage to
  prepare stage inside the worker;
- ``ProposedDocument``: what the worker hands back, one per document the
  input yields (none, one or several); the writer files it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from paperfs.archive.document import ArchiveInfo, Document, OriginalInfo, Permissions
from paperfs.classify.classifier import ClassifySettings
from paperfs.config import BarcodeConfig, DateConfig, OcrConfig
from paperfs.consume import folder_rules
from paperfs.consume.jobs import Job

#: the worker's entry point, named rather than imported, so that the daemon (and
#: the writer in it) never loads the OCR stack; the pool imports it in the worker
PREPARE = "paperfs.consume.pipeline:prepare"


@dataclass(frozen=True)
class PrepareTask:
    """One claimed input, as a worker gets it."""

    job_id: str
    #: the job's copy of the input, and the folder the worker may write into
    input: Path
    scratch: Path
    #: the file's name as the user gave it (messages and titles name this)
    filename: str
    #: the input's mtime: the created date when the text names none
    file_mtime: float
    ocr: OcrConfig
    dates: DateConfig
    #: what intake knows: where the file came from, inbox subfolder tags, inbox owner
    source: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    owner: str | None = None
    #: the labels and the learned model in force when the job was handed out (None: no classifying)
    classify: ClassifySettings | None = None
    #: the split stage's barcode settings (paperfs.yml, changed by folder rule files)
    barcodes: BarcodeConfig = field(default_factory=BarcodeConfig)
    #: what a folder rule file says the documents are (None: classify decides)
    correspondent: str | None = None
    document_type: str | None = None
    #: a second pass of a double-sided scan: the first pass's input and its name
    first_pass: Path | None = None
    first_pass_name: str = ""
    #: Job.settings["mail"]: what of a mail to consume (mail_documents/settings.py)
    mail: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def for_job(cls, job: Job, *, ocr: OcrConfig, dates: DateConfig,
                classify: ClassifySettings | None = None,
                barcodes: BarcodeConfig = BarcodeConfig(),
                first_pass: Job | None = None) -> "PrepareTask":
        kind = "cli" if os.path.isabs(job.source) else "inbox"
        if job.source == "mail":  # handed over by the IMAP intake (paperfs/mail/handoff.py)
            kind = "mail"
        rules = folder_rules.Settings(job.settings or {})
        source: dict[str, Any] = {"kind": kind, "path": job.source}
        if rules.files:
            source["folder_rules"] = list(rules.files)
        return cls(job_id=job.job_id, input=job.input, scratch=job.scratch,
                   filename=job.filename, file_mtime=job.file_mtime, ocr=rules.ocr(ocr),
                   dates=dates, source=source, tags=job.tags, owner=job.owner,
                   classify=classify, barcodes=rules.barcodes(barcodes),
                   correspondent=rules.get("correspondent"),
                   document_type=rules.get("document_type"),
                   first_pass=first_pass.input if first_pass else None,
                   first_pass_name=first_pass.filename if first_pass else "",
                   mail=rules.get("mail") or {})


@dataclass(frozen=True)
class WorkItem:
    """One document in the making. Each prepare stage returns a changed copy
    (``but``), or several (a split), or none."""

    task: PrepareTask
    #: the file this document is made from: the input, or a part cut out of it
    original: Path
    #: the original's name for people (messages, original.filename)
    filename: str
    #: where this item's stages write: the task's scratch folder, or one per part
    scratch: Path
    title: str
    #: detect: the original's type, its first and last bytes, all of it when small
    mime: str = ""
    head: bytes = field(default=b"", repr=False)
    tail: bytes = field(default=b"", repr=False)
    data: bytes | None = field(default=None, repr=False, compare=False)
    #: convert: the PDF made from an image or a text file (None: the original is a PDF)
    pdf: Path | None = None
    #: the text: exact for a text file after convert, else from the text stage
    #: (pages separated by form feeds)
    text: str | None = None
    pages: int = 0
    #: text: the PDF to file, and how it was made
    archive_pdf: Path | None = None
    ocr_performed: bool = False
    pdfa: bool = False
    #: dates
    created: dt.date | None = None
    created_from_content: bool = False
    #: classify (intake's tags to begin with)
    correspondent: str | None = None
    document_type: str | None = None
    tags: tuple[str, ...] = ()
    #: rules that could not be applied (a regex that timed out), for status
    classify_problems: tuple[str, ...] = ()
    #: split: the archive serial number a barcode gave
    asn: int | None = None
    #: where the document came from beyond the task's source: which input, which pages
    #: (a split), which passes (a double-sided collation); into the sidecar's source
    provenance: Mapping[str, Any] = field(default_factory=dict)
    #: the mail stage: this item's place in its mail (mail_documents/links.py)
    mail: Mapping[str, Any] | None = None

    def but(self, **changes: Any) -> "WorkItem":
        return dataclasses.replace(self, **changes)

    def part(self, number: int, original: Path, filename: str, title: str) -> "WorkItem":
        """A new item for part *number* (1, 2, …) that a split stage cut out of this
        one into *original*: it is detected afresh and writes into its own folder."""
        scratch = self.task.scratch / f"part-{number}"
        scratch.mkdir(parents=True, exist_ok=True)
        return WorkItem(task=self.task, original=original, filename=filename, scratch=scratch,
                        title=title, tags=self.tags, correspondent=self.correspondent,
                        document_type=self.document_type, provenance=self.provenance)


@dataclass(frozen=True)
class ProposedDocument:
    """A document ready to be filed: everything but what only the writer knows
    (its id, when it was added, and where its files go)."""

    #: in the job's scratch folder; the writer moves it into archive/
    archive_pdf: Path
    #: the bytes to keep under originals/ (the job's input, or a part of it)
    original_file: Path
    original_filename: str
    mime_type: str
    original_sha256: str
    archive: ArchiveInfo
    title: str
    created: dt.date
    content: str
    language: str | None = None
    correspondent: str | None = None
    document_type: str | None = None
    tags: tuple[str, ...] = ()
    owner: str | None = None
    source: Mapping[str, Any] = field(default_factory=dict)
    classify_problems: tuple[str, ...] = ()
    #: set by consumption_started workflows (paperfs/workflows), applied before filing
    permissions: Permissions = field(default_factory=Permissions)
    custom_fields: Mapping[str, Any] = field(default_factory=dict)
    #: the archive serial number a barcode gave (the writer refuses one in use)
    asn: int | None = None
    #: links to the other documents of its mail, by part number (mail_documents/links.py)
    mail: Mapping[str, Any] | None = None

    @property
    def original_suffix(self) -> str:
        return Path(self.original_filename).suffix.lower()[:16] or ".bin"

    def to_document(self, doc_id: int, stamp: dt.datetime, original_path: str) -> Document:
        """The document as filed, with what the writer decided."""
        return Document(
            id=doc_id, title=self.title, created=self.created, added=stamp, modified=stamp,
            original=OriginalInfo(filename=self.original_filename, mime_type=self.mime_type,
                                  sha256=self.original_sha256, path=original_path),
            archive=self.archive, correspondent=self.correspondent,
            document_type=self.document_type, tags=self.tags, owner=self.owner, asn=self.asn,
            permissions=self.permissions, custom_fields=dict(self.custom_fields),
            source=dict(self.source), language=self.language, content=self.content)
