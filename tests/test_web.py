"""The web page against a real server (in-process, a filed archive of two users):
who gets the page and who gets WebDAV, login and sessions, CSRF, and that the
page shows and changes exactly what WebDAV would let the user see and change."""

from __future__ import annotations

import datetime as dt
import html
import http.client
import json
import os
import re
import socket
import time
import urllib.parse

import pytest

from paperfs.archive.custom_fields import fields_of
from paperfs.archive.document import read_sidecar
from paperfs.web import csrf
from paperfs.web.routing import wants_page
from paperfs.web.sessions import Sessions

from tests.dav_support import add_doc, running, wait_for
from tests.test_custom_fields import EVERY_TYPE
from tests.test_dav_auth import certificate  # noqa: F401 - a fixture: a self-signed certificate
from tests.web_support import Browser, two_users_docs

HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


# ---------------------------------------------------------------- dispatch (unit)

def env(method: str = "GET", path: str = "/", **headers: str) -> dict:
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path}
    environ.update({"HTTP_" + k.upper(): v for k, v in headers.items()})
    return environ


def test_a_browser_asking_for_html_gets_the_page() -> None:
    assert wants_page(env(accept=HTML, user_agent="Mozilla/5.0 Firefox/128.0"))
    assert wants_page(env("HEAD", accept=HTML))
    assert wants_page(env("POST", "/_/upload"))  # the page's own URLs, any method
    assert wants_page(env(path="/_/static/app.css"))


@pytest.mark.parametrize("environ", [
    env("PROPFIND", accept=HTML),  # any WebDAV method
    env(accept="*/*"),  # no HTML asked for (curl, rclone, davfs2 GETs)
    env(accept="text/xml"),
    env(),  # no Accept at all
    env(accept=HTML, depth="1"),
    env(accept=HTML, translate="f"),  # Windows' mini-redirector
    env(accept=HTML, user_agent="Microsoft-WebDAV-MiniRedir/10.0.19045"),
    env(accept=HTML, user_agent="WebDAVFS/3.0.0 (03008000) Darwin/22.0.0 (x86_64)"),
    env(accept=HTML, user_agent="davfs2/1.7.0 neon/0.32.5"),
    env(accept=HTML, user_agent="rclone/v1.66.0"),
    env(accept=HTML, user_agent="litmus/0.13 neon/0.32.5"),
    env(accept=HTML, user_agent="gvfs/1.50.3"),
    env(path="/archive/", accept=HTML),  # folders below / keep wsgidav's listing
    env(path="/by-id/1.pdf", accept=HTML),
], ids=lambda e: f"{e['REQUEST_METHOD']} {e['PATH_INFO']} {e.get('HTTP_USER_AGENT', '')}"
                 f" {e.get('HTTP_ACCEPT', '')}"[:60])
def test_webdav_clients_keep_getting_webdav(environ: dict) -> None:
    assert not wants_page(environ)


def test_sessions_expire_when_idle_and_after_their_lifetime() -> None:
    now = [1000.0]
    sessions = Sessions(idle=60, lifetime=300, clock=lambda: now[0])
    s = sessions.start("alice")
    assert len(s.token) >= 40
    for _ in range(5):  # kept alive by use...
        now[0] += 50
        assert sessions.get(s.token) is s
    now[0] += 61  # ...but not when idle
    assert sessions.get(s.token) is None
    s = sessions.start("alice")
    for _ in range(6):
        now[0] += 50
        assert sessions.get(s.token) is s
    now[0] += 1
    assert sessions.get(s.token) is None  # 300 s after login, used or not
    s = sessions.start("bob")
    sessions.end(s.token)
    assert sessions.get(s.token) is None
    assert sessions.get("guessed") is None and sessions.get(None) is None


def test_csrf_tokens_belong_to_one_session_or_user() -> None:
    a = {csrf.SESSION_KEY: "session-a"}
    b = {csrf.SESSION_KEY: "session-b"}
    assert csrf.valid(a, csrf.token(a))
    assert not csrf.valid(b, csrf.token(a))
    assert not csrf.valid(a, "") and not csrf.valid(a, None)
    assert not csrf.valid({}, csrf.token({}))  # no user: nothing is valid


# ---------------------------------------------------------------- a real server

@pytest.fixture(scope="module")
def dav(tmp_path_factory: pytest.TempPathFactory):
    with running(tmp_path_factory.mktemp("web"), two_users_docs) as server:
        yield server


def logged_in(dav, user: str) -> Browser:
    browser = Browser(dav.port)
    r = browser.login(user)
    assert r.status == 303 and r.headers["location"] == "/", r.body[:300]
    return browser


def test_webdav_on_slash_is_unchanged(dav) -> None:
    r = dav.request("PROPFIND", "/", "alice", headers={"Depth": "1", "Accept": HTML})
    assert r.status == 207 and "inbox" in r.names()
    r = dav.request("GET", "/", None)  # a WebDAV client without credentials: 401 as ever
    assert r.status == 401 and "www-authenticate" in r.headers


def test_login_form_session_cookie_and_logout(dav) -> None:
    browser = Browser(dav.port)
    r = browser.get("/")
    assert r.status == 303 and r.headers["location"].startswith("/_/login")
    r = browser.get(r.headers["location"])
    assert r.status == 200 and b'name="password"' in r.body
    assert browser.login("alice", "wrong").status == 401
    r = browser.login("alice")
    cookie = r.headers["set-cookie"]
    assert all(part in cookie for part in ("HttpOnly", "SameSite=Strict", "Max-Age=", "Path=/"))
    page = browser.get("/")
    assert page.status == 200 and b"Invoice ACME March" in page.body
    assert "default-src 'self'" in page.headers["content-security-policy"]
    # the session is a login on WebDAV URLs too (a PDF link opened from the page)
    assert browser.get("/by-id/1.pdf").status == 200
    token = browser.csrf()
    assert browser.post("/_/logout", {"csrf": token}).status == 303
    assert browser.get("/").status == 303  # back to the login form
    # HTTP Basic keeps working for the page (and for WebDAV, above)
    r = dav.request("GET", "/", "bob", headers={"Accept": HTML})
    assert r.status == 200 and b"Bob&#39;s bank letter" in r.body


@pytest.mark.parametrize("target", ["//evil.example/x", "/%5Cevil.example/x",
                                    "/%5C%5Cevil.example", "/%09/evil.example",
                                    "https://evil.example/", "evil.example"])
def test_a_redirect_after_login_stays_on_this_site(dav, target) -> None:
    """Browsers read "/\\evil" as "//evil" and drop a tab: both lead to another host."""
    browser = Browser(dav.port)
    r = browser.post(f"/_/login?next={target}", {"user": "alice", "password": "alice-pw"})
    assert r.status == 303 and r.headers["location"] == "/"
    r = Browser(dav.port).post("/_/login?next=/_/search%3Fq%3Dtax",
                               {"user": "alice", "password": "alice-pw"})
    assert r.status == 303 and r.headers["location"] == "/_/search?q=tax"


@pytest.mark.parametrize("headers", [{"Origin": "http://evil.example"},
                                     {"Origin": "null"},
                                     {"Sec-Fetch-Site": "cross-site"},
                                     {"Sec-Fetch-Site": "same-site"}])
def test_another_site_cannot_log_a_browser_in(dav, headers) -> None:
    """Login CSRF: a form on another site posting the attacker's name and password would
    give the victim's browser the attacker's session (his uploads would go there)."""
    browser = Browser(dav.port)
    r = browser.post("/_/login?next=/", {"user": "alice", "password": "alice-pw"},
                     headers=headers)
    assert r.status == 403 and "set-cookie" not in r.headers
    assert b"another site" in r.body and not browser.cookies
    r = browser.post("/_/login?next=/", {"user": "alice", "password": "alice-pw"},
                     headers={"Origin": f"http://127.0.0.1:{dav.port}",
                              "Sec-Fetch-Site": "same-origin"})
    assert r.status == 303 and browser.cookies


def test_every_post_needs_the_token_and_this_origin(dav) -> None:
    alice = logged_in(dav, "alice")
    fields = {"title": "Hijacked", "created": "2024-03-01", "tags": ""}
    assert alice.post("/_/doc/1", fields).status == 403
    assert alice.post("/_/doc/1", {**fields, "csrf": "0" * 64}).status == 403
    bob = logged_in(dav, "bob")
    assert alice.post("/_/doc/1", {**fields, "csrf": bob.csrf()}).status == 403  # bob's token
    token = alice.csrf()
    r = alice.post("/_/doc/1", {**fields, "csrf": token},
                   headers={"Origin": "http://evil.example"})
    assert r.status == 403
    assert alice.upload("/_/upload", {"x.txt": b"hello"}).status == 403
    assert dav.sidecar(1).title == "Invoice ACME March"


def test_a_second_user_sees_nothing_of_the_first(dav) -> None:
    bob = logged_in(dav, "bob")
    page = bob.get("/_/search?q=invoice").body.decode()
    assert "Invoice ACME April" in page  # shared with him to view
    assert "Invoice ACME March" not in page
    everything = bob.get("/").body.decode()
    assert "Tax return" not in everything and "alicesecret" not in everything  # facets too
    assert "House rules" in everything and "Bob&#39;s bank letter" in everything
    found = bob.get("/_/search?q=alicesecretword").body.decode()
    assert "0 documents" in found and "Tax return" not in found
    assert bob.get("/_/suggest?q=alicesec").body == b"[]"
    assert bob.get("/_/suggest?q=tag:alice").body == b"[]"
    for doc_id in (1, 3, 999):  # by guessing ids: exactly like a missing document
        for url in (f"/_/doc/{doc_id}", f"/_/pdf/{doc_id}", f"/_/thumb/{doc_id}.webp"):
            assert bob.get(url).status == 404, url
        r = bob.post(f"/_/doc/{doc_id}", {"title": "x", "created": "2024-01-01",
                                          "csrf": bob.csrf()})
        assert r.status == 404, r.body[:300]
    assert dav.request("GET", "/by-id/1.pdf", "bob").status == 404  # as over WebDAV
    # viewing is not changing: the form is disabled, a POST is refused like a WebDAV PUT
    assert b"<fieldset disabled>" in bob.get("/_/doc/2").body
    r = bob.post("/_/doc/2", {"title": "Mine", "created": "2024-04-01", "csrf": bob.csrf()})
    assert r.status == 403
    assert dav.sidecar(2).title == "Invoice ACME April"
    # what he may see he sees whole
    assert bob.get("/_/pdf/2").body.startswith(b"%PDF")
    assert bob.get("/_/thumb/2.webp").body[8:12] == b"WEBP"


def test_search_highlights_narrows_and_suggests(dav) -> None:
    alice = logged_in(dav, "alice")
    page = alice.get("/_/search?q=electricity").body.decode()
    assert "<mark>electricity</mark>" in page
    narrowed = re.search(r'href="(/_/search\?q=electricity%20tag%3Aunpaid)"', page)
    assert narrowed, "no facet link for tag:unpaid"
    page = alice.get(narrowed.group(1)).body.decode()
    assert "Invoice ACME April" in page and "Invoice ACME March" not in page
    found = alice.get("/_/suggest?q=elec").body.decode()
    assert '"electricity"' in found
    assert '"query": "tag:paid"' in alice.get("/_/suggest?q=tag:pa").body.decode()
    bad = alice.get("/_/search?q=created:%5B2020")
    assert bad.status == 200 and b'class="error"' in bad.body
    doc = alice.get("/_/doc/1").body.decode()
    assert "Invoice ACME April" in doc  # more like this
    assert 'action="/_share"' in doc and 'name="target" value="1"' in doc


def test_editing_goes_through_the_writer_like_a_webdav_edit(dav) -> None:
    alice = logged_in(dav, "alice")
    token = alice.csrf("/_/doc/3")
    r = alice.post("/_/doc/3", {"title": "Tax return 2023", "created": "2023-05-02",
                                "tags": "tax, filed", "correspondent": "Tax office",
                                "document_type": "", "csrf": token})
    assert r.status == 303, r.body[:500]
    doc = dav.sidecar(3)
    assert (doc.title, doc.tags, doc.correspondent) == ("Tax return 2023", ("tax", "filed"),
                                                        "Tax office")
    assert doc.owner == "alice"
    page = alice.get("/_/search?q=tag:filed").body.decode()
    assert "Tax return 2023" in page  # in the index at once
    r = alice.post("/_/doc/3", {"title": "Tax", "created": "2023-02-30", "csrf": token})
    assert r.status == 400 and b"created" in r.body
    assert dav.sidecar(3).title == "Tax return 2023"


def test_upload_lands_in_the_users_inbox_and_is_handed_over(dav) -> None:
    alice = logged_in(dav, "alice")
    token = alice.csrf("/_/upload")
    r = alice.upload(f"/_/upload?csrf={token}", {"../note one.txt": b"hello paperfs\n"})
    assert r.status == 303, r.body[:300]
    r = alice.upload("/_/upload", {"note two.txt": b"second\n"},
                     headers={"X-CSRF-Token": token, "Accept": "application/json"})
    assert r.status == 200 and r.body == b'{"uploaded": ["note two.txt"]}'
    inbox = dav.root.inbox / "alice"
    assert wait_for(lambda: sorted(p.name for p in inbox.glob("*")) ==
                    ["note one.txt", "note two.txt"], 15)
    assert (inbox / "note one.txt").read_bytes() == b"hello paperfs\n"
    assert alice.upload(f"/_/upload?csrf={token}", {"": b""}).status == 400


def test_trash_restore_and_status_retry(dav) -> None:
    alice, bob = logged_in(dav, "alice"), logged_in(dav, "bob")
    dav.request("DELETE", "/by-id/5.pdf", "alice")
    assert "House rules" in alice.get("/_/trash").body.decode()
    r = alice.post("/_/trash/5/restore", {"csrf": alice.csrf()})
    assert r.status == 303
    assert "House rules" in alice.get("/").body.decode()
    assert dav.request("DELETE", "/by-id/1.pdf", "alice").status == 204
    assert "Invoice ACME March" not in bob.get("/_/trash").body.decode()
    assert bob.post("/_/trash/1/restore", {"csrf": bob.csrf()}).status == 404
    (dav.root.failed / "bad.pdf").write_bytes(b"not a pdf")
    assert "bad.pdf" not in bob.get("/_/status").body.decode()  # failed files: superusers
    assert bob.post("/_/retry", {"csrf": bob.csrf()}).status == 403
    root = logged_in(dav, "root")
    assert "bad.pdf" in root.get("/_/status").body.decode()
    assert root.post("/_/retry", {"csrf": root.csrf()}).status == 303
    assert not (dav.root.failed / "bad.pdf").exists()


def test_files_in_progress_are_named_to_superusers_only(dav) -> None:
    """status.json's in_flight holds inbox paths: other users' upload names."""
    status = {"running": True, "pid": os.getpid(), "host": socket.gethostname(),
              "started": "2026-01-01T00:00:00+00:00", "queued": 0, "waiting_in_inbox": 0,
              "in_flight": ["alice/divorce papers.pdf"]}
    dav.root.status_file.write_text(json.dumps(status))
    try:
        page = logged_in(dav, "bob").get("/_/status").body.decode()
        assert "running" in page and "divorce" not in page
        assert "divorce papers" in logged_in(dav, "root").get("/_/status").body.decode()
    finally:
        dav.root.status_file.unlink()


def test_thumbnails_are_made_once_and_go_with_the_document(dav) -> None:
    alice = logged_in(dav, "alice")
    first = alice.get("/_/thumb/2.webp")
    assert first.status == 200 and first.headers["content-type"] == "image/webp"
    made = dav.root.thumbnails_of(2)
    assert len(made) == 1
    stamp = made[0].stat().st_mtime_ns
    time.sleep(0.01)
    assert alice.get("/_/thumb/2.webp").body == first.body
    assert made[0].stat().st_mtime_ns == stamp  # served from the cache, not made again
    etag = first.headers["etag"]
    assert alice.get("/_/thumb/2.webp", headers={"If-None-Match": etag}).status == 304
    assert dav.request("DELETE", "/by-id/2.pdf", "alice").status == 204
    assert dav.root.thumbnails_of(2) == made  # in the trash it may come back
    dav.server.services.writer.purge(2, lambda doc: None)  # emptied from the trash
    assert dav.root.thumbnails_of(2) == []


def test_saved_searches_from_the_page(dav) -> None:
    alice = logged_in(dav, "alice")
    r = alice.post("/_/saved", {"name": "Electricity", "q": "electricity",
                                "csrf": alice.csrf()})
    assert r.status == 303
    page = alice.get("/_/saved").body.decode()
    assert "Electricity" in page and 'name="kind" value="search"' in page
    assert "Electricity" not in logged_in(dav, "bob").get("/_/saved").body.decode()
    assert dav.names("/saved/", "alice") == ["Electricity"]


def test_a_session_ends_when_idle(dav) -> None:
    sessions = dav.server.web.sessions
    alice = logged_in(dav, "alice")
    assert alice.get("/").status == 200
    idle, sessions.idle = sessions.idle, 0.2
    try:
        time.sleep(0.3)
        r = alice.get("/_/search?q=tax")
        assert r.status == 303 and r.headers["location"] == "/_/login?next=%2F_%2Fsearch%3Fq%3Dtax"
    finally:
        sessions.idle = idle


def test_an_upload_from_the_page_is_filed_by_the_daemon(tmp_path) -> None:
    """`paperfs run` (the whole daemon, in-process): a file uploaded on the page is
    filed with its uploader as owner and found by the page's search."""
    from tests.dav_support import daemon_serving

    with daemon_serving(tmp_path) as (_service, dav):
        alice = logged_in(dav, "alice")
        token = alice.csrf("/_/upload")
        body = b"Gas bill\nquarterly gas bill from the utility, number 7731\n"
        assert alice.upload(f"/_/upload?csrf={token}", {"gas bill.txt": body}).status == 303
        assert wait_for(lambda: "Gas bill" in alice.get("/_/search?q=quarterly").body.decode()
                        and "0 documents" not in alice.get("/_/search?q=quarterly").body.decode(),
                        60), alice.get("/_/search?q=quarterly").body.decode()[-800:]
        owners = {read_sidecar(p).owner for p in dav.root.archive.rglob("*.yml")}
        assert owners == {"alice"}
        bob = logged_in(dav, "bob")
        assert "0 documents" in bob.get("/_/search?q=quarterly").body.decode()


VALUES = {"amount": "EUR12.50", "due": "2025-01-31", "paid": True, "pages_signed": 3,
          "weight": 1.5, "website": "https://example.org/a", "priority": "high",
          "related": [1, 2], "remark": "as agreed"}


def test_custom_fields_survive_the_form_and_bad_values_are_named(tmp_path) -> None:
    def docs(archive) -> None:
        archive.root.fields_file.write_text(EVERY_TYPE)
        validated, problems = fields_of(archive.root.fields_file).current().validate(VALUES)
        assert not problems, problems
        add_doc(archive, 9, "With fields", dt.date(2024, 2, 2), owner="alice",
                custom_fields=validated)

    with running(tmp_path, docs) as server:
        before = server.sidecar(9).custom_fields
        alice = logged_in(server, "alice")
        page = alice.get("/_/doc/9").body.decode()
        form = dict(re.findall(r'<input name="([^"]+)"[^>]*? value="([^"]*)"', page))
        form = {k: html.unescape(v) for k, v in form.items()}
        assert form["field.related"] == "1, 2" and form["field.paid"] == "true"
        token = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
        r = alice.post("/_/doc/9", {**form, "csrf": token})
        assert r.status == 303, r.body.decode()[-600:]
        assert server.sidecar(9).custom_fields == before  # shown and read back unchanged
        r = alice.post("/_/doc/9", {**form, "field.due": "soon", "field.remark": "",
                                    "csrf": token})
        assert r.status == 400 and "due:" in r.body.decode()
        assert server.sidecar(9).custom_fields == before
        r = alice.post("/_/doc/9", {**form, "field.remark": "", "field.pages_signed": "4",
                                    "csrf": token})
        assert r.status == 303
        after = server.sidecar(9).custom_fields
        assert "remark" not in after and after["pages_signed"] == 4


def test_over_tls_the_session_cookie_is_secure(tmp_path, certificate) -> None:
    with running(tmp_path, two_users_docs, tls=certificate) as server:
        conn = http.client.HTTPSConnection("127.0.0.1", server.port, timeout=10,
                                           context=server.tls_context)
        try:
            conn.request("POST", "/_/login", body="user=alice&password=alice-pw",
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
            r = conn.getresponse()
            r.read()
        finally:
            conn.close()
        assert r.status == 303
        assert "; Secure" in r.getheader("Set-Cookie")


def test_the_share_button_of_a_document_page_makes_a_working_link(dav) -> None:
    """The page's form, posted by a browser logged in with a session (no Basic):
    /_share takes the page's CSRF token, and the link opens without a login."""
    alice = logged_in(dav, "alice")
    page = alice.get("/_/doc/3")  # 1 and 2 went to the trash above
    form = re.search(rb'<form method="post" action="/_share".*?</form>', page.body, re.S)
    assert form, "the document page has a share button"
    fields = {html.unescape(name.decode()): html.unescape(value.decode()) for name, value in
              re.findall(rb'name="([^"]+)" value="([^"]*)"', form.group(0))}
    assert fields["kind"] == "document" and fields["target"] == "3"
    fields["expires_days"] = re.search(rb'name="expires_days"[^>]*value="(\d+)"',
                                       form.group(0)).group(1).decode()
    r = alice.post("/_share", {**fields, "csrf": "0" * 64}, headers={"Accept": "application/json"})
    assert r.status == 403  # not the page's token
    r = alice.post("/_share", fields, headers={"Accept": "application/json"})
    assert r.status == 201, r.body[:300]
    link = re.search(r"/s/[A-Za-z0-9_-]+", r.body.decode()).group(0)
    shared = Browser(dav.port).get(link + "/document.pdf")  # no login
    assert shared.status == 200 and shared.body.startswith(b"%PDF")


def test_a_form_opened_before_another_change_does_not_undo_it(dav) -> None:
    """Two forms of one document open (two tabs, two users, or a workflow or a hand
    edit in between): the second save would silently put the old tags back."""
    bob = logged_in(dav, "bob")

    def form_of(page: str) -> dict[str, str]:
        form = re.search(r'<form method="post" action="/_/doc/4".*?</form>', page, re.S).group(0)
        return {k: html.unescape(v) for k, v in
                re.findall(r'<input (?:type="hidden" )?name="([^"]+)"[^>]*? value="([^"]*)"', form)}

    first, second = form_of(bob.get("/_/doc/4").body.decode()), form_of(bob.get("/_/doc/4").body.decode())
    assert first["stamp"] and first["tags"] == "bobsecret"
    assert bob.post("/_/doc/4", {**first, "tags": "bobsecret, kept"}).status == 303
    r = bob.post("/_/doc/4", {**second, "correspondent": "Bob's Bank"})
    assert r.status == 409 and "changed by someone else" in r.body.decode()
    doc = dav.sidecar(4)
    assert doc.tags == ("bobsecret", "kept") and doc.correspondent == "Bob Bank"
    again = form_of(r.body.decode())  # the form as it is now saves
    assert bob.post("/_/doc/4", {**again, "correspondent": "Bob's Bank"}).status == 303
    assert dav.sidecar(4).correspondent == "Bob's Bank" and dav.sidecar(4).tags == ("bobsecret", "kept")


def test_a_new_password_ends_the_sessions_of_the_old_one(dav) -> None:
    """Changing a password because it leaked must also end what the thief logged in."""
    from paperfs.access.users import UserAdmin, users_path

    from tests.dav_support import PASSWORDS

    alice = logged_in(dav, "alice")
    assert alice.get("/").status == 200
    admin = UserAdmin(users_path(dav.root.root))
    admin.set_password("alice", "a new secret")
    try:
        assert alice.get("/").status == 303  # back to the login form
        again = Browser(dav.port)
        assert again.login("alice", "a new secret").status == 303
        assert again.get("/").status == 200
    finally:
        admin.set_password("alice", PASSWORDS["alice"])
    assert again.get("/").status == 303


def test_the_share_buttons_offer_what_the_server_accepts(tmp_path) -> None:
    """With dav.share_max_days: 3 the buttons offered 7 days (up to 365) by default,
    which /_share refused with a 400."""
    with running(tmp_path, two_users_docs, extra="  share_max_days: 3\n") as server:
        alice = logged_in(server, "alice")
        alice.post("/_/saved", {"name": "Tax", "q": "tax", "csrf": alice.csrf()})
        for page in ("/_/doc/1", "/_/saved"):
            field = re.search(r'<input name="expires_days"[^>]*>', alice.get(page).body.decode())
            assert 'max="3"' in field.group(0) and 'value="3"' in field.group(0), page
        r = alice.post("/_share", {"kind": "document", "target": "1", "expires_days": "3",
                                   "csrf": alice.csrf()}, headers={"Accept": "application/json"})
        assert r.status == 201, r.body[:300]


def test_a_user_lists_and_revokes_his_own_share_links_on_the_page(dav) -> None:
    """A link made with the page's button could be revoked only with `paperfs share
    revoke` on the server; now on /_/shares, by its maker (or a superuser) alone."""
    alice, bob = logged_in(dav, "alice"), logged_in(dav, "bob")
    made = alice.post("/_share", {"kind": "document", "target": "3", "expires_days": "2",
                                  "csrf": alice.csrf()}, headers={"Accept": "application/json"})
    assert made.status == 201, made.body[:300]
    answer = json.loads(made.body)
    link, link_id = "/s/" + answer["url"].rsplit("/s/", 1)[1], answer["id"]
    assert Browser(dav.port).get(link).status == 200
    page = alice.get("/_/shares").body.decode()
    assert link_id in page and "document 3" in page and "active" in page
    assert answer["url"].rsplit("/", 1)[1] not in page  # the token is never shown again
    assert link_id not in bob.get("/_/shares").body.decode()
    assert bob.post(f"/_/shares/{link_id}/revoke", {"csrf": bob.csrf()}).status == 404
    assert alice.post(f"/_/shares/{link_id}/revoke", {}).status == 403  # no CSRF token
    assert Browser(dav.port).get(link).status == 200
    r = alice.post(f"/_/shares/{link_id}/revoke", {"csrf": alice.csrf()})
    assert r.status == 303 and r.headers["location"] == f"/_/shares?revoked={link_id}"
    assert Browser(dav.port).get(link).status == 410
    assert "revoked" in alice.get("/_/shares").body.decode()
    assert link_id in logged_in(dav, "root").get("/_/shares").body.decode()  # a superuser


EVIL = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


def test_what_users_wrote_is_shown_as_text_on_every_page(tmp_path) -> None:
    """Titles, tags, correspondents, types, notes, custom fields, file and search
    names and the query come from users (and from mails anyone can send): each is
    escaped on every page, and a snippet gets its <mark> only after escaping."""
    from paperfs.archive.notes import Note

    def docs(archive) -> None:
        archive.root.fields_file.write_text("remark: text\n")
        add_doc(archive, 7, f"Title {EVIL}", dt.date(2024, 2, 2), owner="alice",
                tags=(f"tag{EVIL}",), correspondent=f"Corr {EVIL}", document_type=f"T {EVIL}",
                notes=(Note(f"note {EVIL}", "alice"),), custom_fields={"remark": EVIL},
                content=f"evilword {EVIL} evilword")
        add_doc(archive, 8, f"Other {EVIL}", dt.date(2024, 2, 3), owner="alice",
                content=f"evilword {EVIL}")

    with running(tmp_path, docs) as server:
        alice = logged_in(server, "alice")
        saved_name = 'S "><img src=x onerror=alert(1)>'  # no "/" in a saved search's name
        assert alice.post("/_/saved", {"name": saved_name, "q": "evilword",
                                       "csrf": alice.csrf()}).status == 303
        upload = alice.upload(f"/_/upload?csrf={alice.csrf()}", {f"f{EVIL}.txt": b"x"})
        assert upload.status == 303
        server.request("DELETE", "/by-id/8.pdf", "alice")
        pages = ["/_/search?q=evilword", "/_/search?q=" + urllib.parse.quote(EVIL), "/_/doc/7",
                 "/_/saved", "/_/trash", "/_/upload"]
        for url in pages:
            body = alice.get(url).body.decode()
            assert "<script>alert" not in body and "<img src=x" not in body, url
            assert "alert(1)" in body or url == "/_/upload", url  # shown, as text
        assert "<mark>evilword</mark>" in alice.get("/_/search?q=evilword").body.decode()
        made = alice.post("/_share", {"kind": "search", "target": saved_name,
                                      "expires_days": "1", "csrf": alice.csrf()})
        assert made.status == 201 and b"<script>alert" not in made.body
        link = re.search(r"/s/[A-Za-z0-9_-]{43}", made.body.decode()).group(0)
        shared = Browser(server.port).get(link).body.decode()
        assert "alert(1)" in shared and "<script>alert" not in shared


def test_saving_one_field_leaves_the_others_exactly_as_they_were(tmp_path) -> None:
    """A tag with a comma (paperless allows them) was split in two, and a title with a
    line break folded, whenever the form was saved for another field."""
    def docs(archive) -> None:
        add_doc(archive, 9, "Subject:\n  a folded  mail subject", dt.date(2024, 2, 2),
                owner="alice", tags=("Smith, John", "paid"), correspondent="ACME  Corp")

    with running(tmp_path, docs) as server:
        alice = logged_in(server, "alice")
        page = alice.get("/_/doc/9").body.decode()
        form = re.search(r'<form method="post" action="/_/doc/9".*?</form>', page, re.S).group(0)
        fields = {k: html.unescape(v) for k, v in re.findall(
            r'<input (?:type="hidden" )?name="([^"]+)"[^>]*? value="([^"]*)"', form)}
        fields["title"] = fields["title"].replace("\n", "")  # as a browser's input sends it
        r = alice.post("/_/doc/9", {**fields, "document_type": "letter"})
        assert r.status == 303, r.body.decode()[-500:]
        doc = server.sidecar(9)
        assert doc.document_type == "letter"
        assert doc.tags == ("Smith, John", "paid") and doc.correspondent == "ACME  Corp"
        assert doc.title == "Subject:\n  a folded  mail subject"
        r = alice.post("/_/doc/9", {**fields, "tags": "paid, new", "document_type": "letter",
                                    "stamp": ""})
        assert r.status == 303 and server.sidecar(9).tags == ("paid", "new")  # changed: as typed


def test_files_served_over_webdav_cannot_script_the_page(dav) -> None:
    """A browser with the page's session also opens WebDAV addresses: anything but
    a PDF (an .html someone put in a folder, a folder listing) comes sandboxed."""
    alice = logged_in(dav, "alice")
    listing = alice.get("/by-id/", headers={"Accept": HTML})
    assert listing.status == 200 and b"<html" in listing.body.lower()
    assert listing.headers["content-security-policy"] == "sandbox"
    assert listing.headers["x-content-type-options"] == "nosniff"
    pdf = alice.get("/by-id/3.pdf")  # one no other test of this module trashes
    assert pdf.status == 200 and pdf.body.startswith(b"%PDF")
    assert "content-security-policy" not in pdf.headers  # the PDF viewer needs no sandbox
    assert pdf.headers["x-content-type-options"] == "nosniff"
