"""Page operations on a PDF (pikepdf) and the text of an edited PDF.

The operations (``rotate``, ``delete``, ``move``, ``extract``, ``concatenate``)
write a new PDF and return the 0-based pages of it whose text must be made
again (a rotated page: its OCR layer was made for the old orientation).
Deleting and moving pages keep every page's text layer as it is.

``make_text`` runs in a worker process (it names the OCR stage, which the
writer and the daemon never import): unchanged pages' text is extracted from
their text layer as filing did, only the pages that changed are OCRed, with
the real text stage (OCRmyPDF redo mode: an old OCR layer is replaced, visible
text is kept), on a PDF of just those pages, which are then put back in place.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from paperfs.config import OcrConfig
from paperfs.errors import UsageError

_RANGE = re.compile(r"^\s*(-?\d+)\s*(?:-\s*(-?\d+))?\s*$")


class PageSpecError(UsageError):
    """A page spec that does not fit the document."""


def parse_pages(spec: str, count: int, what: str = "the document") -> list[int]:
    """``1,3-5,-1`` → 0-based page indexes in the order given, without repeats.

    Page numbers count from 1; a negative number counts from the end (-1 is the
    last page). A number outside 1..count names the page count."""
    out: list[int] = []
    for item in spec.split(","):
        match = _RANGE.match(item)
        if match is None:
            raise PageSpecError(f"{item.strip()!r} is not a page or a range of pages "
                                "(examples: 3, 2-5, -1 for the last page, 1,3-5,-1)")
        first = _index(int(match.group(1)), count, what)
        last = first if match.group(2) is None else _index(int(match.group(2)), count, what)
        if last < first:
            raise PageSpecError(f"{item.strip()!r}: the range runs backwards; "
                                f"write it as {last + 1}-{first + 1}")
        for page in range(first, last + 1):
            if page not in out:
                out.append(page)
    return out


def _index(number: int, count: int, what: str) -> int:
    index = number - 1 if number > 0 else count + number
    if number == 0 or not 0 <= index < count:
        raise PageSpecError(f"page {number} does not exist: {what} has {count} page"
                            f"{'s' if count != 1 else ''} (1 to {count}, or -1 for the last)")
    return index


# ------------------------------------------------------------------ operations


def rotate(src: Path, dest: Path, pages: Sequence[int], degrees: int) -> list[int]:
    """Turn *pages* clockwise by *degrees* (a multiple of 90); they need new text."""
    import pikepdf

    if degrees % 90:
        raise PageSpecError(f"pages turn by multiples of 90 degrees, not {degrees}")
    with pikepdf.open(src) as doc:
        for page in pages:
            doc.pages[page].rotate(degrees % 360, relative=True)
        doc.save(dest)
    return sorted(pages) if degrees % 360 else []


def delete(src: Path, dest: Path, pages: Sequence[int]) -> list[int]:
    """Remove *pages*; at least one page must stay."""
    import pikepdf

    with pikepdf.open(src) as doc:
        if len(set(pages)) >= len(doc.pages):
            raise PageSpecError(f"that would delete every page ({len(doc.pages)}); move the "
                                "document to the trash instead")
        for page in sorted(set(pages), reverse=True):
            del doc.pages[page]
        doc.save(dest)
    return []


def move(src: Path, dest: Path, pages: Sequence[int], to: int) -> list[int]:
    """Move *pages* (in the order given) so that the first of them becomes page *to*
    (1-based, counted in the result)."""
    import pikepdf

    with pikepdf.open(src) as doc:
        count = len(doc.pages)
        if not 1 <= to <= count:
            raise PageSpecError(f"--to {to}: the document has {count} pages (1 to {count})")
        rest = [i for i in range(count) if i not in set(pages)]
        at = min(to - 1, len(rest))
        order = rest[:at] + list(pages) + rest[at:]
        _reorder(doc, order)
        doc.save(dest)
    return []


def _reorder(doc: "object", order: Sequence[int]) -> None:
    """Put the pages of *doc* into *order* (indexes of the current pages)."""
    pages = doc.pages  # type: ignore[attr-defined]
    originals = list(pages)
    for _ in range(len(pages)):
        del pages[0]
    for index in order:
        pages.append(originals[index])


def extract(src: Path, dest: Path, pages: Sequence[int]) -> None:
    """A PDF of *pages* of *src*, in that order (a part of a split)."""
    import pikepdf

    with pikepdf.open(src) as doc:
        _reorder(doc, pages)
        doc.save(dest)


def concatenate(sources: Sequence[Path], dest: Path) -> list[int]:
    """One PDF of all pages of *sources*, in order (a merge)."""
    import pikepdf

    with pikepdf.open(sources[0]) as doc:
        others = [pikepdf.open(path) for path in sources[1:]]
        try:
            for other in others:
                doc.pages.extend(other.pages)
            doc.save(dest)
        finally:
            for other in others:
                other.close()
    return []


# ------------------------------------------------------------------ text


@dataclass(frozen=True)
class TextTask:
    """What a worker makes the text of: one edited PDF."""

    pdf: Path
    #: 0-based pages to OCR again; None: the text stage decides (an uploaded version)
    redo: tuple[int, ...] | None
    ocr: OcrConfig
    scratch: Path


@dataclass(frozen=True)
class TextOutcome:
    pdf: Path  # the PDF to file (task.pdf, or the text stage's output)
    pages: tuple[str, ...]  # each page's text
    ocr_pages: int  # how many pages were OCRed
    pdfa: bool


def make_text(task: TextTask) -> TextOutcome:
    """The worker's entry point (pool: ``paperfs.archive.pages:make_text``)."""
    from paperfs.consume.stages import ocr

    task.scratch.mkdir(parents=True, exist_ok=True)
    if task.redo is None:  # an uploaded PDF: what filing would do with it
        result = ocr.produce_archive(task.pdf, task.scratch / "text", task.ocr)
        pages = tuple(result.text.split("\f"))
        return TextOutcome(result.archive_pdf, pages, len(pages) if result.ocr_performed else 0,
                           result.pdfa)
    redo = task.redo if task.ocr.mode != "never" else ()  # "never": no OCR at all
    if redo:
        _ocr_pages(task, ocr)
    return TextOutcome(task.pdf, tuple(ocr.extract_text(task.pdf)), len(redo),
                       ocr.is_pdfa(task.pdf))


def _ocr_pages(task: TextTask, ocr: object) -> None:
    """OCR only task.redo's pages (a PDF of them) and put them back into task.pdf."""
    import pikepdf

    fragment = task.scratch / "changed-pages.pdf"
    extract(task.pdf, fragment, task.redo or ())
    settings = dataclasses.replace(task.ocr, mode="redo")
    result = ocr.produce_archive(fragment, task.scratch / "ocr", settings)  # type: ignore[attr-defined]
    spliced = task.scratch / "spliced.pdf"
    with pikepdf.open(task.pdf) as doc, pikepdf.open(result.archive_pdf) as redone:
        for number, page in enumerate(task.redo or ()):
            doc.pages[page] = redone.pages[number]
        doc.save(spliced)
    shutil.move(spliced, task.pdf)
