"""Barcodes: separator sheets, ASN labels and tag barcodes cut a scan into documents.

On paperless-ngx's own samples (tests/corpus/barcodes/) and on stacks made here
(a zxing-cpp barcode on a page with real text), through the real recipe and the
writer (a one-shot consumer); the pages of each document are checked by their text.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image, ImageDraw

from paperfs.config import BarcodeConfig, TagBarcode
from paperfs.consume import barcodes
from paperfs.consume.barcodes import Cut, Marks
from paperfs.daemon.consumer import Consumer
from tests.helpers import archive_state, config_for, failed_state, init_root, page_texts, sha256


@pytest.fixture
def root(tmp_path):
    return init_root(tmp_path)


def consume(root, *paths: Path, **env: str):
    """Consumed one-shot with barcodes on; without OCR unless asked (the samples' pages
    to check carry text; their blank pages would only cost OCR time)."""
    env = {"barcodes__enabled": "true", "ocr__mode": "never", **env}
    consumer = Consumer(config_for(root, **env), serial=True)
    consumer.open()
    try:
        consumer.claim_files(list(paths))
        return consumer.consume_now()
    finally:
        consumer.close()


def filed(root, results) -> list[tuple[list[str], object]]:
    """Each filed document in filing order: its pages' text and its document."""
    assert all(r.error is None for r in results), [str(r.error) for r in results]
    archive_state(root)  # every pair consistent
    return [(page_texts(root.archive / f"{r.path}.pdf"), r.doc) for r in results]


def barcode_image(text: str, kind=zxingcpp.BarcodeFormat.Code128, *, upside_down=False,
                  damaged=False) -> Image.Image:
    image = Image.fromarray(zxingcpp.write_barcode_to_image(
        zxingcpp.create_barcode(text, kind), scale=4))
    if damaged:  # a smudge across the whole code: no reader gets it back
        draw = ImageDraw.Draw(image)
        w, h = image.size
        draw.rectangle((w // 4, 0, w // 2, h), fill=255)
    return image.rotate(180) if upside_down else image


def make_stack(path: Path, pages: list[tuple[str, Image.Image | None]]) -> Path:
    """A born-digital PDF: each page its text, and a barcode image under it if given."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=14)
    for text, code in pages:
        pdf.add_page()
        pdf.cell(0, 10, text, new_x="LMARGIN", new_y="NEXT")
        if code is not None:
            buffer = io.BytesIO()
            code.save(buffer, "PNG")
            pdf.image(buffer, x=30, y=60, w=80)
    pdf.output(str(path))
    return path


# ------------------------------------------------------------------ paperless' samples


def test_a_separator_in_the_middle_cuts_two_documents_and_is_dropped(root, corpus):
    docs = filed(root, consume(root, corpus / "barcodes/pngx-patch-code-t-middle.pdf"))
    assert [texts for texts, _ in docs] == [["This is a test document."]] * 2


def test_several_separators_cut_three_documents(root, corpus):
    docs = filed(root, consume(root, corpus / "barcodes/pngx-several-patcht-codes.pdf"))
    assert [texts for texts, _ in docs] == [["This is a test document."] * 2] * 2 + [
        ["This is a test document."]]
    # provenance: which input, which of its pages
    source = docs[1][1].source
    assert source["input"] == {"name": "pngx-several-patcht-codes.pdf",
                               "sha256": sha256(corpus / "barcodes/pngx-several-patcht-codes.pdf")}
    assert source["pages"] == [4, 5]


def test_two_separators_in_a_row_make_no_empty_document(root, corpus):
    docs = filed(root, consume(root, corpus / "barcodes/pngx-patch-code-t-double.pdf"))
    assert [texts for texts, _ in docs] == [["This is a test document."]] * 2


def test_kept_separator_pages_begin_the_next_document(root, corpus):
    docs = filed(root, consume(root, corpus / "barcodes/pngx-patch-code-t-middle.pdf",
                               barcodes__keep_separator_pages="true", ocr__mode="auto"))
    (first, _), (second, _) = docs
    assert first == ["This is a test document."]
    # the kept sheet (a scan, OCRed with its document) and the page after it
    assert "Patch Code" in second[0] and second[1] == "This is a test document."
    assert [doc.source["pages"] for _, doc in docs] == [[1], [2, 3]]


def test_asn_barcodes_cut_and_number_the_documents(root, corpus):
    docs = filed(root, consume(root, corpus / "barcodes/pngx-split-by-asn-1.pdf"))
    assert [doc.asn for _, doc in docs] == [123, 124, 125, 126, 127]
    assert [doc.source["pages"] for _, doc in docs] == [[1, 2], [3], [4, 5, 6], [7, 8], [9, 10]]
    assert [texts[0].split(" This")[0] for texts, _ in docs] == [
        "Barcode 39 ASN000123", "Barcode 39 ASN00124", "Barcode 39 ASN00125",
        "Barcode 39 ASN00126", "Barcode 39 ASN00127"]


def test_asn_and_separator_together(root, corpus):
    docs = filed(root, consume(root, corpus / "barcodes/pngx-split-by-asn-2.pdf"))
    assert [(doc.source["pages"], doc.asn) for _, doc in docs] == [
        ([1, 2], 123), ([4], None), ([5], 124), ([6, 7, 8], 125), ([9, 10], 126),
        ([11, 12], 127)]


@pytest.mark.parametrize("sample, env", [
    ("pngx-barcode-39-asn-123.pdf", {}),
    ("pngx-barcode-qr-asn-000123-upscale-dpi.pdf", {}),
    ("pngx-barcode-39-asn-custom-prefix.pdf", {"barcodes__asn_prefix": "CUSTOM-PREFIX-"}),
])
def test_an_asn_on_a_one_page_scan_numbers_it_and_keeps_it_whole(root, corpus, sample, env):
    [(texts, doc)] = filed(root, consume(root, corpus / "barcodes" / sample, **env))
    assert doc.asn == 123
    # not cut: the original is the input itself, byte for byte
    assert doc.original.sha256 == sha256(corpus / "barcodes" / sample)
    assert "pages" not in doc.source


def test_a_tag_barcode_adds_its_tag(root, corpus):
    [(_, doc)] = filed(root, consume(
        root, corpus / "barcodes/pngx-barcode-128-custom.pdf",
        barcodes__tags='[{pattern: "CUSTOM (\\\\w+)", tag: "scanned-\\\\1"}]'))
    assert doc.tags == ("scanned-BARCODE",)


def test_a_scan_of_nothing_but_a_separator_fails_with_its_reason(root, corpus):
    results = consume(root, corpus / "barcodes/pngx-patch-code-t.pdf")
    assert results[0].error is not None
    assert archive_state(root) == {}
    [(name, info)] = failed_state(root).items()
    assert name == "pngx-patch-code-t.pdf"
    assert "every page is a separator sheet (PATCHT)" in info["message"]


def test_barcodes_off_read_nothing(root, corpus):
    docs = filed(root, consume(root, corpus / "barcodes/pngx-split-by-asn-1.pdf",
                               barcodes__enabled="false"))
    assert [(len(texts), doc.asn) for texts, doc in docs] == [(10, None)]


# ------------------------------------------------------------------ an ASN in use


def test_an_asn_in_use_is_refused_naming_the_document_that_holds_it(root, corpus):
    [(_, first)] = filed(root, consume(root, corpus / "barcodes/pngx-barcode-39-asn-123.pdf"))
    results = consume(root, corpus / "barcodes/pngx-barcode-qr-asn-000123-upscale-dpi.pdf")
    assert results[0].error is not None and results[0].error.reason == "asn-in-use"
    [(name, info)] = failed_state(root).items()
    assert name == "pngx-barcode-qr-asn-000123-upscale-dpi.pdf"
    assert f"ASN 123 is already held by document {first.id}" in info["message"]
    assert list(archive_state(root)) == [first.id]  # nothing of the second was filed


def test_one_asn_on_two_parts_of_a_scan_is_refused(root, tmp_path):
    stack = make_stack(tmp_path / "twice.pdf", [
        ("Letter one", barcode_image("ASN7")), ("Letter two", barcode_image("ASN7"))])
    results = consume(root, stack)
    assert results[0].error is not None and results[0].error.reason == "asn-in-use"
    assert "ASN 7 is on two of the documents" in failed_state(root)["twice.pdf"]["message"]
    assert archive_state(root) == {}


# ------------------------------------------------------------------ generated stacks


def test_an_upside_down_asn_label_is_read(root, tmp_path):
    stack = make_stack(tmp_path / "stack.pdf", [
        ("Invoice page one", None), ("Invoice page two", None),
        ("Contract page one", barcode_image("ASN00042", upside_down=True)),
        ("Contract page two", None)])
    docs = filed(root, consume(root, stack))
    assert [(texts, doc.asn) for texts, doc in docs] == [
        (["Invoice page one", "Invoice page two"], None),
        (["Contract page one", "Contract page two"], 42)]


def test_a_qr_separator_sideways_is_read(root, tmp_path):
    code = barcode_image("PATCHT", zxingcpp.BarcodeFormat.QRCode).rotate(90, expand=True)
    stack = make_stack(tmp_path / "stack.pdf", [("A one", None), ("separator", code),
                                                ("B one", None)])
    docs = filed(root, consume(root, stack))
    assert [texts for texts, _ in docs] == [["A one"], ["B one"]]


def test_an_unreadable_separator_cuts_nothing(root, tmp_path):
    stack = make_stack(tmp_path / "stack.pdf", [
        ("A one", None), ("separator", barcode_image("PATCHT", damaged=True)), ("B one", None)])
    docs = filed(root, consume(root, stack))
    assert [texts for texts, _ in docs] == [["A one", "separator", "B one"]]


def test_a_separator_on_page_one_makes_no_empty_document(root, tmp_path):
    stack = make_stack(tmp_path / "stack.pdf", [
        ("separator", barcode_image("PATCHT")), ("A one", None), ("A two", None)])
    docs = filed(root, consume(root, stack))
    assert [(texts, doc.source["pages"]) for texts, doc in docs] == [(["A one", "A two"], [2, 3])]


def test_an_asn_on_page_one_cuts_nothing_before_it(root, tmp_path):
    stack = make_stack(tmp_path / "stack.pdf", [
        ("A one", barcode_image("ASN5")), ("A two", None), ("B one", barcode_image("ASN6"))])
    docs = filed(root, consume(root, stack))
    assert [(texts, doc.asn) for texts, doc in docs] == [(["A one", "A two"], 5), (["B one"], 6)]


def test_tag_barcodes_split_when_asked(root, tmp_path):
    stack = make_stack(tmp_path / "stack.pdf", [
        ("A one", barcode_image("TAG:tax")), ("A two", None),
        ("B one", barcode_image("TAG:bank")), ("B two", barcode_image("TAG:urgent"))])
    docs = filed(root, consume(root, stack, barcodes__split_on_tag="true",
                               barcodes__tags='[{pattern: "TAG:(.+)", tag: "\\\\1"}]'))
    assert [(texts, doc.tags) for texts, doc in docs] == [
        (["A one", "A two"], ("tax",)), (["B one"], ("bank",)), (["B two"], ("urgent",))]


def test_max_pages_reads_only_the_first_pages(root, tmp_path):
    stack = make_stack(tmp_path / "stack.pdf", [
        ("A one", None), ("separator", barcode_image("PATCHT")), ("B one", None),
        ("separator", barcode_image("PATCHT")), ("C one", None)])
    docs = filed(root, consume(root, stack, barcodes__max_pages="3"))
    assert [texts for texts, _ in docs] == [["A one"], ["B one", "separator", "C one"]]


@pytest.mark.slow
def test_a_scanned_stack_is_cut_and_each_part_ocred(root, tmp_path):
    """An image-only scan (no text layer): barcodes read, parts cut, each part OCRed."""
    from tests.samples import make_scan

    pages = []
    for index, words in enumerate(["Invoice from ACME", None, "Letter from the bank"]):
        if words is None:
            image = Image.new("L", (1240, 1754), 255)
            image.paste(barcode_image("PATCHT"), (200, 300))
        else:
            scan = make_scan(tmp_path / f"p{index}.png", [words], dpi=150)
            image = Image.open(scan).convert("L")
        pages.append(image)
    stack = tmp_path / "scan.pdf"
    pages[0].save(stack, "PDF", resolution=150, save_all=True, append_images=pages[1:])
    docs = filed(root, consume(root, stack, ocr__mode="auto"))
    assert len(docs) == 2
    assert "ACME" in docs[0][1].content and "bank" in docs[1][1].content
    assert all(doc.archive.ocr for _, doc in docs)


# ------------------------------------------------------------------ the plan alone


def test_plan_rules():
    settings = BarcodeConfig(enabled=True, tags=(TagBarcode("T:(.*)", r"\1"),))
    assert barcodes.plan({2: Marks(separator=True)}, 3, settings) == [Cut((1,)), Cut((3,))]
    assert barcodes.plan({1: Marks(asn=1), 3: Marks(asn=2)}, 4, settings) == [
        Cut((1, 2), asn=1), Cut((3, 4), asn=2)]
    # separator then ASN on the next page: one cut, not an empty document between
    assert barcodes.plan({2: Marks(separator=True), 3: Marks(asn=9)}, 4, settings) == [
        Cut((1,)), Cut((3, 4), asn=9)]
    assert barcodes.marks(["T:x", "ASN 0012", "PATCHT"], settings) == Marks(True, 12, ("x",))
    assert barcodes.asn_of("ASNX", "ASN") is None and barcodes.asn_of("asn-7", "ASN") == 7
