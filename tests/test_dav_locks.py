"""A lock on a document holds at every address of it, against other users.

A document has many addresses (/by-id, /asn, /archive, its sidecar, every
folder it is listed in). Whoever locks it under any of them, no one else
may change it under any other: DELETE, MOVE, COPY into a folder, PROPPATCH,
a PUT of its sidecar and changes to whole folders holding it answer 423
without the lock token, and change nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os

import pytest

from tests.dav_support import LOCKINFO, PROPPATCH, Dav, add_doc, running

NAME = "2024-05-05 Shared.pdf"
PDF = f"/archive/ACME/2024/{NAME}"
SIDECAR = PDF[:-4] + ".yml"


def docs(archive):
    # no owner: alice and bob may both change both documents
    add_doc(archive, 3, "Shared", dt.date(2024, 5, 5), correspondent="ACME", tags=("t",),
            document_type="Bill")
    add_doc(archive, 4, "Other", dt.date(2024, 5, 6), correspondent="ACME", tags=("t",))


@pytest.fixture
def dav(tmp_path):
    with running(tmp_path, docs) as server:
        for folder in ("/tags/u", "/correspondents/Other Co", "/types/Letter"):
            assert server.request("MKCOL", folder, "bob").status == 201
        yield server


def lock(dav: Dav, path: str, user: str = "alice") -> str:
    r = dav.request("LOCK", path, user, body=LOCKINFO, headers={"Timeout": "Second-600"})
    assert r.status in (200, 201), (path, r.status, r.body[:300])
    return r.headers["lock-token"]


def state(dav: Dav) -> dict[str, str]:
    """Every file of the archive and the trash, with its checksum."""
    out = {}
    for top in (dav.root.archive, dav.root.trash):
        for dirpath, _dirs, files in os.walk(top):
            for name in files:
                path = os.path.join(dirpath, name)
                with open(path, "rb") as f:
                    out[os.path.relpath(path, dav.root.root)] = hashlib.sha256(f.read()).hexdigest()
    return out


def changes(dav: Dav) -> list[tuple[str, str, dict]]:
    """(method, path, headers) of every request that would change document 3."""
    sidecar = dav.request("GET", SIDECAR).body.decode()
    edited = sidecar.replace("title: Shared", "title: Changed")
    moves = [
        ("MOVE", f"/years/2024/{NAME}", "/years/2024/2024-05-05 Renamed.pdf"),
        ("MOVE", f"/tags/t/{NAME}", f"/tags/u/{NAME}"),
        ("MOVE", "/by-id/3.pdf", f"/correspondents/Other Co/{NAME}"),
        ("MOVE", f"/search/shared/{NAME}", "/trash/x.pdf"),
        ("COPY", "/by-id/3.pdf", f"/tags/u/{NAME}"),
        ("COPY", f"/archive/ACME/2024/{NAME}", f"/types/Letter/{NAME}"),
        ("MOVE", "/tags/t", "/tags/t2"),  # renames the tag in every document in it
        ("MOVE", "/types/Bill", "/types/Invoice"),
    ]
    out = [("DELETE", path, {}) for path in (
        "/by-id/3.pdf", f"/years/2024/{NAME}", PDF, f"/tags/t/{NAME}",
        f"/correspondents/ACME/{NAME}", f"/types/Bill/{NAME}",
        "/tags/t", "/correspondents/ACME")]  # the last two: folders holding it
    out += [(method, src, {"Destination": dest}) for method, src, dest in moves]
    out += [("PROPPATCH", path, {"body": PROPPATCH}) for path in (
        "/by-id/3.pdf", f"/years/2024/{NAME}", SIDECAR)]
    out += [("PUT", SIDECAR, {"body": edited})]
    return out


def send(dav: Dav, user: str, method: str, path: str, extra: dict,
         token: str | None = None) -> int:
    headers = {k: v for k, v in extra.items() if k != "body"}
    if "Destination" in headers:
        headers["Destination"] = headers["Destination"].replace(" ", "%20")
    if token is not None:
        headers["If"] = f"({token})"
    return dav.request(method, path, user, body=extra.get("body"), headers=headers).status


@pytest.mark.parametrize("locked_at", ["/by-id/3.pdf", f"/tags/t/{NAME}", PDF, SIDECAR])
def test_no_address_of_a_locked_document_changes_it(dav: Dav, locked_at: str):
    lock(dav, locked_at)
    before = state(dav)
    let_through = []
    for method, path, extra in changes(dav):
        status = send(dav, "bob", method, path, extra)
        if status != 423:
            let_through.append((method, path, status))
    assert let_through == []
    assert state(dav) == before
    for path in ("/by-id/3.pdf", SIDECAR):
        assert b"urn:x" not in dav.propfind(path, "bob", "0").body  # no PROPPATCH got through
    # nor can bob lock it under another address
    for path in ("/by-id/3.pdf", SIDECAR, f"/years/2024/{NAME}"):
        r = dav.request("LOCK", path, "bob", body=LOCKINFO, headers={"Timeout": "Second-60"})
        assert r.status == 423, (locked_at, path, r.status)
    # the other document in the same folders is not locked
    assert dav.move("/by-id/4.pdf", "/tags/u/4.pdf", "bob").status in (201, 204)
    assert dav.sidecar(4).tags == ("t", "u")


def test_the_lock_holder_changes_it_with_the_token(dav: Dav):
    token = lock(dav, "/by-id/3.pdf")
    # without submitting the token she is refused too (RFC 4918 §7.5)
    assert dav.request("DELETE", f"/years/2024/{NAME}").status == 423
    # the sidecar is one of the document's addresses: the token applies there
    text = dav.request("GET", SIDECAR).body.decode().replace("title: Shared", "title: Changed")
    r = dav.request("PUT", SIDECAR, body=text, headers={"If": f"({token})"})
    assert r.status == 204, r.body
    assert dav.sidecar(3).title == "Changed"
    name = "2024-05-05 Changed.pdf"
    assert dav.request("MKCOL", "/tags/u").status == 201
    assert send(dav, "alice", "COPY", "/by-id/3.pdf", {"Destination": f"/tags/u/{name}"},
                token) in (201, 204)
    assert dav.sidecar(3).tags == ("t", "u")
    assert send(dav, "alice", "DELETE", f"/correspondents/ACME/{name}", {}, token) == 204
    assert dav.request("GET", "/by-id/3.pdf").status == 404  # in the trash
    assert dav.names("/trash/", "bob") == [name]


def test_the_sidecars_own_properties_stay_its_own(dav: Dav):
    """The sidecar shares the document's lock, not the PDF's dead properties."""
    assert dav.request("PROPPATCH", "/by-id/3.pdf", body=PROPPATCH).status == 207
    body = dav.propfind(SIDECAR, "alice", "0").body
    assert b"urn:x" not in body
    azure = PROPPATCH.replace(">red<", ">azure<")
    assert dav.request("PROPPATCH", SIDECAR, body=azure).status == 207
    assert b">azure<" in dav.propfind(SIDECAR, "alice", "0").body
    assert b">red<" in dav.propfind(PDF, "alice", "0").body
    assert b">azure<" not in dav.propfind(PDF, "alice", "0").body
