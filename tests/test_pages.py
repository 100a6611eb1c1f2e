"""Page edits: page specs, each operation through `paperfs pages` (page order checked
by each page's text), provenance of split and merged documents, and text redone by
real OCR only for the pages that changed."""

from __future__ import annotations

import io

import pytest
from click.testing import CliRunner

from paperfs.archive.document import read_sidecar
from paperfs.archive.pages import PageSpecError, parse_pages
from paperfs.archive.versions import history, version_file
from paperfs.cli import cli
from paperfs.consume.stages.ocr import extract_text
from tests.helpers import archive_state, init_root
from tests.samples import make_scan, make_text_pdf
from tests.test_consumer import consume


def pages(root, *args, ok=True):
    out = CliRunner().invoke(cli, ["--root", str(root.root), "pages", *map(str, args)])
    if ok:
        assert out.exit_code == 0, out.output
    return out


def texts(root, doc_id):
    """Each page's text of the document's current archive PDF."""
    doc, pdf = current(root, doc_id)
    return extract_text(pdf)


def current(root, doc_id):
    for sidecar in root.archive.rglob("*.yml"):
        doc = read_sidecar(sidecar)
        if doc.id == doc_id:
            return doc, sidecar.with_suffix(".pdf")
    raise AssertionError(f"no document {doc_id}")


def numbers(root, doc_id):
    """The page numbers printed on the document's pages, in their order now."""
    return [int(text.split("Page ")[1]) for text in texts(root, doc_id)]


@pytest.fixture
def root(tmp_path):
    root = init_root(tmp_path)
    letter = make_text_pdf(tmp_path / "letter.pdf", ["Letter"], pages=6)
    [result] = consume(root, [letter])
    assert result.error is None, result.error
    return root


# ------------------------------------------------------------------ page specs


def test_page_specs():
    assert parse_pages("1,3-5,-1", 8) == [0, 2, 3, 4, 7]
    assert parse_pages("-2--1", 8) == [6, 7]
    assert parse_pages("2,2,1-2", 3) == [1, 0]
    with pytest.raises(PageSpecError, match="document has 4 pages"):
        parse_pages("5", 4)
    with pytest.raises(PageSpecError, match="backwards; write it as 2-4"):
        parse_pages("4-2", 4)
    with pytest.raises(PageSpecError, match="not a page"):
        parse_pages("a-b", 4)
    with pytest.raises(PageSpecError, match="page 0 does not exist"):
        parse_pages("0", 4)


# ------------------------------------------------------------------ operations


def test_delete_move_rotate_each_make_a_version(root):
    pages(root, 1, "delete", "2,-1")
    assert numbers(root, 1) == [1, 3, 4, 5]
    pages(root, 1, "move", "-1", "--to", "1")
    assert numbers(root, 1) == [5, 1, 3, 4]
    pages(root, 1, "move", "1-2", "--to", "3")
    assert numbers(root, 1) == [3, 4, 5, 1]
    out = pages(root, 1, "rotate", "2", "-90")
    assert "version 5" in out.output
    doc, pdf = current(root, 1)
    import pikepdf

    with pikepdf.open(pdf) as opened:
        assert [int(p.obj.get("/Rotate", 0)) for p in opened.pages] == [0, 270, 0, 0]
    assert numbers(root, 1) == [3, 4, 5, 1]
    assert doc.archive.pages == 4
    assert [v.operation for v in history(doc)] == [
        "filed", "delete 2,-1", "move -1 --to 1", "move 1-2 --to 3", "rotate 2 -90"]
    # The sidecar's content follows, pages in their new order.
    assert doc.content.index("Page 3") < doc.content.index("Page 1")
    archive_state(root)  # every file matches its sidecar


def test_errors_name_the_page_count_and_change_nothing(root):
    before = current(root, 1)[0]
    out = pages(root, 1, "delete", "9", ok=False)
    assert out.exit_code == 2 and "document 1 has 6 pages" in out.output
    out = pages(root, 1, "delete", "1-6", ok=False)
    assert "every page" in out.output
    out = pages(root, 1, "rotate", "1", "45", ok=False)
    assert "multiples of 90" in out.output
    out = pages(root, 1, "split", "9", ok=False)
    assert "has 6 pages" in out.output
    out = pages(root, 7, "delete", "1", ok=False)
    assert out.exit_code == 3 and "no document with id 7" in out.output
    out = pages(root, 1, "restore", "3", ok=False)
    assert "versions 1 to 1" in out.output
    assert current(root, 1)[0] == before
    assert not any(root.edits.iterdir()), "refused edits leave no request behind"


def test_split_gives_new_documents_with_provenance(root):
    out = pages(root, 1, "split", "3", "5")
    assert "version 2" in out.output
    docs = archive_state(root)
    assert sorted(docs) == [1, 2, 3]
    assert numbers(root, 1) == [1, 2]
    assert numbers(root, 2) == [3, 4]
    assert numbers(root, 3) == [5, 6]
    assert docs[2].extra["provenance"] == {"split_from": {"id": 1, "version": 1,
                                                          "pages": "3-4"}}
    assert docs[3].title == "letter (pages 5-6)"
    assert "Page 5" in docs[3].content and "Page 5" not in docs[1].content
    # The whole document before the split is kept as version 1.
    assert extract_text(version_file(root, 1, 1))[5].endswith("Page 6")


def test_merge_appends_and_trashes_the_others(root, tmp_path):
    other = make_text_pdf(tmp_path / "other.pdf", ["Other"], pages=2)
    [result] = consume(root, [other])
    assert result.doc.id == 2
    pages(root, 1, "merge", "2")
    assert numbers(root, 1) == [1, 2, 3, 4, 5, 6, 1, 2]
    assert "Other" in texts(root, 1)[6]
    docs = archive_state(root)
    assert sorted(docs) == [1]
    assert docs[1].extra["provenance"]["merged_from"] == [
        {"id": 2, "title": "other", "pages": 2}]
    trashed = [p for p in root.trash.rglob("*.yml") if p.name != "trash.yml"]
    assert len(trashed) == 1 and read_sidecar(trashed[0]).extra["provenance"] == {
        "merged_into": 1}


# ------------------------------------------------------------------ text


def _scan_with_upside_down_page(path, tmp_path):
    """Three scanned pages; the second was fed upside down."""
    from PIL import Image

    images = []
    for number, word in enumerate(["Alpha invoice", "Bravo reminder", "Charlie receipt"]):
        png = make_scan(tmp_path / f"p{number}.png", [word, f"Sheet {number + 1}"], dpi=150)
        image = Image.open(png)
        images.append(image.rotate(180) if number == 1 else image)
    buffer = io.BytesIO()
    images[0].save(buffer, "PDF", resolution=150, save_all=True, append_images=images[1:])
    path.write_bytes(buffer.getvalue())
    return path


def test_rotating_redoes_the_text_of_the_rotated_page_only(tmp_path):
    root = init_root(tmp_path)
    [result] = consume(root, [_scan_with_upside_down_page(tmp_path / "scan.pdf", tmp_path)])
    assert result.error is None, result.error
    before = texts(root, 1)
    assert "Alpha" in before[0] and "Charlie" in before[2]
    assert "Bravo" not in before[1], "an upside-down page has no usable text"
    out = pages(root, 1, "rotate", "2", "180")
    assert "1 page(s) to OCR" in out.output
    after = texts(root, 1)
    assert "Bravo" in after[1]
    assert (after[0], after[2]) == (before[0], before[2]), "unchanged pages keep their text"
    doc = current(root, 1)[0]
    assert "Bravo" in doc.content
    # The index follows: the new text is found.
    found = CliRunner().invoke(cli, ["--root", str(root.root), "search", "Bravo"])
    assert found.exit_code == 0 and "scan" in found.output, found.output
