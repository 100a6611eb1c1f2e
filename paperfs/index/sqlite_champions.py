"""Champion lists: the exact top of a one-word search without scoring every match.

FTS5 scores every document that matches (``bm25``: about 0.8 µs each) and
has no top-k pruning, so a word found in 80,000 of 100,000 documents costs
65 ms to rank on one core. For every frequent word (in at least ``min_df``
documents when the lists were built) the index keeps its champions: the
``size`` documents in which the word weighs most, each with the two numbers
bm25 needs, the word's weighted frequency ``f`` (the column weights of
``BM25_WEIGHTS``, summed over its occurrences) and the document's length
``D`` in tokens.

BM25 of one word is ``idf * (k1 + 1) * g`` with ``g = f / (f + K(D))`` and
``K(D) = k1 * (1 - b + b * D / avgdl)``. A search for a listed word scores
its champions in Python with FTS5's formula, operation for operation (so the
scores are bit for bit those of ``bm25()``; the build checks that for every
champion), and answers from them when the last wanted champion scores
higher than any other document can:

* every matching document outside the list had ``g <= threshold`` under the
  build's average length ``a0`` (the lists are kept so on every upsert and
  delete);
* ``K(D)`` changes with the current average ``a`` by at most the factor
  ``r = min(1, a0 / a)``, so outside the list ``g <= t / (t + r * (1 - t))``
  with ``t`` the threshold;
* ``idf`` is the same for every document of one search.

Otherwise (a page deeper than the champions reach, a list made loose by much
growth) the search ranks every match as before: the lists change the speed
of a search, never its result. They are rebuilt by ``paperfs reindex`` and by
``SqliteIndex.maintain`` once the number of documents has moved by a tenth.
"""

from __future__ import annotations

import logging
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable, Sequence

from paperfs.index.sqlite_query import (BARE_COLUMN_NAMES, BARE_COLUMNS, BM25, BM25_WEIGHTS,
                                        FTS_COLUMNS, fts_string)
from paperfs.index.sqlitelib import sqlite3

log = logging.getLogger(__name__)

#: FTS5's bm25 constants (ext/fts5/fts5_aux.c)
K1, B = 1.2, 0.75
#: Words in fewer documents are ranked in full (under ~8 ms on one core).
MIN_DF = 10_000
#: champions per word: pages of 25 reach 40 deep before a search ranks everything
SIZE = 1000
#: rebuild when the number of documents has moved by this fraction since the build
STALE_FRACTION = 0.1
#: scores computed two ways may differ in the last bits: keep this much margin
_MARGIN = 1e-9
#: the bm25 weight of each column a bare word is searched in (the others: 0)
_RANKED = {name: weight for name, weight in zip(FTS_COLUMNS, BM25_WEIGHTS)
           if name in BARE_COLUMN_NAMES}

SCHEMA = """
CREATE TABLE IF NOT EXISTS champion_terms (
    term TEXT PRIMARY KEY,
    threshold REAL NOT NULL,  -- g of the weakest champion at the build
    avgdl REAL NOT NULL       -- the average document length g was computed with
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS champions (
    term TEXT NOT NULL,
    doc_id INTEGER NOT NULL,
    freq REAL NOT NULL,       -- the word's weighted frequency in the document
    length INTEGER NOT NULL,  -- the document's length in tokens (all columns)
    PRIMARY KEY (term, doc_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS champions_doc ON champions(doc_id);
"""


def varints(blob: bytes) -> list[int]:
    """The SQLite varints of an FTS5 record (fts_data, fts_docsize)."""
    out = []
    i, n = 0, len(blob)
    while i < n:
        value = 0
        for k in range(9):
            byte = blob[i]
            i += 1
            if k == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        out.append(value)
    return out


def fts_totals(db: sqlite3.Connection) -> tuple[int, int]:
    """(documents, tokens in all columns): what FTS5's bm25 reads (the averages record)."""
    row = db.execute("SELECT block FROM fts_data WHERE id = 1").fetchone()
    if row is None or not row[0]:
        return 0, 0
    values = varints(row[0])
    return values[0], sum(values[1:])


def idf(documents: int, hits: int) -> float:
    value = math.log((documents - hits + 0.5) / (hits + 0.5))
    return value if value > 0.0 else 1e-6


def score(word_idf: float, freq: float, length: int, avgdl: float) -> float:
    """FTS5's bm25 of one word (negated), in the order fts5Bm25Function computes it."""
    return word_idf * ((freq * (K1 + 1.0)) / (freq + K1 * (1 - B + B * length / avgdl)))


def weight(freq: float, length: int, avgdl: float) -> float:
    """g: bm25 of one word without its idf and the constant (k1 + 1)."""
    return freq / (freq + K1 * (1 - B + B * length / avgdl))


class ChampionLists:
    """The lists of one index file; one object per connection (``db``)."""

    def __init__(self, db: sqlite3.Connection, tokenizer: str) -> None:
        self.db = db
        self.tokenizer = tokenizer
        self._scratch = False

    # ------------------------------------------------------------ tokens

    def _ensure_scratch(self) -> None:
        """A temporary FTS5 table with the index's columns and tokenizer: text
        goes in, its tokens (per column) come out of the fts5vocab beside it."""
        if self._scratch:
            return
        tokenizer = self.tokenizer.replace("'", "''")
        self.db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.champion_scratch USING"
                        f" fts5({', '.join(FTS_COLUMNS)}, tokenize = '{tokenizer}')")
        self.db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.champion_scratch_words"
                        " USING fts5vocab(temp, champion_scratch, instance)")
        self._scratch = True

    def _instances(self, texts: Sequence[tuple]) -> list[tuple[str, int, str]]:
        """(token, document id, column) for every token of ``texts`` (fts rows:
        id then one value per column)."""
        db = self.db
        # A reader connection is query_only, which refuses writes to temp tables too;
        # the scratch table is this connection's own, so it is lifted for it alone.
        reader = db.execute("PRAGMA query_only").fetchone()[0]
        if reader:
            db.execute("PRAGMA query_only=0")
        try:
            self._ensure_scratch()
            marks = ",".join("?" * (len(FTS_COLUMNS) + 1))
            db.executemany(f"INSERT INTO temp.champion_scratch (rowid, {', '.join(FTS_COLUMNS)})"
                           f" VALUES ({marks})", texts)
            try:
                return db.execute("SELECT term, doc, col FROM temp.champion_scratch_words"
                                  ).fetchall()
            finally:
                db.execute("DELETE FROM temp.champion_scratch")
        finally:
            if reader:
                db.execute("PRAGMA query_only=1")

    def token(self, word: str) -> str | None:
        """The one token the index makes of ``word``; None if it makes several or none."""
        tokens = {t for t, _, _ in self._instances([(1, "", word) + ("",) * 5])}
        return tokens.pop() if len(tokens) == 1 else None

    # ------------------------------------------------------------ searching

    def top(self, match: str, word: str, wanted: int, *,
            visible: Callable[[list[int]], set[int]] | None = None,
            count_visible: Callable[[], int] | None = None,
            ) -> tuple[list[tuple[int, float]], int] | None:
        """The first ``wanted`` (id, score) of the search ``match`` for the bare
        ``word``, best first, and the number of matches; None when the lists
        cannot tell (no list for the word, or the page reaches too deep).

        For a user who may not see everything: ``visible`` keeps the ids of a
        list the user may view (read in the same snapshot as the list), and
        ``count_visible`` counts the matches they may view (possibly split over
        other connections, so possibly a commit apart: it is only reported)."""
        term = self.token(word)
        if term is None:
            return None
        db = self.db
        own = not db.in_transaction
        if own:
            db.execute("BEGIN")  # one snapshot for the list, the counts and the statistics
        try:
            try:
                listed = db.execute("SELECT threshold, avgdl FROM champion_terms WHERE term = ?",
                                    (term,)).fetchone()
            except sqlite3.OperationalError:  # an index from before the lists
                return None
            if listed is None:
                return None
            # BM25's idf counts every match, whoever asks.
            hits = db.execute("SELECT count(*) FROM fts WHERE fts MATCH ?",
                              (match,)).fetchone()[0]
            documents, tokens = fts_totals(db)
            members = db.execute("SELECT doc_id, freq, length FROM champions WHERE term = ?",
                                 (term,)).fetchall()
            total = hits
            if visible is not None and count_visible is not None:
                shown = visible([m[0] for m in members])
                members = [m for m in members if m[0] in shown]
                total = count_visible()
        finally:
            if own:
                db.execute("COMMIT")
        if not members or not documents:
            return None
        avgdl = tokens / documents
        word_idf = idf(documents, hits)
        ranked = sorted(((doc_id, score(word_idf, freq, length, avgdl))
                         for doc_id, freq, length in members), key=lambda r: (-r[1], r[0]))
        if len(ranked) == total and count_visible is None:  # every match is a champion
            return ranked[:wanted], total
        if len(ranked) < wanted:
            return None
        threshold, built_avgdl = listed
        r = min(1.0, built_avgdl / avgdl)
        others = word_idf * (K1 + 1.0) * (threshold / (threshold + r * (1 - threshold)))
        if ranked[wanted - 1][1] > others * (1 + _MARGIN):
            return ranked[:wanted], total
        return None

    # ------------------------------------------------------------ keeping them exact

    def listed(self) -> dict[str, tuple[float, float]]:
        return {t: (thr, a) for t, thr, a in
                self.db.execute("SELECT term, threshold, avgdl FROM champion_terms")}

    def remove(self, ids: Iterable[int]) -> None:
        """Inside the writer's transaction: documents deleted or about to be replaced."""
        self.db.executemany("DELETE FROM champions WHERE doc_id = ?", ((i,) for i in ids))

    def add(self, texts: Sequence[tuple], listed: dict[str, tuple[float, float]]) -> None:
        """Inside the writer's transaction, after ``remove``: the new versions of
        documents (their fts rows) join the lists they now belong to."""
        if not listed or not texts:
            return
        lengths: dict[int, int] = {}
        freqs: dict[tuple[str, int], float] = {}
        for term, doc_id, column in self._instances(texts):
            lengths[doc_id] = lengths.get(doc_id, 0) + 1
            w = _RANKED.get(column)
            if w and term in listed:
                freqs[term, doc_id] = freqs.get((term, doc_id), 0.0) + w
        rows = []
        for (term, doc_id), freq in freqs.items():
            threshold, avgdl = listed[term]
            if weight(freq, lengths[doc_id], avgdl) >= threshold:
                rows.append((term, doc_id, freq, lengths[doc_id]))
        self.db.executemany("INSERT INTO champions VALUES (?, ?, ?, ?)", rows)

    # ------------------------------------------------------------ building

    def stale(self, min_df: int) -> bool:
        """True when the lists were built for a rather different number of documents
        (or lists exist while ``min_df`` is 0: none wanted)."""
        if min_df <= 0:
            return self.db.execute("SELECT 1 FROM champion_terms LIMIT 1").fetchone() is not None
        built = self.db.execute("SELECT value FROM meta WHERE key = 'champions_documents'"
                                ).fetchone()
        documents = fts_totals(self.db)[0]
        if built is None:
            return documents >= min_df
        return abs(documents - int(built[0])) > STALE_FRACTION * max(int(built[0]), 1)

    def build(self, path: Path, *, min_df: int = MIN_DF, size: int = SIZE,
              threads: int = 1) -> int:
        """Build every list anew (the writer, outside a transaction): one for each
        word in ``min_df`` documents or more (none if 0); the number of lists."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")  # nobody writes while the rankings are read
        try:
            documents, tokens = fts_totals(db)
            terms: list[str] = []
            if min_df > 0 and documents >= min_df:
                candidates = [t for (t,) in db.execute(
                    "SELECT term FROM fts_vocab WHERE doc >= ?", (min_df,))]
                # A word the tokenizer changes again (a stem of a stem) could not be
                # looked up by what it is indexed as: no list for it.
                terms = [t for t in candidates if self.token(t) == t]
            avgdl = tokens / documents if documents else 0.0
            db.execute("DELETE FROM champions")
            db.execute("DELETE FROM champion_terms")
            listed = 0
            # Written as each word is ranked, not gathered first: 381,000 rows at 100k.
            for term, threshold, members in self._rank_all(path, terms, documents, avgdl,
                                                           size, threads):
                db.execute("INSERT INTO champion_terms VALUES (?, ?, ?)",
                           (term, threshold, avgdl))
                db.executemany("INSERT INTO champions VALUES (?, ?, ?, ?)",
                               [(term, doc_id, freq, length) for doc_id, freq, length in members])
                listed += 1
            if min_df > 0:
                db.execute("INSERT OR REPLACE INTO meta VALUES ('champions_documents', ?)",
                           (str(documents),))
            else:  # switched off: switched on again, the lists are built at once
                db.execute("DELETE FROM meta WHERE key = 'champions_documents'")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if terms:
            log.info("ranking lists: %d of %d frequent words listed", listed, len(terms))
        return listed

    def _rank_all(self, path: Path, terms: list[str], documents: int, avgdl: float,
                  size: int, threads: int) -> list[tuple[str, float, list[tuple[int, float, int]]]]:
        if not terms:
            return []
        local = threading.local()
        readers: list[sqlite3.Connection] = []
        lock = threading.Lock()

        def rank(term: str) -> tuple[str, float, list[tuple[int, float, int]]] | None:
            reader = getattr(local, "db", None)
            if reader is None:
                reader = local.db = sqlite3.connect(path, timeout=30, isolation_level=None,
                                                    check_same_thread=False)
                with lock:
                    readers.append(reader)
            return self._rank(reader, term, documents, avgdl, size)

        pool = ThreadPoolExecutor(max(1, threads), thread_name_prefix="paperfs-champions")
        try:
            for result in pool.map(rank, terms):
                if result is not None:
                    yield result
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            for reader in readers:
                reader.close()

    @staticmethod
    def _rank(db: sqlite3.Connection, term: str, documents: int, avgdl: float,
              size: int) -> tuple[str, float, list[tuple[int, float, int]]] | None:
        """One word's champions from FTS5's own ranking; their frequencies are
        recovered from the scores and checked by scoring them again."""
        match = f"{BARE_COLUMNS} : {fts_string(term)}"
        hits = db.execute("SELECT count(*) FROM fts WHERE fts MATCH ?", (match,)).fetchone()[0]
        if hits == 0:
            return None
        rows = db.execute(f"SELECT rowid, -{BM25} AS s FROM fts WHERE fts MATCH ?"
                          " ORDER BY s DESC, rowid LIMIT ?", (match, size)).fetchall()
        marks = ",".join("?" * len(rows))
        lengths = {doc_id: sum(varints(sz)) for doc_id, sz in db.execute(
            f"SELECT id, sz FROM fts_docsize WHERE id IN ({marks})", [r[0] for r in rows])}
        word_idf = idf(documents, hits)
        members = []
        threshold = math.inf
        for doc_id, s in rows:
            length = lengths[doc_id]
            k = K1 * (1 - B + B * length / avgdl)
            g = s / (word_idf * (K1 + 1.0))
            freq = float(round(k * g / (1 - g)))
            if score(word_idf, freq, length, avgdl) != s:
                log.debug("ranking lists: no list for %r (frequency of %d not recovered)",
                          term, doc_id)
                return None
            members.append((doc_id, freq, length))
            threshold = min(threshold, weight(freq, length, avgdl))
        return term, threshold, members
