"""The embedded SQLite index: the shared contract plus what is SQLite's own."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Iterator

import pytest

from paperfs.errors import DataRootError, NotFoundError
from paperfs.index import sqlite_query
from paperfs.index.base import IndexEntry
from paperfs.index.model import LOCAL_ADMIN
from paperfs.index.sqlite import SqliteIndex
from paperfs.index.sqlite_query import Compiler, QueryTooBroadError, fts_string
from paperfs.archive.layout import DataRoot
from paperfs.archive.reindex import rebuild_into
from paperfs.index.sqlitelib import sqlite3
from paperfs.search.parser import parse
from paperfs.search.syntax_error import QuerySyntaxError
from tests.index_contract import (ALICE, HAND_FIRST, NOW, SIGNATURE_QUERIES, CatalogContract,
                                  Corpus, IndexContract, _hand, build_corpus,
                                  search_signature)


@pytest.fixture(scope="module")
def sqlite_corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    root = tmp_path_factory.mktemp("contract") / "data"
    corpus = build_corpus(root)
    index = SqliteIndex(DataRoot(root).index_db)
    report = rebuild_into(index, DataRoot(root))  # the real rebuild path (parallel parsing)
    assert report.problems == [] and report.indexed == len(corpus.docs)
    corpus.index = index
    yield corpus
    index.close()


class TestSqliteContract(IndexContract):
    @pytest.fixture
    def corpus(self, sqlite_corpus: Corpus) -> Corpus:
        return sqlite_corpus


class TestSqliteCatalog(CatalogContract):
    @pytest.fixture
    def corpus(self, sqlite_corpus: Corpus) -> Corpus:
        return sqlite_corpus


@pytest.fixture(scope="module")
def split_index(sqlite_corpus: Corpus) -> Iterator[SqliteIndex]:
    """A second connection to the contract index that splits every ranked search
    over three id ranges (sqlite_split.py; in production only from 20,000
    documents on)."""
    index = SqliteIndex(sqlite_corpus.index.path, create=False)
    index.search_threads, index.split_documents, index.split_under_load = 3, 1, True
    yield index
    index.close()


class TestSqliteSplitContract(IndexContract):
    @pytest.fixture
    def corpus(self, sqlite_corpus: Corpus, split_index: SqliteIndex) -> Corpus:
        return dataclasses.replace(sqlite_corpus, index=split_index)


def test_split_searches_equal_unsplit_ones_page_by_page(sqlite_corpus: Corpus,
                                                         split_index: SqliteIndex) -> None:
    whole = sqlite_corpus.index
    assert len(split_index._splitter().ranges(split_index.db)) == 3
    for query in ("invoice", "tag:paid", "invoice -tag:paid", "quokka OR zebra",
                  "created:[2019 to 2022] invoice"):
        # A user who is not a superuser: words filtered by permissions (split too).
        for user in (LOCAL_ADMIN, ALICE):
            for sort in ("relevance", "-created", "title", "added"):
                for offset in (0, 7, 40):
                    a = whole.search(query, user=user, sort=sort, limit=9, offset=offset,
                                     now=NOW)
                    b = split_index.search(query, user=user, sort=sort, limit=9,
                                           offset=offset, now=NOW)
                    assert (a.total, a.ids()) == (b.total, b.ids()), (query, user, sort, offset)
                    assert [h.score for h in a.hits] == [h.score for h in b.hits]


# ---------------------------------------------------------------- SQLite's own


def test_another_connection_sees_an_upsert_at_once(sqlite_corpus: Corpus) -> None:
    writer = sqlite_corpus.index
    reader = SqliteIndex(writer.path, create=False)
    try:
        doc = _hand(HAND_FIRST + 98, "Platypus arrival", "a platypus was filed")
        assert reader.search("platypus", user=LOCAL_ADMIN).total == 0
        everything = reader.facets("*", user=LOCAL_ADMIN).total
        assert reader.facets("*", user=LOCAL_ADMIN).total == everything  # cached
        writer.upsert([IndexEntry(doc=doc, path="Hand/platypus", mtime_ns=1, size=1)])
        assert reader.search("platypus", user=LOCAL_ADMIN).ids() == [doc.id]
        assert reader.facets("*", user=LOCAL_ADMIN).total == everything + 1
        writer.delete([doc.id])
        assert reader.search("platypus", user=LOCAL_ADMIN).total == 0
        assert reader.facets("*", user=LOCAL_ADMIN).total == everything
    finally:
        reader.close()


def test_compiled_queries_bind_every_value(sqlite_corpus: Corpus) -> None:
    c = sqlite_corpus.index.compile(parse("invoice tag:\"x'y\" created:2020 -asn:5 title:a'b",
                                          now=NOW))
    assert "x'y" not in c.where and "2020" not in c.where and "'" not in c.where.replace(
        "''", "")
    assert c.match is not None and "\"a'b\"" in c.match
    assert "x'y" in c.params


def test_fts_strings_are_quoted() -> None:
    assert fts_string('say "hi"') == '"say ""hi"""'
    assert fts_string("a\x00b") == '"ab"'


HOSTILE = list('"\'*^:(){}[]-+?\\%_;, \x00\tNEAR') + ["NEAR", "AND", "OR", "NOT", "title:",
                                                      "tag:", "{title}", "é", "ß", "日本"]


def test_random_hostile_queries_never_reach_sqlite_as_syntax(sqlite_corpus: Corpus) -> None:
    rng = random.Random(7)
    index = sqlite_corpus.index
    tried = 0
    for _ in range(400):
        query = "".join(rng.choice(HOSTILE + ["quokka", "zebra", " "]) for _ in range(
            rng.randint(1, 12)))
        try:
            index.search(query, user=LOCAL_ADMIN, limit=3, now=NOW)
            index.facets(query, user=LOCAL_ADMIN, now=NOW)
            tried += 1
        except (QuerySyntaxError, QueryTooBroadError):
            pass
        except sqlite3.Error as exc:  # pragma: no cover
            pytest.fail(f"{query!r}: {exc}")
    assert tried > 50


def test_too_broad_wildcard_is_a_clear_error(sqlite_corpus: Corpus,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_query, "MAX_EXPANSION", 3)
    with pytest.raises(QueryTooBroadError, match="more than 3 different words"):
        sqlite_corpus.index.search("*a*", user=LOCAL_ADMIN)


def test_compiler_pushes_negations_into_the_match() -> None:
    c = Compiler(lambda glob, head, limit: []).compile(parse("invoice -acme -tag:paid"))
    assert c.match == ('({title content tags correspondent document_type notes} : "invoice")'
                       ' NOT ({title content tags correspondent document_type notes} : "acme")')
    assert "tag_fold" in c.where
    only_not = Compiler(lambda g, h, n: []).compile(parse("-acme"))
    assert only_not.match is None and "NOT IN" in only_not.where
    nothing = Compiler(lambda g, h, n: []).compile(parse("zz*zz invoice"))
    assert nothing.never


def test_reader_refuses_missing_or_foreign_index(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="paperfs reindex"):
        SqliteIndex(tmp_path / "none.sqlite3", create=False)
    other = tmp_path / "old.sqlite3"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta VALUES ('schema_version', '1'), ('stemming', 'porter')")
    db.execute("CREATE TABLE old_stuff (x)")
    db.commit()
    db.close()
    with pytest.raises(DataRootError, match="another paperfs version"):
        SqliteIndex(other, create=False)
    writer = SqliteIndex(other)  # the writer starts a new, empty index (a new file)
    assert writer.count() == 0
    assert writer.stemming == "porter"  # the old file's choice is kept
    assert not writer.db.execute(
        "SELECT count(*) FROM sqlite_master WHERE name = 'old_stuff'").fetchone()[0]
    writer.close()
    SqliteIndex(other, create=False).close()


def _entries(n: int) -> list[IndexEntry]:
    return [IndexEntry(doc=_hand(i, f"Doc {i}", f"invoices for number{i}"), path=f"p/{i}",
                       mtime_ns=i, size=i) for i in range(1, n + 1)]


def test_rebuilding_aside_keeps_the_old_index_on_failure(tmp_path: Path) -> None:
    index = SqliteIndex(tmp_path / "index.sqlite3")
    index.upsert(_entries(5))
    with pytest.raises(RuntimeError):
        with index.rebuilding() as fresh:
            fresh.upsert(_entries(2))
            raise RuntimeError("interrupted")
    assert index.count() == 5
    assert not (tmp_path / "index.sqlite3.rebuild").exists()
    with index.rebuilding() as fresh:
        fresh.upsert(_entries(2))
        assert index.count() == 5  # readers see the old index until the end
    assert index.count() == 2
    assert index.search("number2", user=LOCAL_ADMIN).ids() == [2]
    index.close()


def test_a_rebuild_that_meets_an_id_or_path_twice_replaces_like_upsert(tmp_path: Path) -> None:
    """The bulk insert of a rebuild skips the look-ups; a repeated id or path
    (in one batch or across batches) still replaces, as ``upsert`` always does."""
    index = SqliteIndex(tmp_path / "index.sqlite3")
    with index.rebuilding() as fresh:
        fresh.upsert(_entries(4))
        moved = IndexEntry(doc=_hand(2, "Doc 2 moved", "invoices for number2"), path="q/2",
                           mtime_ns=9, size=9)
        other = IndexEntry(doc=_hand(7, "Doc 7", "invoices for number7"), path="p/3",
                           mtime_ns=9, size=9)
        fresh.upsert([moved, other])
        twice = [IndexEntry(doc=_hand(8, "Doc 8", "first"), path="p/8", mtime_ns=1, size=1),
                 IndexEntry(doc=_hand(8, "Doc 8", "second"), path="p/8", mtime_ns=2, size=2)]
        fresh.upsert(twice)
    assert index.count() == 5  # 1, 2 (moved), 4, 7 (at 3's path), 8
    assert index.ref(2).path == "q/2"
    assert index.ref(3) is None and index.ref_by_path("p/3").id == 7
    assert index.search("number2", user=LOCAL_ADMIN).ids() == [2]
    assert index.search("number3", user=LOCAL_ADMIN).total == 0
    assert index.search("second", user=LOCAL_ADMIN).ids() == [8]
    assert index.search("first", user=LOCAL_ADMIN).total == 0
    index.close()


def test_porter_stemming_is_a_choice_of_the_index_file(tmp_path: Path) -> None:
    index = SqliteIndex(tmp_path / "index.sqlite3")
    index.upsert(_entries(3))
    assert index.search("invoice", user=LOCAL_ADMIN).total == 0  # no stemming by default
    with index.rebuild_with("porter") as fresh:
        fresh.upsert(_entries(3))
    assert index.stemming == "porter"
    assert index.search("invoice", user=LOCAL_ADMIN).total == 3
    index.close()
    again = SqliteIndex(tmp_path / "index.sqlite3")  # the file remembers it
    assert again.stemming == "porter"
    assert again.search("invoiced", user=LOCAL_ADMIN).total == 3
    again.close()


def test_same_results_after_a_rebuild(sqlite_corpus: Corpus, tmp_path: Path) -> None:
    before = search_signature(sqlite_corpus.index, SIGNATURE_QUERIES)
    other = SqliteIndex(tmp_path / "second.sqlite3")
    rebuild_into(other, DataRoot(sqlite_corpus.root), workers=0)  # the serial path
    assert search_signature(other, SIGNATURE_QUERIES) == before
    other.close()


def test_split_ranges_are_balanced_and_recounted_only_as_the_index_grows(
        tmp_path: Path) -> None:
    from paperfs.index.sqlite_split import RangeSplit
    index = SqliteIndex(tmp_path / "index.sqlite3")
    index.upsert(_entries(30))
    split = RangeSplit(index.path, 3, min_documents=40)
    assert split.ranges(index.db) is None  # too small to split
    index.upsert([IndexEntry(doc=_hand(i, f"Doc {i}", "more"), path=f"p/{i}", mtime_ns=i,
                             size=i) for i in range(31, 61)])
    ranges = split.ranges(index.db)
    assert ranges is not None and [r[0] for r in ranges[1:]] == [21, 41]
    assert ranges[0][0] < 1 and ranges[-1][1] > 10**12  # open at both ends
    index.upsert([IndexEntry(doc=_hand(61, "Doc 61", "one more"), path="p/61", mtime_ns=1,
                             size=1)])
    assert split.ranges(index.db) is ranges  # one more document: the same cuts
    index.upsert([IndexEntry(doc=_hand(i, f"Doc {i}", "many"), path=f"p/{i}", mtime_ns=i,
                             size=i) for i in range(62, 91)])
    assert [r[0] for r in split.ranges(index.db)[1:]] == [31, 61]  # recounted
    split.close()
    index.close()
