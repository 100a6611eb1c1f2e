"""Clients that go away in the middle of an upload, sent raw over sockets.

An upload whose body is shorter than its Content-Length, or whose chunked
body does not end with its last chunk, is incomplete: it is discarded, never
listed in /inbox, never handed to the consumer, and it never replaces what
was there before (an /inbox file, a document's sidecar).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time

import pytest

from tests.dav_support import LOCKINFO, Dav, add_doc, quote, raw, req, running, send_and_hang_up

LONG_TEXT = " ".join(f"word{i}" for i in range(600))
SIDECAR = "/archive/ACME/2024/2024-03-15 Invoice.yml"


def docs(archive):
    add_doc(archive, 1, "Invoice", dt.date(2024, 3, 15), correspondent="ACME")
    # the sidecar ends with a long text: a cut upload of it can still be valid YAML
    add_doc(archive, 2, "Letter", dt.date(2024, 3, 16), correspondent="ACME", content=LONG_TEXT)


@pytest.fixture
def dav(tmp_path):
    with running(tmp_path, docs) as server:
        # an upload alice is still working on: locked, so it stays in her /inbox
        r = server.request("LOCK", "/inbox/kept.txt", body=LOCKINFO,
                           headers={"Timeout": "Second-600"})
        assert r.status == 201
        server.extra["if"] = f"({r.headers['lock-token']})"
        assert server.request("PUT", "/inbox/kept.txt", body=b"the old content\n",
                              headers={"If": server.extra["if"]}).status == 204
        yield server


def tree(dav: Dav) -> dict[str, str]:
    """Every file under the data root's inbox, archive and failed/, with its checksum."""
    out = {}
    for top in ("inbox", "archive", "failed", "originals"):
        for dirpath, _dirs, files in os.walk(dav.root.root / top):
            for name in files:
                path = os.path.join(dirpath, name)
                with open(path, "rb") as f:
                    out[os.path.relpath(path, dav.root.root)] = hashlib.sha256(f.read()).hexdigest()
    return out


def settle(dav: Dav) -> None:
    """Long enough for the server to finish the requests and for a hand-over pass."""
    time.sleep(dav.config.dav.inbox_idle_seconds + 2.0)


def put_head(path: str, headers: dict[str, str], lock: str | None = None) -> bytes:
    return req("PUT", quote(path), {**headers, **({"If": lock} if lock else {})})


def cut_by_length(path: str, declared: int, body: bytes, lock: str | None = None) -> bytes:
    return put_head(path, {"Content-Length": str(declared)}, lock) + body


def cut_chunked(path: str, body: bytes, *, declared_chunk: int | None = None,
                lock: str | None = None) -> bytes:
    """One chunk of body (announced as declared_chunk bytes), and no last chunk."""
    size = declared_chunk if declared_chunk is not None else len(body)
    return put_head(path, {"Transfer-Encoding": "chunked"}, lock) + b"%x\r\n" % size + body + (
        b"\r\n" if declared_chunk is None else b"")


def test_cut_uploads_of_new_files_leave_nothing(dav: Dav):
    before = tree(dav)
    half = b"x" * 2000
    send_and_hang_up(dav, cut_by_length("/inbox/half.txt", 4000, half))
    send_and_hang_up(dav, cut_by_length("/inbox/huge.pdf", 500 * 1024 * 1024, b"%PDF-1.4 sixteen"))
    send_and_hang_up(dav, cut_chunked("/inbox/chunk-cut.txt", half, declared_chunk=4000))
    send_and_hang_up(dav, cut_chunked("/inbox/no-last-chunk.txt", half))
    settle(dav)
    assert dav.names("/inbox/") == ["kept.txt"]
    assert tree(dav) == before  # nothing handed over, no temp file, no empty file
    # the server is fine, and a complete upload still works
    assert dav.request("PUT", "/inbox/whole.txt", body=half).status == 201
    assert dav.request("GET", "/inbox/whole.txt").body == half


def test_a_cut_upload_never_replaces_what_was_there(dav: Dav):
    sidecar = dav.request("GET", SIDECAR).body.decode()
    letter = "/archive/ACME/2024/2024-03-16 Letter.yml"
    letter_text = dav.request("GET", letter).body.decode()
    assert letter_text.rstrip().endswith("word599")
    before = tree(dav)
    # an /inbox file overwritten, cut half-way (by Content-Length and chunked)
    lock = dav.extra["if"]
    send_and_hang_up(dav, cut_by_length("/inbox/kept.txt", 100, b"the new", lock))
    send_and_hang_up(dav, cut_chunked("/inbox/kept.txt", b"the newer", declared_chunk=50,
                                      lock=lock))
    # a sidecar edit cut in the middle of its content: what arrived is still valid YAML
    edited = letter_text.replace("title: Letter", "title: Letter cut")
    cut_at = edited.index("word300")
    send_and_hang_up(dav, cut_by_length(letter, len(edited.encode()),
                                        edited[:cut_at].encode()))
    send_and_hang_up(dav, cut_chunked(letter, edited[:cut_at].encode()))
    # the same sidecar cut before its title: not even valid
    send_and_hang_up(dav, cut_by_length(SIDECAR, len(sidecar), sidecar[:40].encode()))
    # a document's PDF, under two of its addresses
    for path in ("/by-id/1.pdf", "/archive/ACME/2024/2024-03-15 Invoice.pdf"):
        send_and_hang_up(dav, cut_by_length(path, 5000, b"%PDF-1.4 not all of it"))
    settle(dav)
    assert tree(dav) == before
    assert dav.request("GET", "/inbox/kept.txt").body == b"the old content\n"
    assert dav.sidecar(2).title == "Letter" and dav.sidecar(2).content.rstrip() == LONG_TEXT
    assert dav.names("/correspondents/ACME/") == ["2024-03-15 Invoice.pdf",
                                                  "2024-03-16 Letter.pdf"]


@pytest.mark.parametrize("body", [
    b"zz\r\nhello\r\n0\r\n\r\n",  # not a chunk size
    b"5\r\nhello!!0\r\n\r\n",  # a chunk longer than announced
])
def test_a_broken_chunked_body_is_refused_and_nothing_kept(dav: Dav, body: bytes):
    before = tree(dav)
    started = time.monotonic()
    status, data = raw(dav, put_head("/inbox/broken.txt", {"Transfer-Encoding": "chunked"})
                       + body)
    assert status == 400, data[:300]
    assert time.monotonic() - started < 5
    assert b"Traceback" not in data
    settle(dav)
    assert tree(dav) == before
    assert dav.names("/inbox/") == ["kept.txt"]
