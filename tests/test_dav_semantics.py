"""What each folder and file operation means (issue 4), against a real server."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
import urllib.parse
from xml.etree import ElementTree

import pytest
import yaml

from paperfs.archive.document import Grants
from paperfs.archive.trash import Trash
from paperfs.access.users import owner_from_inbox

from tests.dav_support import LOCKINFO, PROPPATCH, Dav, add_doc, running, tiny_pdf, wait_for

D1, D2 = dt.date(2024, 3, 15), dt.date(2023, 1, 2)


def standard(archive):
    add_doc(archive, 1, "Invoice", D1, correspondent="ACME Corp", tags=("tax",))
    add_doc(archive, 2, "Invoice", D1, correspondent="ACME Corp", owner="alice")
    add_doc(archive, 3, "Secret", D2, owner="bob", tags=("tax",))
    add_doc(archive, 4, "Letter", D2, owner="alice", tags=("tax",), asn=7,
            document_type="Letter")
    add_doc(archive, 5, "Shared", dt.date(2022, 5, 5), owner="bob",
            view=Grants(groups=("family",)))
    add_doc(archive, 6, "Editable", dt.date(2022, 6, 6), owner="bob",
            change=Grants(users=("alice",)))


@pytest.fixture
def dav(tmp_path):
    with running(tmp_path, standard) as server:
        yield server


def test_names_are_stable_unique_and_per_user(dav: Dav):
    assert dav.names("/correspondents/ACME Corp/") == [
        "2024-03-15 Invoice.pdf", "2024-03-15 Invoice [2].pdf"]
    # bob cannot see document 2, so nothing hints at it
    assert dav.names("/correspondents/ACME Corp/", "bob") == ["2024-03-15 Invoice.pdf"]
    assert dav.names("/tags/tax/") == ["2023-01-02 Letter.pdf", "2024-03-15 Invoice.pdf"]
    assert dav.names("/tags/tax/", "bob") == ["2023-01-02 Secret.pdf", "2024-03-15 Invoice.pdf"]
    assert sorted(dav.names("/tags/", "root")) == ["tax"]
    assert dav.names("/years/") == ["2024", "2023", "2022"]
    assert dav.names("/types/") == ["Letter"]
    assert dav.names("/") == ["inbox", "archive", "tags", "correspondents", "types", "years",
                              "saved", "search", "asn", "by-id", "mail", "trash"]


def test_etag_last_modified_get_and_ranges(dav: Dav):
    pdf = tiny_pdf(1)
    sha = hashlib.sha256(pdf).hexdigest()
    r = dav.request("GET", "/tags/tax/2024-03-15 Invoice.pdf")
    assert r.status == 200 and r.body == pdf
    assert r.headers["etag"] == f'"{sha}"'
    assert r.headers["content-type"] == "application/pdf"
    ref = dav.archive.index.ref(1)
    assert r.headers["last-modified"] == time.strftime(
        "%a, %d %b %Y %H:%M:%S GMT", time.gmtime(int(ref.mtime_ns / 1e9)))
    assert dav.request("GET", "/by-id/1.pdf").body == pdf
    assert dav.request("GET", "/asn/7.pdf").body == tiny_pdf(4)
    r = dav.request("GET", "/by-id/1.pdf", headers={"If-None-Match": f'"{sha}"'})
    assert r.status == 304
    r = dav.request("GET", "/by-id/1.pdf", headers={"Range": "bytes=0-7"})
    assert r.status == 206 and r.body == pdf[:8]
    # the same ETag in every listing
    props = dav.propfind("/tags/tax/").body.decode()
    assert f'"{sha}"' in props


def test_a_pdf_put_over_a_document_must_be_a_whole_pdf(dav: Dav):
    # A whole PDF becomes a new version (tests/test_versions.py); anything else is
    # refused and changes nothing.
    for path in ("/archive/ACME Corp/2024/2024-03-15 Invoice.pdf",
                 "/tags/tax/2024-03-15 Invoice.pdf", "/by-id/1.pdf"):
        r = dav.request("PUT", path, body=b"%PDF-1.4 other")
        assert r.status == 400, path
        assert b"nothing was changed" in r.body
    assert dav.request("GET", "/by-id/1.pdf").body == tiny_pdf(1)
    r = dav.request("PUT", "/tags/tax/new.pdf", body=b"%PDF-1.4")
    assert r.status == 403 and b"/inbox" in r.body
    assert dav.request("PUT", "/archive/new.pdf", body=b"x").status == 403
    assert dav.request("MKCOL", "/archive/New").status == 403


def test_tags_move_copy_delete(dav: Dav):
    # MOVE from /archive into a new tag folder adds the tag, keeps the title
    assert dav.request("MKCOL", "/tags/paid").status == 201
    assert "paid" in dav.names("/tags/")
    r = dav.move("/archive/ACME Corp/2024/2024-03-15 Invoice.pdf", "/tags/paid/2024-03-15 Invoice.pdf")
    assert r.status in (201, 204), r.body
    doc = dav.sidecar(1)
    assert doc.tags == ("tax", "paid") and doc.title == "Invoice"
    # MOVE /tags/paid -> /tags/done replaces paid by done
    dav.request("MKCOL", "/tags/done")
    assert dav.move("/tags/paid/2024-03-15 Invoice.pdf", "/tags/done/2024-03-15 Invoice.pdf").status in (201, 204)
    assert dav.sidecar(1).tags == ("tax", "done")
    # COPY adds only
    assert dav.move("/tags/done/2024-03-15 Invoice.pdf", "/tags/kept/x.pdf", copy=True).status == 409
    dav.request("MKCOL", "/tags/kept")
    assert dav.move("/tags/done/2024-03-15 Invoice.pdf", "/tags/kept/2024-03-15 Invoice.pdf",
                    copy=True).status in (201, 204)
    assert dav.sidecar(1).tags == ("tax", "done", "kept")
    # DELETE in a tag folder removes only that tag
    assert dav.request("DELETE", "/tags/kept/2024-03-15 Invoice.pdf").status == 204
    assert dav.sidecar(1).tags == ("tax", "done")
    assert dav.request("GET", "/by-id/1.pdf").status == 200
    # the index follows
    assert dav.names("/tags/done/") == ["2024-03-15 Invoice.pdf"]


def test_correspondent_type_and_rename(dav: Dav):
    assert dav.request("MKCOL", "/correspondents/Globex").status == 201
    assert dav.move("/by-id/4.pdf", "/correspondents/Globex/4.pdf").status in (201, 204)
    assert dav.sidecar(4).correspondent == "Globex"
    assert dav.sidecar(4).title == "Letter"  # moved under its own name: no rename
    dav.request("MKCOL", "/types/Receipt")
    assert dav.move("/tags/tax/2023-01-02 Letter.pdf", "/types/Receipt/2023-01-02 Letter.pdf",
                    copy=True).status in (201, 204)
    assert dav.sidecar(4).document_type == "Receipt"
    # renaming in a virtual folder changes the title (and the date, when given)
    r = dav.move("/tags/tax/2023-01-02 Letter.pdf", "/tags/tax/2023-02-03 Letter to Bank.pdf")
    assert r.status in (201, 204), r.body
    doc = dav.sidecar(4)
    assert (doc.title, doc.created) == ("Letter to Bank", dt.date(2023, 2, 3))
    assert "2023-02-03 Letter to Bank.pdf" in dav.names("/tags/tax/")
    assert dav.move("/tags/tax/2023-02-03 Letter to Bank.pdf", "/tags/tax/x.txt").status == 403
    # renaming the correspondent folder renames it in its documents
    assert dav.move("/correspondents/Globex", "/correspondents/Globex Inc").status in (201, 204)
    assert dav.sidecar(4).correspondent == "Globex Inc"


def test_view_only_documents_cannot_change(dav: Dav):
    # document 5: alice may view (group family), not change
    name = "2022-05-05 Shared.pdf"
    assert dav.request("GET", "/by-id/5.pdf").status == 200
    dav.request("MKCOL", "/tags/x")
    assert dav.move("/by-id/5.pdf", "/tags/x/5.pdf").status == 403
    assert dav.request("DELETE", "/by-id/5.pdf").status == 403
    assert dav.move(f"/years/2022/{name}", "/years/2022/renamed.pdf").status == 403
    r = dav.request("PROPPATCH", "/by-id/5.pdf", body=PROPPATCH)
    assert r.status == 403
    r = dav.request("LOCK", "/by-id/5.pdf", body=LOCKINFO, headers={"Timeout": "Second-60"})
    assert r.status == 403
    assert dav.sidecar(5).tags == ()
    # document 6: alice has change permission
    assert dav.move("/by-id/6.pdf", "/tags/x/6.pdf").status in (201, 204)
    assert dav.sidecar(6).tags == ("x",)
    assert dav.request("PROPPATCH", "/by-id/6.pdf", body=PROPPATCH).status == 207
    r = dav.request("LOCK", "/by-id/6.pdf", body=LOCKINFO, headers={"Timeout": "Second-60"})
    assert r.status == 200
    token = r.headers["lock-token"]
    # the lock is the document's, whatever address it is reached by
    assert dav.move("/tags/x/2022-06-06 Editable.pdf", "/tags/x/new name.pdf").status == 423
    assert dav.request("UNLOCK", "/years/2022/2022-06-06 Editable.pdf",
                       headers={"Lock-Token": token}).status == 204



def test_sidecar_edit_over_webdav(dav: Dav):
    path = "/archive/ACME Corp/2024/2024-03-15 Invoice.yml"
    r = dav.request("GET", path)
    assert r.status == 200
    data = yaml.safe_load(r.body)
    assert data["id"] == 1
    edited = r.body.decode().replace("title: Invoice", "title: Invoice March")
    r = dav.request("PUT", path, body=edited)
    assert r.status in (200, 201, 204), r.body
    doc = dav.sidecar(1)
    assert doc.title == "Invoice March"
    assert dav.names("/tags/tax/")[-1] == "2024-03-15 Invoice March.pdf"
    # the pair moved with its template path
    new = "/archive/ACME Corp/2024/2024-03-15 Invoice March.yml"
    text = dav.request("GET", new).body.decode()
    assert dav.request("PUT", new, body="title: [unclosed").status == 400
    assert dav.sidecar(1).title == "Invoice March"
    assert dav.request("PUT", new, body=text.replace("id: 1", "id: 99")).status == 403
    # bob may view document 1 (no owner: shared) and change it; document 5 he owns
    path5 = "/archive/Unknown/2022/2022-05-05 Shared.yml"
    text5 = dav.request("GET", path5, "bob").body.decode()
    assert dav.request("PUT", path5, "alice", body=text5.replace("Shared", "Hacked")).status == 403
    assert dav.sidecar(5).title == "Shared"
    # alice may change 6 but not its owner
    path6 = "/archive/Unknown/2022/2022-06-06 Editable.yml"
    text6 = dav.request("GET", path6).body.decode()
    r = dav.request("PUT", path6, body=text6.replace("owner: bob", "owner: alice"))
    assert r.status == 403 and b"owner" in r.body
    assert dav.request("DELETE", path6).status == 403


def test_trash_delete_restore_purge_expire(dav: Dav):
    assert dav.request("DELETE", "/by-id/4.pdf").status == 204
    assert dav.request("GET", "/by-id/4.pdf").status == 404
    assert "2023-01-02 Letter.pdf" not in dav.names("/tags/tax/")
    assert dav.names("/trash/") == ["2023-01-02 Letter.pdf"]
    assert dav.names("/trash/", "bob") == []  # alice's document
    assert not list(dav.root.archive.rglob("*Letter*"))
    # restore by moving out (into a tag folder: restored and tagged)
    dav.request("MKCOL", "/tags/back")
    r = dav.move("/trash/2023-01-02 Letter.pdf", "/tags/back/2023-01-02 Letter.pdf")
    assert r.status in (201, 204), r.body
    assert dav.request("GET", "/by-id/4.pdf").body == tiny_pdf(4)
    assert dav.sidecar(4).tags == ("tax", "back")
    assert dav.names("/trash/") == []
    # deleted anywhere but in a tag folder goes to the trash; DELETE there is for good
    assert dav.request("DELETE", "/years/2024/2024-03-15 Invoice.pdf").status == 204
    original = dav.root.root / dav.archive.index.ref(4).path  # any; check 1 below
    del original
    assert dav.request("DELETE", "/trash/2024-03-15 Invoice.pdf").status == 204
    assert not (dav.root.originals / "0000" / "0000001.pdf").exists()
    # MOVE into /trash deletes; expiry empties
    assert dav.move("/by-id/2.pdf", "/trash/2.pdf").status in (201, 204)
    trash = Trash(dav.root)
    assert [e.id for e in trash.entries()] == [2]
    assert trash.expire(30) == 0
    assert trash.expire(0) == 1
    assert list(trash.entries()) == []


def test_saved_and_search_folders(dav: Dav):
    assert dav.request("MKCOL", "/saved/tag:tax").status == 201
    assert dav.names("/saved/") == ["tag:tax"]
    assert dav.names("/saved/tag:tax/") == ["2023-01-02 Letter.pdf", "2024-03-15 Invoice.pdf"]
    assert dav.names("/saved/", "bob") == []  # private to alice
    assert dav.move("/saved/tag:tax", "/saved/Taxes").status in (201, 204)
    assert dav.names("/saved/") == ["Taxes"]
    assert dav.names("/saved/Taxes/") == ["2023-01-02 Letter.pdf", "2024-03-15 Invoice.pdf"]
    assert dav.request("MKCOL", "/saved/tag:(").status == 400
    assert dav.request("DELETE", "/saved/Taxes").status == 204
    assert dav.names("/saved/") == []
    assert dav.names("/search/correspondent:acme/") == [
        "2024-03-15 Invoice.pdf", "2024-03-15 Invoice [2].pdf"]
    assert dav.names("/search/correspondent:acme/", "bob") == ["2024-03-15 Invoice.pdf"]
    assert dav.propfind("/search/tag:(/").status == 404
    assert dav.propfind("/search/", depth="1").names() == []


def test_depth_infinity_only_in_inbox(dav: Dav):
    for path in ("/", "/tags/", "/archive/", "/tags/tax/"):
        r = dav.propfind(path, depth="infinity")
        assert r.status == 403 and b"propfind-finite-depth" in r.body, path
    assert dav.request("MKCOL", "/inbox/sub").status == 201
    r = dav.propfind("/inbox/", depth="infinity")
    assert r.status == 207 and "sub" in r.names()
    # a document's own PROPFIND is fine at any depth
    assert dav.propfind("/by-id/1.pdf", depth="infinity").status == 207


def test_propfind_is_streamed(dav: Dav):
    conn = dav.connection()
    from tests.dav_support import auth_header
    conn.request("PROPFIND", "/tags/tax/", headers={"Depth": "1",
                                                  "Authorization": auth_header("alice")})
    r = conn.getresponse()
    assert r.status == 207
    assert r.getheader("Transfer-Encoding") == "chunked"
    assert r.getheader("Connection") != "close"
    r.read()
    conn.request("GET", "/by-id/1.pdf", headers={"Authorization": auth_header("alice")})
    assert conn.getresponse().read() == tiny_pdf(1)  # same connection kept alive
    conn.close()


def test_inbox_upload_is_handed_over_when_unlocked_and_idle(tmp_path):
    with running(tmp_path, None) as dav:
        pdf = tiny_pdf(50)
        assert dav.request("PUT", "/inbox/scan.pdf", body=pdf).status == 201
        r = dav.request("LOCK", "/inbox/held.pdf", body=LOCKINFO, headers={"Timeout": "Second-60"})
        assert r.status == 201
        token = r.headers["lock-token"]
        assert dav.request("PUT", "/inbox/held.pdf", body=pdf,
                           headers={"If": f"({token})"}).status == 204
        assert dav.request("PUT", "/inbox/~$temp.docx", body=b"x").status == 201
        assert dav.request("PUT", "/inbox/empty.pdf", body=b"").status == 201
        dav.request("MKCOL", "/inbox/Taxes")
        assert dav.request("PUT", "/inbox/Taxes/t.pdf", body=pdf).status == 201
        released = dav.root.inbox / "alice" / "scan.pdf"
        assert wait_for(released.exists)
        assert released.read_bytes() == pdf
        assert (dav.root.inbox / "alice" / "Taxes" / "t.pdf").exists() or wait_for(
            (dav.root.inbox / "alice" / "Taxes" / "t.pdf").exists)
        assert owner_from_inbox(released, dav.root.inbox, dav.root.root) == "alice"
        time.sleep(1.0)
        staging = dav.root.inbox / ".webdav" / "alice"
        assert (staging / "held.pdf").exists()  # locked
        assert (staging / "~$temp.docx").exists()  # a client temp file: never taken
        assert (staging / "empty.pdf").exists()  # nothing to consume
        assert dav.names("/inbox/") == ["Taxes", "empty.pdf", "held.pdf", "~$temp.docx"]
        assert dav.request("UNLOCK", "/inbox/held.pdf", headers={"Lock-Token": token}).status == 204
        assert wait_for((dav.root.inbox / "alice" / "held.pdf").exists)
        # bob's /inbox is his own
        assert dav.names("/inbox/", "bob") == []
        assert dav.request("GET", "/inbox/empty.pdf", "bob").status == 404
        # uploads never leave /inbox sideways
        assert dav.move("/inbox/empty.pdf", "/tags/x/empty.pdf").status in (403, 409)


def test_without_writer_changes_go_to_the_sidecar(tmp_path):
    with running(tmp_path, standard, writer=False) as dav:
        dav.request("MKCOL", "/tags/paid")
        assert dav.move("/by-id/4.pdf", "/tags/paid/4.pdf").status in (201, 204)
        assert dav.sidecar(4).tags == ("tax", "paid")  # the daemon applies it
        assert dav.request("DELETE", "/by-id/6.pdf").status == 204
        assert [e.id for e in Trash(dav.root).entries()] == [6]


def test_streamed_listing_matches_each_documents_own_properties(dav: Dav):
    """The fast path that writes document listings reports what each document says itself."""
    assert dav.request("PROPPATCH", "/by-id/1.pdf", body=PROPPATCH).status == 207
    r = dav.request("LOCK", "/by-id/4.pdf", body=LOCKINFO, headers={"Timeout": "Second-60"})
    assert r.status == 200
    named = ('<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:Z="urn:x"><D:prop>'
             "<D:getetag/><D:getlastmodified/><D:getcontentlength/><D:displayname/>"
             "<D:resourcetype/><D:creationdate/><D:getcontenttype/><D:lockdiscovery/>"
             "<Z:color/><Z:missing/><D:quota-used-bytes/></D:prop></D:propfind>")
    for body in (None, named):
        listing = dav.propfind("/tags/tax/", body=body).xml()
        responses = listing.findall("{DAV:}response")[1:]
        assert len(responses) == 2
        for response in responses:
            href = response.findtext("{DAV:}href")
            own = dav.request("PROPFIND", urllib.parse.unquote(href), headers={"Depth": "0"},
                              body=body).xml().find("{DAV:}response")
            assert _props(response) == _props(own), href


def _props(response) -> dict:
    out = {}
    for propstat in response.findall("{DAV:}propstat"):
        status = propstat.findtext("{DAV:}status")
        for prop in propstat.find("{DAV:}prop"):
            text = ElementTree.tostring(prop, encoding="unicode")
            text = re.sub(r"ns\d+:|xmlns:ns\d+=\"[^\"]*\"|D:|N:|xmlns:N=\"[^\"]*\"", "", text)
            text = re.sub(r"<D:timeout>[^<]*", "", re.sub(r"Second-\d+", "Second-n", text))
            out[prop.tag] = (status, " ".join(text.split()))
    return out


def test_tag_folders_rename_delete_and_browse(dav: Dav):
    assert dav.request("MKCOL", "/tags/tax").status == 405  # exists
    assert dav.request("MKCOL", "/tags/empty").status == 201
    assert dav.names("/tags/empty/") == []
    # renaming a tag folder renames the tag in every document in it (that alice may change)
    r = dav.move("/tags/tax", "/tags/taxes", "root")
    assert r.status in (201, 204), r.body
    assert dav.sidecar(1).tags == ("taxes",) and dav.sidecar(3).tags == ("taxes",)
    assert dav.propfind("/tags/tax/", "root").status == 404
    # a folder operation touches only what the user sees, and needs change on all of it
    assert dav.move("/by-id/5.pdf", "/tags/taxes/5.pdf", "root", copy=True).status in (201, 204)
    assert dav.request("DELETE", "/tags/taxes", "alice").status == 403  # 5: view only
    assert dav.sidecar(1).tags == ("taxes",) and dav.sidecar(5).tags == ("taxes",)
    assert dav.request("DELETE", "/by-id/5.pdf", "bob").status == 204  # to the trash
    assert dav.request("DELETE", "/tags/taxes", "alice").status == 204
    assert dav.sidecar(1).tags == () and dav.sidecar(4).tags == ()
    assert dav.sidecar(3).tags == ("taxes",)  # bob's: alice cannot see it, so untouched
    # browsers get an HTML listing; OPTIONS announces class 1 and 2
    r = dav.request("GET", "/tags/")
    assert r.status == 200 and b"empty" in r.body and r.headers["content-type"].startswith("text/html")
    r = dav.request("OPTIONS", "/")
    assert r.status == 200 and r.headers["dav"].startswith("1")
