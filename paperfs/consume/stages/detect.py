"""Detect what kind of file arrived, from its bytes (never from its name).

Scanners, phones and mail clients name files carelessly (``scan.PDF``,
``IMG_0001.JPG`` that is really HEIC, ``document`` with no extension), so the
type comes from magic bytes. The answer is a MIME type string; everything the
text stage cannot handle raises :class:`~paperfs.errors.UnsupportedFileError`
(naming the file and listing what is supported) and an empty file raises
:class:`~paperfs.errors.EmptyFileError`.

Plain text has no magic number. A file counts as ``text/plain`` when it
decodes as text, tried in this order:

1. a byte-order mark: UTF-8 (BOM), UTF-32 LE/BE, UTF-16 LE/BE;
2. strict UTF-8 (what nearly every modern tool writes);
3. Windows-1252 (a superset of the printable part of ISO-8859-1), which is
   what old Windows/European tools write. We accept it only when the text
   contains no NUL and almost no control characters, so binary files are not
   mistaken for text. ``Pantothens\\xe4ure`` (ISO-8859-1) thus becomes
   "Pantothensäure" instead of failing or turning into replacement characters.

E-mail (RFC 822 headers followed by a blank line) is reported as
``message/rfc822`` (the mail stage makes its documents, stages/mail.py);
office documents (OOXML and OpenDocument packages, OLE2 .doc, RTF) by their
own types (the office stage converts them); HTML and SVG are markup, not
text, and are refused.

Whether a PDF is complete is also judged from its bytes
(:func:`pdf_truncation`): the inbox asks before taking a file, the text
stage before filing it.
"""

from __future__ import annotations

import codecs
import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from paperfs.errors import EmptyFileError, NotFoundError, UnsupportedFileError

if TYPE_CHECKING:
    from paperfs.consume.messages import WorkItem

log = logging.getLogger(__name__)

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
TIFF = "image/tiff"
WEBP = "image/webp"
HEIC = "image/heic"
HEIF = "image/heif"
GIF = "image/gif"
BMP = "image/bmp"
TEXT = "text/plain"
MAIL = "message/rfc822"
#: office documents, converted with LibreOffice (stages/office.py)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
ODP = "application/vnd.oasis.opendocument.presentation"
MS_OLE = "application/msword"  # .doc, and the other OLE2 formats (.xls, .ppt): LibreOffice tells
RTF = "application/rtf"
OFFICE_TYPES: frozenset[str] = frozenset({DOCX, XLSX, PPTX, ODT, ODS, ODP, MS_OLE, RTF})

#: MIME type -> short human name, in the order shown in error messages.
SUPPORTED_TYPES: dict[str, str] = {
    PDF: "PDF",
    PNG: "PNG",
    JPEG: "JPEG",
    TIFF: "TIFF",
    WEBP: "WebP",
    HEIC: "HEIC",
    HEIF: "HEIF",
    GIF: "GIF",
    BMP: "BMP",
    TEXT: "plain text (UTF-8, UTF-16 with BOM, or Windows-1252)",
    MAIL: "e-mail (.eml)",
    DOCX: "Word (.docx)", ODT: "OpenDocument text (.odt)", MS_OLE: "Word 97 (.doc)",
    RTF: "RTF", XLSX: "Excel (.xlsx)", ODS: "OpenDocument spreadsheet (.ods)",
    PPTX: "PowerPoint (.pptx)", ODP: "OpenDocument presentation (.odp)",
}
IMAGE_TYPES: frozenset[str] = frozenset({PNG, JPEG, TIFF, WEBP, HEIC, HEIF, GIF, BMP})

#: How much of the file detection looks at. PDF allows the header anywhere in
#: the first 1024 bytes; 64 KiB is enough to judge whether something is text.
HEAD_SIZE = 64 * 1024
#: Inputs up to this size are read once into memory and served from there
#: (detection, pdfium, the archive copy); larger ones are opened by path.
IN_MEMORY_LIMIT = 64 * 1024 * 1024
#: How much of a PDF's end :func:`pdf_truncation` needs: readers look for
#: %%EOF in the last 1 KiB; the rest is room for trailing padding.
PDF_TAIL_SIZE = 2048
#: PDF whitespace (ISO 32000-1 7.2.2, NUL included) and DOS's Ctrl-Z, which
#: old tools append: what may follow the final %%EOF.
_PDF_TRAILING = b"\x00\t\n\x0c\r \x1a"

_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
_HEIF_BRANDS = {b"mif1", b"msf1", b"mif2"}
_BMP_DIB_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}

# Control characters other than \t \n \v \f \r (and ESC, used by some printers'
# text dumps) mark a file as binary when there are more than a few.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_HEADER_LINE = re.compile(rb"^[!-9;-~]+:[ \t]?")
_MAIL_HEADERS = {
    b"from", b"to", b"subject", b"date", b"message-id", b"mime-version",
    b"received", b"return-path", b"delivered-to", b"reply-to", b"cc",
    b"content-type", b"x-mailer", b"dkim-signature", b"authentication-results",
}


def supported_list() -> str:
    """Supported types as one human-readable line, for error messages."""
    return ", ".join(SUPPORTED_TYPES.values())


def detect(path: Path, head: bytes | None = None) -> str:
    """Return the MIME type of *path* judged from its content.

    *head*, when given, must be the first bytes of the file (at least
    :data:`HEAD_SIZE` of them, or the whole file); it saves a read when the
    caller already has the bytes.

    Raises EmptyFileError, UnsupportedFileError, NotFoundError.
    """
    if head is None:
        try:
            with open(path, "rb") as fh:
                head = fh.read(HEAD_SIZE + 1)
        except FileNotFoundError:
            raise NotFoundError(f"{path}: file not found") from None
        except IsADirectoryError:
            raise UnsupportedFileError(f"{path}: is a directory, not a file") from None
    complete = len(head) <= HEAD_SIZE
    if not head:
        raise EmptyFileError(
            f"{path.name}: the file is empty (0 bytes); the upload or scan was probably "
            "interrupted — send it again"
        )
    mime = magic_type(head) or office_type(path, head)
    if mime is not None:
        return mime
    reason = _sniff_refused(head)
    if reason is not None:
        raise UnsupportedFileError(f"{path.name}: {reason}; supported types: {supported_list()}")
    text = decode_text(head if complete else head[:HEAD_SIZE], partial=not complete)
    if text is None:
        raise UnsupportedFileError(
            f"{path.name}: unsupported file type (not a known document or image format, "
            f"and not readable as text); supported types: {supported_list()}"
        )
    if _looks_like_mail(head):
        return MAIL
    return TEXT


def magic_type(head: bytes) -> str | None:
    """The supported binary format *head* (a file's first bytes) announces with
    its magic number, or None (text, an unknown or a refused format)."""
    # PDF readers accept the header anywhere in the first 1 KiB; scanners and
    # broken mailers sometimes prepend junk (pngx-invalid_pdf.pdf does). A
    # later header must be followed by an object, so that a text file that
    # merely mentions "%PDF-" stays text.
    if head.startswith(b"%PDF-"):
        return PDF
    at = head.find(b"%PDF-", 0, 1024)
    if at > 0 and re.search(rb"\d+\s+\d+\s+obj\b", head[at : at + 4096]):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return TIFF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[4:8] == b"ftyp":
        return _sniff_isobmff(head)
    if head[:2] == b"BM" and len(head) >= 18:
        # "BM" alone is too weak (a text file may start with "BMW ..."): also
        # require zero reserved bytes and a known DIB header size.
        dib = int.from_bytes(head[14:18], "little")
        if head[6:10] == b"\x00\x00\x00\x00" and dib in _BMP_DIB_SIZES:
            return BMP
    return None


_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: the folder an OOXML package keeps its part in -> its type
_OOXML_FOLDERS = ((b"word/", DOCX), (b"xl/", XLSX), (b"ppt/", PPTX))
_ODF_TYPES = {ODT.encode(): ODT, ODS.encode(): ODS, ODP.encode(): ODP}


def office_type(path: Path, head: bytes) -> str | None:
    """The office format of a file, from its bytes: RTF, OLE2 (.doc), or a ZIP
    package holding an OpenDocument ``mimetype`` or the OOXML part folders."""
    if head.startswith(b"{\\rtf"):
        return RTF
    if head.startswith(_OLE2):
        return MS_OLE
    if not head.startswith(b"PK\x03\x04"):
        return None
    if head[30:38] == b"mimetype":  # ODF stores it first, uncompressed
        for name, mime in _ODF_TYPES.items():
            if head[38:38 + len(name)] == name:
                return mime
    names = head
    if not any(folder in head for folder, _ in _OOXML_FOLDERS):
        names = _zip_names(path)  # the parts may be listed only at the end
    for folder, mime in _OOXML_FOLDERS:
        if folder in names and b"[Content_Types].xml" in names:
            return mime
    return None


def _zip_names(path: Path) -> bytes:
    """The member names of a ZIP (its central directory only), or b"" if unreadable."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return "\n".join(archive.namelist()).encode("utf-8", "replace")
    except (OSError, zipfile.BadZipFile, ValueError):
        return b""


def _sniff_isobmff(head: bytes) -> str | None:
    """HEIC/HEIF: an ISO-BMFF 'ftyp' box whose major or compatible brand says so."""
    size = int.from_bytes(head[0:4], "big")
    box = head[8 : max(16, min(size, 256))]
    brands = {box[i : i + 4] for i in range(0, len(box) - 3, 4)}
    brands.discard(box[4:8])  # minor version, not a brand
    if brands & _HEIC_BRANDS:
        return HEIC
    if brands & _HEIF_BRANDS:
        return HEIF
    return None  # MP4, MOV, AVIF...: not ours


def _sniff_refused(head: bytes) -> str | None:
    """Recognise common formats we refuse, to give a more helpful message."""
    if head.startswith(b"PK\x03\x04"):
        return "ZIP archives are not supported; unpack it and drop the files inside"
    if head.startswith(b"%!PS"):
        return "PostScript is not supported; convert it to PDF (e.g. ps2pdf)"
    if head[4:8] == b"ftyp":
        return "this ISO media file (video or AVIF image) is not supported"
    lower = head[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if lower.startswith((b"<!doctype html", b"<html")):
        return "HTML pages are not supported; print the page to PDF"
    if lower.startswith(b"<svg") or (lower.startswith(b"<?xml") and b"<svg" in lower):
        return "SVG drawings are not supported; export the drawing to PDF or PNG"
    return None


def decode_text(data: bytes, *, partial: bool = False) -> str | None:
    """Decode bytes of a text file, or return None if they are not text.

    See the module docstring for the order of encodings tried. With
    *partial*, *data* is a prefix of a longer file, so a multi-byte sequence
    cut at the end is not an error.
    """
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            text = _decode(data, encoding, partial)
            return text if text is not None and _is_texty(text) else None
    if b"\x00" in data:
        return None  # UTF-16 without BOM is too rare to guess at; binary is likely
    for encoding in ("utf-8", "cp1252"):
        text = _decode(data, encoding, partial)
        if text is not None and _is_texty(text):
            if encoding != "utf-8":
                log.debug("decoded text as %s (not valid UTF-8)", encoding)
            return text
    return None


def _decode(data: bytes, encoding: str, partial: bool) -> str | None:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        return decoder.decode(data, final=not partial)
    except UnicodeDecodeError:
        return None


def _is_texty(text: str) -> bool:
    """True when there are (almost) no control characters: binary is full of them."""
    if "\x00" in text:
        return False
    bad = len(_CONTROL.findall(text))
    return bad <= max(2, len(text) // 1000)


def _looks_like_mail(head: bytes) -> bool:
    """An RFC 822 message: a block of header lines ending at a blank line,
    including at least two well-known mail headers."""
    header, sep, _ = head.replace(b"\r\n", b"\n").partition(b"\n\n")
    if not sep:
        return False
    known = 0
    for i, line in enumerate(header.split(b"\n")):
        if line[:1] in (b" ", b"\t") and i > 0:
            continue  # folded continuation of the previous header
        if i == 0 and line.startswith(b"From "):
            continue  # mbox separator line
        if not _HEADER_LINE.match(line):
            return False
        if line.split(b":", 1)[0].lower() in _MAIL_HEADERS:
            known += 1
    return known >= 2


def pdf_truncation(tail: bytes) -> str | None:
    """Why the PDF whose last bytes are *tail* is cut off, or None if its end is intact.

    A PDF ends with %%EOF, give or take whitespace. One saved with incremental
    updates, or linearized, holds earlier %%EOF markers as well, so a marker
    near the end is not enough: a file cut a little after an earlier one
    opens as that earlier revision, with the later changes (or pages) lost.
    The marker must end the file. (A cut exactly at the end of an earlier
    revision is a complete PDF of that revision; no byte tells it apart.)
    *tail* must hold at least the last :data:`PDF_TAIL_SIZE` bytes.
    """
    if tail.rstrip(_PDF_TRAILING).endswith(b"%%EOF"):
        return None
    if b"%%EOF" in tail:
        return "it goes on past an end-of-file marker (%%EOF) and stops before the next one"
    return "it does not end with the end-of-file marker (%%EOF)"


# ------------------------------------------------------------------ the stage


def run(item: WorkItem) -> WorkItem:
    """The detect stage: the original's type, with its bytes for the stages after."""
    try:
        data, head, tail = read_input(item.original)
    except FileNotFoundError:
        raise NotFoundError(f"{item.original}: file not found") from None
    except IsADirectoryError:
        raise UnsupportedFileError(f"{item.original}: is a directory, not a file") from None
    mime = detect(item.original, head=head)
    return item.but(mime=mime, data=data, head=head, tail=tail)


def read_input(src: Path) -> tuple[bytes | None, bytes, bytes]:
    """(whole content or None if large, first bytes for detection, last bytes)."""
    with open(src, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size <= IN_MEMORY_LIMIT:
            data = fh.read()
            return data, data[: HEAD_SIZE + 1], data[-PDF_TAIL_SIZE:]
        head = fh.read(HEAD_SIZE + 1)
        fh.seek(-PDF_TAIL_SIZE, os.SEEK_END)
        return None, head, fh.read()
