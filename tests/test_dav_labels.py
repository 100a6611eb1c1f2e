"""Labels over WebDAV: declared labels are folders (empty until a document has them), and
a superuser reads and writes labels.yml at /labels.yml, validated before it is written."""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

from paperfs.classify.labels import load_labels
from tests.dav_support import LOCKINFO, add_doc, running

LABELS = """\
# household labels
tags:
  Finance: {match: invoice}
  Taxes: {parent: Finance}
correspondents:
  ACME GmbH: {match: ACME}
document_types:
  Contract: {}
"""


def docs(archive) -> None:
    (archive.root.root / "labels.yml").write_text(LABELS)
    add_doc(archive, 1, "Letter", dt.date(2024, 5, 1), tags=("private",), correspondent="Bob")


def test_declared_labels_are_folders_before_any_document_has_them(tmp_path: Path) -> None:
    with running(tmp_path, docs) as dav:
        assert dav.names("/tags") == ["Finance", "private", "Taxes"]
        assert dav.names("/correspondents") == ["ACME GmbH", "Bob"]
        assert dav.names("/types") == ["Contract"]
        assert dav.names("/tags/Finance") == []
        assert dav.propfind("/tags/finance", depth="0").status == 207  # names without case
        assert dav.propfind("/tags/Nothing", depth="0").status == 404
        # an empty label folder takes documents like any other
        r = dav.move("/by-id/1.pdf", "/correspondents/ACME GmbH/2024-05-01 Letter.pdf")
        assert r.status in (201, 204), r.body
        assert dav.sidecar(1).correspondent == "ACME GmbH"
        r = dav.move("/by-id/1.pdf", "/tags/Taxes/2024-05-01 Letter.pdf", copy=True)
        assert r.status in (201, 204), r.body
        assert dav.sidecar(1).tags == ("private", "Taxes")
        assert dav.names("/tags/Taxes") == ["2024-05-01 Letter.pdf"]


def test_only_a_superuser_sees_labels_yml(tmp_path: Path) -> None:
    with running(tmp_path, docs) as dav:
        assert "labels.yml" in dav.names("/", "root")
        assert "labels.yml" not in dav.names("/", "alice")
        r = dav.request("GET", "/labels.yml", "root")
        assert r.status == 200 and r.body.decode() == LABELS
        assert r.headers["content-type"].startswith("application/yaml")
        for method in ("GET", "PROPFIND", "DELETE"):
            assert dav.request(method, "/labels.yml", "alice").status == 404, method
        # a PUT is refused like a PUT of any other new file at the top
        r = dav.request("PUT", "/labels.yml", "alice", body="tags:\n  Mine: {}\n")
        assert r.status == 403 and b"does not take new files" in r.body
        assert (dav.root.root / "labels.yml").read_text() == LABELS


def test_a_superuser_writes_labels_yml_and_it_is_in_force(tmp_path: Path) -> None:
    with running(tmp_path, docs) as dav:
        new = LABELS.replace("  Taxes: {parent: Finance}\n",
                             "  Taxes: {parent: Finance}\n  Insurance: {match: policy}\n")
        r = dav.request("PUT", "/labels.yml", "root", body=new)
        assert r.status == 204, r.body
        assert (dav.root.root / "labels.yml").read_text() == new
        assert "Insurance" in load_labels(dav.root.root / "labels.yml").tags
        assert "Insurance" in dav.names("/tags")  # the server follows the file
        etag = r.headers.get("etag")
        assert etag and etag == dav.request("GET", "/labels.yml", "root").headers["etag"]


def test_an_invalid_labels_yml_is_refused_and_the_file_untouched(tmp_path: Path) -> None:
    with running(tmp_path, docs) as dav:
        path = dav.root.root / "labels.yml"
        stamp = path.stat().st_mtime_ns
        for body, problem in (
            ("tags:\n  Finance: {match: invoice}\n  Taxes: {parent: Money}\n",
             "labels.yml: line 3: tag 'Taxes': parent 'Money' is not a declared tag"),
            ("tags:\n  A: {algorithm: regex, match: '(x'}\n",
             "line 2: tag 'A': match is not a valid regular expression"),
            ("tags: [a, b\n", "not valid YAML"),
            (b"tags:\n  \xff: {}\n", "must be UTF-8 text"),
        ):
            r = dav.request("PUT", "/labels.yml", "root", body=body)
            assert r.status == 422, (body, r.status, r.body)
            text = html.unescape(r.body.decode())  # wsgidav's error page escapes quotes
            assert problem in text and "the file was not changed" in text, text
            assert path.read_text() == LABELS and path.stat().st_mtime_ns == stamp
        assert dav.request("DELETE", "/labels.yml", "root").status == 403
        assert path.read_text() == LABELS


def test_a_superuser_creates_labels_yml(tmp_path: Path) -> None:
    with running(tmp_path) as dav:
        assert "labels.yml" not in dav.names("/", "root")
        assert dav.request("GET", "/labels.yml", "root").status == 404
        r = dav.request("PUT", "/labels.yml", "root", body="tags:\n  Finance: {match: invoice}\n")
        assert r.status == 201, r.body
        assert list(load_labels(dav.root.root / "labels.yml").tags) == ["Finance"]
        assert dav.names("/tags") == ["Finance"]


def test_a_locked_labels_yml_needs_the_token(tmp_path: Path) -> None:
    with running(tmp_path, docs) as dav:
        r = dav.request("LOCK", "/labels.yml", "root", body=LOCKINFO,
                        headers={"Content-Type": "application/xml", "Timeout": "Second-60"})
        assert r.status == 200, r.body
        token = r.headers["lock-token"]
        body = LABELS + "  # a comment\n"
        assert dav.request("PUT", "/labels.yml", "root", body=body).status == 423
        r = dav.request("PUT", "/labels.yml", "root", body=body,
                        headers={"If": f"({token})"})
        assert r.status == 204, r.body
        assert (dav.root.root / "labels.yml").read_text() == body
