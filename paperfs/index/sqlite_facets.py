"""Facet counts in the embedded index: tags, correspondents, types, years of the matches.

Counted from per-document facet codes held in memory (``FacetCodes``,
loaded when first needed and again after the index changed), with one
bitset per value for large match sets; small match sets while the codes are
stale are counted in SQL. Results are cached per (query, user) until the
index changes (a WebDAV folder listing asks for the facets of everything).
With the index's generation (paperfs/index/sqlite_visibility.py) the codes
and the cached results are shared by every connection of the process
(``SharedFacets``: the web page's server threads), and a user's matches are
the full-text ids kept by the user's visibility bitset, not a join per match.
"""

from __future__ import annotations

import copy
import datetime as dt
import threading
from collections import Counter
from itertools import chain, compress
from typing import Callable, Iterable

from paperfs.index.base import parse_query
from paperfs.index.model import Facets, User
from paperfs.index.sqlite_connection import SqliteConnection
from paperfs.index.sqlite_query import Compiled, matches_sql
from paperfs.index.sqlite_visibility import SharedVisibility, bits_of, generation, ids_of
from paperfs.index.sqlitelib import sqlite3
from paperfs.search.tree import Node

#: Facets: with no valid in-memory facet codes (the index changed since they were
#: loaded), match sets smaller than this are counted in SQL instead of reloading them.
FACET_CODES_FROM = 5000


class SqliteFacets(SqliteConnection):
    """The facet counts of ``SqliteIndex``."""

    facet_cache_size: int

    def facets(self, query: str | Node, *, user: User,
               now: dt.datetime | None = None) -> Facets:
        c = self.compile(parse_query(query, now, self.fields))
        if c.never:
            return Facets(0)
        if self.facet_cache_size <= 0:
            return self._facets(c, user)
        key = (c.match, c.where, c.params, user)
        db = self.db
        began = not db.in_transaction
        if began:
            db.execute("BEGIN")  # the generation and the counts of one snapshot
        try:
            value = generation(db)
            if value is not None:
                # Every connection of the process shares these (server threads).
                return SharedFacets.of(self.path).result(
                    value, key, lambda: self._facets(c, user), self.facet_cache_size)
            version = self._version()
            cached = self._facet_cache.get(key)
            if cached is not None and cached[0] == version:
                return cached[1]
            result = self._facets(c, user)
            if len(self._facet_cache) >= self.facet_cache_size:
                self._facet_cache.pop(next(iter(self._facet_cache)))
            self._facet_cache[key] = (version, result)
            return result
        finally:
            if began and db.in_transaction:
                db.execute("COMMIT")

    def _facets(self, c: Compiled, user: User) -> Facets:
        """Facet counts from the per-document facet codes held in memory (loaded
        from SQLite when first needed and again after the index changed): the
        matching ids come from SQLite as one string (no Python object per row)
        and are counted in C: per match (``Counter`` over ``map``) for a few,
        with one bitset per facet value for many (``FacetCodes``).
        Counting the same in SQL means sorting every matching row to group it."""
        db = self.db
        began = not db.in_transaction
        if began:
            db.execute("BEGIN")  # one snapshot: the codes, the version and the matches agree
        try:
            version = self._version()
            codes = self._codes
            if codes is not None and codes.version != version:
                codes = self._codes = None
            ids = self._match_ids(c, user)
            if codes is None and ids is not None:
                codes = self._codes = self._load_codes(version, shared_only=True)
            if codes is None:
                # Stale codes: reloading them (about 0.6 s at 100,000 documents) pays
                # off only for large match sets; "everything" has cheap SQL (indexes).
                if ids is None or len(ids) < FACET_CODES_FROM:
                    return self._facets_sql(c, user)
                codes = self._codes = self._load_codes(version)
            try:
                return codes.count(ids)
            except IndexError:  # an id the codes do not know: cannot happen in one snapshot
                self._codes = None
                return self._facets_sql(c, user)
        finally:
            if began and db.in_transaction:
                db.execute("COMMIT")

    def _load_codes(self, version: tuple[int, int], *,
                    shared_only: bool = False) -> "FacetCodes | None":
        """This connection's facet codes: those of the index's generation that
        another connection of the process loaded already, else (unless
        ``shared_only``) loaded here and shared."""
        value = generation(self.db)
        if value is None:
            return None if shared_only else FacetCodes.load(self.db, version)
        shared = SharedFacets.of(self.path)
        if shared_only:
            known = shared.current(value)
            return known.stamped(version) if known is not None else None
        return shared.codes(value, lambda: FacetCodes.load(self.db, version)).stamped(version)

    def _match_ids(self, c: Compiled, user: User) -> list[int] | None:
        """The ids of the matches the user may view (None: every document)."""
        source, where, params = matches_sql(c, user)
        if source == "documents d" and where == "1":
            return None
        if c.match is not None and not c.has_where:
            # Not a superuser: the documents he may view in this generation, kept
            # from the full-text ids without a join per match (none: the join).
            seen = (None if user.superuser
                    else SharedVisibility.of(self.path).for_user(self.db, user))
            if user.superuser or seen is not None:
                ids = ids_of(self.db.execute(
                    "SELECT group_concat(rowid) FROM fts WHERE fts MATCH ?",
                    (c.match,)).fetchone()[0])
                if seen is None:
                    return ids
                if not ids or max(ids) < seen[0]:
                    return list(compress(ids, map(seen[1].__getitem__, ids)))
        sql = f"SELECT group_concat(d.id) FROM {source} WHERE {where}"
        return ids_of(self.db.execute(sql, params).fetchone()[0])

    def _facets_sql(self, c: Compiled, user: User) -> Facets:
        """Facet counts in SQL alone (small match sets while the codes are stale)."""
        source, where, params = matches_sql(c, user)
        if source == "documents d" and where == "1":
            sql = ("SELECT 'd', correspondent, document_type, substr(created, 1, 4), count(*)"
                   " FROM documents GROUP BY 2, 3, 4"
                   " UNION ALL SELECT 't', min(tag), NULL, NULL, count(*) FROM document_tags"
                   " GROUP BY tag_fold")
            params = ()
        else:
            if c.match is not None and not c.has_where and user.superuser:
                matches = "SELECT rowid AS id FROM fts WHERE fts MATCH ?"
                params = (c.match,)
            else:
                matches = f"SELECT d.id AS id FROM {source} WHERE {where}"
            sql = (f"WITH m(id) AS MATERIALIZED ({matches})"
                   " SELECT 'd', d.correspondent, d.document_type, substr(d.created, 1, 4),"
                   " count(*) FROM m JOIN documents d ON d.id = m.id GROUP BY 2, 3, 4"
                   " UNION ALL SELECT 't', min(t.tag), NULL, NULL, count(*)"
                   " FROM m JOIN document_tags t ON t.doc_id = m.id GROUP BY t.tag_fold")
        total = 0
        corr: Counter[str] = Counter()
        types: Counter[str] = Counter()
        years: Counter[str] = Counter()
        tags: Counter[str] = Counter()
        for kind, a, b, year, n in self.db.execute(sql, params):
            if kind == "t":
                tags[a] += n
                continue
            total += n
            if a is not None:
                corr[a] += n
            if b is not None:
                types[b] += n
            years[year] += n

        return Facets.counted(total, corr, types, years, tags)



class SharedFacets:
    """What every connection of a process to one index file shares, for the
    index's current generation (paperfs/index/sqlite_visibility.py): the facet
    codes (loaded once, not once per server thread) and the facet counts by
    (query, user). Replaced, not changed, when the generation moves."""

    _registry: dict[str, "SharedFacets"] = {}
    _registry_lock = threading.Lock()

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loading = threading.Lock()  # one load at a time; the others wait for it
        self._codes: tuple[str, FacetCodes] | None = None
        self._results: tuple[str, dict[tuple, Facets]] = ("", {})

    @classmethod
    def of(cls, path: object) -> "SharedFacets":
        with cls._registry_lock:
            return cls._registry.setdefault(str(path), cls())

    def forget(self) -> None:
        with self._lock:
            self._codes = None
            self._results = ("", {})

    def current(self, value: str) -> FacetCodes | None:
        """The codes of generation ``value`` if some connection loaded them."""
        with self._lock:
            known = self._codes
        return known[1] if known is not None and known[0] == value else None

    def codes(self, value: str, load: Callable[[], FacetCodes]) -> FacetCodes:
        """The codes of generation ``value``, loaded by ``load`` (in the caller's
        snapshot of that generation) when no connection has yet."""
        with self._loading:
            known = self._codes
            if known is not None and known[0] == value:
                return known[1]
            codes = load()
            with self._lock:
                self._codes = (value, codes)
            return codes

    def result(self, value: str, key: tuple, count: Callable[[], Facets], size: int) -> Facets:
        with self._lock:
            generation_of, results = self._results
            if generation_of == value and key in results:
                return results[key]
        counted = count()
        with self._lock:
            if self._results[0] != value:
                self._results = (value, {})
            results = self._results[1]
            if len(results) >= size:
                results.pop(next(iter(results)))
            results[key] = counted
        return counted


class FacetCodes:
    """The facet values of every document of one index version, held in memory.

    ``combo[id]`` numbers the document's (correspondent, type, year), -1 for no
    document; ``tags[id]`` is a tuple of tag numbers (tags folded). For large
    match sets, one bitset (a Python int, bit ``id`` set) per facet value:
    counting is then one AND and one popcount per value, whatever the number of
    matches (about 10 µs per value at 100,000 documents)."""

    #: below this many matches, counting per match is cheaper than the bitsets
    BITSETS_FROM = 1000
    #: no bitsets when they would take more memory than this (bytes)
    BITSETS_MAX_BYTES = 64 << 20

    def __init__(self, version: tuple[int, int], combo: list[int],
                 combos: list[tuple[str | None, str | None, str]], tags: list[tuple[int, ...]],
                 tag_names: list[str]) -> None:
        self.version = version
        self.combo = combo
        self.combos = combos
        self.tags = tags
        self.tag_names = tag_names
        # byte-per-document masks are built in whole 64-document words
        self.mask_bytes = -(-len(combo) // 64) * 64
        self.bitsets: list[tuple[int, str, int]] | None = None  # (facet kind, value, bits)
        self._all = 0

    @classmethod
    def load(cls, db: sqlite3.Connection, version: tuple[int, int]) -> "FacetCodes":
        size = db.execute("SELECT coalesce(max(id), 0) FROM documents").fetchone()[0] + 1
        combo = [-1] * size
        numbers: dict[tuple, int] = {}
        setdefault = numbers.setdefault
        cur = db.execute("SELECT id, correspondent, document_type, substr(created, 1, 4)"
                         " FROM documents")
        while rows := cur.fetchmany(4096):
            for doc_id, corr, dtype, year in rows:
                combo[doc_id] = setdefault((corr, dtype, year), len(numbers))
        tags: list[tuple[int, ...]] = [()] * size
        tag_numbers: dict[str, int] = {}
        tag_names: list[str] = []
        current, acc = -1, []
        cur = db.execute("SELECT doc_id, tag, tag_fold FROM document_tags ORDER BY doc_id")
        while rows := cur.fetchmany(4096):
            for doc_id, tag, tag_fold in rows:
                n = tag_numbers.get(tag_fold)
                if n is None:
                    n = tag_numbers[tag_fold] = len(tag_names)
                    tag_names.append(tag)
                elif tag < tag_names[n]:
                    tag_names[n] = tag  # the name SQL's min(tag) gives
                if doc_id != current:
                    if acc:
                        tags[current] = tuple(acc)
                    current, acc = doc_id, []
                acc.append(n)
        if acc:
            tags[current] = tuple(acc)
        codes = cls(version, combo, list(numbers), tags, tag_names)
        codes._build_bitsets()
        return codes

    # ------------------------------------------------------------ bitsets

    def _bits(self, ids: Iterable[int]) -> int:
        return bits_of(ids, self.mask_bytes)

    def _build_bitsets(self) -> None:
        size = self.mask_bytes
        values = len(self.tag_names) + sum(len(set(column)) for column in zip(*self.combos))
        if values * size // 8 > self.BITSETS_MAX_BYTES:
            return
        groups: list[dict[str, list[int]]] = [{}, {}, {}, {}]  # corr, type, year, tag
        combos = self.combos
        everyone: list[int] = []
        for doc_id, code in enumerate(self.combo):
            if code < 0:
                continue
            everyone.append(doc_id)
            corr, dtype, year = combos[code]
            if corr is not None:
                groups[0].setdefault(corr, []).append(doc_id)
            if dtype is not None:
                groups[1].setdefault(dtype, []).append(doc_id)
            groups[2].setdefault(year, []).append(doc_id)
        names = self.tag_names
        by_tag: list[list[int]] = [[] for _ in names]
        for doc_id, numbers in enumerate(self.tags):
            for n in numbers:
                by_tag[n].append(doc_id)
        for n, ids in enumerate(by_tag):
            groups[3][names[n]] = ids
        bitsets: list[tuple[int, str, int]] = []
        for kind, group in enumerate(groups):
            bitsets.extend((kind, value, self._bits(ids)) for value, ids in group.items())
        self.bitsets = bitsets
        self._all = self._bits(everyone)

    def stamped(self, version: tuple[int, int]) -> "FacetCodes":
        """The same codes (their lists and bitsets shared, never changed) under a
        connection's own version."""
        twin = copy.copy(self)
        twin.version = version
        return twin

    # ------------------------------------------------------------ counting

    def count(self, ids: list[int] | None) -> Facets:
        """Facets of the documents ``ids`` (None: every document)."""
        if self.bitsets is not None and (ids is None or len(ids) >= self.BITSETS_FROM):
            return self._count_bits(ids)
        if ids is None:
            by_combo = Counter(self.combo)
            by_tag = Counter(chain.from_iterable(self.tags))
        else:
            combo, tags = self.combo, self.tags
            by_combo = Counter(map(combo.__getitem__, ids))
            by_tag = Counter(chain.from_iterable(map(tags.__getitem__, ids)))
        by_combo.pop(-1, None)
        total = 0
        counters: tuple[Counter[str], ...] = (Counter(), Counter(), Counter())
        combos = self.combos
        for code, n in by_combo.items():
            a, b, year = combos[code]
            total += n
            if a is not None:
                counters[0][a] += n
            if b is not None:
                counters[1][b] += n
            counters[2][year] += n
        names = self.tag_names
        tag_counts: Counter[str] = Counter()
        for t, n in by_tag.items():
            tag_counts[names[t]] += n
        return Facets.counted(total, *counters, tag_counts)

    def _count_bits(self, ids: list[int] | None) -> Facets:
        counters: tuple[Counter[str], ...] = (Counter(), Counter(), Counter(), Counter())
        if ids is None:
            total = self._all.bit_count()
            for kind, value, bits in self.bitsets:  # type: ignore[union-attr]
                counters[kind][value] = bits.bit_count()
        else:
            matches = self._bits(ids) & self._all
            total = matches.bit_count()
            for kind, value, bits in self.bitsets:  # type: ignore[union-attr]
                n = (bits & matches).bit_count()
                if n:
                    counters[kind][value] = n
        return Facets.counted(total, *counters)
