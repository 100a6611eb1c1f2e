"""The permission matrix: every user, every document, every address and method.

A user must not learn that a document he may not view exists: every address
of an invisible document answers exactly like an address where nothing
exists, every listing leaves it out, and folders that only it would fill
(its correspondent, tag, type, year, archive folder) do not exist for him.
Viewable but not changeable documents refuse changes with 403.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import urllib.parse

import pytest

from paperfs.archive.document import Grants, Permissions
from paperfs.index.model import User
from paperfs.access.permissions import can_change, can_view

from tests.dav_support import LOCKINFO, PROPPATCH, Dav, add_doc, running, tiny_pdf

USERS = {
    "alice": User("alice", ("family",)),
    "bob": User("bob"),
    "carol": User("carol", ("family",)),
    "root": User("root", superuser=True),
}
# id: (owner, view grants, change grants)
DOCS = {
    1: (None, Grants(), Grants()),
    2: ("alice", Grants(), Grants()),
    3: ("alice", Grants(users=("bob",)), Grants()),
    4: ("alice", Grants(), Grants(groups=("family",))),
    5: ("bob", Grants(), Grants()),
    6: ("bob", Grants(groups=("family",)), Grants()),
    7: ("carol", Grants(), Grants(users=("bob",))),
}
SHA = {i: hashlib.sha256(tiny_pdf(i)).hexdigest() for i in DOCS}
BY_SHA = {v: k for k, v in SHA.items()}


def created(i: int) -> dt.date:
    return dt.date(2000 + i, 1, i)


def corr(i: int) -> str:
    return f"Corp{i}"


def title(i: int) -> str:
    return f"Doc{i}"


def name(i: int) -> str:
    return f"{created(i).isoformat()} {title(i)}.pdf"


def docs(archive):
    for i, (owner, view, change) in DOCS.items():
        add_doc(archive, i, title(i), created(i), owner=owner, view=view, change=change,
                tags=("m", f"only{i}"), correspondent=corr(i), document_type=f"Type{i}",
                asn=100 + i)


def visible(user: str, i: int) -> bool:
    owner, view, change = DOCS[i]
    return can_view(USERS[user], owner, Permissions(view, change))


def changeable(user: str, i: int) -> bool:
    owner, view, change = DOCS[i]
    return can_change(USERS[user], owner, Permissions(view, change))


@pytest.fixture(scope="module")
def dav(tmp_path_factory):
    with running(tmp_path_factory.mktemp("perm"), docs,
                 extra="  saved:\n    - name: All\n      query: 'tag:m'\n") as server:
        server.extra["archive"] = {i: server.archive.index.ref(i).path for i in DOCS}
        yield server


def addresses(dav: Dav, i: int) -> list[str]:
    rel = dav.extra["archive"][i]
    return [
        f"/by-id/{i}.pdf", f"/asn/{100 + i}.pdf", f"/archive/{rel}.pdf", f"/archive/{rel}.yml",
        f"/tags/m/{name(i)}", f"/tags/only{i}/{name(i)}", f"/search/tag:m/{name(i)}",
        f"/saved/All/{name(i)}", f"/years/{created(i).year}/{name(i)}",
        f"/correspondents/{corr(i)}/{name(i)}", f"/types/Type{i}/{name(i)}",
    ]


def own_folders(dav: Dav, i: int) -> list[str]:
    """Folders that exist only because of document i."""
    rel = dav.extra["archive"][i]
    return [f"/tags/only{i}/", f"/correspondents/{corr(i)}/", f"/types/Type{i}/",
            f"/years/{created(i).year}/", "/archive/" + rel.rsplit("/", 1)[0] + "/",
            "/archive/" + rel.split("/", 1)[0] + "/"]


def listed_ids(dav: Dav, path: str, user: str) -> set[int]:
    r = dav.propfind(path, user)
    assert r.status == 207, (user, path, r.status)
    out = set()
    for response in r.xml().iter("{DAV:}response"):
        etag = response.findtext(".//{DAV:}getetag")
        if etag and etag.strip('"') in BY_SHA:
            out.add(BY_SHA[etag.strip('"')])
    return out


@pytest.mark.parametrize("user", USERS)
def test_listings_show_exactly_what_the_user_may_view(dav: Dav, user: str):
    expected = {i for i in DOCS if visible(user, i)}
    for path in ("/tags/m/", "/search/tag:m/", "/saved/All/"):
        assert listed_ids(dav, path, user) == expected, (user, path)
    for i in DOCS:
        for path in own_folders(dav, i):
            r = dav.propfind(path, user)
            if visible(user, i):
                assert r.status == 207, (user, path)
                if not path.startswith("/archive/"):
                    assert listed_ids(dav, path, user) == {i}
            else:
                assert r.status == 404, (user, path, r.status)
    tops = {"/tags/": "only", "/correspondents/": "Corp", "/types/": "Type"}
    for path, prefix in tops.items():
        listed = {urllib.parse.unquote(n) for n in dav.names(path, user)}
        wanted = {f"{prefix}{i}" for i in expected}
        assert {n for n in listed if n.startswith(prefix)} == wanted, (user, path)
    years = set(dav.names("/years/", user))
    assert years == {str(created(i).year) for i in expected}
    # the archive tree, walked from the top, shows exactly the visible documents
    seen: set[int] = set()
    stack = ["/archive/"]
    while stack:
        folder = stack.pop()
        r = dav.propfind(folder, user)
        assert r.status == 207
        for href in r.hrefs()[1:]:
            if href.endswith("/"):
                stack.append(href)
            elif href.endswith(".pdf"):
                etag = dav.propfind(href, user, depth="0").xml().findtext(".//{DAV:}getetag")
                seen.add(BY_SHA[etag.strip('"')])
    assert seen == expected, user


@pytest.mark.parametrize("user", USERS)
def test_every_address_and_method(dav: Dav, user: str):
    nothing = "/by-id/999.pdf"
    baseline = {m: dav.request(m, nothing, user).status for m in ("GET", "HEAD", "DELETE")}
    assert baseline == {"GET": 404, "HEAD": 404, "DELETE": 404}
    for i in DOCS:
        for path in addresses(dav, i):
            ok = visible(user, i)
            for method in ("GET", "HEAD"):
                r = dav.request(method, path, user)
                assert r.status == (200 if ok else 404), (user, i, method, path, r.status)
                if ok and method == "GET" and path.endswith(".pdf"):
                    assert r.body == tiny_pdf(i)
            r = dav.propfind(path, user, depth="0")
            assert r.status == (207 if ok else 404), (user, i, path)
            if not ok:
                # no method reveals it: answers are those for a path where nothing is
                for method, headers, body in (
                        ("DELETE", {}, None),
                        ("MOVE", {"Destination": "/tags/m/moved.pdf"}, None),
                        ("COPY", {"Destination": "/tags/m/copied.pdf"}, None),
                        ("PROPPATCH", {}, PROPPATCH),
                        ("LOCK", {"Timeout": "Second-30"}, LOCKINFO),
                        ("UNLOCK", {"Lock-Token": "<opaquelocktoken:x>"}, None),
                        ("OPTIONS", {}, None),
                        ("PUT", {}, b"%PDF-1.4 replaced"),
                        ("MKCOL", {}, None)):
                    r = dav.request(method, path, user, headers=headers, body=body)
                    twin = path.rsplit("/", 1)[0] + "/2099-01-01 Nothing.pdf" \
                        if not path.startswith(("/by-id/", "/asn/")) \
                        else path.rsplit("/", 1)[0] + "/999.pdf"
                    if path.startswith("/archive/"):
                        twin = path.rsplit("/", 1)[0] + "/Nothing" + path[-4:]
                    r2 = dav.request(method, twin, user, headers=headers, body=body)
                    assert r.status == r2.status, (user, i, method, path, r.status, r2.status)
                    assert r.headers.get("allow") == r2.headers.get("allow")
                    assert r.status != 200 or method == "OPTIONS"


@pytest.mark.parametrize("user", ["alice", "bob", "carol"])
def test_changes_need_change_permission(dav: Dav, user: str):
    assert dav.request("MKCOL", f"/tags/probe-{user}", user).status == 201
    for i in DOCS:
        if not visible(user, i):
            r = dav.move(f"/by-id/{i}.pdf", f"/tags/probe-{user}/{i}.pdf", user, copy=True)
            assert r.status == 404
            continue
        want = changeable(user, i)
        r = dav.move(f"/by-id/{i}.pdf", f"/tags/probe-{user}/{name(i)}", user, copy=True)
        assert r.status in ((201, 204) if want else (403,)), (user, i, r.status, r.body)
        r = dav.request("PROPPATCH", f"/by-id/{i}.pdf", user, body=PROPPATCH)
        assert r.status == (207 if want else 403), (user, i)
        r = dav.request("LOCK", f"/tags/m/{name(i)}", user, body=LOCKINFO,
                        headers={"Timeout": "Second-30"})
        assert r.status == (200 if want else 403), (user, i, r.status)
        if want:
            assert dav.request("UNLOCK", f"/by-id/{i}.pdf", user,
                               headers={"Lock-Token": r.headers["lock-token"]}).status == 204
            r = dav.request("DELETE", f"/tags/probe-{user}/{name(i)}", user)
            assert r.status == 204
        else:
            assert dav.request("DELETE", f"/by-id/{i}.pdf", user).status == 403
            path = f"/archive/{dav.extra['archive'][i]}.yml"
            text = dav.request("GET", path, user).body
            assert dav.request("PUT", path, user, body=text).status == 403
    # nothing changed for good
    for i in DOCS:
        assert dav.sidecar(i).tags == ("m", f"only{i}")


def test_destinations_do_not_reveal_documents(tmp_path):
    with running(tmp_path, docs) as dav:
        # a folder only an invisible document fills is as absent as any other
        r = dav.move("/by-id/1.pdf", f"/tags/only5/{name(5)}", "alice", copy=True)
        r2 = dav.move("/by-id/1.pdf", "/tags/nothing/x.pdf", "alice", copy=True)
        assert r.status == r2.status == 409
        # a name an invisible document has is free: no 412 with Overwrite: F
        r = dav.move(f"/tags/m/{name(1)}", f"/tags/m/{name(5)}", "alice", overwrite="F")
        assert r.status in (201, 204)
        assert dav.sidecar(5).title == title(5)  # bob's document is untouched
        assert dav.sidecar(1).title == title(5)  # alice renamed hers
        # locks on an invisible document do not show through its folders
        r = dav.request("LOCK", "/by-id/5.pdf", "bob", body=LOCKINFO,
                        headers={"Timeout": "Second-60"})
        assert r.status == 200
        assert dav.request("PROPPATCH", "/by-id/1.pdf", "alice", body=PROPPATCH).status == 207
        r = dav.propfind("/tags/m/", "alice")
        assert b"opaquelocktoken" not in r.body


def test_trash_is_filtered_too(tmp_path):
    with running(tmp_path, docs) as dav:
        assert dav.request("DELETE", "/by-id/5.pdf", "root").status == 204
        assert dav.names("/trash/", "alice") == []
        assert dav.names("/trash/", "bob") == [name(5)]
        assert dav.request("GET", f"/trash/{name(5)}", "alice").status == 404
        assert dav.move(f"/trash/{name(5)}", "/archive/x.pdf", "alice").status == 404
        assert dav.request("DELETE", f"/trash/{name(5)}", "alice").status == 404
        # bob, the owner, restores it
        assert dav.move(f"/trash/{name(5)}", f"/archive/{name(5)}", "bob").status in (201, 204)
        assert dav.request("GET", "/by-id/5.pdf", "bob").status == 200

