"""paperfs.consume.stages.detect and paperfs.consume.stages.convert, on the shared corpus and on files made here."""

from __future__ import annotations

import io
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw

from paperfs.consume.stages import convert, detect
from paperfs.errors import BrokenFileError, EmptyFileError, UnsupportedFileError




def pdf_text(pdf: Path) -> list[str]:
    doc = pdfium.PdfDocument(pdf)
    try:
        return [doc[i].get_textpage().get_text_bounded().replace("\r\n", "\n") for i in range(len(doc))]
    finally:
        doc.close()


def page_inches(pdf: Path) -> list[tuple[float, float]]:
    doc = pdfium.PdfDocument(pdf)
    try:
        return [(doc[i].get_width() / 72, doc[i].get_height() / 72) for i in range(len(doc))]
    finally:
        doc.close()


def drawing(mode: str = "RGB", size: tuple[int, int] = (600, 200)) -> Image.Image:
    im = Image.new(mode, size, "white" if mode != "RGBA" else (255, 255, 255, 0))
    ImageDraw.Draw(im).rectangle((50, 50, 300, 120), fill="black")
    return im


def image_bytes(fmt: str, **save) -> bytes:
    buf = io.BytesIO()
    im = drawing("RGBA" if fmt in ("PNG-alpha",) else "RGB")
    im.save(buf, format=fmt.split("-")[0], **save)
    return buf.getvalue()


# ----------------------------------------------------------------- detection

CORPUS_TYPES = {
    "scans/linn.pdf": "application/pdf",
    "scans/typewriter.png": "image/png",
    "scans/pngx-simple.png": "image/png",
    "scans/pngx-simple-no-dpi.png": "image/png",
    "scans/pngx-no-text-alpha.png": "image/png",
    "scans/pngx-simple.jpg": "image/jpeg",
    "scans/pngx-simple.gif": "image/gif",
    "scans/pngx-document.webp": "image/webp",
    "scans/pngx-simple.heic": "image/heic",
    "scans/pngx-multi-page-images.tiff": "image/tiff",
    "scans/linn.txt": "text/plain",
    "digital/pngx-simple-digital.pdf": "application/pdf",
    "broken/invalid.pdf": "application/pdf",  # claims to be one; the OCR stage refuses it
    "broken/pngx-invalid_pdf.pdf": "application/pdf",  # junk before %PDF-
    "broken/pngx-encrypted.pdf": "application/pdf",
    "broken/pngx-decode_error.txt": "text/plain",  # ISO-8859-1
    "mail/pngx-simple_text.eml": "message/rfc822",
    "mail/pngx-html.eml": "message/rfc822",
    "mail/pngx-broken.eml": "text/plain",  # "This is not a valid eml."
}


@pytest.mark.parametrize("name,mime", sorted(CORPUS_TYPES.items()))
def test_detect_corpus(corpus: Path, name: str, mime: str) -> None:
    assert detect.detect(corpus / name) == mime


@pytest.mark.parametrize("name,mime", [("office/pngx-sample.docx", detect.DOCX),
                                       ("office/pngx-sample.odt", detect.ODT)])
def test_office_documents_by_their_bytes(corpus: Path, tmp_path: Path, name: str,
                                         mime: str) -> None:
    lying = tmp_path / "scan.pdf"  # the name lies; the bytes decide
    lying.write_bytes((corpus / name).read_bytes())
    assert detect.detect(corpus / name) == detect.detect(lying) == mime


def test_a_zip_that_is_no_office_document_is_refused(tmp_path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(tmp_path / "files.docx", "w") as archive:
        archive.writestr("readme.txt", "not a document")
    with pytest.raises(UnsupportedFileError, match="files.docx: ZIP archives are not supported"):
        detect.detect(tmp_path / "files.docx")


@pytest.mark.parametrize(
    "fmt,mime",
    [
        ("PNG", "image/png"),
        ("JPEG", "image/jpeg"),
        ("TIFF", "image/tiff"),
        ("WEBP", "image/webp"),
        ("GIF", "image/gif"),
        ("BMP", "image/bmp"),
    ],
)
def test_detect_generated_images_ignores_extension(tmp_path: Path, fmt: str, mime: str) -> None:
    path = tmp_path / "scan.pdf"  # the name lies; the bytes decide
    path.write_bytes(image_bytes(fmt))
    assert detect.detect(path) == mime


def test_detect_heif_brands(tmp_path: Path) -> None:
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 32
    heif = b"\x00\x00\x00\x14ftypmif1\x00\x00\x00\x00mif1" + b"\x00" * 32
    mp4 = b"\x00\x00\x00\x14ftypisom\x00\x00\x02\x00isom" + b"\x00" * 32
    for data, expected in ((heic, "image/heic"), (heif, "image/heif")):
        (tmp_path / "x").write_bytes(data)
        assert detect.detect(tmp_path / "x") == expected
    (tmp_path / "x").write_bytes(mp4)
    with pytest.raises(UnsupportedFileError):
        detect.detect(tmp_path / "x")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.pdf"
    path.write_bytes(b"")
    with pytest.raises(EmptyFileError, match="empty.pdf"):
        detect.detect(path)


def test_binary_garbage_is_unsupported_and_lists_types(tmp_path: Path) -> None:
    path = tmp_path / "blob.pdf"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(UnsupportedFileError) as e:
        detect.detect(path)
    msg = str(e.value)
    assert "blob.pdf" in msg
    for name in ("PDF", "PNG", "JPEG", "TIFF", "WebP", "HEIC", "GIF", "BMP", "plain text"):
        assert name in msg


@pytest.mark.parametrize(
    "data,expected",
    [
        ("Grüße aus Köln\n".encode("utf-8"), "Grüße aus Köln\n"),
        ("Grüße\n".encode("utf-8-sig"), "Grüße\n"),
        ("Grüße\n".encode("utf-16"), "Grüße\n"),  # with BOM
        ("Pantothensäure\n".encode("latin-1"), "Pantothensäure\n"),
        ("Preis: 10 €\n".encode("cp1252"), "Preis: 10 €\n"),
        (b"BMW invoice 2024\n", "BMW invoice 2024\n"),  # 'BM' is not enough for BMP
    ],
)
def test_text_encodings(tmp_path: Path, data: bytes, expected: str) -> None:
    path = tmp_path / "note"
    path.write_bytes(data)
    assert detect.detect(path) == "text/plain"
    assert convert.read_text(path) == expected


def test_text_mentioning_pdf_header_is_text(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("Every PDF starts with %PDF-1.7 and ends with %%EOF.\n", encoding="utf-8")
    assert detect.detect(path) == "text/plain"


def test_utf8_cut_at_sniff_boundary_is_still_text(tmp_path: Path) -> None:
    path = tmp_path / "long.txt"
    path.write_bytes(("x" * (detect.HEAD_SIZE - 1) + "ä" * 10).encode())
    assert detect.detect(path) == "text/plain"


@pytest.mark.parametrize(
    "data",
    [b"<!DOCTYPE html><html><body>x</body></html>", b"<svg xmlns='x'></svg>", b"%!PS-Adobe-3.0\n"],
)
def test_markup_formats_are_refused(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "doc.txt"
    path.write_bytes(data)
    with pytest.raises(UnsupportedFileError, match="doc.txt"):
        detect.detect(path)


def test_rtf_is_an_office_document(tmp_path: Path) -> None:
    path = tmp_path / "doc.txt"  # LibreOffice converts it (stages/office.py)
    path.write_bytes(b"{\\rtf1 hello}")
    assert detect.detect(path) == detect.RTF


# --------------------------------------------------------------- conversion


@pytest.mark.parametrize(
    "name,pages",
    [
        ("pngx-simple.png", 1),
        ("pngx-simple-no-dpi.png", 1),
        ("pngx-no-text-alpha.png", 1),
        ("typewriter.png", 1),
        ("pngx-simple.jpg", 1),
        ("pngx-simple.gif", 1),
        ("pngx-document.webp", 1),
        ("pngx-simple.heic", 1),
        ("pngx-multi-page-images.tiff", 3),
    ],
)
def test_convert_corpus_images(corpus: Path, tmp_path: Path, name: str, pages: int) -> None:
    src = corpus / "scans" / name
    out = tmp_path / "out.pdf"
    assert convert.to_pdf(src, out, detect.detect(src)) == pages
    sizes = page_inches(out)
    assert len(sizes) == pages
    for w, h in sizes:
        assert 0.5 < w < 25 and 0.3 < h < 25


def test_missing_dpi_gets_default(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.pdf"
    convert.image_to_pdf(corpus / "scans/pngx-simple-no-dpi.png", out, mime="image/png", default_dpi=300)
    (w, h), = page_inches(out)
    assert w == pytest.approx(517 / 300, rel=0.01) and h == pytest.approx(147 / 300, rel=0.01)
    convert.image_to_pdf(corpus / "scans/pngx-simple-no-dpi.png", out, mime="image/png", default_dpi=150)
    (w, _), = page_inches(out)
    assert w == pytest.approx(517 / 150, rel=0.01)


def test_declared_dpi_is_kept(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.pdf"
    convert.image_to_pdf(corpus / "scans/pngx-simple.jpg", out, mime="image/jpeg")
    (w, _), = page_inches(out)
    assert w == pytest.approx(1436 / 200, rel=0.01)  # the JPEG says 200 dpi


def test_camera_placeholder_dpi_is_replaced(tmp_path: Path) -> None:
    src = tmp_path / "photo.jpg"
    drawing(size=(4000, 3000)).save(src, dpi=(72, 72))  # 55 inches wide at 72 dpi
    out = tmp_path / "out.pdf"
    convert.image_to_pdf(src, out, mime="image/jpeg", default_dpi=300)
    (w, _), = page_inches(out)
    assert w == pytest.approx(4000 / 300, rel=0.01)


def test_jpeg_is_embedded_losslessly(corpus: Path, tmp_path: Path) -> None:
    src = corpus / "scans/pngx-simple.jpg"
    out = tmp_path / "out.pdf"
    convert.image_to_pdf(src, out, mime="image/jpeg")
    with pikepdf.open(out) as pdf:
        (image,) = pdf.pages[0].get_images().values()
        assert image.Filter == pikepdf.Name.DCTDecode
        assert image.read_raw_bytes() == src.read_bytes()


def test_alpha_is_flattened(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.pdf"
    convert.image_to_pdf(corpus / "scans/pngx-no-text-alpha.png", out, mime="image/png")
    with pikepdf.open(out) as pdf:
        (image,) = pdf.pages[0].get_images().values()
        assert "/SMask" not in image  # no transparency left (PDF/A-1 forbids it)


def embedded_filter(pdf_path: Path) -> pikepdf.Object:
    with pikepdf.open(pdf_path) as pdf:
        (image,) = pdf.pages[0].get_images().values()
        return image.Filter


def test_heic_becomes_jpeg(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.pdf"
    convert.image_to_pdf(corpus / "scans/pngx-simple.heic", out, mime="image/heic")
    assert embedded_filter(out) == pikepdf.Name.DCTDecode


@pytest.mark.parametrize("lossless", [True, False])
def test_webp_lossy_becomes_jpeg_lossless_stays_lossless(tmp_path: Path, lossless: bool) -> None:
    src = tmp_path / "x.webp"
    drawing("RGBA").save(src, format="WEBP", lossless=lossless, icc_profile=b"VP8L" * 300)
    out = tmp_path / "out.pdf"
    convert.image_to_pdf(src, out, mime="image/webp")
    assert (embedded_filter(out) == pikepdf.Name.DCTDecode) is not lossless


def test_corpus_webp_is_lossless(corpus: Path, tmp_path: Path) -> None:
    # its VP8L chunk comes after a 2.6 KB ICC profile chunk
    out = tmp_path / "out.pdf"
    convert.image_to_pdf(corpus / "scans/pngx-document.webp", out, mime="image/webp")
    assert embedded_filter(out) == pikepdf.Name.FlateDecode


@pytest.mark.parametrize(
    "fmt,mime,save",
    [
        ("BMP", "image/bmp", {}),
        ("WEBP", "image/webp", {"lossless": True}),
        ("TIFF", "image/tiff", {"compression": "group4"}),
        ("GIF", "image/gif", {}),
        ("PNG", "image/png", {}),
    ],
)
def test_generated_images(tmp_path: Path, fmt: str, mime: str, save: dict) -> None:
    src = tmp_path / "img"
    im = drawing()
    if save.get("compression") == "group4":
        im = im.convert("1")
    im.save(src, format=fmt, **save)
    assert convert.to_pdf(src, tmp_path / "out.pdf", mime) == 1


def test_sixteen_bit_and_palette_alpha_png(tmp_path: Path) -> None:
    src = tmp_path / "deep.png"
    Image.new("I;16", (300, 100), 40000).save(src)
    assert convert.image_to_pdf(src, tmp_path / "a.pdf", mime="image/png") == 1
    src = tmp_path / "pal.png"
    drawing().convert("P").save(src, transparency=0)
    assert convert.image_to_pdf(src, tmp_path / "b.pdf", mime="image/png") == 1


def test_animated_gif_first_frame_only(tmp_path: Path) -> None:
    src = tmp_path / "anim.gif"
    frames = [drawing(), Image.new("RGB", (600, 200), "black")]
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=100)
    assert convert.image_to_pdf(src, tmp_path / "out.pdf", mime="image/gif") == 1


def test_multipage_tiff(tmp_path: Path) -> None:
    src = tmp_path / "pages.tif"
    frames = [drawing() for _ in range(4)]
    frames[0].save(src, save_all=True, append_images=frames[1:], dpi=(200, 200))
    out = tmp_path / "out.pdf"
    assert convert.image_to_pdf(src, out, mime="image/tiff") == 4
    assert page_inches(out)[3][0] == pytest.approx(600 / 200, rel=0.01)


def test_truncated_image_is_broken(tmp_path: Path) -> None:
    src = tmp_path / "cut.png"
    src.write_bytes(image_bytes("PNG")[:60])
    with pytest.raises(BrokenFileError, match="cut.png"):
        convert.image_to_pdf(src, tmp_path / "out.pdf", mime="image/png")


def test_text_to_pdf_umlauts_wrapping_pages(tmp_path: Path) -> None:
    words = [f"Wort{i}äöü" for i in range(1500)]
    body = "Grüße aus Köln, Straße 1 — Größe: 5 €\n" + " ".join(words) + "\n" + "\n".join(
        f"Zeile {i}\tmit Tab" for i in range(150)
    )
    src = tmp_path / "brief.txt"
    src.write_bytes(body.encode("utf-8"))
    out = tmp_path / "brief.pdf"
    pages = convert.text_to_pdf(src, out)
    assert pages >= 3
    text = "\n".join(pdf_text(out))
    assert "Grüße aus Köln, Straße 1 — Größe: 5 €" in text
    found = set(text.split())
    assert all(w in found for w in words), "a word was lost or split by wrapping"
    assert "Zeile 149" in text
    for w, h in page_inches(out):
        assert (w, h) == pytest.approx((8.27, 11.69), abs=0.02)  # A4


def test_text_form_feed_starts_a_page_and_long_words_break(tmp_path: Path) -> None:
    src = tmp_path / "ff.txt"
    src.write_text("first page\fsecond page " + "x" * 400 + "\n", encoding="utf-8")
    out = tmp_path / "ff.pdf"
    assert convert.text_to_pdf(src, out) == 2
    first, second = pdf_text(out)
    assert "first page" in first and "second page" in second
    assert "".join(second.split()).count("x") == 400


def test_text_latin1_file(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.pdf"
    convert.text_to_pdf(corpus / "broken/pngx-decode_error.txt", out)
    assert "Pantothensäure" in pdf_text(out)[0]


def test_binary_is_not_text(tmp_path: Path) -> None:
    src = tmp_path / "bin.txt"
    src.write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(UnsupportedFileError, match="bin.txt"):
        convert.read_text(src)


def test_font_is_installed() -> None:
    # fonts-dejavu-core is a system dependency for text files
    assert convert.find_font().name.startswith("DejaVuSans")
