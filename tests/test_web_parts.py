"""Parts of the web page on their own: the multipart reader, thumbnails (made once,
by reindex when missing, none for a damaged PDF), templates escaping."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest

from paperfs.archive.reindex import reindex
from paperfs.runtime import Runtime
from paperfs.web import multipart
from paperfs.web.http import BadRequest
from paperfs.web.templates import render, snippet
from paperfs.web.thumbnails import Thumbnails

from tests.dav_support import add_doc, init_root


def form(parts: list[tuple[str, str | None, bytes]], boundary: str = "XyZ") -> bytes:
    body = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    return body + f"--{boundary}--\r\n".encode()


@pytest.mark.parametrize("chunk", [1, 3, 7, 64, 1 << 18])
def test_multipart_reads_files_and_fields_whatever_the_chunks(monkeypatch, tmp_path, chunk) -> None:
    monkeypatch.setattr(multipart, "CHUNK", chunk)
    tricky = b"line\r\n--Xy is not the end\r\n--X\r\n-" + bytes(range(256)) * 3 + b"\r\n--Xy"
    body = form([("csrf", None, b"token-1"), ("file", "a.pdf", tricky),
                 ("file", "empty.txt", b""), ("note", None, "ü".encode())])
    opened: dict[str, Path] = {}

    def open_file(name: str):
        opened[name] = tmp_path / f"{len(opened)}.bin"
        return name, open(opened[name], "wb")

    parsed = multipart.parse(io.BytesIO(body), len(body),
                             'multipart/form-data; boundary="XyZ"', open_file)
    assert parsed.fields == {"csrf": "token-1", "note": "ü"}
    assert [name for name, _ in parsed.files] == ["a.pdf", "empty.txt"]
    assert opened["a.pdf"].read_bytes() == tricky
    assert opened["empty.txt"].read_bytes() == b""


def test_multipart_refuses_a_cut_body(tmp_path) -> None:
    body = form([("file", "a.pdf", b"x" * 1000)])[:600]
    with pytest.raises(BadRequest, match="cut off"):
        multipart.parse(io.BytesIO(body), len(body), "multipart/form-data; boundary=XyZ",
                        lambda name: (name, open(tmp_path / "f", "wb")))
    with pytest.raises(BadRequest, match="boundary"):
        multipart.parse(io.BytesIO(b""), 0, "multipart/form-data", lambda name: None)


def test_templates_escape_and_mark_snippets() -> None:
    assert str(snippet("<b>\x02tax\x03</b>")) == "&lt;b&gt;<mark>tax</mark>&lt;/b&gt;"
    page = render("error.html", user=None, csrf="", q='"><script>', status="404",
                  message="<img src=x>")
    assert "<script>" not in page and "<img src=x>" not in page


def filed(tmp_path: Path, count: int):
    root, config = init_root(tmp_path)
    runtime = Runtime(config)
    archive = runtime.open_archive()
    for i in range(1, count + 1):
        add_doc(archive, i, f"Doc {i}", dt.date(2024, 1, i))
    runtime.close_archive(archive)
    return root, config


def test_reindex_makes_the_missing_thumbnails_only(tmp_path) -> None:
    root, config = filed(tmp_path, 3)
    totals: list[int] = []
    report = reindex(config, thumbnails=lambda n: totals.append(n) or None)
    assert report.thumbnails == (3, 0) and totals == [3]
    made = {p: p.stat().st_mtime_ns for p in root.thumbnails.rglob("*.webp")}
    assert len(made) == 3 and all(p.read_bytes()[8:12] == b"WEBP" for p in made)
    first = sorted(made)[0]
    first.unlink()
    assert reindex(config, thumbnails=lambda n: None).thumbnails == (1, 0)
    assert {p: p.stat().st_mtime_ns for p in made if p != first} == \
        {p: t for p, t in made.items() if p != first}  # the others were not made again
    assert reindex(config).thumbnails == (0, 0)  # not asked for: none made


def test_a_damaged_pdf_has_no_thumbnail_and_is_tried_once(tmp_path, caplog) -> None:
    root, _ = filed(tmp_path, 1)
    pdf = next(root.archive.rglob("*.pdf"))
    pdf.write_bytes(b"%PDF-1.4 nothing else")
    thumbnails = Thumbnails(root)
    assert thumbnails.get(1, "ab" * 32, pdf) is None
    assert thumbnails.get(1, "ab" * 32, pdf) is None
    assert sum("no thumbnail" in r.message for r in caplog.records) == 1


def test_a_failed_note_goes_when_a_new_version_renders(tmp_path) -> None:
    """The ``.failed`` note of a version is one of the document's thumbnails: replaced
    by the next version's, removed with the document (trash purge uses the same list)."""
    root, _ = filed(tmp_path, 1)
    pdf = next(root.archive.rglob("*.pdf"))
    good = pdf.read_bytes()
    pdf.write_bytes(b"%PDF-1.4 nothing else")
    thumbnails = Thumbnails(root)
    assert thumbnails.get(1, "ab" * 32, pdf) is None
    assert [p.suffix for p in root.thumbnails_of(1)] == [".failed"]
    pdf.write_bytes(good)  # a new version of the PDF
    made = thumbnails.get(1, "cd" * 32, pdf)
    assert made is not None and root.thumbnails_of(1) == [made]


def test_a_very_tall_page_is_rendered_within_bounds(tmp_path) -> None:
    """A page 50 x 14,400 points at 240 px wide would be 69,120 px high (66 MB of
    pixels; 10 points wide: 330 MB): a hostile upload could exhaust the memory."""
    import pikepdf
    from PIL import Image

    from paperfs.web.thumbnails import MAX_HEIGHT, render

    tall = pikepdf.new()
    tall.add_blank_page(page_size=(50, 14_400))
    tall.save(tmp_path / "tall.pdf")
    render(tmp_path / "tall.pdf", tmp_path / "tall.webp")
    with Image.open(tmp_path / "tall.webp") as image:
        assert image.height <= MAX_HEIGHT and image.width >= 1


def test_many_missing_thumbnails_are_made_in_worker_processes(tmp_path, monkeypatch) -> None:
    from paperfs.web import thumbnails

    root, _ = filed(tmp_path, 6)
    monkeypatch.setattr(thumbnails, "_PARALLEL_FROM", 2)
    monkeypatch.setattr(thumbnails, "_CHUNK", 2)
    documents = [(i, f"{i:064x}", pdf) for i, pdf in
                 enumerate(sorted(root.archive.rglob("*.pdf")), 1)]
    seen: list[int] = []
    assert thumbnails.make_missing(root, documents, seen.append, workers=2) == (6, 0)
    assert sum(seen) == 6
    assert all(root.thumbnail(i, sha).exists() for i, sha, _ in documents)
    assert thumbnails.make_missing(root, documents, workers=2) == (0, 0)


def test_an_upload_never_replaces_a_file_of_the_same_name(tmp_path, monkeypatch) -> None:
    """Two uploads of "scan.pdf" at once: both checked that the name was free, then
    the later one was renamed over the earlier (lost before it was filed)."""
    import os

    from paperfs.web.forms import place_upload

    # every name looks free, as to two requests that check before either moves its file
    monkeypatch.setattr(os.path, "exists", lambda path: False)

    (tmp_path / "scan.pdf").write_bytes(b"first")
    (tmp_path / "scan (2).pdf").write_bytes(b"second")  # taken after the check
    (tmp_path / ".upload").write_bytes(b"third")
    placed = place_upload(str(tmp_path / ".upload"), str(tmp_path), "scan.pdf")
    assert placed == str(tmp_path / "scan (3).pdf") and not (tmp_path / ".upload").exists()
    assert [(tmp_path / n).read_bytes() for n in ("scan.pdf", "scan (2).pdf", "scan (3).pdf")] \
        == [b"first", b"second", b"third"]
    (tmp_path / ".upload").write_bytes(b"fourth")
    assert place_upload(str(tmp_path / ".upload"), str(tmp_path), "README") == \
        str(tmp_path / "README")
