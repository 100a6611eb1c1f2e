"""Truncated PDFs: the inbox's completeness check and the text stage both refuse them.

PDFs saved with incremental updates, and linearized ones, hold several %%EOF
markers; a file cut after an earlier one still "contains %%EOF near its end"
and opens as the earlier revision. Each real corpus PDF is cut at several
offsets (just past an earlier marker, half-way, inside the trailer, inside
the last marker): every cut must be refused, every complete file accepted.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from paperfs.errors import BrokenFileError, EncryptedFileError
from paperfs.config import OcrConfig
from paperfs.consume.stages.ocr import produce_archive
from paperfs.consume.watcher import pdf_looks_complete
from tests.helpers import init_root
from tests.test_cli import paperfs

#: Files with earlier %%EOF markers (incremental updates, linearized) and plain ones.
CUT_FILES = [
    "digital/toc.pdf",  # incremental update, earlier %%EOF at byte 2,161
    "barcodes/pngx-patch-code-t.pdf",  # incremental update
    "broken/pngx-invalid_pdf.pdf",  # junk before the header, incremental update
    "scans/francais.pdf",  # linearized: %%EOF after the first-page section
    "barcodes/pngx-barcode-39-asn-123.pdf",  # linearized, CRLF line ends
    "digital/pngx-multi-page-digital.pdf",  # one revision
    "digital/trivial.pdf",  # one revision, 515 bytes
]


def complete_pdfs(corpus: Path) -> list[Path]:
    # broken/invalid.pdf is a header and a %%EOF around one line of text: not a PDF.
    return [p for p in sorted(corpus.rglob("*.pdf")) if p.name != "invalid.pdf"]


def cut_offsets(data: bytes) -> list[int]:
    """Where an upload or copy may stop; none of them is the end of a revision."""
    eofs = [m.start() for m in re.finditer(rb"%%EOF", data)]
    cuts = {len(data) // 2, len(data) - 30, eofs[-1] + 3}
    for eof in eofs[:-1]:
        end_of_line = re.match(rb"%%EOF[\r\n]*", data[eof:]).end()
        cuts |= {eof + end_of_line + 1, eof + 300}  # a byte, or a few lines, of the next part
    return sorted(c for c in cuts if 0 < c < len(data))


def test_cut_offsets_include_the_reported_case(corpus: Path) -> None:
    data = (corpus / "digital/toc.pdf").read_bytes()
    assert len(data) == 9698 and data.find(b"%%EOF") == 2161
    assert any(2161 < cut <= 3000 for cut in cut_offsets(data))


def test_every_complete_corpus_pdf_is_ready(corpus: Path) -> None:
    pdfs = complete_pdfs(corpus)
    assert len(pdfs) > 30
    not_ready = [p.name for p in pdfs if not pdf_looks_complete(p)]
    assert not_ready == []


@pytest.mark.parametrize("name", CUT_FILES)
def test_every_cut_is_not_ready(corpus: Path, tmp_path: Path, name: str) -> None:
    data = (corpus / name).read_bytes()
    taken = []
    for cut in cut_offsets(data):
        part = tmp_path / f"cut-{cut}.pdf"
        part.write_bytes(data[:cut])
        if pdf_looks_complete(part):
            taken.append(cut)
    assert taken == [], f"{name} ({len(data)} bytes) cut at these offsets looks complete"


def test_trailing_whitespace_after_the_last_marker_is_fine(corpus: Path, tmp_path: Path) -> None:
    # PDF whitespace includes NUL; some tools pad files, old DOS ones add Ctrl-Z.
    data = (corpus / "digital/toc.pdf").read_bytes()
    for i, padding in enumerate([b"", b"\r\n", b" \n\n", b"\x00" * 64, b"\n\x1a"]):
        padded = tmp_path / f"padded-{i}.pdf"
        padded.write_bytes(data + padding)
        assert pdf_looks_complete(padded), padding


def test_every_complete_corpus_pdf_passes_the_text_stage(corpus: Path, tmp_path: Path) -> None:
    # mode "never": the structural checks run, no OCR (that is tests/test_ocr.py's job)
    for pdf in complete_pdfs(corpus):
        try:
            result = produce_archive(pdf, tmp_path / pdf.stem, OcrConfig(mode="never"))
        except EncryptedFileError:
            assert pdf.parent.name == "broken", pdf  # the two password-protected ones
            continue
        assert result.pages >= 1, pdf


@pytest.mark.parametrize("name", CUT_FILES)
def test_text_stage_refuses_every_cut_as_truncated(corpus: Path, tmp_path: Path, name: str) -> None:
    data = (corpus / name).read_bytes()
    filed = []
    for cut in cut_offsets(data):
        part = tmp_path / f"cut-{cut}.pdf"
        part.write_bytes(data[:cut])
        try:
            result = produce_archive(part, tmp_path / f"work-{cut}", OcrConfig(mode="never"))
        except BrokenFileError as e:
            message = str(e)
            assert f"cut-{cut}.pdf" in message and "truncated" in message, message
            assert "again" in message, message  # says what to do
            continue
        filed.append((cut, result.pages))
    assert filed == [], f"{name}: cuts filed (offset, pages)"


def test_text_stage_refuses_a_pdf_cut_before_its_cross_reference_table(tmp_path: Path) -> None:
    # qpdf can rebuild such a file, but cut anywhere else the rebuild silently
    # loses pages or text, and the bytes cannot tell the two apart.
    from tests.samples import make_text_pdf

    data = make_text_pdf(tmp_path / "full.pdf", ["line one", "line two"], pages=3).read_bytes()
    for keep in (data.rfind(b"xref"), len(data) * 2 // 3):
        src = tmp_path / f"cut-{keep}.pdf"
        src.write_bytes(data[:keep])
        with pytest.raises(BrokenFileError, match=rf"cut-{keep}\.pdf.*truncated"):
            produce_archive(src, tmp_path / f"work-{keep}", OcrConfig(mode="never"))


@pytest.mark.slow
def test_consume_command_fails_a_truncated_update_as_truncated(corpus: Path, tmp_path: Path) -> None:
    root = init_root(tmp_path)
    aborted = tmp_path / "aborted.pdf"
    aborted.write_bytes((corpus / "digital/toc.pdf").read_bytes()[:3000])
    out = paperfs("consume", aborted, root=root, check=False)
    assert out.returncode == 6, out.stdout + out.stderr
    assert "aborted.pdf" in out.stderr and "truncated" in out.stderr
    assert not list(root.archive.rglob("*.pdf")), "a truncated PDF was filed"
    assert (root.failed / "aborted.pdf").exists()
