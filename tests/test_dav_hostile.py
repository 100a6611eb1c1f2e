"""Hostile requests, sent raw: each refused with the right status, nothing changed on disk."""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest

from tests.dav_support import Dav, add_doc, raw, req, running

LIMITS = ("  max_xml_bytes: 4096\n  max_body_bytes: 1000000\n  max_header_bytes: 8192\n"
          # the fixture's upload stays in /inbox: snapshots compare the whole tree
          "  inbox_idle_seconds: 600\n")


def docs(archive):
    add_doc(archive, 1, "Invoice", dt.date(2024, 3, 15), correspondent="ACME", tags=("tax",))
    add_doc(archive, 2, "Private", dt.date(2024, 3, 16), owner="bob")


@pytest.fixture(scope="module")
def dav(tmp_path_factory):
    with running(tmp_path_factory.mktemp("hostile"), docs, extra=LIMITS) as server:
        server.request("MKCOL", "/inbox/a")
        server.request("PUT", "/inbox/a/file.txt", body=b"hello")
        time.sleep(0.1)
        yield server


def snapshot(dav: Dav) -> dict[str, tuple[int, int]]:
    out = {}
    for top in ("archive", "inbox", "trash", "originals", "failed"):
        for dirpath, dirnames, files in os.walk(dav.root.root / top):
            for name in dirnames + files:
                path = os.path.join(dirpath, name)
                st = os.lstat(path)
                out[path] = (st.st_size, st.st_mtime_ns if name in files else 0)
    out["users"] = (os.stat(dav.root.root / "users.yml").st_mtime_ns, 0)
    return out


@pytest.mark.parametrize("target", [
    "/inbox/../archive/", "/inbox/%2e%2e/archive/", "/%2E%2E/%2e%2e/etc/passwd",
    "/inbox/a/../../paperfs.yml", "/archive/./ACME", "/inbox/%00x", "/inbox/%ff%fe",
])
def test_traversal_and_bad_paths(dav: Dav, target: str):
    before = snapshot(dav)
    for method in ("GET", "PROPFIND", "DELETE", "PUT", "MKCOL"):
        status, data = raw(dav, req(method, target, {"Depth": "1"}, b"x" if method == "PUT" else b""))
        assert status == 400, (method, target, data[:200])
        assert b"root:" not in data and b"data_root" not in data
    assert snapshot(dav) == before


@pytest.mark.parametrize("destination, status", [
    ("/inbox/../archive/x.pdf", 400),
    ("/inbox/%2e%2e/%2e%2e/x", 400),
    ("http://127.0.0.1:{port}/inbox/%2E%2E/x", 400),
    ("http://evil.example/inbox/x", 502),
    ("https://127.0.0.1:{port}/inbox/x", 502),
    ("//evil.example/inbox/x", 502),
    ("file:///etc/passwd", 400),
    ("/etc/passwd", 409),
    ("/inbox/x#frag", 400),
    ("inbox/x", 400),
])
def test_hostile_destinations(dav: Dav, destination: str, status: int):
    before = snapshot(dav)
    dest = destination.format(port=dav.port)
    for method in ("MOVE", "COPY"):
        for src in ("/inbox/a/file.txt", "/by-id/1.pdf"):
            got, data = raw(dav, req(method, src, {"Destination": dest}))
            assert got == status, (method, src, dest, data[:300])
    assert snapshot(dav) == before


def test_move_into_itself(dav: Dav):
    before = snapshot(dav)
    for src, dest in (("/inbox/a", "/inbox/a/b"), ("/inbox/a/", "/inbox/a/"),
                      ("/tags/tax", "/tags/tax/sub"), ("/inbox", "/inbox/a/inbox")):
        status, data = raw(dav, req("MOVE", src, {"Destination": dest}))
        assert status == 403, (src, dest, data[:300])
    assert snapshot(dav) == before


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE propfind [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<D:propfind xmlns:D="DAV:"><D:prop><D:displayname>&xxe;</D:displayname></D:prop></D:propfind>"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<D:propfind xmlns:D="DAV:"><D:prop><D:displayname>&lol4;</D:displayname></D:prop></D:propfind>"""


@pytest.mark.parametrize("body", [XXE, LAUGHS, XXE.replace(b"DOCTYPE", b"doctype")])
@pytest.mark.parametrize("method, target", [("PROPFIND", "/"), ("PROPFIND", "/by-id/1.pdf"),
                                            ("PROPPATCH", "/inbox/a/file.txt"),
                                            ("LOCK", "/inbox/a/file.txt")])
def test_entities_are_never_expanded(dav: Dav, body: bytes, method: str, target: str):
    before = snapshot(dav)
    started = time.monotonic()
    status, data = raw(dav, req(method, target, {"Depth": "0", "Content-Type": "text/xml"}, body))
    assert status == 400, data[:300]
    assert time.monotonic() - started < 2
    assert b"root:" not in data and b"lollol" not in data
    assert snapshot(dav) == before


def test_utf16_xml_is_refused(dav: Dav):
    body = '<?xml version="1.0" encoding="UTF-16"?><D:propfind xmlns:D="DAV:"/>'.encode("utf-16")
    status, _ = raw(dav, req("PROPFIND", "/", {"Depth": "0"}, body))
    assert status == 415


def test_oversized_bodies_and_heads(dav: Dav):
    before = snapshot(dav)
    # an XML body over dav.max_xml_bytes: refused before it is read
    status, _ = raw(dav, req("PROPFIND", "/", {"Depth": "0", "Content-Length": "5000000"}))
    assert status == 413
    # the same, chunked
    chunk = b"x" * 5000
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(chunk), chunk)
    status, _ = raw(dav, req("PROPPATCH", "/inbox/a/file.txt",
                             {"Transfer-Encoding": "chunked"}, body))
    assert status == 413
    # a body on a method that takes none is limited the same way
    status, _ = raw(dav, req("MOVE", "/inbox/a/file.txt",
                             {"Destination": "/inbox/b.txt", "Content-Length": "5000000"}))
    assert status == 413
    # an upload over dav.max_body_bytes: refused by the server before reading
    status, _ = raw(dav, req("PUT", "/inbox/big.pdf", {"Content-Length": "2000000"}))
    assert status == 413
    # a request head over dav.max_header_bytes
    status, _ = raw(dav, req("GET", "/", {"X-Big": "y" * 20000}))
    assert status in (400, 413, 431)
    status, _ = raw(dav, req("GET", "/" + "a" * 20000))
    assert status in (400, 413, 414)
    assert snapshot(dav) == before
    # the server still works
    assert dav.request("GET", "/by-id/1.pdf").status == 200


@pytest.mark.parametrize("header", [
    "Basic !!!notbase64", "Basic " + "YWxpY2U=",  # no colon
    "Basic " + "x" * 3000, "Digest username=\"alice\"", "Digest " + "a=b," * 500,
    "Bearer abc", "Basic", "",
])
def test_malformed_credentials_get_401(dav: Dav, header: str):
    status, data = raw(dav, req("GET", "/", {"Authorization": header}))
    assert status == 401, data[:200]


def test_invalid_depth_and_methods(dav: Dav):
    status, _ = raw(dav, req("PROPFIND", "/", {"Depth": "2"}))
    assert status == 400
    status, _ = raw(dav, req("TRACE", "/"))
    assert status in (405, 501)
    status, _ = raw(dav, req("PROPFIND", "/", {"Depth": "0", "Content-Type": "text/xml"},
                             b"<not-xml"))
    assert status == 400


@pytest.mark.parametrize("length", ["-1", "abc", "12abc", "1e3", "+5", "-0", "5, 6", " "])
@pytest.mark.parametrize("method", ["PUT", "PROPPATCH"])
def test_invalid_content_length_is_refused_at_once(dav: Dav, length: str, method: str):
    before = snapshot(dav)
    started = time.monotonic()
    target = "/inbox/new.txt" if method == "PUT" else "/inbox/a/file.txt"
    status, data = raw(dav, req(method, target, {"Content-Length": length}, b"hello"))
    assert status == 400, data[:300]
    assert time.monotonic() - started < 2
    assert b"Traceback" not in data
    time.sleep(0.2)
    assert snapshot(dav) == before  # no empty file, nothing else
    assert dav.names("/inbox/") == ["a"]
