"""A user's matches counted from shared visibility bitsets (paperfs/index/sqlite_visibility.py)
and facets shared by the connections of a process (paperfs/index/sqlite_facets.py).

The reference is the plain rule, counted in Python: a user sees what he owns,
what is granted to him or his groups, and what has no owner. Every count must
follow a write at once, on every connection, and one user's bitset must never
answer for another.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from paperfs.archive.document import Document, Grants, Permissions
from paperfs.index.base import IndexEntry
from paperfs.index.model import User
from paperfs.index.sqlite import SqliteIndex
from paperfs.index.sqlite_facets import SharedFacets
from paperfs.index.sqlite_visibility import SharedVisibility, generation
from tests.index_contract import ALICE, BOB, CAROL, NOBODY, _hand

ROOT = User("root", superuser=True)
BOB_ALONE = User("bob")  # the same name without his group: another key
USERS = (ALICE, BOB, CAROL, NOBODY, ROOT, BOB_ALONE)


def _doc(i: int, owner: str | None, grants: Permissions | None = None,
         tags: tuple[str, ...] = ()) -> Document:
    extra = "rare" if i % 7 == 0 else ""
    return _hand(i, f"Doc {i}", f"common words {extra}", owner=owner, tags=tags,
                 permissions=grants or Permissions())


def _corpus() -> list[Document]:
    owners = ("alice", "bob", None, "carol")
    docs = []
    for i in range(1, 81):
        grants = None
        if i % 5 == 0:
            grants = Permissions(view=Grants(groups=("family",)))
        elif i % 9 == 0:
            grants = Permissions(change=Grants(users=("alice",)))
        docs.append(_doc(i, owners[i % 4], grants, tags=("paid",) if i % 2 else ("todo",)))
    return docs


def _may_view(user: User, doc: Document) -> bool:
    p = doc.permissions
    return (user.superuser or doc.owner is None or doc.owner == user.name
            or user.name in p.view.users + p.change.users
            or bool(set(user.groups) & set(p.view.groups + p.change.groups)))


def _entries(docs: list[Document]) -> list[IndexEntry]:
    return [IndexEntry(doc=d, path=f"a/{d.id}", mtime_ns=1, size=1) for d in docs]


def _expected(docs: dict[int, Document], user: User, word: str = "common") -> set[int]:
    return {i for i, d in docs.items() if _may_view(user, d) and word in d.content}


@pytest.fixture()
def indexes(tmp_path: Path):
    path = tmp_path / "index.sqlite3"
    writer = SqliteIndex(path)
    docs = {d.id: d for d in _corpus()}
    writer.upsert(_entries(list(docs.values())))
    # champion lists for "common" (in every document): the path a high-hit word takes
    writer.champion_min_df, writer.champion_size = 10, 100
    assert writer.build_champions() >= 1
    readers = [SqliteIndex(path, create=False, reader=True) for _ in range(2)]
    yield writer, readers, docs
    for index in (writer, *readers):
        index.close()


def _check(index: SqliteIndex, docs: dict[int, Document], word: str = "common") -> None:
    for user in USERS:
        want = _expected(docs, user, word)
        result = index.search(word, user=user, limit=100)
        assert result.total == len(want), user
        assert {h.id for h in result.hits} == want, user
        page = index.search(word, user=user, limit=5)  # from the champion list
        assert page.total == len(want) and {h.id for h in page.hits} <= want, user
        facets = index.facets(word, user=user)
        assert facets.total == len(want), user
        tags = facets.as_dicts()["tags"]
        assert tags.get("paid", 0) == sum(1 for i in want if "paid" in docs[i].tags), user


def test_counts_follow_permissions_on_every_connection(indexes) -> None:
    writer, readers, docs = indexes
    assert generation(writer.db) is not None
    for index in (writer, *readers):
        _check(index, docs)
        _check(index, docs, "rare")
    # the bitsets are shared by the connections, one per user (groups are part of the key)
    shared = SharedVisibility.of(writer.path)
    assert shared.for_user(readers[0].db, BOB) != shared.for_user(readers[1].db, BOB_ALONE)


def test_a_write_is_counted_at_once(indexes) -> None:
    writer, readers, docs = indexes
    for index in readers:
        _check(index, docs)
    before = generation(readers[0].db)
    # alice's document becomes bob's; one of bob's is shared with the family;
    # one without owner becomes carol's; one is deleted
    docs[4] = _doc(4, "bob", tags=docs[4].tags)
    docs[6] = _doc(6, "bob", Permissions(view=Grants(groups=("family",))), tags=docs[6].tags)
    docs[2] = _doc(2, "carol", tags=("paid",))
    writer.upsert(_entries([docs[4], docs[6], docs[2]]))
    writer.delete([3])
    del docs[3]
    assert generation(readers[0].db) != before
    for index in (*readers, writer):
        _check(index, docs)


def test_facet_codes_loaded_once_for_all_connections(indexes,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """One connection loads the codes; another uses them even for a match set too
    small to pay for loading its own."""
    writer, readers, docs = indexes
    SharedFacets.of(writer.path).forget()
    for index in readers:
        index.facet_cache_size = 0  # count every time: the codes are what is shared
    monkeypatch.setattr("paperfs.index.sqlite_facets.FACET_CODES_FROM", 0)
    readers[0].facets("common", user=ALICE)
    monkeypatch.setattr("paperfs.index.sqlite_facets.FACET_CODES_FROM", 10**9)
    readers[1].facets("common", user=ALICE)
    first, second = readers[0]._codes, readers[1]._codes
    assert first is not None and second is not None
    assert first.combo is second.combo  # one copy of the data, each with its own version
    writer.upsert(_entries([_doc(200, None, tags=("new",))]))
    docs[200] = _doc(200, None, tags=("new",))
    monkeypatch.setattr("paperfs.index.sqlite_facets.FACET_CODES_FROM", 0)
    got = readers[1].facets("common", user=NOBODY)
    assert got.as_dicts()["tags"]["new"] == 1
    assert readers[1]._codes.combo is not first.combo  # reloaded for the new generation
    _check(readers[0], docs)


def test_an_index_without_the_generation_counts_in_sql(tmp_path: Path) -> None:
    """A file built aside has no triggers until its writer opens it: its searches
    count with the join, with the same results; the writer then adds them."""
    path = tmp_path / "index.sqlite3"
    bulk = SqliteIndex(path, _bulk=True)
    docs = {d.id: d for d in _corpus()}
    bulk.upsert(_entries(list(docs.values())))
    bulk.close()
    reader = SqliteIndex(path, create=False, reader=True)
    try:
        assert generation(reader.db) is None
        _check(reader, docs)
        writer = SqliteIndex(path)
        try:
            assert generation(reader.db) is not None
            _check(reader, docs)
        finally:
            writer.close()
    finally:
        reader.close()


def test_a_rebuilt_file_has_another_generation(indexes) -> None:
    writer, readers, docs = indexes
    before = generation(writer.db)
    with writer.rebuilding() as new:
        new.upsert(_entries(list(docs.values())))
    after = generation(writer.db)
    assert after is not None and after != before
    fresh = SqliteIndex(writer.path, create=False, reader=True)
    try:
        _check(fresh, docs)
    finally:
        fresh.close()
