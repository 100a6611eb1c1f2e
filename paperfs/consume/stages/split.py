"""The split stage: a scanned stack cut into documents at its barcodes.

With ``barcodes.enabled`` (paperfs.yml, or a folder rule file) the pages are
read for barcodes (consume/barcodes.py: separator sheets, ASN labels, tag
barcodes) and the PDF is cut where they say. Each part is a new PDF of the
input's pages (pikepdf copies the page objects: nothing is re-encoded), made
with ``WorkItem.part`` and detected afresh; it carries its ASN, its tags and
its provenance (the input's name and SHA-256, and which of its pages it
holds), which the writer files into the sidecar (``asn``, ``source``). A
scan without barcodes, or whose barcodes cut nothing, goes on whole (with
the ASN and tags they gave). The writer files every part, refuses an ASN
already in use, and a restart finishes exactly the parts not yet filed
(Archive.commit).
"""

from __future__ import annotations

import logging
from pathlib import Path

from paperfs.archive.document import sha256_file
from paperfs.consume import barcodes
from paperfs.consume.messages import WorkItem
from paperfs.consume.stages import detect
from paperfs.errors import ConsumeError

log = logging.getLogger(__name__)


def run(item: WorkItem) -> WorkItem | tuple[WorkItem, ...]:
    settings = item.task.barcodes
    pdf = item.pdf or (item.original if item.mime == detect.PDF else None)
    if not settings.enabled or pdf is None:
        return item
    import pypdfium2 as pdfium

    try:
        found = {number: mark for number, texts in barcodes.read_page_texts(pdf, settings)
                 if (mark := barcodes.marks(texts, settings)).any}
        page_count = _page_count(pdf) if found else 0
    except pdfium.PdfiumError as exc:
        # A damaged PDF: the text stage repairs it or fails it with its reason.
        log.warning("%s: barcodes not read (%s)", item.filename, exc)
        return item
    if not found:
        return item
    cuts = barcodes.plan(found, page_count, settings)
    if not cuts:
        raise ConsumeError(
            f"{item.filename}: every page is a separator sheet ({settings.separator}); there "
            "is nothing to file. If this was a document, set barcodes.keep_separator_pages "
            "(paperfs.yml or the folder's .paperfs-folder.yml) and put it back into the inbox.")
    if len(cuts) == 1 and cuts[0].pages == tuple(range(1, page_count + 1)):
        return item.but(asn=cuts[0].asn, tags=_merged(item.tags, cuts[0].tags))
    log.info("%s: barcodes cut %d page(s) into %d document(s)", item.filename, page_count,
             len(cuts))
    return _cut(item, pdf, cuts)


def _cut(item: WorkItem, pdf: Path, cuts: list[barcodes.Cut]) -> tuple[WorkItem, ...]:
    import pikepdf

    whole = {"name": item.filename, "sha256": sha256_file(item.original)}
    stem = Path(item.filename).stem or "scan"
    parts = []
    with pikepdf.open(pdf) as source:
        for number, cut in enumerate(cuts, 1):
            name = f"{stem} ({number}).pdf"
            part = item.part(number, item.task.scratch / f"part-{number}" / "part.pdf", name,
                             f"{item.title} ({number})")
            out = pikepdf.new()
            for page in cut.pages:
                out.pages.append(source.pages[page - 1])
            out.save(part.original, deterministic_id=True)
            provenance = {**item.provenance, "input": whole, "pages": list(cut.pages)}
            parts.append(detect.run(part.but(asn=cut.asn, tags=_merged(item.tags, cut.tags),
                                              provenance=provenance)))
    return tuple(parts)


def _page_count(pdf: Path) -> int:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        return len(doc)
    finally:
        doc.close()


def _merged(tags: tuple[str, ...], more: tuple[str, ...]) -> tuple[str, ...]:
    return tags + tuple(t for t in more if t not in tags)
