"""Compile a parsed query tree (paperfs.search.tree) to SQL + FTS5 for SqliteIndex.

The result is a ``Compiled``: an optional FTS5 MATCH expression (the main,
ranked full-text part) plus a SQL condition over ``documents d`` for
everything else (fields, dates, numbers, negations, mixed OR branches).

Rules that keep user text out of the SQL and the FTS5 grammar:

* SQL values are always bound parameters (``?``); the SQL text is built only
  from constants in this module.
* An FTS5 expression is built only from column filters chosen from a fixed
  list, the operators AND/OR/NOT, parentheses, and **quoted strings**: every
  word, phrase and prefix the user typed becomes ``"..."`` with ``"``
  doubled, so ``NEAR``, ``*``, ``^``, ``:`` or ``'`` inside it are plain
  characters. The expression itself is bound as a parameter.

How each node is searched:

* Term / Phrase / Prefix on text fields: an FTS5 string in the field's
  column(s) (a bare word: title, content, tags, correspondent, type, notes);
  a prefix is ``"abc" *`` (served by the FTS5 prefix index).
* Wildcard (``produ*name``, ``inv?ice``): the pattern is expanded against the
  index vocabulary (fts5vocab, a range scan on the literal head, then GLOB)
  into an OR of the matching words, so it ranks and highlights like words.
  More than MAX_EXPANSION matching words is an error (make the pattern longer).
* tag / owner (keywords): whole-value, case- and accent-insensitive equality
  on folded values (document_tags.tag_fold, documents.owner_fold); prefix and
  wildcard as a range / GLOB on the same folded values.
* created (a date): compared by day: a day matches when its midnight (in the
  time zone of the query's clock) lies in the range, as in search/match.py.
  added/modified: unix timestamps.
* Not: inside an FTS5 conjunction as ``(a) NOT (b)``; elsewhere
  ``NOT IFNULL(cond, 0)`` (NULL-safe) or ``d.id NOT IN (fts subquery)``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Callable, Sequence

from paperfs.errors import PaperfsError
from paperfs.index.model import User
from paperfs.search.match import fold
from paperfs.search.tree import (And, CustomDate, CustomEquals, CustomExists, CustomNumber,
                                 DateRange, Exists, FieldEquals, MatchAll, Node, Not,
                                 NumberRange, Or, Phrase, Prefix, Term, Wildcard)

#: FTS5 columns, in table order (bm25 weights follow this order).
FTS_COLUMNS = ("title", "content", "tags", "correspondent", "document_type", "notes", "path")
#: bm25 weight per column: a word in the title counts ten times a word in the body.
BM25_WEIGHTS = (10.0, 1.0, 4.0, 4.0, 3.0, 2.0, 1.0)
BM25 = "bm25(fts, " + ", ".join(str(w) for w in BM25_WEIGHTS) + ")"

#: the columns a word without a field is searched in (all but path)
BARE_COLUMN_NAMES = FTS_COLUMNS[:-1]
BARE_COLUMNS = "{" + " ".join(BARE_COLUMN_NAMES) + "}"
_FIELD_COLUMNS = {
    None: BARE_COLUMNS,
    "title": "{title}",
    "content": "{content}",
    "correspondent": "{correspondent}",
    "type": "{document_type}",
    "note": "{notes}",
    "path": "{path}",
}
_KEYWORDS = frozenset({"tag", "owner"})

#: A wildcard may stand for at most this many different words.
MAX_EXPANSION = 2000
#: Sorts above every string a folded value can start with (UTF-8 order).
TOP = "\U0010ffff"

IN_FTS = "d.id IN (SELECT rowid FROM fts WHERE fts MATCH ?)"
NOT_IN_FTS = "d.id NOT IN (SELECT rowid FROM fts WHERE fts MATCH ?)"


class QueryTooBroadError(PaperfsError):
    """A wildcard matches too many different words to search for them all."""

    exit_code = 2


class _Never:
    """A part of the query that can match nothing (e.g. a wildcard with no words)."""

    def __repr__(self) -> str:
        return "NEVER"


NEVER = _Never()

Frag = tuple[str, tuple]


def fts_string(text: str) -> str:
    """An FTS5 string literal: everything inside is ordinary text."""
    return '"' + text.replace("\x00", "").replace('"', '""') + '"'


def _has_word(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def glob_escape(text: str) -> str:
    """Literal text for GLOB ('[' is the only other special character)."""
    return text.replace("[", "[[]")


def wildcard_glob(pattern: str) -> tuple[str, str]:
    """A query wildcard (folded) -> (GLOB pattern, literal head before the first wildcard)."""
    folded = fold(pattern)
    head = re.split(r"[*?]", folded, maxsplit=1)[0]
    return glob_escape(folded), head


@dataclass
class Compiled:
    #: the ranked FTS5 expression every match satisfies (None: no words to rank)
    match: str | None
    #: condition over ``documents d`` ("1" when there is none)
    where: str
    params: tuple
    #: an OR of every word the query looks for (not under NOT): highlights and
    #: ranking when ``match`` is None
    highlight: str | None
    #: the query can match nothing at all
    never: bool = False
    #: the query is this one word without a field (champion lists may rank it)
    word: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def has_where(self) -> bool:
        return self.where != "1"


def _combine(pos: Sequence[str], neg: Sequence[str]) -> str:
    expr = pos[0] if len(pos) == 1 else " AND ".join(f"({p})" for p in pos)
    for n in neg:
        expr = f"({expr}) NOT ({n})"
    return expr


def _join(frags: Sequence[Frag], op: str) -> Frag:
    if not frags:
        return ("1", ()) if op == "AND" else ("0", ())
    if len(frags) == 1:
        return frags[0]
    sql = f" {op} ".join(f"({s})" for s, _ in frags)
    params: tuple = ()
    for _, p in frags:
        params += p
    return sql, params


def _day_bounds(start: dt.datetime | None, end: dt.datetime | None,
                column: str = "d.created") -> Frag:
    """Days (ISO text in *column*) whose midnight (in the range's time zone) lies in
    [start, end)."""
    parts: list[str] = []
    params: list[str] = []
    if start is not None:
        day = start.date()
        if start.timetz().replace(tzinfo=None) != dt.time(0):
            day += dt.timedelta(days=1)
        parts.append(f"{column} >= ?")
        params.append(day.isoformat())
    if end is not None:
        midnight = end.timetz().replace(tzinfo=None) == dt.time(0)
        parts.append(f"{column} < ?" if midnight else f"{column} <= ?")
        params.append(end.date().isoformat())
    return " AND ".join(parts) or "1", tuple(params)


def _timestamp(value: dt.datetime) -> float:
    if value.tzinfo is None:
        value = value.astimezone()
    return value.timestamp()


class Compiler:
    """One compilation; ``expand(glob, head, limit)`` looks words up in the vocabulary."""

    def __init__(self, expand: Callable[[str, str, int], list[str]]) -> None:
        self._expand = expand
        self._fts_memo: dict[int, object] = {}
        self._expansions: dict[str, list[str]] = {}

    # ------------------------------------------------------------ entry point

    def compile(self, node: Node) -> Compiled:
        highlight = self._highlight(node)
        if isinstance(node, MatchAll):
            return Compiled(None, "1", (), None)
        children = node.children if isinstance(node, And) else (node,)
        match, frags = self._split(children)
        if match is NEVER:
            return Compiled(None, "0", (), None, never=True)
        where, params = _join(frags, "AND")
        word = node.text if isinstance(node, Term) and node.field is None else None
        return Compiled(match if isinstance(match, str) else None, where, params, highlight,
                        word=word)

    # ------------------------------------------------------------ FTS5 side

    def _columns(self, field: str | None) -> str | None:
        return _FIELD_COLUMNS.get(field)

    def expansion(self, pattern: str) -> list[str]:
        if pattern not in self._expansions:
            glob, head = wildcard_glob(pattern)
            words = self._expand(glob, head, MAX_EXPANSION + 1)
            if len(words) > MAX_EXPANSION:
                raise QueryTooBroadError(
                    f"'{pattern}' matches more than {MAX_EXPANSION} different words; "
                    "put more letters before the first wildcard")
            self._expansions[pattern] = words
        return self._expansions[pattern]

    def fts(self, node: Node) -> object:
        """The node as an FTS5 expression, NEVER, or None when FTS5 cannot express it."""
        key = id(node)
        if key not in self._fts_memo:
            self._fts_memo[key] = self._fts(node)
        return self._fts_memo[key]

    def _fts(self, node: Node) -> object:
        if isinstance(node, (Term, Phrase, Prefix, Wildcard)):
            cols = self._columns(node.field)
            if cols is None:
                return None  # keyword field: SQL
            if isinstance(node, Term):
                return f"{cols} : {fts_string(node.text)}" if _has_word(node.text) else NEVER
            if isinstance(node, Phrase):
                text = " ".join(node.words)
                return f"{cols} : {fts_string(text)}" if _has_word(text) else NEVER
            if isinstance(node, Prefix):
                return f"{cols} : {fts_string(node.prefix)} *" if _has_word(node.prefix) else NEVER
            words = self.expansion(node.pattern)
            if not words:
                return NEVER
            return f"{cols} : ({' OR '.join(fts_string(w) for w in words)})"
        if isinstance(node, And):
            pos: list[str] = []
            neg: list[str] = []
            for child in node.children:
                e = self.fts(child)
                if e is NEVER:
                    return NEVER
                if isinstance(e, str):
                    pos.append(e)
                    continue
                if isinstance(child, Not):
                    e = self.fts(child.child)
                    if e is NEVER:
                        continue  # "not nothing" is everything
                    if isinstance(e, str):
                        neg.append(e)
                        continue
                return None
            if not pos:
                return None
            return _combine(pos, neg)
        if isinstance(node, Or):
            parts: list[str] = []
            for child in node.children:
                e = self.fts(child)
                if e is None:
                    return None
                if isinstance(e, str):
                    parts.append(e)
            if not parts:
                return NEVER
            return parts[0] if len(parts) == 1 else " OR ".join(f"({p})" for p in parts)
        return None

    def _highlight(self, node: Node) -> str | None:
        leaves: list[str] = []
        stack: list[tuple[Node, bool]] = [(node, False)]
        while stack:
            current, negated = stack.pop()
            if isinstance(current, (And, Or)):
                stack.extend((c, negated) for c in reversed(current.children))
            elif isinstance(current, Not):
                stack.append((current.child, not negated))
            elif isinstance(current, (Term, Phrase, Prefix, Wildcard)) and not negated:
                e = self.fts(current)
                if isinstance(e, str) and e not in leaves:
                    leaves.append(e)
        if not leaves:
            return None
        return leaves[0] if len(leaves) == 1 else " OR ".join(f"({e})" for e in leaves)

    # ------------------------------------------------------------ SQL side

    def _split(self, children: Sequence[Node]) -> tuple[object, list[Frag]]:
        """A conjunction -> (FTS5 expression of its full-text part, SQL for the rest)."""
        pos: list[str] = []
        neg: list[str] = []
        frags: list[Frag] = []
        for child in children:
            e = self.fts(child)
            if e is NEVER:
                return NEVER, []
            if isinstance(e, str):
                pos.append(e)
                continue
            if isinstance(child, Not):
                e = self.fts(child.child)
                if e is NEVER:
                    continue
                if isinstance(e, str):
                    neg.append(e)
                    continue
            frag = self.sql(child)
            if frag[0] == "0":
                return NEVER, []
            if frag[0] != "1":
                frags.append(frag)
        if pos:
            return _combine(pos, neg), frags
        if neg:
            either = neg[0] if len(neg) == 1 else " OR ".join(f"({n})" for n in neg)
            frags.insert(0, (NOT_IN_FTS, (either,)))
        return None, frags

    def sql(self, node: Node) -> Frag:
        if isinstance(node, MatchAll):
            return "1", ()
        if isinstance(node, And):
            match, frags = self._split(node.children)
            if match is NEVER:
                return "0", ()
            if isinstance(match, str):
                frags.insert(0, (IN_FTS, (match,)))
            return _join(frags, "AND")
        if isinstance(node, Or):
            e = self.fts(node)
            if isinstance(e, str):
                return IN_FTS, (e,)
            if e is NEVER:
                return "0", ()
            frags = []
            for child in node.children:
                frag = self.sql(child)
                if frag[0] == "1":
                    return "1", ()
                if frag[0] != "0":
                    frags.append(frag)
            return _join(frags, "OR")
        if isinstance(node, Not):
            e = self.fts(node.child)
            if isinstance(e, str):
                return NOT_IN_FTS, (e,)
            if e is NEVER:
                return "1", ()
            inner, params = self.sql(node.child)
            if inner == "1":
                return "0", ()
            if inner == "0":
                return "1", ()
            return f"NOT IFNULL(({inner}), 0)", params
        if isinstance(node, (Term, Phrase, Prefix, Wildcard)):
            e = self.fts(node)
            if isinstance(e, str):
                return IN_FTS, (e,)
            if e is NEVER:
                return "0", ()
            return self._keyword_pattern(node)
        if isinstance(node, FieldEquals):
            value = fold(node.value)
            if node.field == "tag":
                return "d.id IN (SELECT doc_id FROM document_tags WHERE tag_fold = ?)", (value,)
            return "d.owner_fold = ?", (value,)
        if isinstance(node, Exists):
            return _EXISTS[node.field], ()
        if isinstance(node, DateRange):
            if node.field == "created":
                return _day_bounds(node.start, node.end)
            column = f"d.{node.field}_ts"
            parts, params = [], []
            if node.start is not None:
                parts.append(f"{column} >= ?")
                params.append(_timestamp(node.start))
            if node.end is not None:
                parts.append(f"{column} < ?")
                params.append(_timestamp(node.end))
            return " AND ".join(parts) or "1", tuple(params)
        if isinstance(node, (CustomEquals, CustomExists, CustomNumber, CustomDate)):
            return _custom_sql(node)
        if isinstance(node, NumberRange):
            column = "d.asn" if node.field == "asn" else "d.id"
            parts, params = [f"{column} IS NOT NULL"], []
            if node.lo is not None:
                parts.append(f"{column} >= ?")
                params.append(node.lo)
            if node.hi is not None:
                parts.append(f"{column} <= ?")
                params.append(node.hi)
            return " AND ".join(parts), tuple(params)
        raise TypeError(f"unknown query node {node!r}")

    def _keyword_pattern(self, node: Prefix | Wildcard) -> Frag:
        if isinstance(node, Prefix):
            head = fold(node.prefix)
            cond, params = "{col} >= ? AND {col} < ?", (head, head + TOP)
        else:
            glob, head = wildcard_glob(node.pattern)
            cond, params = "{col} GLOB ?", (glob,)
            if head:
                cond += " AND {col} >= ? AND {col} < ?"
                params += (head, head + TOP)
        if node.field == "tag":
            inner = cond.format(col="tag_fold")
            return f"d.id IN (SELECT doc_id FROM document_tags WHERE {inner})", params
        return cond.format(col="d.owner_fold"), params


def _custom_sql(node: CustomEquals | CustomExists | CustomNumber | CustomDate) -> Frag:
    """A condition on a custom field: documents with a row of document_fields that passes."""
    conds, params = ["name = ?"], [node.field]
    if isinstance(node, CustomEquals):
        conds.append("value_fold = ?")
        params.append(fold(node.value))
    elif isinstance(node, CustomNumber):
        conds.append("number IS NOT NULL")
        if node.lo is not None:
            conds.append("number >= ?" if node.lo_inclusive else "number > ?")
            params.append(float(node.lo))
        if node.hi is not None:
            conds.append("number <= ?" if node.hi_inclusive else "number < ?")
            params.append(float(node.hi))
    elif isinstance(node, CustomDate):
        days, bounds = _day_bounds(node.start, node.end, "day")
        conds += ["day IS NOT NULL", days]
        params += bounds
    return (f"d.id IN (SELECT doc_id FROM document_fields WHERE {' AND '.join(conds)})",
            tuple(params))


_EXISTS = {
    "title": "d.title <> ''",
    "content": "d.content_chars > 0",
    "correspondent": "d.correspondent IS NOT NULL",
    "type": "d.document_type IS NOT NULL",
    "note": "d.notes <> ''",
    "path": "1",
    "tag": "d.id IN (SELECT doc_id FROM document_tags)",
    "owner": "d.owner IS NOT NULL",
    "created": "1",
    "added": "1",
    "modified": "1",
    "asn": "d.asn IS NOT NULL",
    "id": "1",
}


# ---------------------------------------------------------------- what a user may view


def permission_sql(user: User) -> tuple[str, tuple]:
    """(SQL condition on ``documents d``, params): the documents ``user`` may view
    ("" for a superuser: every document)."""
    if user.superuser:
        return "", ()
    sql = ("(d.owner IS NULL OR d.owner = ? OR d.id IN (SELECT doc_id FROM document_grants"
           " WHERE kind = 'u' AND name = ?")
    params: tuple = (user.name, user.name)
    if user.groups:
        marks = ",".join("?" * len(user.groups))
        sql += (" UNION SELECT doc_id FROM document_grants WHERE kind = 'g'"
                f" AND name IN ({marks})")
        params += tuple(user.groups)
    return sql + "))", params


def matches_sql(c: Compiled, user: User) -> tuple[str, str, tuple]:
    """(FROM clause, WHERE clause, params) for the matches the user may view."""
    perm, perm_params = permission_sql(user)
    conds: list[str] = []
    params: tuple = ()
    if c.match is not None:
        # CROSS JOIN: the full-text part always drives. SQLite's planner may
        # otherwise start from a selective-looking filter (a tag's ids) and
        # evaluate the MATCH once per row, recounting BM25's statistics each
        # time (SQLite 3.51 did: 1 s instead of 50 ms for word + tag + dates).
        source = "fts CROSS JOIN documents d ON d.id = fts.rowid"
        conds.append("fts MATCH ?")
        params += (c.match,)
    else:
        source = "documents d"
    if c.has_where:
        conds.append(f"({c.where})")
        params += c.params
    if perm:
        conds.append(perm)
        params += perm_params
    where = " AND ".join(conds) or "1"
    if c.match is not None:
        # Id-list conditions (tags, grants, other words) on the full-text row
        # itself: tested before the documents row is looked up, so only rows
        # that pass pay for it. The unary + keeps SQLite from using them to
        # look FTS5 up by rowid (once per id: the per-row MATCH again).
        where = where.replace("d.id IN (", "+fts.rowid IN (").replace(
            "d.id NOT IN (", "+fts.rowid NOT IN (")
    return source, where, params
