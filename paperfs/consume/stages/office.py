"""The office stage: a .docx, .doc, .odt, .xlsx, .ods, .pptx, .odp or .rtf
(detected from its bytes) becomes a PDF through LibreOffice (consume/libreoffice.py).

The PDF is born-digital, so its text is taken from it with pdfium and never
OCRed: the item leaves with ``pdf`` and ``text`` set, which the text stage
files as they are (as it does a text file's). The original is kept as it is.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from paperfs.consume import libreoffice
from paperfs.consume.stages import detect as det

if TYPE_CHECKING:
    from paperfs.consume.messages import WorkItem

#: the extension LibreOffice is shown (it picks its import filter by it first)
EXTENSIONS = {det.DOCX: ".docx", det.XLSX: ".xlsx", det.PPTX: ".pptx", det.ODT: ".odt",
              det.ODS: ".ods", det.ODP: ".odp", det.MS_OLE: ".doc", det.RTF: ".rtf"}
_OLE_EXTENSIONS = (".doc", ".xls", ".ppt", ".dot", ".xlt", ".pot")


def run(item: WorkItem) -> WorkItem:
    if item.mime not in det.OFFICE_TYPES:
        return item
    from paperfs.consume.stages.ocr import extract_text

    suffix = EXTENSIONS[item.mime]
    given = "." + item.filename.rsplit(".", 1)[-1].lower() if "." in item.filename else ""
    if item.mime == det.MS_OLE and given in _OLE_EXTENSIONS:
        suffix = given  # OLE2 is Word, Excel or PowerPoint: its extension says which
    work = item.scratch / "office"
    work.mkdir(parents=True, exist_ok=True)
    source = work / ("document" + suffix)  # a plain name: the user's may confuse soffice
    shutil.copyfile(item.original, source)
    pdf = libreoffice.to_pdf(source, work / "pdf", timeout=item.task.ocr.office_timeout_seconds,
                             name=item.filename)
    texts = extract_text(pdf)
    return item.but(pdf=pdf, text="\f".join(texts).strip(), pages=len(texts), data=None)
