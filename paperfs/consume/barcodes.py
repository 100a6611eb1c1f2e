"""Barcodes on the pages of a scan: read them (zxing-cpp), and say where it is cut.

Runs in a worker (the split stage, stages/split.py). Reading renders each page
with pdfium at ``barcodes.dpi`` in greyscale and hands it to zxing-cpp, which
looks for the symbologies of ``barcodes.formats`` in every direction
(``try_rotate``: sideways and upside-down labels) and at smaller sizes too
(``try_downscale``). Only the first ``barcodes.max_pages`` pages are rendered
(0: all); with barcodes off nothing is. A scanned page is not rendered: its
image is decoded as stored (``scanned_image``). Every symbology added to the
formats costs time on every page, which is why the default is the three that
ASN labels and Patch-T sheets use.

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
from typing import Any, Iterator, Sequence

from paperfs.config import BarcodeConfig, TagBarcode

log = logging.getLogger(__name__)


#: barcodes.formats (paperfs.yml) -> zxing-cpp's BarcodeFormat
_FORMATS = {"aztec": "Aztec", "codabar": "Codabar", "code39": "Code39", "code93": "Code93",
            "code128": "Code128", "databar": "DataBar", "datamatrix": "DataMatrix",
            "ean8": "EAN8", "ean13": "EAN13", "itf": "ITF", "maxicode": "MaxiCode",
            "microqr": "MicroQRCode", "pdf417": "PDF417", "qr": "QRCode", "upca": "UPCA",
            "upce": "UPCE"}


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

    formats = [getattr(zxingcpp.BarcodeFormat, _FORMATS[name]) for name in settings.formats]
    doc = pdfium.PdfDocument(pdf)
    try:
        count = len(doc)
        limit = count if settings.max_pages == 0 else min(count, settings.max_pages)
        for index in range(limit):
            page = doc[index]
            try:
                image = scanned_image(page)
                if image is None:
                    image = page.render(scale=settings.dpi / 72, grayscale=True).to_numpy()
            finally:
                page.close()
            # try_invert off: light-on-dark codes are rare on paper and cost a third more
            found = zxingcpp.read_barcodes(image, formats=formats, try_rotate=True,
                                           try_downscale=True, try_invert=False)
            yield index + 1, [code.text for code in found if code.valid]
    finally:
        doc.close()


def scanned_image(page: Any) -> Any:
    """A scanned page's own image, decoded as stored, or None (the page is rendered).

    Decoding the scan is several times cheaper than rendering the page (15 vs
    120 ms for an A4 JPEG at 300 dpi) and loses nothing: it is what the page
    shows. Only for one image of 8 bits or more per pixel that covers most of
    the page: a page with vector graphics or small images beside its text
    (a born-digital page, a printed barcode) and 1-bit scans (whose /Decode
    may invert them) are rendered.
    """
    import pypdfium2.raw as pdfium_c

    try:
        images = list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2))
        if len(images) != 1 or images[0].get_metadata().bits_per_pixel < 8:
            return None
        left, bottom, right, top = images[0].get_bounds()
        width, height = page.get_size()
        if (right - left) * (top - bottom) < 0.5 * width * height:
            return None
        array = images[0].get_bitmap(render=False).to_numpy()
    except Exception:  # noqa: BLE001 - an image pdfium cannot hand over: render the page
        return None
    if array.ndim == 3 and array.shape[2] == 4:  # BGRA/BGRx: zxing takes grey or BGR
        array = array[..., :3].copy()
    return array


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
