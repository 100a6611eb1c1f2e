"""A PDF uploaded over a document's PDF (/by-id/ID.pdf, its path in /archive):
a new version of that document.

The body is written into a page-edit request folder under a temporary name
(paperfs/archive/versions.py), so a cut upload never replaces anything: with
errors the folder is removed. A complete body must open as a PDF that ends
with its %%EOF; then the editor checks permission and locks on the document as
it is now and submits the request. The text is made by the text stage in the
writer's worker (paperfs/daemon/page_edits.py), never in the request thread;
the new version is current about a second later.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from wsgidav.dav_error import HTTP_BAD_REQUEST, DAVError

from paperfs.archive.versions import new_request_folder
from paperfs.consume.stages import detect

if TYPE_CHECKING:
    from paperfs.dav.base import DocFile

UPLOAD_NAME = "upload.pdf"


class VersionUpload:
    """begin_write/end_write of a document's PDF."""

    def __init__(self, doc: "DocFile") -> None:
        self.doc = doc
        self.folder: Path | None = None
        self.file: BinaryIO | None = None

    def begin(self) -> Any:
        """Checks now; the request folder is made at the first byte (the provider
        calls begin_write early, to refuse before the body is read)."""
        if not self.doc.may_change():
            from paperfs.dav.context import forbidden

            raise forbidden("you may view this document but not change it")
        self.doc.ctx.check_unlocked(self.doc.entry.id)
        return self

    def _open(self) -> BinaryIO:
        if self.file is None:
            self.folder = new_request_folder(self.doc.ctx.services.root)
            self.file = open(self.folder / UPLOAD_NAME, "wb")
        return self.file

    def write(self, data: bytes) -> int:
        return self._open().write(data)

    def writelines(self, chunks: Any) -> None:
        target = self._open()
        for chunk in chunks:
            target.write(chunk)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()

    def end(self, *, with_errors: bool) -> None:
        self._open()  # an empty body is refused below like any other
        self.close()
        assert self.folder is not None
        pdf = self.folder / UPLOAD_NAME
        try:
            if with_errors:
                return  # a cut upload: nothing is replaced
            why = _not_a_whole_pdf(pdf)
            if why:
                raise DAVError(HTTP_BAD_REQUEST, f"{self.doc.name}: {why}; nothing was "
                               "changed. Upload the whole PDF again")
            ctx = self.doc.ctx
            ctx.services.editor.put_version(ctx, self.doc.entry.id, pdf)
            self.folder = None  # submitted: it is the writer's now
        finally:
            if self.folder is not None:
                shutil.rmtree(self.folder, ignore_errors=True)


def _not_a_whole_pdf(pdf: Path) -> str | None:
    # the consume pipeline's own checks: the type by the bytes, and a cut-off end
    _data, head, tail = detect.read_input(pdf)
    if detect.magic_type(head) != detect.PDF:
        return "not a PDF (a new version must be a PDF)"
    truncated = detect.pdf_truncation(tail)
    if truncated is not None:
        return f"the PDF is cut off: {truncated} (a broken upload?)"
    import pikepdf

    try:
        with pikepdf.open(pdf) as opened:
            if not len(opened.pages):
                return "the PDF has no pages"
    except pikepdf.PdfError as exc:
        return f"the PDF cannot be read ({str(exc).splitlines()[0][:120]})"
    return None
