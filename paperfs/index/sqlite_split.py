"""Intra-query parallelism for the embedded index: one ranked query, split by id range.

FTS5 ranks every match (``bm25`` reads each matching row's sizes and
positions; there is no top-k shortcut), so a word in a fifth of 100,000
documents costs tens of milliseconds on one core, while the other cores
idle. ``RangeSplit`` divides the documents into ``parts`` id ranges of
equal size and runs the same statement once per range, with
``fts.rowid BETWEEN ? AND ?`` (FTS5 seeks to the range in its doclists): the
first range on the index's own connection in the calling thread, the others
on read-only connections in worker threads (SQLite releases the GIL while it
steps). The caller merges the pages (the ranges are disjoint, so no document
comes twice) and adds the counts. BM25 stays exactly the same: its document
frequencies and average length are computed over the whole table in every
range.

Each connection reads its own snapshot: a document committed while a split
query runs can be counted by one range and not yet by another, as if the
search had run a moment earlier or later; nothing is shown twice.

Splitting pays only with an idle core: every range recounts BM25's
statistics, and on a busy machine the threads just queue behind the other
work. So a search runs as one statement while the 1-minute load average is
above the number of cores minus a half.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from paperfs.index.sqlitelib import sqlite3

#: ids below / above every document id
_LOWEST, _HIGHEST = -(1 << 62), 1 << 62


class RangeSplit:
    """Run one statement per id range, ``parts`` at once."""

    def __init__(self, path: Path, parts: int, min_documents: int, *,
                 under_load: bool = False) -> None:
        self.path = path
        self.parts = parts
        self.min_documents = min_documents
        #: split even when no core is idle (tests); normally one statement is
        #: cheaper then: every range recounts BM25's statistics, and the
        #: threads only queue behind the other work
        self.under_load = under_load
        self._pool: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        #: (the highest id when counted, the ranges)
        self._ranges: tuple[int, list[tuple[int, int]] | None] | None = None

    def ranges(self, db: sqlite3.Connection) -> list[tuple[int, int]] | None:
        """``parts`` id ranges holding about the same number of documents; None
        below ``min_documents`` (one statement is as fast there).

        The first range starts below every id and the last ends above, so any
        cuts are correct; they are only recounted (a count and an OFFSET scan:
        milliseconds at 100,000 documents) when the highest id has moved by a
        tenth of the id span, not after every filed document."""
        # Two subqueries: SQLite answers a lone min() or max() from the index,
        # but scans the table for "min(id), max(id)" (6 ms at 100,000 rows).
        low, high = db.execute("SELECT (SELECT min(id) FROM documents),"
                               " (SELECT max(id) FROM documents)").fetchone()
        if low is None:
            return None
        known = self._ranges
        if known is None or abs(high - known[0]) * 10 > max(1, high - low):
            count = db.execute("SELECT count(*) FROM documents").fetchone()[0]
            ranges = None
            if count >= self.min_documents:
                cuts: list[int] = []
                for k in range(1, self.parts):
                    row = db.execute("SELECT id FROM documents ORDER BY id LIMIT 1 OFFSET ?",
                                     (count * k // self.parts,)).fetchone()
                    if row and (not cuts or row[0] > cuts[-1]):
                        cuts.append(row[0])
                lows = [_LOWEST] + cuts
                highs = [cut - 1 for cut in cuts] + [_HIGHEST]
                ranges = list(zip(lows, highs))
            self._ranges = known = (high, ranges)
        return known[1]

    def run(self, db: sqlite3.Connection, sql: str,
            params: tuple) -> list[list[tuple]] | None:
        """The rows of ``sql`` for each range (its first two parameters are the
        range's lowest and highest id, ``params`` the rest); None when the index
        is too small to split or no core is idle."""
        if not self.under_load and os.getloadavg()[0] > (os.cpu_count() or 1) - 0.5:
            return None
        ranges = self.ranges(db)
        if ranges is None:
            return None
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max(1, self.parts - 1),
                                            thread_name_prefix="paperfs-index-split")
        futures = [self._pool.submit(self._read, sql, (low, high) + params)
                   for low, high in ranges[1:]]
        try:
            first = db.execute(sql, ranges[0] + params).fetchall()
        finally:
            rest = [future.result() for future in futures]
        return [first] + rest

    def _read(self, sql: str, params: tuple) -> list[tuple]:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                 check_same_thread=False)
            db.execute("PRAGMA query_only=1")
            db.execute("PRAGMA temp_store=MEMORY")
            db.execute("PRAGMA cache_size=-32768")
            self._local.db = db
            with self._lock:
                self._readers.append(db)
        return db.execute(sql, params).fetchall()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        with self._lock:
            for db in self._readers:
                db.close()
            self._readers.clear()
        self._local = threading.local()
