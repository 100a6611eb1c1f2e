"""Ranked search in the embedded index: pages of hits, snippets, single documents.

A search compiles its query (paperfs/index/sqlite_query.py) and picks the
cheapest way to the page: a word's champion list when that settles it
(paperfs/index/sqlite_champions.py), FTS5 alone for words only, one
statement that both counts and orders for words plus conditions, and the
ranking split over id ranges in parallel in a large index
(paperfs/index/sqlite_split.py). Relevance is FTS5's bm25 with the column
weights of ``BM25``; without words, newest created first.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections import Counter
from itertools import chain

from paperfs.index.base import check_page, parse_query
from paperfs.index.model import (FALLBACK_SNIPPET_CHARS, MARK_END, MARK_START, Hit,
                                 SearchResult, StoredDocument, User, fallback_snippet,
                                 snippet_text)
from paperfs.index.sqlite_connection import SqliteConnection
from paperfs.index.sqlite_query import (BM25, Compiled, fts_string, matches_sql,
                                        permission_sql)
from paperfs.index.sqlite_visibility import SharedVisibility
from paperfs.search.match import fold
from paperfs.search.tree import And, Node, Not, NumberRange, Or, Term

MAX_LIMIT = 1000
SNIPPET_TOKENS = 24
#: Ranked searches run split over id ranges in parallel (sqlite_split.py) in an
#: index of at least SPLIT_DOCUMENTS documents (below, one thread ranks in a few ms).
SPLIT_DOCUMENTS = 20_000

_HIT_COLUMNS = "id, title, correspondent, document_type, created, added, tags, asn, path"
_ORDER = {
    "created": "d.created ASC, d.id ASC",
    "-created": "d.created DESC, d.id DESC",
    "added": "d.added_ts ASC, d.id ASC",
    "-added": "d.added_ts DESC, d.id DESC",
    "modified": "d.modified_ts ASC, d.id ASC",
    "-modified": "d.modified_ts DESC, d.id DESC",
    "title": "d.title_sort ASC, d.id ASC",
    "-title": "d.title_sort DESC, d.id DESC",
    "id": "d.id ASC",
    "-id": "d.id DESC",
}
_SORT_COLUMNS = {
    "created": ("d.created", False), "-created": ("d.created", True),
    "added": ("d.added_ts", False), "-added": ("d.added_ts", True),
    "modified": ("d.modified_ts", False), "-modified": ("d.modified_ts", True),
    "title": ("d.title_sort", False), "-title": ("d.title_sort", True),
    "id": ("d.id", False), "-id": ("d.id", True),
}
#: relevance when the query has no words to rank by: newest first
_NO_RANK_ORDER = _ORDER["-created"]
_STOPWORDS = frozenset(
    "the and for that this with from are was were have has had not but you your our "
    "his her its they them their there here what which who will would can could "
    "shall should may might must all any per via than then also into onto over under "
    "der die das und ist nicht mit den dem des ein eine einer eines von zu zur zum "
    "auf aus bei für fur sie wir ihr sich als auch oder wie noch nur nach bis "
    "les des une est pour dans par sur pas qui que".split())
_WORD = re.compile(r"\w+")


class SqliteRanking(SqliteConnection):
    """Searching ``SqliteIndex``: ranked pages, single documents, more like this."""

    # ------------------------------------------------------------ search helpers

    def _visibility(self, c: Compiled, user: User) -> dict:
        """For champion lists: which of some ids ``user`` may view, and how many
        matches of ``c`` they may view."""
        perm, perm_params = permission_sql(user)
        shared = SharedVisibility.of(self.path)

        def visible(ids: list[int]) -> set[int]:
            # The user's bitset of this generation (sqlite_visibility.py), else SQL.
            seen = shared.for_user(self.db, user)
            if seen is not None and all(i < seen[0] for i in ids):
                flags = seen[1]
                return {i for i in ids if flags[i]}
            return {r[0] for r in self.db.execute(
                "SELECT d.id FROM documents d WHERE d.id IN (SELECT value FROM json_each(?))"
                f" AND {perm}", (json.dumps(ids),) + perm_params)}

        def count_visible() -> int:
            counted = shared.matches_visible(self.db, user, c.match)
            if counted is not None:
                return counted
            # A join per match: the cost of such a search, so split when a core is idle.
            source, where, params = matches_sql(c, user)
            split = self._splitter()
            parts = split and split.run(
                self.db, f"SELECT count(*) FROM {source} WHERE fts.rowid BETWEEN ? AND ?"
                f" AND {where}", params)
            if parts is not None:
                return sum(rows[0][0] for rows in parts)
            return self.db.execute(f"SELECT count(*) FROM {source} WHERE {where}",
                                   params).fetchone()[0]

        return {"visible": visible, "count_visible": count_visible}

    # ------------------------------------------------------------ search

    def search(self, query: str | Node, *, user: User, sort: str = "relevance",
               limit: int = 25, offset: int = 0, highlight: bool = True,
               now: dt.datetime | None = None) -> SearchResult:
        check_page(sort, limit, offset, MAX_LIMIT)
        node = parse_query(query, now, self.fields)
        c = self.compile(node)
        if c.never:
            return SearchResult(0, offset, limit, sort, ())
        rows, total = self._page(c, user, sort, limit, offset)
        hits = self._hits(rows, c, highlight)
        return SearchResult(total, offset, limit, sort, tuple(hits))

    def _page(self, c: Compiled, user: User, sort: str, limit: int,
              offset: int) -> tuple[list[tuple[int, float]], int]:
        db = self.db
        bare = c.match is not None and not c.has_where and user.superuser
        if (c.word is not None and not c.has_where and sort == "relevance" and limit
                and 0 < self.champion_min_df and offset + limit <= self.champion_size):
            # One word: its champion list, when that settles the page.
            top = self._lists().top(c.match, c.word, offset + limit,
                                    **({} if user.superuser else self._visibility(c, user)))
            if top is not None:
                return top[0][offset:], top[1]
        if bare:
            # Only words: FTS5 alone, no join (the common, fastest case).
            split = self._splitter() if sort == "relevance" and limit else None
            parts = split and split.run(
                db,
                # Each id range counts its matches and ranks them (?1, ?2: the range).
                f"SELECT rowid, -{BM25} AS s, (SELECT count(*) FROM fts WHERE rowid"
                " BETWEEN ?1 AND ?2 AND fts MATCH ?3) FROM fts WHERE rowid BETWEEN ?1 AND ?2"
                " AND fts MATCH ?3 ORDER BY s DESC, rowid LIMIT ?4",
                (c.match, offset + limit))
            if parts is not None:
                merged = sorted(chain.from_iterable(parts), key=lambda r: (-r[1], r[0]))
                total = sum(rows[0][2] for rows in parts if rows)
                return [(r[0], r[1]) for r in merged[offset:offset + limit]], total
            total = db.execute("SELECT count(*) FROM fts WHERE fts MATCH ?",
                               (c.match,)).fetchone()[0]
            if sort == "relevance":
                rows = db.execute(f"SELECT rowid, -{BM25} AS s FROM fts WHERE fts MATCH ?"
                                  " ORDER BY s DESC, rowid LIMIT ? OFFSET ?",
                                  (c.match, limit, offset)).fetchall()
                return rows, total
        source, where, params = matches_sql(c, user)
        if c.match is not None and not bare:
            return self._page_once(c, source, where, params, sort, limit, offset)
        if source == "documents d" and where == "1":
            total = db.execute("SELECT count(*) FROM documents").fetchone()[0]
        elif not bare:
            total = db.execute(f"SELECT count(*) FROM {source} WHERE {where}",
                               params).fetchone()[0]
        if total == 0 or limit == 0:
            return [], total
        if sort == "relevance" and c.match is not None:
            sql = (f"SELECT d.id, -{BM25} AS s FROM {source} WHERE {where}"
                   " ORDER BY s DESC, d.id LIMIT ? OFFSET ?")
        elif sort == "relevance" and c.highlight is not None:
            # Words only in some OR branches: rank by them where they occur. The
            # ranked words are MATERIALIZED once; as a joined subquery, SQLite 3.51
            # ran their MATCH once per document (seconds instead of milliseconds).
            sql = (f"WITH r(rid, s) AS MATERIALIZED (SELECT rowid, -{BM25} FROM fts"
                   f" WHERE fts MATCH ?) SELECT d.id, coalesce(r.s, 0.0) AS s FROM {source}"
                   " LEFT JOIN r ON r.rid = d.id"
                   f" WHERE {where} ORDER BY s DESC, d.id LIMIT ? OFFSET ?")
            params = (c.highlight,) + params
        else:
            order = _NO_RANK_ORDER if sort == "relevance" else _ORDER[sort]
            sql = (f"SELECT d.id, 0.0 FROM {source} WHERE {where}"
                   f" ORDER BY {order} LIMIT ? OFFSET ?")
        rows = db.execute(sql, params + (limit, offset)).fetchall()
        return rows, total

    def _page_once(self, c: Compiled, source: str, where: str, params: tuple, sort: str,
                   limit: int, offset: int) -> tuple[list[tuple[int, float]], int]:
        """Words plus other conditions: the matches are found once (the full-text
        part drives, every other condition filters) and both counted and ordered
        from that one result, instead of a count query and a page query."""
        if sort == "relevance":
            select = f"SELECT d.id AS id, -{BM25} AS s, 0 AS k FROM {source} WHERE"
            order = "s DESC, id"
            descending = False
        else:
            column, descending = _SORT_COLUMNS[sort]
            select = f"SELECT d.id AS id, 0.0 AS s, {column} AS k FROM {source} WHERE"
            way = "DESC" if descending else "ASC"
            order = f"k {way}, id {way}"
        inner = f"{select} {where}"
        # Split only words filtered by permissions alone, where most matches pass
        # and ranking them is the cost. With field conditions few rows are ranked,
        # and every range would pay BM25's full statistics again (measured: the
        # word + tag + dates benchmark 16 ms as one statement, 20 ms split).
        split = self._splitter() if limit and not c.has_where else None
        parts = split and split.run(
            self.db,
            f"WITH r AS MATERIALIZED ({select} fts.rowid BETWEEN ? AND ? AND {where})"
            f" SELECT id, s, k, (SELECT count(*) FROM r) FROM r ORDER BY {order} LIMIT ?",
            params + (offset + limit,))
        if parts is not None:
            # Merge in the statement's order: score down, or the sort key, then id.
            if sort == "relevance":
                merged = sorted(chain.from_iterable(parts), key=lambda r: (-r[1], r[0]))
            else:
                merged = sorted(chain.from_iterable(parts), key=lambda r: (r[2], r[0]),
                                reverse=descending)
            total = sum(rows[0][3] for rows in parts if rows)
            return [(r[0], r[1]) for r in merged[offset:offset + limit]], total
        rows = self.db.execute(
            f"WITH r AS MATERIALIZED ({inner}) SELECT id, s, (SELECT count(*) FROM r) FROM r"
            f" ORDER BY {order} LIMIT ? OFFSET ?", params + (limit, offset)).fetchall()
        if rows:
            return [(r[0], r[1]) for r in rows], rows[0][2]
        total = self.db.execute(f"SELECT count(*) FROM {source} WHERE {where}",
                                params).fetchone()[0]
        return [], total

    def _hits(self, rows: list[tuple[int, float]], c: Compiled, highlight: bool) -> list[Hit]:
        if not rows:
            return []
        ids = [r[0] for r in rows]
        marks = ",".join("?" * len(ids))
        docs = {r[0]: r for r in self.db.execute(
            f"SELECT {_HIT_COLUMNS} FROM documents WHERE id IN ({marks})", ids)}
        snippets: dict[int, str] = {}
        if highlight:
            if c.highlight is not None:
                for doc_id in ids:
                    row = self.db.execute(
                        f"SELECT snippet(fts, 1, ?, ?, '…', {SNIPPET_TOKENS}) FROM fts"
                        " WHERE fts MATCH ? AND rowid = ?",
                        (MARK_START, MARK_END, c.highlight, doc_id)).fetchone()
                    if row and MARK_START in row[0]:
                        snippets[doc_id] = snippet_text(row[0])
            rest = [i for i in ids if i not in snippets]
            if rest:
                marks = ",".join("?" * len(rest))
                for doc_id, text in self.db.execute(
                        f"SELECT rowid, substr(content, 1, {FALLBACK_SNIPPET_CHARS * 2})"
                        f" FROM fts WHERE rowid IN ({marks})", rest):
                    snippets[doc_id] = fallback_snippet(text)
        hits = []
        for doc_id, score in rows:
            d = docs.get(doc_id)
            if d is None:  # deleted between the two reads
                continue
            hits.append(Hit(id=d[0], title=d[1], correspondent=d[2], document_type=d[3],
                            created=dt.date.fromisoformat(d[4]),
                            added=dt.datetime.fromisoformat(d[5]),
                            tags=tuple(json.loads(d[6])), asn=d[7], path=d[8],
                            score=float(score or 0.0), snippet=snippets.get(doc_id, "")))
        return hits

    # ------------------------------------------------------------ single documents

    def _visible(self, doc_id: int, user: User) -> bool:
        perm, params = permission_sql(user)
        sql = "SELECT 1 FROM documents d WHERE d.id = ?" + (f" AND {perm}" if perm else "")
        return self.db.execute(sql, (doc_id,) + params).fetchone() is not None

    def get(self, doc_id: int, user: User) -> StoredDocument | None:
        if not self._visible(doc_id, user):
            return None
        row = self.db.execute(
            "SELECT d.id, d.title, d.correspondent, d.document_type, d.created, d.added,"
            " d.modified, d.tags, d.asn, d.owner, d.path, d.notes, f.content"
            " FROM documents d JOIN fts f ON f.rowid = d.id WHERE d.id = ?",
            (doc_id,)).fetchone()
        if row is None:
            return None
        return StoredDocument(
            id=row[0], title=row[1], correspondent=row[2], document_type=row[3],
            created=dt.date.fromisoformat(row[4]), added=dt.datetime.fromisoformat(row[5]),
            modified=dt.datetime.fromisoformat(row[6]), tags=tuple(json.loads(row[7])),
            asn=row[8], owner=row[9], path=row[10],
            notes=tuple(n for n in row[11].split("\n") if n) if row[11] else (),
            content=row[12])

    def more_like_this(self, doc_id: int, user: User, limit: int = 10) -> SearchResult:
        doc = self.get(doc_id, user)
        if doc is None:
            return SearchResult(0, 0, limit, "relevance", ())
        words = self._characteristic_words(doc)
        if not words:
            return SearchResult(0, 0, limit, "relevance", ())
        node = And((Or(tuple(Term(None, w) for w in words)) if len(words) > 1
                    else Term(None, words[0]),
                    Not(NumberRange("id", doc_id, doc_id))))
        return self.search(node, user=user, limit=limit)

    def _characteristic_words(self, doc: StoredDocument, keep: int = 12) -> list[str]:
        text = f"{doc.title} {doc.title} {doc.content[:50_000]}"
        tf = Counter(w for w in _WORD.findall(fold(text))
                     if len(w) >= 3 and not w.isdigit() and w not in _STOPWORDS)
        total = max(self.count(), 1)
        scored = []
        for word, n in tf.most_common(60):
            row = self.db.execute("SELECT doc FROM fts_vocab WHERE term = ?", (word,)).fetchone()
            if row is None:  # a stemmed index: ask the index itself
                row = self.db.execute("SELECT count(*) FROM fts WHERE fts MATCH ?",
                                      (fts_string(word),)).fetchone()
            df = row[0] if row else 0
            if df < 2:  # only in this document: says nothing about others
                continue
            scored.append(((1 + math.log(n)) * math.log(total / df), word))
        scored.sort(key=lambda item: (-item[0], item[1]))
        return [w for s, w in scored[:keep] if s > 0]
