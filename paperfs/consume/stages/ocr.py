"""The text stage: the PDF to file and its text, from what detect and convert
made of the input (``run``); ``produce_archive`` runs all three on one file.

Runs inside a worker process, one document at a time, so OCRmyPDF is always
called with ``jobs=1, use_threads=True`` and tesseract is kept to one thread
(``OMP_THREAD_LIMIT=1``).

How a file is handled (``OcrConfig.mode``):

======================  ====================================================
input                   auto (default)
======================  ====================================================
text file               rendered to PDF (real text layer); never OCRed
image                   converted to PDF, then OCRed (normal mode)
PDF, every page has     born-digital: the archive PDF is a byte-identical
>= min_text_chars       copy, text from pypdfium2; neither OCRmyPDF nor
                        Ghostscript is started. With ``pdfa_born_digital``
                        it goes through OCRmyPDF skip mode to PDF/A instead
                        (kept as a copy if that does not give valid PDF/A,
                        or if it is digitally signed)
PDF without any text    OCRmyPDF normal mode → PDF/A
mixed PDF               OCRmyPDF only on the pages with too little text
                        (redo mode with ``pages=``: a page with a few
                        characters, e.g. a scanner's stamp, is OCRed too,
                        which skip mode would not do; its visible text is
                        kept). PDF/A via the internal backend.
garbage text layer      pages whose text is mostly U+FFFD, private-use or
                        byte-swapped characters (a broken ToUnicode map,
                        scans/cmyk.pdf) count as having no text and are
                        force-OCRed (rasterised) on those pages only.
======================  ====================================================

``always`` forces OCR (every page rasterised), ``never`` only extracts what is
there (images get no text), ``redo`` replaces an existing OCR layer.

Why these OCRmyPDF options:

* ``output_type='auto'``: OCRmyPDF makes PDF/A when it can and falls back to a
  plain PDF instead of failing, without running OCR twice. Whether the result
  really is PDF/A is then decided by pikepdf's validator
  (``pikepdf.pdfa.validate_written``, ~10–30 ms): a PDF/A claim in the XMP is
  not enough, because the fallback keeps a claim inherited from the input.
* ``pdfa_backend='internal'`` for skip/redo: Debian 12's Ghostscript 10.0.0
  corrupts PDFs that already have text, and OCRmyPDF refuses it for those
  modes. Should OCRmyPDF still raise PdfaConversionFailedError, the call is
  repeated with ``output_type='pdf'``.
* ``tagged_pdf_mode='ignore'``: we already know the page needs OCR, a Tagged
  PDF marker does not change that.
* text comes from the output PDF via pypdfium2, not from OCRmyPDF's sidecar:
  equally good on OCRed pages (same words found in linn.pdf), but the sidecar
  has placeholders instead of the existing text of skipped pages, and reading
  the output takes only a few milliseconds.

Truncated PDFs: a PDF whose last ``%%EOF`` does not end the file (give or
take whitespace) was cut off, and raises BrokenFileError. It is not
repaired: qpdf would rebuild whatever survived, an earlier revision or the
first pages, and a document with pages or changes missing would be filed as
if it were whole (:func:`paperfs.consume.stages.detect.pdf_truncation`).

Damaged PDFs: a complete PDF that pdfium cannot load, or whose header is not
at the start, is rebuilt by qpdf (pikepdf). If that gives a PDF with pages
that pdfium can read, processing goes on with the repaired file (logged as a
warning; the original is kept byte-identical by the caller anyway);
otherwise BrokenFileError.

Encryption: a PDF that needs a password to open raises EncryptedFileError. A
PDF encrypted with only an owner password (opens without a password, e.g.
pngx-signed.pdf) is copied as-is when no OCR is needed and decrypted with
pikepdf before OCR otherwise.

Digital signatures: a signed PDF with text is kept byte-identical in auto
mode (also when ``pdfa_born_digital`` is set, since PDF/A conversion would
break the signature for a cosmetic gain). When OCR is needed or forced, OCR
wins: the archive copy's signature becomes invalid (logged as a warning),
while the original under originals/ keeps the valid signature.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from paperfs.config import DateConfig, OcrConfig
from paperfs.consume.messages import PrepareTask, WorkItem
from paperfs.consume.stages import convert
from paperfs.consume.stages import detect as det
from paperfs.errors import (
    BrokenFileError,
    EncryptedFileError,
    MissingDependencyError,
    OcrError,
    UnsupportedFileError,
)

log = logging.getLogger(__name__)

ARCHIVE_NAME = "archive.pdf"
_PDFA_FLAVOUR = "2b"  # what OCRmyPDF's default output type (pdfa-2) produces
# pdfium text: drop control characters (incl. \f, our page separator) and
# the non-characters some PDFs map glyphs to.
_CONTROL = re.compile(r"[\x00-\x01\x03-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
# Characters a broken text layer produces instead of real text: U+FFFD and
# private-use code points (unmapped glyphs), and ASCII with its UTF-16 bytes
# swapped (U+4D00 for "M": a wrong ToUnicode map, as in scans/cmyk.pdf). Real
# CJK text hits the latter class for ~1 character in 256.
_GARBAGE = re.compile(
    "[\ufffd\ue000-\uf8ff" + "".join(chr(c << 8) for c in range(0x21, 0x7F)) + "]"
)


@dataclass(frozen=True)
class TextResult:
    archive_pdf: Path  # the PDF to file under archive/ (inside workdir)
    text: str  # full text, pages separated by "\f"
    pages: int
    mime_type: str  # of the ORIGINAL input
    ocr_performed: bool
    pdfa: bool  # archive_pdf is PDF/A (validated, not just claimed)


@dataclass
class _PdfInfo:
    """What pdfium saw in a PDF, gathered while it was open once."""

    texts: list[str]
    encrypted: bool = False  # owner-password only; a user password fails earlier
    signed: bool = False
    repaired: Path | None = None  # the qpdf-rebuilt file, if the input was damaged
    chars: list[int] = field(default_factory=list)  # usable characters per page
    corrupt: list[bool] = field(default_factory=list)  # page text is mostly garbage


# ------------------------------------------------------------------ public API


def run(item: WorkItem) -> WorkItem:
    """The text stage: the PDF to file (``archive.pdf`` in the item's scratch
    folder) and its text, OCRed where needed. Raises a ConsumeError subclass
    (BrokenFileError, EncryptedFileError, OcrError) for inputs that cannot be
    archived, and MissingDependencyError when tesseract, a language pack or a
    font is missing."""
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    settings = item.task.ocr
    archive = item.scratch / ARCHIVE_NAME
    if item.mime == det.TEXT or (item.pdf is not None and item.text is not None):
        # a text file, an office document, a mail: rendered with their exact text
        result = _from_text(item, archive, settings)
    elif item.mime in det.IMAGE_TYPES:
        result = _from_image(item, archive, settings)
    else:
        result = _from_pdf(item.original, item.data, item.head, item.tail, item.scratch,
                           archive, settings)
    return item.but(archive_pdf=result.archive_pdf, text=result.text, pages=result.pages,
                    ocr_performed=result.ocr_performed, pdfa=result.pdfa)


def produce_archive(src: Path, workdir: Path, settings: OcrConfig) -> TextResult:
    """Turn *src* into ``workdir/archive.pdf`` plus its text: the detect, convert
    and text stages for one file, without a job (tests and tools).

    *workdir* is scratch space (created if missing); intermediate files land
    there too. Raises what the stages raise (see :func:`run`), plus
    UnsupportedFileError and EmptyFileError from detection.
    """
    src, workdir = Path(src), Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    task = PrepareTask(job_id="", input=src, scratch=workdir, filename=src.name, file_mtime=0.0,
                       ocr=settings, dates=DateConfig())
    item = WorkItem(task=task, original=src, filename=src.name, scratch=workdir, title=src.stem)
    item = det.run(item)
    if item.mime == det.MAIL:
        raise UnsupportedFileError(
            f"{src.name}: an e-mail becomes several documents (the mail and its attachments); "
            "drop it into the inbox or use paperfs consume")
    from paperfs.consume.stages import office  # it imports this module
    item = run(convert.run(office.run(item)))
    assert item.archive_pdf is not None and item.text is not None
    return TextResult(item.archive_pdf, item.text, item.pages, item.mime, item.ocr_performed,
                      item.pdfa)


def page_count(pdf: Path) -> int:
    """Number of pages of *pdf* (BrokenFileError / EncryptedFileError if it
    cannot be opened)."""
    try:
        doc = pdfium.PdfDocument(pdf)
    except pdfium.PdfiumError as e:
        raise _pdfium_error(Path(pdf), e) from e
    try:
        return len(doc)
    finally:
        doc.close()


def extract_text(pdf: Path) -> list[str]:
    """Text of every page of *pdf*, cleaned (see :func:`clean_page_text`)."""
    try:
        doc = pdfium.PdfDocument(pdf)
    except pdfium.PdfiumError as e:
        raise _pdfium_error(Path(pdf), e) from e
    try:
        return _page_texts(doc, Path(pdf).name)
    finally:
        doc.close()


def clean_page_text(raw: str) -> str:
    """Normalise one page of pdfium text: ``\\n`` line ends, no trailing
    spaces, no control characters (so ``\\f`` can separate pages)."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\x02", "-")
    text = _CONTROL.sub("", text)
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


# ---------------------------------------------------------------- input kinds


def _from_text(item: WorkItem, archive: Path, settings: OcrConfig) -> TextResult:
    # The convert stage rendered it and kept its exact text: no OCR.
    assert item.pdf is not None and item.text is not None
    pdfa = settings.pdfa_born_digital and _born_digital_pdfa(item.original.name, item.pdf,
                                                             archive, settings)
    if not pdfa:
        os.replace(item.pdf, archive)
    return TextResult(archive, item.text, item.pages, det.TEXT, False, pdfa)


def _from_image(item: WorkItem, archive: Path, settings: OcrConfig) -> TextResult:
    assert item.pdf is not None
    if settings.mode == "never":
        os.replace(item.pdf, archive)
        return TextResult(archive, "\f".join([""] * item.pages), item.pages, item.mime,
                          False, False)
    # A fresh image PDF has no text, so normal mode fits every OCR setting.
    return _ocr(item.original.name, item.pdf, archive, settings, mime=item.mime, mode="normal")


def _from_pdf(
    src: Path,
    data: bytes | None,
    head: bytes,
    tail: bytes,
    workdir: Path,
    archive: Path,
    settings: OcrConfig,
) -> TextResult:
    info = _inspect_pdf(src, data, head, tail, workdir)
    source = info.repaired or src
    need = [i for i, n in enumerate(info.chars) if n < settings.min_text_chars]
    mode = settings.mode

    if mode == "never" or (mode == "auto" and not need):
        if settings.pdfa_born_digital and mode == "auto":
            if info.signed:
                log.info("%s: digitally signed; kept as-is instead of converting to PDF/A", src.name)
            elif _born_digital_pdfa(src.name, _decrypted(source, info, workdir), archive, settings):
                return TextResult(archive, "\f".join(extract_text(archive)), len(info.texts),
                                  det.PDF, False, True)
        if data is not None and info.repaired is None:
            archive.write_bytes(data)  # the bytes we already have: no second read
        else:
            shutil.copyfile(source, archive)
        log.debug("%s: text layer kept, %d page(s), no OCR", src.name, len(info.texts))
        return TextResult(archive, "\f".join(info.texts), len(info.texts), det.PDF, False, False)

    ocr_input = _decrypted(source, info, workdir)
    pages: list[int] | None = None
    if mode == "always":
        ocr_mode = "force"
    elif mode == "redo":
        ocr_mode = "redo"
    elif not any(info.texts):
        ocr_mode = "normal"
    elif any(info.corrupt[i] for i in need) or settings.deskew:
        # A garbage text layer must go: rasterise those pages and OCR them.
        # Deskewing also needs the rasterised page (OCRmyPDF refuses it in redo).
        ocr_mode, pages = "force", need
    else:
        # Mixed: OCR only the pages that lack text and leave the others
        # untouched; redo (unlike skip) also OCRs pages with a few characters.
        ocr_mode, pages = "redo", need
    if info.signed:
        log.warning(
            "%s: digitally signed; OCR invalidates the signature in the archive copy "
            "(the original keeps it)", src.name,
        )
    return _ocr(src.name, ocr_input, archive, settings, mime=det.PDF, mode=ocr_mode,
                pages=pages, signed=info.signed)


# ------------------------------------------------------------------ PDF input


def _inspect_pdf(
    src: Path, data: bytes | None, head: bytes, tail: bytes, workdir: Path
) -> _PdfInfo:
    """Open the PDF once with pdfium (repairing it first if needed) and
    collect per-page text, encryption and signature state."""
    repaired: Path | None = None
    doc = None
    truncated = det.pdf_truncation(tail)
    if truncated is not None:
        raise BrokenFileError(f"{src.name}: the PDF is truncated ({truncated}); the upload or "
                              "copy was cut off. Send the complete file again.")
    # A header after junk means every offset in the file is off: a byte copy
    # would be a damaged archive PDF.
    if head.startswith(b"%PDF-"):
        try:
            doc = pdfium.PdfDocument(data if data is not None else src)
        except pdfium.PdfiumError as e:
            if e.err_code == pdfium_c.FPDF_ERR_PASSWORD:
                raise _encrypted(src) from e
            log.info("%s: pdfium cannot load it (%s); trying to repair", src.name, e)
    if doc is None:
        repaired = _repair(src, workdir)
        try:
            doc = pdfium.PdfDocument(repaired)
        except pdfium.PdfiumError as e:
            raise _broken(src, f"not readable even after repair: {e}") from e
    try:
        if len(doc) == 0:
            raise _broken(src, "it has no pages")
        texts = _page_texts(doc, src.name)
        if repaired is not None and not any(texts) and not _has_content(doc):
            # qpdf "recovered" page objects whose content was cut off
            raise _broken(src, "repair recovered no page content")
        encrypted = pdfium_c.FPDF_GetSecurityHandlerRevision(doc.raw) != -1
        signed = pdfium_c.FPDF_GetSignatureCount(doc.raw) > 0
    finally:
        doc.close()
    chars: list[int] = []
    corrupt: list[bool] = []
    for text in texts:
        total = len("".join(text.split()))
        bad = len(_GARBAGE.findall(text)) if total else 0
        chars.append(total - bad)
        corrupt.append(bad > total // 2)
    return _PdfInfo(texts, encrypted, signed, repaired, chars, corrupt)


def _page_texts(doc: pdfium.PdfDocument, name: str) -> list[str]:
    texts = []
    for i in range(len(doc)):
        try:
            page = doc[i]
            textpage = page.get_textpage()
            texts.append(clean_page_text(textpage.get_text_bounded()))
            textpage.close()
            page.close()
        except pdfium.PdfiumError as e:
            raise BrokenFileError(f"{name}: page {i + 1} cannot be read ({e}); the PDF is damaged") from e
    return texts


def _has_content(doc: pdfium.PdfDocument) -> bool:
    """True if any page draws anything (text, image or path objects)."""
    for i in range(len(doc)):
        page = doc[i]
        try:
            if pdfium_c.FPDFPage_CountObjects(page.raw) > 0:
                return True
        finally:
            page.close()
    return False


def _repair(src: Path, workdir: Path) -> Path:
    """Rebuild a damaged PDF with qpdf; BrokenFileError if that fails."""
    import pikepdf

    out = workdir / "repaired.pdf"
    try:
        with pikepdf.open(src) as pdf:
            if len(pdf.pages) == 0:
                raise _broken(src, "it has no pages")
            warnings = pdf.get_warnings()
            pdf.save(out)
    except pikepdf.PasswordError as e:
        raise _encrypted(src) from e
    except pikepdf.PdfError as e:
        raise _broken(src, str(e).replace(str(src), "").lstrip(": ")) from e
    log.warning(
        "%s: damaged PDF repaired by qpdf; the archive PDF is the repaired copy (%s)",
        src.name, "; ".join(w.replace(str(src), "") for w in warnings[:3]) or "header not at start",
    )
    return out


def _decrypted(source: Path, info: _PdfInfo, workdir: Path) -> Path:
    """OCRmyPDF refuses encrypted input, even with an empty user password."""
    if not info.encrypted:
        return source
    import pikepdf

    out = workdir / "decrypted.pdf"
    with pikepdf.open(source) as pdf:
        pdf.save(out)  # pikepdf writes unencrypted unless told otherwise
    log.info("%s: removed owner-password encryption before processing", source.name)
    return out


# ------------------------------------------------------------------- OCRmyPDF


def _ocr(
    name: str,
    pdf_in: Path,
    archive: Path,
    settings: OcrConfig,
    *,
    mime: str,
    mode: str,
    pages: list[int] | None = None,
    signed: bool = False,
) -> TextResult:
    """Run OCRmyPDF (with the fallbacks below) and build the result from its output."""
    from ocrmypdf.exceptions import ExitCodeException, InputFileError, PriorOcrFoundError

    try:
        try:
            _run_ocrmypdf(name, pdf_in, archive, settings, mode=mode, pages=pages, signed=signed)
        except PriorOcrFoundError:
            # pdfium saw no text, OCRmyPDF found some (e.g. only whitespace).
            log.info("%s: OCRmyPDF found prior text that pdfium did not; redoing OCR", name)
            _run_ocrmypdf(name, pdf_in, archive, settings, mode="redo", signed=signed)
        except InputFileError as e:
            if mode != "redo" or "form" not in str(e):
                raise
            # Redo is impossible on fillable forms; skip mode still OCRs the
            # pages without text.
            log.warning("%s: has a fillable form, so the OCR layer cannot be redone; "
                        "OCRing only pages without text", name)
            _run_ocrmypdf(name, pdf_in, archive, settings, mode="skip", signed=signed)
    except ExitCodeException as e:  # whatever the first try or a fallback raised
        raise _map_ocrmypdf_error(name, e) from e
    texts = extract_text(archive)
    pdfa = is_pdfa(archive)
    log.debug("%s: OCR (%s) done, %d page(s), PDF/A=%s", name, mode, len(texts), pdfa)
    return TextResult(archive, "\f".join(texts), len(texts), mime, True, pdfa)


def _run_ocrmypdf(
    name: str,
    pdf_in: Path,
    pdf_out: Path,
    settings: OcrConfig,
    *,
    mode: str,
    pages: list[int] | None = None,
    signed: bool = False,
    ocr: bool = True,
) -> None:
    """One OCRmyPDF call with our fixed options. PriorOcrFoundError and
    InputFileError pass through for the caller's fallbacks; every other
    exception becomes a paperfs error."""
    import ocrmypdf
    import pikepdf
    from ocrmypdf.exceptions import (
        ExitCodeException,
        InputFileError,
        PdfaConversionFailedError,
        PriorOcrFoundError,
    )

    kwargs: dict = dict(
        language=settings.languages.split("+"),
        jobs=1,
        use_threads=True,
        progress_bar=False,
        output_type="auto",
        tagged_pdf_mode="ignore",
        tesseract_timeout=settings.tesseract_timeout,
        invalidate_digital_signatures=signed,
    )
    if ocr:
        kwargs.update(deskew=settings.deskew, rotate_pages=settings.rotate_pages, clean=settings.clean)
        if mode == "redo" and settings.deskew:
            log.info("%s: deskew is not possible when redoing OCR; pages are not deskewed", name)
            kwargs["deskew"] = False
    if mode != "normal":
        kwargs["mode"] = mode
    if mode in ("skip", "redo") or pages:
        # Pages keep existing text: Ghostscript 10.0.0 would corrupt it.
        kwargs["pdfa_backend"] = "internal"
    if pages:
        kwargs["pages"] = ",".join(str(p + 1) for p in pages)
    log.debug("%s: ocrmypdf %s", name, kwargs)
    try:
        try:
            ocrmypdf.ocr(pdf_in, pdf_out, **kwargs)
        except PdfaConversionFailedError as e:
            log.info("%s: PDF/A conversion failed (%s); writing a regular PDF", name, str(e).split("\n")[0])
            kwargs["output_type"] = "pdf"
            ocrmypdf.ocr(pdf_in, pdf_out, **kwargs)
    except (PriorOcrFoundError, InputFileError):
        raise
    except ExitCodeException as e:
        raise _map_ocrmypdf_error(name, e) from e
    except pikepdf.PdfError as e:
        raise BrokenFileError(f"{name}: the PDF is damaged beyond repair ({_strip_paths(str(e))})") from e
    except Exception as e:  # OCRmyPDF is a pipeline of its own; this is its boundary
        raise OcrError(f"{name}: OCR failed unexpectedly ({type(e).__name__}: {_strip_paths(str(e))})") from e


def _born_digital_pdfa(name: str, pdf_in: Path, dest: Path, settings: OcrConfig) -> bool:
    """Convert a PDF that already has text to PDF/A (OCRmyPDF skip mode, no
    page is OCRed). Returns True and leaves the PDF/A at *dest* on success
    (*dest* may be *pdf_in*); otherwise changes nothing and returns False."""
    out = dest.with_name("pdfa-candidate.pdf")
    try:
        _run_ocrmypdf(name, pdf_in, out, settings, mode="skip", ocr=False)
    except Exception as e:  # PDF/A here is a nicety; the copy is still good
        log.info("%s: not converted to PDF/A (%s); keeping the PDF as it is", name, e)
        return False
    if not is_pdfa(out):
        log.info("%s: PDF/A conversion did not validate; keeping the PDF as it is", name)
        out.unlink(missing_ok=True)
        return False
    os.replace(out, dest)
    return True


def is_pdfa(pdf: Path) -> bool:
    """True if pikepdf's validator approves *pdf* as PDF/A-2b."""
    from pikepdf.pdfa import validate_written

    try:
        report = validate_written(pdf, _PDFA_FLAVOUR)
    except Exception as e:  # a validator crash must not fail the document
        log.info("%s: PDF/A validation failed to run (%s)", pdf.name, e)
        return False
    if report.verdict != "pass":
        log.debug("%s: not PDF/A: %s", pdf.name, report.verdict)
    return report.verdict == "pass"


# --------------------------------------------------------------------- errors


def _strip_paths(message: str) -> str:
    """Drop temporary file paths from third-party messages (they mean nothing
    to the reader and differ on every run)."""
    return re.sub(r"/\S*/(\S+?):", r"\1:", message)


def _encrypted(src: Path) -> EncryptedFileError:
    return EncryptedFileError(
        f"{src.name}: is password-protected; remove the password "
        f"(e.g. qpdf --decrypt --password=PASSWORD '{src.name}' decrypted.pdf) and drop it again"
    )


def _broken(src: Path, why: str) -> BrokenFileError:
    return BrokenFileError(
        f"{src.name}: not a readable PDF ({why}); it is damaged or truncated — "
        "scan or export it again"
    )


def _pdfium_error(path: Path, e: pdfium.PdfiumError) -> Exception:
    if e.err_code == pdfium_c.FPDF_ERR_PASSWORD:
        return _encrypted(path)
    return _broken(path, str(e))


def _map_ocrmypdf_error(name: str, e: Exception) -> Exception:
    """Translate an OCRmyPDF exception into the paperfs hierarchy."""
    from ocrmypdf import exceptions as ox

    detail = " ".join(str(e).split()) or type(e).__name__
    if isinstance(e, ox.MissingDependencyError):
        return MissingDependencyError(
            f"{name}: OCR needs a program or language pack that is missing: {detail}. "
            "Install it (Debian: apt-get install tesseract-ocr tesseract-ocr-<lang> ghostscript) "
            "or change ocr.languages"
        )
    if isinstance(e, ox.EncryptedPdfError):
        return EncryptedFileError(
            f"{name}: is encrypted; remove the encryption (e.g. qpdf --decrypt "
            f"'{name}' decrypted.pdf) and drop it again"
        )
    if isinstance(e, ox.DigitalSignatureError):
        return OcrError(f"{name}: is digitally signed and OCR would invalidate the signature ({detail})")
    if isinstance(e, ox.InputFileError):  # also UnsupportedImageFormatError's kin
        return BrokenFileError(f"{name}: OCRmyPDF cannot process this PDF: {detail}")
    if isinstance(e, (ox.UnsupportedImageFormatError, ox.DpiError)):
        return BrokenFileError(f"{name}: the image cannot be OCRed: {detail}")
    if isinstance(e, ox.BadArgsError):
        return OcrError(f"{name}: the OCR settings do not work for this file: {detail}; check the ocr section of the config")
    if isinstance(e, ox.SubprocessOutputError):
        return OcrError(f"{name}: tesseract or Ghostscript failed: {detail}")
    return OcrError(f"{name}: OCR failed: {detail} (OCRmyPDF exit code {int(e.exit_code)})")
