"""Turn images and plain text into PDFs, so the rest of the pipeline only
ever sees PDFs.

Images: img2pdf embeds JPEG, PNG, TIFF (CCITT G4 too) and GIF without
re-encoding where it can. Pillow steps in where img2pdf cannot or should not
work alone:

* HEIC/HEIF (via pillow_heif) and lossy WebP: decoded and stored as
  high-quality JPEG — the source is lossy already, and a lossless copy of the
  decoded pixels of a 12-megapixel photo would be ~20 MB (lossless WebP goes
  through img2pdf, which stores it losslessly);
* images with transparency (RGBA PNG, transparent GIF, …) are flattened onto
  white. img2pdf could keep an /SMask, but a transparent page makes PDF/A-1
  impossible, renders black-on-black in some viewers and gains nothing for a
  document;
* animated GIF: first frame only;
* anything img2pdf rejects (unusual colour spaces, 16-bit…): decoded and
  re-encoded losslessly as PNG.

Resolution: a page's physical size comes from the image's DPI. Images with
no DPI, an implausible one (< 50), or a DPI that would make the page larger
than :data:`MAX_PAGE_INCHES` (cameras and screenshot tools write 72 or 96 as
a placeholder, which turns a 4000-pixel photo into a 55-inch page) are given
*default_dpi* (300 by default) so that the page has a sensible size and OCR
sees text of a plausible point size.

Plain text: rendered with fpdf2 in DejaVu Sans Mono (monospace keeps the
columns of receipts, tables and logs lined up; falls back to DejaVu Sans, then
any font named by the caller) so the PDF carries the text as a real,
extractable text layer. Long lines wrap at word boundaries (or inside a word
longer than a line), pages break automatically and a form feed starts a new
page. The fonts come from Debian's ``fonts-dejavu-core`` (a system
dependency); ``paperfs/fonts/`` is searched first so a packaged copy wins.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import img2pdf
from PIL import Image, ImageOps, ImageSequence

from paperfs.consume.stages import detect as det
from paperfs.errors import BrokenFileError, MissingDependencyError, UnsupportedFileError

if TYPE_CHECKING:
    from paperfs.consume.messages import WorkItem

log = logging.getLogger(__name__)

#: what the convert stage writes into an item's scratch folder
CONVERTED_NAME = "converted.pdf"

#: Long side of a page, in inches, beyond which a declared DPI is not believed.
MAX_PAGE_INCHES = 25.0
#: DPIs below this are placeholders (e.g. JFIF "aspect ratio only" = 1 dpi).
MIN_PLAUSIBLE_DPI = 50
LOSSY_JPEG_QUALITY = 92  # for HEIC and lossy WebP

_FONT_DIRS = (
    Path(__file__).resolve().parent / "fonts",
    Path("/usr/share/fonts/truetype/dejavu"),
)
_FONT_NAMES = ("DejaVuSansMono.ttf", "DejaVuSans.ttf")
# Glyphs DejaVu lacks (CJK…) are taken from these when installed, so the text
# layer keeps them instead of turning them into blanks.
_FALLBACK_FONTS = (
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)

_heif_registered = False


def run(item: WorkItem) -> WorkItem:
    """The convert stage: a text file or an image becomes a PDF; a PDF passes.

    A text file's own text is kept: it is exact, while text pulled back out of
    the rendered PDF would carry our line wrapping, so it is never OCRed."""
    converted = item.scratch / CONVERTED_NAME
    if item.mime == det.TEXT:
        text = read_text(item.original)
        pages = text_to_pdf(item.original, converted, text=text)
        return item.but(pdf=converted, text=text.strip(), pages=pages)
    if item.mime in det.IMAGE_TYPES:
        pages = image_to_pdf(item.original, converted, mime=item.mime,
                             default_dpi=item.task.ocr.image_dpi)
        return item.but(pdf=converted, pages=pages)
    return item


def to_pdf(src: Path, dst: Path, mime: str, *, default_dpi: int = 300) -> int:
    """Convert an image or a text file (of detected type *mime*) into the PDF
    *dst*; return the number of pages."""
    if mime in det.IMAGE_TYPES:
        return image_to_pdf(src, dst, mime=mime, default_dpi=default_dpi)
    if mime == det.TEXT:
        return text_to_pdf(src, dst)
    raise UnsupportedFileError(
        f"{src.name}: cannot convert {mime} to PDF; supported types: {det.supported_list()}"
    )


# --------------------------------------------------------------------- images


def _register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        import pillow_heif

        pillow_heif.register_heif_opener()
        _heif_registered = True


def image_to_pdf(src: Path, dst: Path, *, mime: str, default_dpi: int = 300) -> int:
    """Write *src* (an image of type *mime*) as a PDF to *dst*, one page per
    frame; return the page count. Raises BrokenFileError for unreadable images."""
    if mime in (det.HEIC, det.HEIF):
        _register_heif()
    try:
        with Image.open(src) as im:
            frames = getattr(im, "n_frames", 1)
            dpi = effective_dpi(im, default_dpi)
            lossy = mime in (det.HEIC, det.HEIF) or (mime == det.WEBP and _lossy_webp(src))
            needs_pillow = lossy or (mime == det.GIF and frames > 1) or _has_alpha(im)
            layout = img2pdf.get_fixed_dpi_layout_fun((dpi, dpi))
            pdf: bytes | None = None
            if not needs_pillow:
                try:
                    pdf = img2pdf.convert(
                        str(src), layout_fun=layout, rotation=img2pdf.Rotation.ifvalid
                    )
                except img2pdf.ImageOpenError:
                    raise
                except Exception as e:  # img2pdf refuses some colour spaces/depths
                    log.info("%s: img2pdf cannot embed it directly (%s); re-encoding", src.name, e)
            if pdf is None:
                blobs = list(_reencode(im, lossy=lossy, first_only=mime == det.GIF))
                pdf = img2pdf.convert(blobs, layout_fun=layout)
                frames = len(blobs)
    except (img2pdf.ImageOpenError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        if isinstance(e, Image.DecompressionBombError):
            raise UnsupportedFileError(
                f"{src.name}: the image is too large to process safely ({e}); "
                "scan at a lower resolution"
            ) from e
        raise BrokenFileError(
            f"{src.name}: the {det.SUPPORTED_TYPES.get(mime, mime)} image cannot be read "
            f"({e}); it may be truncated or damaged — scan or export it again"
        ) from e
    dst.write_bytes(pdf)
    log.debug("%s: %s -> PDF, %d page(s) at %d dpi", src.name, mime, frames, dpi)
    return frames


def _lossy_webp(src: Path) -> bool:
    """A WebP without a VP8L (lossless) chunk is lossy: re-encoding its
    pixels as Flate would only make the PDF many times larger."""
    with open(src, "rb") as fh:
        fh.seek(12)  # after "RIFF", size, "WEBP"
        while len(header := fh.read(8)) == 8:
            fourcc, size = header[:4], int.from_bytes(header[4:], "little")
            if fourcc in (b"VP8 ", b"VP8L"):
                return fourcc == b"VP8 "
            fh.seek(size + (size & 1), io.SEEK_CUR)  # chunks are padded to even sizes
    return True


def effective_dpi(im: Image.Image, default_dpi: int) -> int:
    """The DPI to lay the image out at (see module docstring)."""
    raw = im.info.get("dpi")
    try:
        dpi = float(raw[0]) if raw else 0.0
    except (TypeError, ValueError, IndexError):
        dpi = 0.0
    if dpi < MIN_PLAUSIBLE_DPI:
        return default_dpi
    if max(im.size) / dpi > MAX_PAGE_INCHES:
        log.debug("declared %.0f dpi makes a %.0f-inch page; using %d", dpi, max(im.size) / dpi, default_dpi)
        return default_dpi
    return round(dpi)


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        im.mode == "P" and "transparency" in im.info
    )


def _reencode(im: Image.Image, *, lossy: bool, first_only: bool) -> Iterator[bytes]:
    """Decode each frame, apply EXIF orientation, flatten transparency onto
    white, and re-encode (JPEG if the source was lossy anyway, else PNG)."""
    for n, frame in enumerate(ImageSequence.Iterator(im)):
        if first_only and n > 0:
            break
        page = ImageOps.exif_transpose(frame.copy()) or frame.copy()
        if _has_alpha(page):
            rgba = page.convert("RGBA")
            flat = Image.new("RGB", rgba.size, "white")
            flat.paste(rgba, mask=rgba.getchannel("A"))
            page = flat
        elif page.mode not in ("1", "L", "RGB") or (lossy and page.mode == "1"):
            page = page.convert("L" if page.mode in ("I;16", "I", "F", "LA") else "RGB")
        buf = io.BytesIO()
        if lossy:
            page.save(buf, format="JPEG", quality=LOSSY_JPEG_QUALITY, optimize=True)
        else:
            page.save(buf, format="PNG")
        yield buf.getvalue()


# ----------------------------------------------------------------------- text


def find_font() -> Path:
    """The TTF used for text files; MissingDependencyError if none is installed."""
    for name in _FONT_NAMES:
        for folder in _FONT_DIRS:
            if (folder / name).is_file():
                return folder / name
    raise MissingDependencyError(
        "no DejaVu font found for converting text files to PDF; install it with "
        "'apt-get install fonts-dejavu-core' (or put DejaVuSansMono.ttf into "
        f"{_FONT_DIRS[0]})"
    )


def read_text(src: Path) -> str:
    """Read and decode a text file (UTF-8/BOM/UTF-16/32 with BOM/Windows-1252).

    Newlines are normalised to ``\\n``. Raises UnsupportedFileError when the
    bytes are not text in any of those encodings."""
    data = src.read_bytes()
    text = det.decode_text(data)
    if text is None:
        raise UnsupportedFileError(
            f"{src.name}: not readable as text (neither UTF-8, UTF-16/32 with a "
            "byte-order mark, nor Windows-1252); save it as UTF-8 and drop it again"
        )
    return text.replace("\r\n", "\n").replace("\r", "\n")


def text_to_pdf(
    src: Path,
    dst: Path,
    *,
    text: str | None = None,
    font: Path | None = None,
    font_size: float = 10.0,
) -> int:
    """Render the text file *src* (or *text*, if given) into the PDF *dst*;
    return the number of pages."""
    from fpdf import FPDF  # imported here: only text files need it

    if text is None:
        text = read_text(src)
    font = font or find_font()
    # fontTools complains about the DejaVu build date on every load; harmless.
    logging.getLogger("fontTools.ttLib.tables._h_e_a_d").setLevel(logging.ERROR)
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_margins(20, 20, 20)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_title(src.name)
    pdf.set_creator("paperfs")
    pdf.add_font("body", "", str(font))
    text = _clean_text(text)
    # Loading a CJK fallback font costs ~0.5 s, so only when a glyph is missing.
    cmap = pdf.fonts["body"].cmap
    if any(ord(ch) not in cmap for ch in set(text) - {"\n", "\f"}):
        fallbacks = []
        for i, path in enumerate(p for p in _FALLBACK_FONTS if p.is_file()):
            pdf.add_font(f"fallback{i}", "", str(path))
            fallbacks.append(f"fallback{i}")
        if fallbacks:
            pdf.set_fallback_fonts(fallbacks)
    pdf.set_font("body", size=font_size)
    line_height = font_size * 0.3528 * 1.25  # pt -> mm, with 25 % leading
    chunks = text.split("\f")
    for chunk in chunks:
        pdf.add_page()
        if chunk.strip():
            # align left: justified text would stretch lines of a plain file
            pdf.multi_cell(0, line_height, chunk, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(dst))
    return pdf.pages_count


def _clean_text(text: str) -> str:
    """Prepare text for rendering: tabs to spaces (fonts have no tab glyph),
    other control characters dropped."""
    text = "\n".join(line.expandtabs(8) for line in text.split("\n"))
    return "".join(ch for ch in text if ch in "\n\f" or ch >= " " and ch != "\x7f")
