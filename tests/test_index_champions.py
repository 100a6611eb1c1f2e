"""Champion lists (paperfs/index/sqlite_champions.py): faster one-word searches,
never other results.

Every test compares against the same index with the lists switched off
(``champion_min_df = 0``: every match ranked by FTS5), and checks that the
lists really answered, so none of them passes by falling back."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Iterator

import pytest

from benchmarks.gen_archive import Generator, Spec
from paperfs.index.base import IndexEntry
from paperfs.index.model import LOCAL_ADMIN, User
from paperfs.index.sqlite import SqliteIndex
from paperfs.index.sqlite_champions import idf, score, varints, weight
from paperfs.index.sqlite_query import BM25
from paperfs.search.parser import parse
from tests.index_contract import ALICE, BOB, Corpus, IndexContract, _hand

DOCS = 1500
MIN_DF, SIZE = 150, 30


def _generated(count: int, seed: int = 7, first: int = 1) -> list[IndexEntry]:
    gen = Generator(Spec(count=count, seed=seed))
    out = []
    for doc_id in range(first, first + count):
        doc, rel, _ = gen.document(doc_id)
        out.append(IndexEntry(doc=doc, path=rel, mtime_ns=1, size=1))
    return out


def _open(path: Path, *, lists: bool = True, create: bool = True) -> SqliteIndex:
    index = SqliteIndex(path, create=create)
    index.champion_min_df, index.champion_size = (MIN_DF if lists else 0), SIZE
    return index


@pytest.fixture
def indexes(tmp_path: Path) -> Iterator[tuple[SqliteIndex, SqliteIndex]]:
    """(the writer, with lists; a reader of the same file that ranks everything)."""
    writer = _open(tmp_path / "index.sqlite3")
    writer.upsert(_generated(DOCS))
    assert writer.build_champions() > 10
    full = _open(writer.path, lists=False, create=False)
    yield writer, full
    full.close()
    writer.close()


def _listed(index: SqliteIndex) -> list[str]:
    return [t for (t,) in index.db.execute("SELECT term FROM champion_terms ORDER BY term")]


def _answered(index: SqliteIndex, word: str, wanted: int, user: User = LOCAL_ADMIN) -> bool:
    c = index.compile(parse(word))
    visibility = {} if user.superuser else index._visibility(c, user)
    return index._lists().top(c.match, word, wanted, **visibility) is not None


def _same(a: SqliteIndex, b: SqliteIndex, query: str, user: User = LOCAL_ADMIN,
          **kw: object) -> None:
    x = a.search(query, user=user, **kw)
    y = b.search(query, user=user, **kw)
    assert (x.total, x.ids(), [h.score for h in x.hits], [h.snippet for h in x.hits]) == (
        y.total, y.ids(), [h.score for h in y.hits], [h.snippet for h in y.hits]), (query, kw)


def _members_are_exact(index: SqliteIndex) -> None:
    """What the bound rests on: every matching document outside a list weighs
    at most the threshold (under the build's average length), and every
    champion is a match with its current frequency and length. Recomputed here
    from FTS5's own scores of every match."""
    db = index.db
    documents = db.execute("SELECT count(*) FROM fts").fetchone()[0]
    for term, threshold, avgdl0 in db.execute("SELECT * FROM champion_terms").fetchall():
        match = index.compile(parse(term)).match
        hits = db.execute("SELECT count(*) FROM fts WHERE fts MATCH ?", (match,)).fetchone()[0]
        tokens = sum(sum(varints(sz)) for (sz,) in db.execute("SELECT sz FROM fts_docsize"))
        avgdl = tokens / documents
        word_idf = idf(documents, hits)
        current = {}
        for doc_id, s, sz in db.execute(
                f"SELECT fts.rowid, -{BM25}, s.sz FROM fts JOIN fts_docsize s ON s.id = fts.rowid"
                " WHERE fts MATCH ?", (match,)):
            length = sum(varints(sz))
            g = s / (word_idf * 2.2)
            freq = float(round(1.2 * (0.25 + 0.75 * length / avgdl) * g / (1 - g)))
            assert score(word_idf, freq, length, avgdl) == s
            current[doc_id] = (freq, length)
        members = {d: (f, n) for d, f, n in db.execute(
            "SELECT doc_id, freq, length FROM champions WHERE term = ?", (term,))}
        assert members and {d: current.get(d) for d in members} == members, term
        assert all(weight(f, n, avgdl0) <= threshold for d, (f, n) in current.items()
                   if d not in members), term


# ---------------------------------------------------------------- the contract


@pytest.fixture(scope="module")
def champion_corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    """The contract corpus with lists for every word in 60 documents or more, 12
    champions each (in production: 10,000 and 1,000)."""
    from paperfs.archive.layout import DataRoot
    from paperfs.archive.reindex import rebuild_into
    from tests.index_contract import build_corpus

    root = tmp_path_factory.mktemp("champions") / "data"
    corpus = build_corpus(root)
    index = SqliteIndex(DataRoot(root).index_db)
    index.champion_min_df, index.champion_size = 60, 12
    with index.rebuilding() as fresh:
        rebuild_into(fresh, DataRoot(root), workers=0)
    assert _listed(index) == []
    index.maintain()  # what reindex and the idle daemon do next
    assert len(_listed(index)) > 20
    corpus.index = index
    yield corpus
    index.close()


class TestSqliteChampionContract(IndexContract):
    @pytest.fixture
    def corpus(self, champion_corpus: Corpus) -> Corpus:
        return champion_corpus


def test_contract_words_with_lists_rank_the_same_with_and_without(
        champion_corpus: Corpus) -> None:
    index = champion_corpus.index
    full = SqliteIndex(index.path, create=False)
    full.champion_min_df = 0
    split = SqliteIndex(index.path, create=False)
    split.search_threads, split.split_documents, split.split_under_load = 3, 1, True
    assert split._splitter().ranges(split.db)
    answered = answered_users = 0
    try:
        for word in _listed(index):
            for offset, limit in ((0, 5), (0, 12), (3, 7), (10, 5), (25, 25)):
                _same(index, full, word, offset=offset, limit=limit)
                answered += _answered(index, word, offset + limit)
            # not a superuser: the lists keep what the user may view (their count
            # split over id ranges, or not)
            for user in (ALICE, BOB):
                for offset, limit in ((0, 5), (4, 6)):
                    _same(index, full, word, user, offset=offset, limit=limit)
                    _same(split, full, word, user, offset=offset, limit=limit)
                    answered_users += _answered(index, word, offset + limit, user)
    finally:
        full.close()
        split.close()
    # the lists did answer most shallow pages, for everyone
    assert answered > len(_listed(index)) and answered_users > len(_listed(index))


# ---------------------------------------------------------------- SQLite's own


def test_scores_are_fts5_bm25_bit_for_bit(indexes: tuple[SqliteIndex, SqliteIndex]) -> None:
    writer, full = indexes
    for word in _listed(writer)[::5]:
        c = writer.compile(parse(word))
        top, total = writer._lists().top(c.match, word, 10)
        raw = writer.db.execute(f"SELECT rowid, -{BM25} AS s FROM fts WHERE fts MATCH ?"
                                " ORDER BY s DESC, rowid LIMIT 10", (c.match,)).fetchall()
        assert top == raw and total == full.search(word, user=LOCAL_ADMIN).total


def test_lists_stay_exact_through_upserts_replacements_and_deletes(
        indexes: tuple[SqliteIndex, SqliteIndex]) -> None:
    writer, full = indexes
    _members_are_exact(writer)
    words = _listed(writer)
    rng = random.Random(3)
    # New documents: short ones with a listed word in the title go to the top of
    # its list; long ones only join the match set.
    short = [IndexEntry(doc=_hand(5000 + i, f"{w} {w}", f"{w} note"), path=f"new/{i}",
                        mtime_ns=1, size=1) for i, w in enumerate(rng.sample(words, 8))]
    writer.upsert(short + _generated(40, seed=9, first=6000))
    _members_are_exact(writer)
    # Replacements: the same ids with other words (leave lists), one at another's path.
    writer.upsert([dataclasses.replace(e, doc=_hand(e.doc.id, "plain", "nothing listed"))
                   for e in short[:4]])
    first = writer.ref(1)
    writer.upsert([IndexEntry(doc=_hand(7000, "moved in", words[0]), path=first.path,
                              mtime_ns=2, size=2)])
    assert writer.ref(1) is None
    _members_are_exact(writer)
    # One batch: an id twice (the last version counts), and a document that takes
    # the path of another one filed in the same batch (only the second stays).
    w = words[1]
    writer.upsert([
        IndexEntry(doc=_hand(7100, f"{w} {w}", w), path="batch/a", mtime_ns=1, size=1),
        IndexEntry(doc=_hand(7100, "plain again", "nothing"), path="batch/a", mtime_ns=2, size=2),
        IndexEntry(doc=_hand(7101, f"{w} {w}", w), path="batch/b", mtime_ns=1, size=1),
        IndexEntry(doc=_hand(7102, f"{w} {w} {w}", w), path="batch/b", mtime_ns=1, size=1)])
    assert writer.ref(7101) is None and writer.ref(7102) is not None
    _members_are_exact(writer)
    # Deletes, among them champions.
    champions = [d for (d,) in writer.db.execute("SELECT DISTINCT doc_id FROM champions"
                                                 " LIMIT 20")]
    writer.delete(champions[::2] + [5, 6, 7])
    _members_are_exact(writer)
    answered = 0
    for word in words:
        for offset in (0, 10):
            _same(writer, full, word, offset=offset, limit=10)
            answered += _answered(writer, word, offset + 10)
    assert answered >= len(words)


def test_deep_pages_and_loose_bounds_are_ranked_in_full(
        indexes: tuple[SqliteIndex, SqliteIndex]) -> None:
    writer, full = indexes
    word = _listed(writer)[0]
    assert _answered(writer, word, 10)
    assert not _answered(writer, word, SIZE + 1)  # deeper than the list
    _same(writer, full, word, offset=SIZE - 5, limit=10)
    # As if the documents had grown ten-fold longer since the build: the bound
    # on documents outside the list gets too weak to settle the page.
    writer.db.execute("UPDATE champion_terms SET avgdl = avgdl / 10")
    assert not _answered(writer, word, 10)
    _same(writer, full, word, limit=10)


def test_maintain_rebuilds_the_lists_when_the_index_grew_by_a_tenth(tmp_path: Path) -> None:
    index = _open(tmp_path / "index.sqlite3")
    index.upsert(_generated(100))
    index.maintain()  # below MIN_DF documents: nothing to list
    assert _listed(index) == []
    index.upsert(_generated(DOCS - 100, first=101))
    index.maintain()
    listed = _listed(index)
    assert listed
    built = index.db.execute("SELECT value FROM meta WHERE key = 'champions_documents'"
                             ).fetchone()[0]
    assert int(built) == DOCS
    index.upsert(_generated(100, seed=8, first=DOCS + 1))  # under a tenth: kept
    index.maintain()
    assert index.db.execute("SELECT value FROM meta WHERE key = 'champions_documents'"
                            ).fetchone()[0] == built
    index.upsert(_generated(100, seed=9, first=DOCS + 101))
    index.maintain()
    assert index.db.execute("SELECT value FROM meta WHERE key = 'champions_documents'"
                            ).fetchone()[0] == str(DOCS + 200)
    index.champion_min_df = 0  # as the catalog of a Solr archive: no lists wanted
    index.maintain()
    assert _listed(index) == []
    assert index.db.execute("SELECT count(*) FROM champions").fetchone()[0] == 0
    index.champion_min_df = MIN_DF
    index.maintain()
    assert len(_listed(index)) >= len(listed)  # built again at once (for 1,700 now)
    index.clear()
    assert _listed(index) == []
    index.close()


def test_porter_stemmed_words_use_the_list_of_their_stem(tmp_path: Path) -> None:
    index = SqliteIndex(tmp_path / "index.sqlite3", stemming="porter")
    index.champion_min_df, index.champion_size = 20, 8
    index.upsert([IndexEntry(doc=_hand(i, f"Letter {i}", f"invoices paid {'x ' * i}"),
                             path=f"p/{i}", mtime_ns=1, size=1) for i in range(1, 60)])
    index.build_champions()
    assert "invoic" in _listed(index)
    full = SqliteIndex(index.path, create=False)
    full.champion_min_df = 0
    for word in ("invoices", "Invoice", "INVOICED"):
        assert _answered(index, word, 5)
        _same(index, full, word, limit=5)
    full.close()
    index.close()


def test_a_reader_of_an_index_without_the_tables_ranks_in_full(tmp_path: Path) -> None:
    writer = _open(tmp_path / "index.sqlite3")
    writer.upsert(_generated(300))
    writer.db.execute("DROP TABLE champions")  # as an index written by an older paperfs
    writer.db.execute("DROP TABLE champion_terms")
    writer.close()
    reader = _open(tmp_path / "index.sqlite3", create=False)
    word = reader.db.execute("SELECT term FROM fts_vocab ORDER BY doc DESC LIMIT 1").fetchone()[0]
    assert reader.search(word, user=LOCAL_ADMIN).total > 100
    reader.close()
    writer = _open(tmp_path / "index.sqlite3")  # the writer adds them back, empty
    assert _listed(writer) == []
    writer.close()
