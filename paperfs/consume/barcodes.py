"""Barcodes on the pages of a scan: read them (zxing-cpp), and say where it is cut.

Runs in a worker (the split stage, stages/split.py). Reading renders each page
with pdfium at ``barcodes.dpi`` in greyscale and hands it to zxing-cpp, which
looks in every direction (``try_rotate``: sideways and upside-down labels) and
at smaller sizes too (``try_downscale``). Only the first ``barcodes.max_pages``
pages are rendered (0: all); with barcodes off nothing is.

What a page's barcodes mean (``marks``): a separator sheet (the text is
exactly ``barcodes.separator``, PATCHT by default, as paperless), an archive
serial number (``barcodes.asn_prefix`` then digits), tags (``barcodes.tags``
patterns). ``plan`` turns the marks of every page into the documents to cut.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from paperfs.config import BarcodeConfig, TagBarcode

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Marks:
    """What the barcodes of one page say."""

    separator: bool = False
    asn: int | None = None
    tags: tuple[str, ...] = ()

    @property
    def any(self) -> bool:
        return self.separator or self.asn is not None or bool(self.tags)


@dataclass(frozen=True)
class Cut:
    """One document to cut out of a scan: its pages (1-based) and what they said."""

    pages: tuple[int, ...]
    asn: int | None = None
    tags: tuple[str, ...] = ()


def read_page_texts(pdf: Path, settings: BarcodeConfig) -> Iterator[tuple[int, list[str]]]:
    """(page number, the texts of the barcodes found on it) for each page read."""
    import pypdfium2 as pdfium
    import zxingcpp

    doc = pdfium.PdfDocument(pdf)
    try:
        count = len(doc)
        limit = count if settings.max_pages == 0 else min(count, settings.max_pages)
        for index in range(limit):
            page = doc[index]
            try:
                bitmap = page.render(scale=settings.dpi / 72, grayscale=True)
                image = bitmap.to_pil()
            finally:
                page.close()
            found = zxingcpp.read_barcodes(image, try_rotate=True, try_downscale=True)
            yield index + 1, [code.text for code in found if code.valid]
    finally:
        doc.close()


def asn_of(text: str, prefix: str) -> int | None:
    """'ASN00123' (prefix 'ASN') -> 123; 'ASN 000123' too; None if it is no ASN."""
    if not text.upper().startswith(prefix.upper()):
        return None
    digits = text[len(prefix):].strip(" -_:")
    return int(digits) if digits.isdigit() else None


def tags_of(text: str, patterns: Sequence[TagBarcode]) -> tuple[str, ...]:
    """The tags the barcode text names: each pattern that matches it whole."""
    tags = []
    for rule in patterns:
        match = re.fullmatch(rule.pattern, text, flags=re.IGNORECASE)
        if match:
            tag = match.expand(rule.tag).strip()
            if tag and tag not in tags:
                tags.append(tag)
    return tuple(tags)


def marks(texts: Sequence[str], settings: BarcodeConfig) -> Marks:
    separator, asn, tags = False, None, []
    for text in texts:
        text = text.strip()
        if text == settings.separator:
            separator = True
            continue
        number = asn_of(text, settings.asn_prefix)
        if number is not None:
            asn = number if asn is None else asn  # the first ASN on a page counts
            continue
        tags.extend(t for t in tags_of(text, settings.tags) if t not in tags)
    return Marks(separator=separator, asn=asn, tags=tuple(tags))


def plan(page_marks: dict[int, Marks], page_count: int, settings: BarcodeConfig) -> list[Cut]:
    """The documents a scan of *page_count* pages is cut into.

    A separator page ends the document before it and is dropped (or, with
    keep_separator_pages, begins the next). An ASN page begins a new document
    (split_on_asn) that carries the ASN; a tag page adds its tags, and with
    split_on_tag begins one too. A barcode on page 1 begins nothing new. A
    document with no pages (two separators in a row) is no document."""
    cuts: list[Cut] = []
    pages: list[int] = []
    asn: int | None = None
    tags: list[str] = []

    def close() -> None:
        nonlocal pages, asn, tags
        if pages:
            cuts.append(Cut(tuple(pages), asn, tuple(tags)))
        pages, asn, tags = [], None, []

    for number in range(1, page_count + 1):
        mark = page_marks.get(number, Marks())
        if mark.separator:
            close()
            if not settings.keep_separator_pages:
                continue
        starts = ((mark.asn is not None and settings.split_on_asn)
                  or (bool(mark.tags) and settings.split_on_tag))
        if starts and pages and not _only_separator(pages, page_marks):
            close()
        if mark.asn is not None:
            if asn is not None and asn != mark.asn:
                log.warning("page %d: ASN %d in a document that has ASN %d already; "
                            "the first counts", number, mark.asn, asn)
            asn = mark.asn if asn is None else asn
        tags.extend(t for t in mark.tags if t not in tags)
        pages.append(number)
    close()
    return cuts


def _only_separator(pages: list[int], page_marks: dict[int, Marks]) -> bool:
    """A kept separator page begins its document: an ASN right after it does not
    begin another."""
    return all(page_marks.get(p, Marks()).separator for p in pages)
