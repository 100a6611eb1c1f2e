"""The SQLite index's fast paths give the same answers as the plain ones.

Facet counts come from per-document facet codes held in memory (counted per
match for small match sets, with one bitset per facet value for large ones);
the plain SQL counting is the reference.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from paperfs.index.base import IndexEntry, parse_query
from paperfs.index.model import LOCAL_ADMIN
from paperfs.index.sqlite import SqliteIndex
from paperfs.index.sqlite_facets import FacetCodes, SharedFacets
from paperfs.archive.layout import DataRoot
from paperfs.search.match import fold
from paperfs.archive.reindex import rebuild_into
from tests.index_contract import ALICE, BOB, NOW, Corpus, _hand, build_corpus

QUERIES = ["*", "invoice", "zebra", "tag:paid", "tag:paid created:[2018 to 2020]",
           "invoice -tag:paid", "correspondent:acme OR title:report", "produ*zzzz"]


@pytest.fixture(scope="module")
def perf_corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    root = tmp_path_factory.mktemp("perf") / "data"
    corpus = build_corpus(root, count=1500)
    index = SqliteIndex(DataRoot(root).index_db)
    rebuild_into(index, DataRoot(root), workers=0)
    index.facet_cache_size = 0
    corpus.index = index
    yield corpus
    index.close()


def _reference(index: SqliteIndex, query: str, user) -> object:
    c = index.compile(parse_query(query, NOW))
    return index._facets_sql(c, user) if not c.never else None


@pytest.mark.parametrize("bitsets_from", [0, 10**9], ids=["bitsets", "per-match"])
@pytest.mark.parametrize("user", [LOCAL_ADMIN, ALICE, BOB], ids=lambda u: u.name)
@pytest.mark.parametrize("query", QUERIES)
def test_facets_in_memory_equal_sql(perf_corpus: Corpus, query: str, user, bitsets_from: int,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    index: SqliteIndex = perf_corpus.index
    monkeypatch.setattr(FacetCodes, "BITSETS_FROM", bitsets_from)
    monkeypatch.setattr("paperfs.index.sqlite_facets.FACET_CODES_FROM", 0)  # always the codes
    reference = _reference(index, query, user)
    index.facets("invoice", user=LOCAL_ADMIN)  # loads the codes ("*" alone would not)
    assert index._codes is not None
    got = index.facets(query, user=user, now=NOW)
    if reference is None:
        assert got.total == 0
    else:
        assert _same(got, reference)


def _same(got, reference) -> bool:
    """Equal facets; a tag spelled several ways ("Büro", "büro") is one tag, named by
    the smallest spelling in the whole index (SQL: among the matches)."""
    a, b = got.as_dicts(), reference.as_dicts()
    a["tags"] = {fold(k): v for k, v in a["tags"].items()}
    b["tags"] = {fold(k): v for k, v in b["tags"].items()}
    return (got.total == reference.total and a == b
            and [c.count for c in got.tags] == [c.count for c in reference.tags])


def test_facets_without_bitsets(perf_corpus: Corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    index: SqliteIndex = perf_corpus.index
    monkeypatch.setattr(FacetCodes, "BITSETS_MAX_BYTES", 0)
    monkeypatch.setattr("paperfs.index.sqlite_facets.FACET_CODES_FROM", 0)
    index._codes = None
    SharedFacets.of(index.path).forget()  # the process's connections share the codes
    for query in QUERIES[:5]:
        assert _same(index.facets(query, user=LOCAL_ADMIN, now=NOW),
                     _reference(index, query, LOCAL_ADMIN))
    assert index._codes is not None and index._codes.bitsets is None
    index._codes = None
    SharedFacets.of(index.path).forget()


def test_facet_codes_follow_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writes by this connection and by another one both invalidate the codes."""
    monkeypatch.setattr("paperfs.index.sqlite_facets.FACET_CODES_FROM", 0)
    path = tmp_path / "index.sqlite3"
    writer = SqliteIndex(path)
    reader = SqliteIndex(path, create=False)
    reader.facet_cache_size = writer.facet_cache_size = 0
    try:
        docs = [_hand(i, f"Doc {i}", "alpha text", tags=("Büro", "paid") if i % 2 else ("büro",))
                for i in range(1, 40)]
        writer.upsert([IndexEntry(doc=d, path=f"a/{d.id}", mtime_ns=1, size=1) for d in docs])
        for index in (writer, reader):
            assert index.facets("*", user=LOCAL_ADMIN).total == 39  # SQL: no codes yet
            assert index._codes is None
            tags = index.facets("alpha", user=LOCAL_ADMIN).as_dicts()["tags"]
            assert tags == {"Büro": 39, "paid": 20}
            assert index._codes is not None
            assert index.facets("*", user=LOCAL_ADMIN).total == 39  # from the codes
        new = _hand(1000, "Doc 1000", "alpha", tags=("new",))
        writer.upsert([IndexEntry(doc=new, path="a/1000", mtime_ns=1, size=1)])
        for index in (writer, reader):
            assert index.facets("*", user=LOCAL_ADMIN).total == 40
            assert index.facets("alpha", user=LOCAL_ADMIN).as_dicts()["tags"]["new"] == 1
            assert index.facets("*", user=LOCAL_ADMIN).total == 40
        writer.delete([1000, 1])
        for index in (writer, reader):
            facets = index.facets("alpha", user=LOCAL_ADMIN)
            assert facets.total == 38 and "new" not in facets.as_dicts()["tags"]
    finally:
        writer.close()
        reader.close()


PLAN_QUERIES = ["invoice", "invoice tag:paid created:[2018 to 2020]", "invoice OR tag:paid",
                "invoice -tag:paid", "(invoice OR tag:paid) created:2019",
                "correspondent:acme OR title:report", "zebra asn:4242", "created:2019 -invoice"]


@pytest.mark.parametrize("query", PLAN_QUERIES)
def test_the_full_text_match_is_never_run_once_per_row(perf_corpus: Corpus, query: str) -> None:
    """A MATCH evaluated inside a join loop (FTS5 looked up by rowid per row)
    recounts BM25's statistics every time: seconds on a large index. Every
    statement a search or facet count runs (apart from the snippet look-up,
    which is per page row by design) must scan the full-text index at most
    once per MATCH."""
    index: SqliteIndex = perf_corpus.index
    statements: list[str] = []
    index.db.set_trace_callback(statements.append)
    try:
        for user in (LOCAL_ADMIN, ALICE):
            for sort in ("relevance", "-created"):
                index.search(query, user=user, sort=sort, now=NOW)
            index.facets(query, user=user, now=NOW)
    finally:
        index.db.set_trace_callback(None)
    checked = 0
    for sql in statements:
        if not sql.lstrip().upper().startswith(("SELECT", "WITH")) or "snippet(" in sql:
            continue
        plan = [row[3] for row in index.db.execute("EXPLAIN QUERY PLAN " + sql)]
        # FTS5's plan string: "M" a MATCH, "=" a rowid equality (one row at a time)
        per_row = [line for line in plan if "VIRTUAL TABLE INDEX" in line
                   and {"=", "M"} <= set(line.split("INDEX", 1)[1])]
        assert not per_row, f"{query!r}: {sql}\n" + "\n".join(plan)
        checked += 1
    assert checked
