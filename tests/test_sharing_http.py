"""Share links over real HTTP against a running DavServer (paperfs/sharing/).

A link works without a login until it expires or is revoked, shows exactly what
it names (a document, or a saved search as its creator sees it now), and
nothing else: no listing, no other id, no path trick, no address outside /s/.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import socket
import time
import urllib.parse

import pytest

from paperfs.access.users import UserAdmin, users_path
from paperfs.archive.document import Grants
from paperfs.search.saved import SavedSearches
from paperfs.sharing.public import NOT_FOUND
from paperfs.sharing.store import share_store

from tests.dav_support import Dav, add_doc, auth_header, running, tiny_pdf

HIGH_THROTTLE = "  throttle_failures: 100000\n"


def docs(archive):
    """alice: 1, 3 (tag m), 4 (other), 6 (to trash); bob: 2 (tag m), 5 (family may view)."""
    add_doc(archive, 1, "Alice invoice", dt.date(2021, 1, 1), owner="alice", tags=("m",),
            correspondent="ACME", document_type="Invoice", asn=501, notes=())
    add_doc(archive, 2, "Bob secret", dt.date(2021, 2, 1), owner="bob", tags=("m",))
    add_doc(archive, 3, "Alice letter", dt.date(2021, 3, 1), owner="alice", tags=("m",))
    add_doc(archive, 4, "Alice other", dt.date(2021, 4, 1), owner="alice", tags=("x",))
    add_doc(archive, 5, "Bob for family", dt.date(2021, 5, 1), owner="bob",
            view=Grants(groups=("family",)))
    add_doc(archive, 6, "Alice to delete", dt.date(2021, 6, 1), owner="alice")
    SavedSearches(archive.root.root).add("M docs", "tag:m", owner="alice")


@pytest.fixture(scope="module")
def dav(tmp_path_factory):
    with running(tmp_path_factory.mktemp("share"), docs, extra=HIGH_THROTTLE) as server:
        yield server


def link(dav: Dav, kind: str, target: str, creator: str = "alice",
         expires: dt.timedelta = dt.timedelta(days=1)) -> str:
    return share_store(dav.root, dav.config).create(kind, target, creator, expires)[1]


def get(dav: Dav, path: str, method: str = "GET", headers: dict | None = None):
    """Without credentials."""
    return dav.request(method, path, None, headers=headers)


def raw_status(dav: Dav, target: str) -> tuple[int, bytes]:
    """A request line sent exactly as given (no client normalising ../ or %2F)."""
    with socket.create_connection(("127.0.0.1", dav.port), timeout=10) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{dav.port}\r\n"
                  "Connection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def links_in(html: bytes) -> set[str]:
    return set(re.findall(r'(?:href|src|action)="([^"]*)"', html.decode()))


def assert_private_headers(r) -> None:
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "noindex" in r.headers["x-robots-tag"]


# ---------------------------------------------------------------- a document


def test_a_document_link_works_without_login(dav: Dav):
    token = link(dav, "document", "1")
    r = get(dav, f"/s/{token}")
    assert r.status == 200, r.body
    assert_private_headers(r)
    page = r.body.decode()
    assert "Alice invoice" in page and "2021-01-01" in page and "ACME" in page
    assert "Invoice" in page
    # nothing but its own PDF is linked; no tags, ASN, path or other document named
    assert links_in(r.body) == {f"{token}/document.pdf"}
    for secret in ("Bob", "letter", "501", "archive/", "by-id", ">m<"):
        assert secret not in page, secret

    pdf = get(dav, f"/s/{token}/document.pdf")
    assert pdf.status == 200 and pdf.body == tiny_pdf(1)
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("inline")
    assert_private_headers(pdf)
    part = get(dav, f"/s/{token}/document.pdf", headers={"Range": "bytes=5-14"})
    assert part.status == 206 and part.body == tiny_pdf(1)[5:15]
    assert part.headers["content-range"] == f"bytes 5-14/{len(tiny_pdf(1))}"
    tail = get(dav, f"/s/{token}/document.pdf", headers={"Range": "bytes=-6"})
    assert tail.status == 206 and tail.body == tiny_pdf(1)[-6:]
    far = get(dav, f"/s/{token}/document.pdf", headers={"Range": "bytes=99999-"})
    assert far.status == 416
    head = get(dav, f"/s/{token}/document.pdf", method="HEAD")
    assert head.status == 200 and head.body == b""
    assert int(head.headers["content-length"]) == len(tiny_pdf(1))
    assert get(dav, f"/s/{token}", method="PUT").status == 405
    # the rest of the server still wants a login
    assert get(dav, "/by-id/1.pdf").status == 401
    assert get(dav, "/").status == 401


def test_a_document_link_reveals_nothing_else(dav: Dav):
    token = link(dav, "document", "1")
    other = link(dav, "document", "3")
    wrong = ("A" if token[0] != "A" else "B") + token[1:]
    addresses = [
        "/s", "/s/", f"/s/{token}/", f"/s/{token}/1.pdf", f"/s/{token}/2.pdf",
        f"/s/{token}/3.pdf", f"/s/{token}/document.pdf/x", f"/s/{token}/document",
        f"/s/{token}/../{other}", f"/s/{token}/../../by-id/2.pdf", f"/s/{token}/%2e%2e/",
        f"/s%2F{token}", f"/s/{token}%2Fdocument.pdf", f"/s/{token[:20]}%41{token[21:]}",
        f"/s/{wrong}", f"/s/{wrong}/document.pdf", f"/s/{token}x", f"/S/{token}",
        f"/s/{token}/by-id/2.pdf", f"/s//{token}", f"/s/{token}/document.PDF",
    ]
    for target in addresses:
        status, body = raw_status(dav, target)
        # /S/… is not ours: it reaches the login
        expected = 401 if target.startswith("/S/") else 404
        assert status == expected, (target, status, body)
        if expected == 404:
            assert body == NOT_FOUND, (target, body)
    # the encoded slash, as a browser would send it
    assert raw_status(dav, f"/s/{token}/%2e%2e/%2e%2e/by-id/2.pdf")[0] == 404


def test_a_deleted_document_and_a_creator_losing_access_show_nothing(dav: Dav):
    gone = link(dav, "document", "6")
    assert get(dav, f"/s/{gone}").status == 200
    assert dav.request("DELETE", "/by-id/6.pdf", "alice").status == 204  # to the trash
    for path in (f"/s/{gone}", f"/s/{gone}/document.pdf"):
        r = get(dav, path)
        assert r.status == 404 and b"nothing is shared" in r.body and b"Alice" not in r.body

    family = link(dav, "document", "5")  # bob's, alice may view it through her group
    assert get(dav, f"/s/{family}/document.pdf").body == tiny_pdf(5)
    admin = UserAdmin(users_path(dav.root.root))
    admin.change_members("family", remove=["alice"])
    try:
        assert get(dav, f"/s/{family}").status == 404
        assert get(dav, f"/s/{family}/document.pdf").status == 404
    finally:
        admin.change_members("family", add=["alice"])
    assert get(dav, f"/s/{family}").status == 200  # evaluated at each request
    # a link made as a user who does not exist shows nothing
    assert get(dav, f"/s/{link(dav, 'document', '1', creator='mallory')}").status == 404


# ---------------------------------------------------------------- expiry, revocation


def test_revoked_and_expired_links_end(dav: Dav):
    store = share_store(dav.root, dav.config)
    token = link(dav, "document", "1")
    assert get(dav, f"/s/{token}/document.pdf").status == 200
    store.revoke(token)
    for path in (f"/s/{token}", f"/s/{token}/document.pdf"):
        r = get(dav, path)
        assert r.status == 410 and b"revoked" in r.body and b"Alice" not in r.body

    short = link(dav, "document", "1", expires=dt.timedelta(seconds=1.5))
    assert get(dav, f"/s/{short}").status == 200
    time.sleep(1.6)
    for path in (f"/s/{short}", f"/s/{short}/document.pdf"):
        r = get(dav, path)
        assert r.status == 410 and b"expired" in r.body
        assert_private_headers(r)


# ---------------------------------------------------------------- a saved search


def test_a_search_link_shows_what_its_creator_sees_through_the_token(dav: Dav):
    token = link(dav, "search", "M docs")
    r = get(dav, f"/s/{token}")
    assert r.status == 200
    page = r.body.decode()
    assert "Alice invoice" in page and "Alice letter" in page
    assert "Bob secret" not in page and "Alice other" not in page  # bob's; not tag m
    assert links_in(r.body) == {f"{token}/1.pdf", f"{token}/2.pdf"}
    assert get(dav, f"/s/{token}/1.pdf").body == tiny_pdf(1)
    assert get(dav, f"/s/{token}/2.pdf").body == tiny_pdf(3)
    for path in (f"/s/{token}/3.pdf", f"/s/{token}/0.pdf", f"/s/{token}/document.pdf",
                 f"/s/{token}/01.pdf"):
        assert get(dav, path).status == 404, path
    # the same search shared by bob shows bob's view: he has no saved search of that name
    assert get(dav, f"/s/{link(dav, 'search', 'M docs', creator='bob')}").status == 404


def test_unknown_tokens_are_throttled_like_failed_logins(tmp_path):
    with running(tmp_path, docs, extra="  throttle_failures: 3\n") as dav:
        token = link(dav, "document", "1")
        for _ in range(3):
            assert get(dav, f"/s/{'x' * 43}").status == 404
        r = get(dav, f"/s/{token}")
        assert r.status == 429 and "retry-after" in r.headers
        assert dav.request("PROPFIND", "/", "alice", headers={"Depth": "0"}).status == 429


def test_tokens_never_reach_the_log_or_the_file(dav: Dav, caplog):
    caplog.set_level(logging.DEBUG)
    token = link(dav, "document", "1")
    assert get(dav, f"/s/{token}/document.pdf").status == 200
    share_store(dav.root, dav.config).revoke(token)
    assert get(dav, f"/s/{token}").status == 410
    assert caplog.records and token not in caplog.text
    assert token not in (dav.root.root / "shares.json").read_text()


# ---------------------------------------------------------------- POST /_share


def post(dav: Dav, fields: dict, user: str | None = "alice", headers: dict | None = None):
    return dav.request("POST", "/_share", user, body=urllib.parse.urlencode(fields), headers={
        "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
        **(headers or {})})


def form_page(dav: Dav, query: str, user: str = "alice", accept: str = "text/html"):
    """GET /_share?QUERY (dav.request would quote the '?')."""
    conn = dav.connection()
    try:
        conn.request("GET", f"/_share?{query}", headers={
            "Authorization": auth_header(user), "Accept": accept})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def csrf(dav: Dav, user: str = "alice") -> str:
    status, body = form_page(dav, "kind=document&target=1", user, "application/json")
    assert status == 200, body
    return json.loads(body)["csrf"]


def test_the_creation_endpoint(dav: Dav):
    form = {"kind": "document", "target": "1", "expires_days": "2", "csrf": csrf(dav)}
    assert post(dav, form, user=None).status == 401
    made = post(dav, form, headers={"Origin": dav.url.rstrip("/"),
                                    "Sec-Fetch-Site": "same-origin"})
    assert made.status == 201, made.body
    answer = json.loads(made.body)
    url = urllib.parse.urlsplit(answer["url"])
    assert url.netloc == f"127.0.0.1:{dav.port}" and url.path.startswith("/s/")
    assert get(dav, f"{url.path}/document.pdf").body == tiny_pdf(1)
    assert any(s.id == answer["id"] and s.creator == "alice"
               for s in share_store(dav.root, dav.config).links())

    # a document alice may not view, or that does not exist: the same 403
    for target in ("2", "999"):
        r = post(dav, {**form, "target": target})
        assert r.status == 403 and target in json.loads(r.body)["error"]
    # bob's token is not alice's; none at all; another site
    assert post(dav, {**form, "csrf": csrf(dav, "bob")}).status == 403
    assert post(dav, {k: v for k, v in form.items() if k != "csrf"}).status == 403
    assert post(dav, form, headers={"Origin": "https://evil.example"}).status == 403
    assert post(dav, form, headers={"Sec-Fetch-Site": "cross-site"}).status == 403
    assert post(dav, form, headers={"Referer": "https://evil.example/x"}).status == 403
    # too long, nonsense
    assert post(dav, {**form, "expires_days": "1000"}).status == 400
    assert post(dav, {**form, "expires_days": "soon"}).status == 400
    assert post(dav, {**form, "kind": "folder"}).status == 400


def test_the_creation_endpoint_for_a_saved_search_and_its_form(dav: Dav):
    form = {"kind": "search", "target": "M docs", "expires_days": "1", "csrf": csrf(dav)}
    made = post(dav, form)
    assert made.status == 201
    path = urllib.parse.urlsplit(json.loads(made.body)["url"]).path
    assert b"Alice letter" in get(dav, path).body
    # alice's private saved search is not bob's to share
    assert post(dav, {**form, "csrf": csrf(dav, "bob")}, user="bob").status == 403
    # without JavaScript: the form, then its answer as HTML
    status, page = form_page(dav, "kind=search&target=M+docs")
    assert status == 200 and b'name="csrf"' in page and b"M docs" in page
    html = post(dav, form, headers={"Accept": "text/html"})
    assert html.status == 201 and b"/s/" in html.body and html.headers["cache-control"] == "no-store"
    assert form_page(dav, "kind=document&target=2")[0] == 403


def test_a_broken_shares_file_answers_503_and_says_nothing(dav: Dav):
    token = link(dav, "document", "1")
    path = dav.root.root / "shares.json"
    good = path.read_text()
    path.write_text("{\"shares\": [\n")
    try:
        r = get(dav, f"/s/{token}")
        assert r.status == 503 and b"Alice" not in r.body and b"shares.json" not in r.body
        assert get(dav, f"/s/{'x' * 43}").status == 503
    finally:
        path.write_text(good)
    assert get(dav, f"/s/{token}").status == 200
