"""Every file of a planned import checked before anything is written.

Each document's original and archive file must be there and match the
export's checksum: MD5 in 1.x/2.x exports, SHA-256 in 3.x (told apart by
length). Hashing also gives the SHA-256 the sidecar records and, where the
export has no page count, the pages. All problems are collected, so the
error names every broken record at once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from paperfs.migrate.manifest import ExportError
from paperfs.migrate.mapping import Plan, PlannedDoc

SHOWN_PROBLEMS = 20


@dataclass(frozen=True)
class Checked:
    """A document's files, verified: what the sidecar records."""

    original_sha256: str
    #: the PDF filed in archive/ (the archive file, or the original when it is a PDF)
    pdf: Path
    pdf_sha256: str
    pages: int
    #: SHA-256 and pages of each 3.x version's PDF, in order
    versions: tuple[tuple[str, int], ...] = ()


def digests(path: Path) -> tuple[str, str]:
    """(MD5, SHA-256) of a file in one read."""
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            md5.update(chunk)
            sha.update(chunk)
    return md5.hexdigest(), sha.hexdigest()


def _verified(path: Path, expected: str | None, what: str, where: str) -> str:
    if not path.is_file():
        raise ExportError(f"{where}: its {what} {path.name} is missing from the export")
    md5, sha = digests(path)
    if expected and expected.lower() not in (md5, sha):
        algorithm = "MD5" if len(expected) == 32 else "SHA-256"
        raise ExportError(f"{where}: its {what} {path.name} does not match the export's "
                          f"{algorithm} checksum (damaged or changed); export again")
    return sha


def page_count(pdf: Path) -> int:
    import pikepdf  # lazily: only an import or export opens PDFs here

    try:
        with pikepdf.open(pdf) as opened:
            return len(opened.pages)
    except pikepdf.PdfError as exc:
        raise ExportError(f"{pdf.name}: not a readable PDF ({exc})") from None


def is_pdf(path: Path, mime: str) -> bool:
    return mime == "application/pdf" or path.suffix.lower() == ".pdf"


def converted(doc: PlannedDoc, scratch: Path) -> Path:
    """A text file or an image without an archive version made into its PDF, as the
    pipeline's convert stage does (paperless' text is kept: no OCR)."""
    from paperfs.consume.stages import convert, detect  # lazily: PIL, img2pdf
    from paperfs.errors import ConsumeError

    target = scratch / f"{doc.pk}.pdf"
    try:
        convert.to_pdf(doc.original, target, detect.detect(doc.original))
    except (ConsumeError, OSError) as exc:
        raise ExportError(f"{doc.where}: {doc.original_name} ({doc.mime_type}) has no archive "
                          f"PDF in the export and cannot be made into one ({exc}); export "
                          "again without --no-archive") from None
    return target


def check_document(doc: PlannedDoc, pages: int | None, scratch: Path | None = None) -> Checked:
    original = _verified(doc.original, doc.checksum, "original", doc.where)
    if doc.archive is not None:
        pdf, pdf_sha = doc.archive, _verified(doc.archive, doc.archive_checksum,
                                              "archive file", doc.where)
    elif is_pdf(doc.original, doc.mime_type):
        pdf, pdf_sha = doc.original, original  # born-digital: the original is the PDF
    elif scratch is not None:
        pdf = converted(doc, scratch)
        pdf_sha = digests(pdf)[1]
        pages = None
    else:
        raise ExportError(f"{doc.where}: {doc.original_name} ({doc.mime_type}) has no archive "
                          "PDF in the export; export again without --no-archive")
    versions = []
    for version in doc.versions:
        sha = _verified(version.pdf, version.checksum, f"version {version.pk}", doc.where)
        versions.append((sha, page_count(version.pdf)))
    return Checked(original, pdf, pdf_sha, pages or page_count(pdf), tuple(versions))


def check_plan(plan: Plan, pages: dict[int, int], progress: Callable[[], None] | None = None,
               scratch: Path | None = None) -> dict[int, Checked]:
    """Each document's files verified (by paperless pk); ExportError names all that fail."""
    checked: dict[int, Checked] = {}
    problems: list[str] = []
    for doc in plan.documents:
        try:
            checked[doc.pk] = check_document(doc, pages.get(doc.pk), scratch)
        except ExportError as problem:
            problems.append(str(problem))
        if progress is not None:
            progress()
    if problems:
        more = len(problems) - SHOWN_PROBLEMS
        raise ExportError("nothing was imported; the export has problems:\n  "
                          + "\n  ".join(problems[:SHOWN_PROBLEMS])
                          + (f"\n  … and {more} more" if more > 0 else ""))
    return checked
