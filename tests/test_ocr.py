"""paperfs.consume.stages.ocr.produce_archive with real files, real tesseract and OCRmyPDF.

Tests marked slow run OCR. Each corpus scan is OCRed once per module (the
``scan_result`` fixture caches the results) to keep the run short.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont

from paperfs.consume.stages.content_dates import find_created_date
from paperfs.errors import (
    BrokenFileError,
    ConfigError,
    EmptyFileError,
    EncryptedFileError,
    MissingDependencyError,
    UnsupportedFileError,
)
from paperfs.config import OcrConfig
from paperfs.consume.stages.ocr import TextResult, page_count, produce_archive

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"



def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]{3,}", text.lower()))


def render_scan(lines: list[str], path: Path, *, size: tuple[int, int] = (1800, 700), fmt: str = "PNG") -> Path:
    """A fake 300-dpi scan: black text (~12 pt) on white."""
    im = Image.new("L", size, 255)
    draw = ImageDraw.Draw(im)
    font = ImageFont.truetype(FONT, 50)
    for i, line in enumerate(lines):
        draw.text((100, 100 + i * 90), line, font=font, fill=0)
    im.save(path, format=fmt, dpi=(300, 300))
    return path


def check_archive(result: TextResult, workdir: Path) -> None:
    assert result.archive_pdf.parent == workdir
    assert result.archive_pdf.read_bytes().startswith(b"%PDF-")
    doc = pdfium.PdfDocument(result.archive_pdf)
    assert len(doc) == result.pages
    doc.close()
    assert result.text.count("\f") == result.pages - 1


# ------------------------------------------------------------------ settings


@pytest.mark.parametrize(
    "kwargs",
    [{"mode": "sometimes"}, {"languages": "eng deu"}, {"image_dpi": 0}, {"min_text_chars": -1}, {"tesseract_timeout": 0}],
)
def test_invalid_settings(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        OcrConfig(**kwargs)


# -------------------------------------------------------------- born-digital

BORN_DIGITAL = {
    "graph_ocred.pdf": (1, "Oppose"),
    "pngx-multi-page-digital.pdf": (3, "This is a multi page document. Page 3."),
    "pngx-signed.pdf": (1, "digitally signed PDF"),
    "pngx-simple-digital.pdf": (1, "This is a test document."),
    "pngx-single-page-mixed.pdf": (2, "present on page 1 of the document"),
    "pngx-with-form.pdf": (1, "This is a PDF document with a form."),
}


@pytest.mark.parametrize("name", sorted(BORN_DIGITAL))
def test_born_digital_is_copied_without_ocr(corpus: Path, tmp_path: Path, name: str) -> None:
    src = corpus / "digital" / name
    pages, phrase = BORN_DIGITAL[name]
    result = produce_archive(src, tmp_path / "work", OcrConfig())
    check_archive(result, tmp_path / "work")
    assert not result.ocr_performed and not result.pdfa
    assert result.mime_type == "application/pdf"
    assert result.pages == pages
    assert result.archive_pdf.read_bytes() == src.read_bytes()
    assert phrase in result.text


def test_born_digital_throughput(corpus: Path, tmp_path: Path) -> None:
    files = [corpus / "digital" / n for n in sorted(BORN_DIGITAL)]
    produce_archive(files[0], tmp_path / "warmup", OcrConfig())
    settings = OcrConfig()
    n = 0
    start = time.perf_counter()
    while n < 60:
        for f in files:
            produce_archive(f, tmp_path / f"w{n}", settings)
            n += 1
    rate = n / (time.perf_counter() - start)
    assert rate >= 20, f"born-digital path too slow: {rate:.1f} docs/s"


def test_page_count(corpus: Path) -> None:
    assert page_count(corpus / "digital/pngx-multi-page-mixed.pdf") == 6
    with pytest.raises(EncryptedFileError):
        page_count(corpus / "broken/pngx-encrypted.pdf")


# ---------------------------------------------------------------- mode never


def test_never_mode_keeps_what_is_there(corpus: Path, tmp_path: Path) -> None:
    settings = OcrConfig(mode="never")
    scan = produce_archive(corpus / "scans/linn.pdf", tmp_path / "a", settings)
    assert (scan.text, scan.ocr_performed, scan.pages) == ("", False, 1)
    assert scan.archive_pdf.read_bytes() == (corpus / "scans/linn.pdf").read_bytes()
    mixed = produce_archive(corpus / "digital/pngx-multi-page-mixed.pdf", tmp_path / "b", settings)
    texts = mixed.text.split("\f")
    assert texts[:3] == ["", "", ""] and "Page 4" in texts[3]
    image = produce_archive(corpus / "scans/pngx-simple.png", tmp_path / "c", settings)
    check_archive(image, tmp_path / "c")
    assert (image.text, image.ocr_performed, image.mime_type) == ("", False, "image/png")


# ------------------------------------------------------------------ broken


def test_invalid_pdf_is_broken(corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(BrokenFileError) as e:
        produce_archive(corpus / "broken/invalid.pdf", tmp_path, OcrConfig())
    assert "invalid.pdf" in str(e.value) and "again" in str(e.value)


@pytest.mark.parametrize("name", ["pngx-encrypted.pdf", "pngx-password-is-test.pdf"])
def test_password_protected(corpus: Path, tmp_path: Path, name: str) -> None:
    with pytest.raises(EncryptedFileError) as e:
        produce_archive(corpus / "broken" / name, tmp_path, OcrConfig())
    assert name in str(e.value)
    assert "password-protected" in str(e.value) and "qpdf --decrypt" in str(e.value)


def test_junk_before_header_is_repaired(corpus: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # pngx-invalid_pdf.pdf has 4 junk bytes before %PDF-; qpdf rebuilds it.
    src = corpus / "broken/pngx-invalid_pdf.pdf"
    with caplog.at_level(logging.WARNING, logger="paperfs.consume.stages.ocr"):
        result = produce_archive(src, tmp_path, OcrConfig())
    check_archive(result, tmp_path)
    assert result.pages == 2 and not result.ocr_performed
    assert "Invoice number: 123456" in result.text
    assert result.archive_pdf.read_bytes() != src.read_bytes()
    assert "repaired" in caplog.text and "pngx-invalid_pdf.pdf" in caplog.text


def test_not_utf8_text_file(corpus: Path, tmp_path: Path) -> None:
    result = produce_archive(corpus / "broken/pngx-decode_error.txt", tmp_path, OcrConfig())
    assert result.text == "Pantothensäure" and result.mime_type == "text/plain"


def _fpdf_bytes(pages: int = 3) -> bytes:
    pdf = FPDF()
    pdf.set_compression(False)
    pdf.add_font("d", "", FONT)
    pdf.set_font("d", size=12)
    for i in range(pages):
        pdf.add_page()
        pdf.multi_cell(0, 6, f"Page {i + 1}: The quick brown fox jumps over the lazy dog. " * 3)
    return bytes(pdf.output())


@pytest.mark.parametrize("keep", [100, 300])
def test_truncated_pdf_is_broken(tmp_path: Path, keep: int) -> None:
    src = tmp_path / "truncated.pdf"
    src.write_bytes(_fpdf_bytes()[:keep])
    with pytest.raises(BrokenFileError, match="truncated.pdf"):
        produce_archive(src, tmp_path / "work", OcrConfig())


def test_empty_and_unsupported(tmp_path: Path) -> None:
    (tmp_path / "empty.pdf").write_bytes(b"")
    with pytest.raises(EmptyFileError, match="empty.pdf"):
        produce_archive(tmp_path / "empty.pdf", tmp_path / "w", OcrConfig())
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)) * 10)
    with pytest.raises(UnsupportedFileError, match="blob.bin"):
        produce_archive(tmp_path / "blob.bin", tmp_path / "w", OcrConfig())


@pytest.mark.parametrize("name", ["pngx-simple_text.eml", "pngx-html.eml", "pngx-eml_with_umlaut.eml"])
def test_a_mail_is_not_one_archive_file(corpus: Path, tmp_path: Path, name: str) -> None:
    # A mail becomes several documents (tests/test_mail_documents.py): say how to file it.
    with pytest.raises(UnsupportedFileError) as e:
        produce_archive(corpus / "mail" / name, tmp_path, OcrConfig())
    message = str(e.value)
    assert message.startswith(f"{name}: ") and "several documents" in message
    assert "inbox" in message


# -------------------------------------------------------------------- text


@pytest.mark.parametrize("mode", ["auto", "always"])
def test_text_file(tmp_path: Path, mode: str) -> None:
    body = "Rechnung für Jürgen Müßig\nStraße: Königsallee 1, Düsseldorf\nBetrag: 12,50 €\n" * 40
    src = tmp_path / "rechnung.txt"
    src.write_text(body, encoding="utf-8")
    result = produce_archive(src, tmp_path / "work", OcrConfig(mode=mode))
    assert result.text == body.strip()
    assert result.mime_type == "text/plain" and not result.ocr_performed
    assert result.pages >= 2
    doc = pdfium.PdfDocument(result.archive_pdf)
    extracted = doc[0].get_textpage().get_text_bounded()
    doc.close()
    assert "Rechnung für Jürgen Müßig" in extracted and "Königsallee" in extracted


# ------------------------------------------------------------- OCR (slow)

SCAN_EXPECT: dict[str, tuple[int, list[str]]] = {
    "3small.pdf": (3, ["cromulent", "Linzensoep"]),
    "c02-22.pdf": (1, ["widow", "garden"]),
    "ccitt.pdf": (1, ["LinnSequencer"]),
    "cmyk.pdf": (1, ["Pure Magenta", "Pure Cyan"]),
    "francais.pdf": (1, ["whisky", "juge"]),
    "jbig2.pdf": (1, ["LinnSequencer"]),
    "linn.pdf": (1, ["LinnSequencer", "MIDI"]),
    "multipage.pdf": (6, ["widow"]),
    "pngx-document.webp": (1, ["WebP document"]),
    "pngx-multi-page-images.pdf": (3, ["Page 1", "Page 2", "Page 3"]),
    "pngx-multi-page-images.tiff": (3, ["Page 1", "Page 2", "Page 3"]),
    "pngx-no-text-alpha.png": (1, []),
    "pngx-rotated.pdf": (4, ["first page"]),
    "pngx-simple-no-dpi.png": (1, ["This is a test document."]),
    "pngx-simple.gif": (1, ["This is a test document."]),
    "pngx-simple.heic": (1, ["PIZZA DOUGH"]),
    "pngx-simple.jpg": (1, ["This is a test document."]),
    "pngx-simple.png": (1, ["This is a test document."]),
    "skew.pdf": (1, ["LinnSequencer"]),
    "typewriter.png": (1, ["Linzensoep", "linzen"]),
}


@pytest.fixture(scope="module")
def scan_result(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], TextResult]:
    """OCR each scan at most once per module."""
    cache: dict[str, TextResult] = {}
    base = tmp_path_factory.mktemp("scans")

    def get(name: str) -> TextResult:
        if name not in cache:
            # the rotated sample is upside down: that is what rotate_pages is for
            settings = OcrConfig(rotate_pages=name == "pngx-rotated.pdf")
            cache[name] = produce_archive(corpus / "scans" / name, base / name, settings)
        return cache[name]

    return get


def test_every_scan_is_listed(corpus: Path) -> None:
    present = {p.name for p in (corpus / "scans").iterdir()} - {"linn.txt"}
    assert present == set(SCAN_EXPECT), "update SCAN_EXPECT for new corpus files"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SCAN_EXPECT))
def test_scan_is_ocred(scan_result: Callable[[str], TextResult], name: str) -> None:
    pages, phrases = SCAN_EXPECT[name]
    result = scan_result(name)
    check_archive(result, result.archive_pdf.parent)
    assert result.ocr_performed
    assert result.pages == pages
    assert result.pdfa, "OCRed scans should come out as validated PDF/A"
    for phrase in phrases:
        assert phrase in result.text, f"{phrase!r} not found in {name}"
    if not phrases:
        assert result.text.strip() == ""


@pytest.mark.slow
def test_multipage_images_keep_page_order(scan_result: Callable[[str], TextResult]) -> None:
    for name in ("pngx-multi-page-images.pdf", "pngx-multi-page-images.tiff"):
        texts = scan_result(name).text.split("\f")
        assert [f"Page {i}" in t for i, t in enumerate(texts, 1)] == [True] * 3


@pytest.mark.slow
@pytest.mark.parametrize("name,minimum", [("linn.pdf", 0.9), ("ccitt.pdf", 0.8), ("jbig2.pdf", 0.8), ("skew.pdf", 0.7)])
def test_linn_words_found(corpus: Path, scan_result: Callable[[str], TextResult], name: str, minimum: float) -> None:
    expected = words((corpus / "scans/linn.txt").read_text(encoding="utf-8"))
    found = words(scan_result(name).text)
    recall = len(expected & found) / len(expected)
    assert recall >= minimum, f"{name}: only {recall:.0%} of linn.txt's words found"


@pytest.mark.slow
def test_mixed_pdf_ocrs_only_missing_pages(corpus: Path, tmp_path: Path) -> None:
    result = produce_archive(corpus / "digital/pngx-multi-page-mixed.pdf", tmp_path, OcrConfig())
    check_archive(result, tmp_path)
    assert result.ocr_performed and result.pages == 6
    texts = result.text.split("\f")
    for i, text in enumerate(texts, 1):
        assert f"Page {i}" in text


@pytest.mark.slow
def test_tagged_pdf_without_text_is_ocred(corpus: Path, tmp_path: Path) -> None:
    result = produce_archive(corpus / "digital/pngx-tagged-but-no-text.pdf", tmp_path, OcrConfig())
    assert result.ocr_performed and "This is a test." in result.text


@pytest.mark.slow
def test_page_with_a_few_characters_is_ocred_and_keeps_them(tmp_path: Path) -> None:
    # A scan with a scanner's stamp ("S. 1": under min_text_chars) next to a
    # born-digital page: only the scan page is OCRed, the stamp stays.
    scan = render_scan(["Quarterly statement for Springfield", "Balance carried forward"], tmp_path / "scan.png")
    pdf = FPDF(unit="pt", format=(432, 168))
    pdf.add_font("d", "", FONT)
    pdf.set_font("d", size=10)
    pdf.add_page()
    pdf.image(str(scan), x=0, y=0, w=432, h=168)
    pdf.text(380, 160, "S. 1")
    pdf.add_page()
    pdf.text(20, 40, "A born-digital page with plenty of real text on it.")
    src = tmp_path / "stamped.pdf"
    pdf.output(str(src))
    result = produce_archive(src, tmp_path / "work", OcrConfig())
    first, second = result.text.split("\f")
    assert result.ocr_performed
    assert "Quarterly statement" in first and "S. 1" in first
    assert second == "A born-digital page with plenty of real text on it."


@pytest.mark.slow
def test_german_scan_with_date(tmp_path: Path) -> None:
    src = render_scan(["Köln, den 15. März 2024", "Sehr geehrte Frau Müller,", "für Ihre Bestellung danken wir."],
                      tmp_path / "brief.png")
    result = produce_archive(src, tmp_path / "work", OcrConfig(languages="deu+eng"))
    assert "März" in result.text and "Müller" in result.text
    assert str(find_created_date(result.text, languages=["deu"])) == "2024-03-15"


@pytest.mark.slow
def test_bmp_and_default_dpi(tmp_path: Path) -> None:
    src = tmp_path / "scan.bmp"
    Image.open(render_scan(["Bitmap scans work too"], tmp_path / "s.png")).save(src, format="BMP")
    result = produce_archive(src, tmp_path / "work", OcrConfig())
    assert result.mime_type == "image/bmp" and "Bitmap scans work too" in result.text


@pytest.mark.slow
def test_always_forces_ocr(corpus: Path, tmp_path: Path) -> None:
    src = corpus / "digital/pngx-simple-digital.pdf"
    result = produce_archive(src, tmp_path, OcrConfig(mode="always"))
    assert result.ocr_performed and result.pdfa
    assert result.archive_pdf.read_bytes() != src.read_bytes()
    assert "This is a test document." in result.text


@pytest.mark.slow
def test_always_on_signed_pdf_invalidates_archive_signature(
    corpus: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="paperfs.consume.stages.ocr"):
        result = produce_archive(corpus / "digital/pngx-signed.pdf", tmp_path, OcrConfig(mode="always"))
    assert result.ocr_performed and "digitally signed PDF" in result.text
    assert "signature" in caplog.text


@pytest.mark.slow
def test_redo_replaces_old_ocr(corpus: Path, tmp_path: Path) -> None:
    result = produce_archive(corpus / "digital/graph_ocred.pdf", tmp_path, OcrConfig(mode="redo"))
    assert result.ocr_performed and "Oppose" in result.text


@pytest.mark.slow
def test_redo_on_a_form_falls_back(corpus: Path, tmp_path: Path) -> None:
    result = produce_archive(corpus / "digital/pngx-with-form.pdf", tmp_path, OcrConfig(mode="redo"))
    assert "This is a PDF document with a form." in result.text


@pytest.mark.slow
def test_pdfa_born_digital(corpus: Path, tmp_path: Path) -> None:
    settings = OcrConfig(pdfa_born_digital=True)
    converted = produce_archive(corpus / "digital/graph_ocred.pdf", tmp_path / "a", settings)
    assert converted.pdfa and not converted.ocr_performed and "Oppose" in converted.text
    # /DocChecksum in the trailer: the internal PDF/A backend cannot confirm it,
    # so the original bytes are kept rather than a non-PDF/A rewrite
    src = corpus / "digital/pngx-simple-digital.pdf"
    kept = produce_archive(src, tmp_path / "b", settings)
    assert not kept.pdfa and kept.archive_pdf.read_bytes() == src.read_bytes()
    # a signature is worth more than PDF/A
    src = corpus / "digital/pngx-signed.pdf"
    signed = produce_archive(src, tmp_path / "c", settings)
    assert not signed.pdfa and signed.archive_pdf.read_bytes() == src.read_bytes()


@pytest.mark.slow
def test_missing_language_pack(corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(MissingDependencyError) as e:
        produce_archive(corpus / "scans/pngx-simple.png", tmp_path, OcrConfig(languages="eng+zzz"))
    assert "pngx-simple.png" in str(e.value) and "zzz" in str(e.value)


@pytest.mark.slow
def test_deskew_with_existing_text(corpus: Path, tmp_path: Path) -> None:
    # OCRmyPDF refuses deskew in redo mode: mixed PDFs are then force-OCRed on
    # the pages without text, and an explicit redo simply does not deskew.
    mixed = produce_archive(corpus / "digital/pngx-multi-page-mixed.pdf", tmp_path / "a", OcrConfig(deskew=True))
    assert [f"Page {i}" in t for i, t in enumerate(mixed.text.split("\f"), 1)] == [True] * 6
    redo = produce_archive(corpus / "digital/graph_ocred.pdf", tmp_path / "b", OcrConfig(mode="redo", deskew=True))
    assert redo.ocr_performed and "Oppose" in redo.text
