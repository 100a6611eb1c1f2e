"""A query tree printed back as query text (``to_query_string``).

The text is canonical: explicit ``AND``/``OR``, parentheses and absolute
dates. It round-trips (``parse(to_query_string(t), now=n) == t``) but freezes
relative dates, so store what the user typed (saved searches), not the
printed tree.
"""

from __future__ import annotations

from paperfs.search.lexer import OPERATORS
from paperfs.search.tree import (And, CustomDate, CustomEquals, CustomExists, CustomNumber,
                                 DateRange, Exists, FieldEquals, MatchAll, Node, Not,
                                 NumberRange, Or, Phrase, Prefix, Term, Wildcard)

# A word with these characters would read back as syntax, so it is quoted.
_QUOTE_ANYWHERE = frozenset('()"*?:\\')
_QUOTE_AT_START = frozenset("-+[{<>")


def quote(text: str) -> str:
    """A phrase of the query language: the text in double quotes, escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _word_or_quoted(text: str) -> str:
    needs = (
        not text
        or text[0] in _QUOTE_AT_START
        or text in OPERATORS
        or any(ch.isspace() or ch in _QUOTE_ANYWHERE for ch in text)
    )
    return quote(text) if needs else text


def _with_field(field: str | None, value: str) -> str:
    return value if field is None else f"{field}:{value}"


def _bounds(field: str, lo: str | None, hi: str | None, close: str) -> str:
    if lo is not None and hi is not None:
        return f"{field}:[{lo} to {hi}{close}"
    if lo is not None:
        return f"{field}:[{lo} to]"
    return f"{field}:[to {hi}{close}"


def _atom(node: Node) -> str:
    text = to_query_string(node)
    return f"({text})" if isinstance(node, (And, Or)) else text


def to_query_string(node: Node) -> str:
    """Canonical query text for a tree: ``parse(to_query_string(t)) == t``.

    Operators are explicit, compound children parenthesised, field groups
    expanded, dates printed as absolute ISO datetimes with ``}`` for the
    exclusive end of a half-open range.
    """
    if isinstance(node, MatchAll):
        return "*"
    if isinstance(node, Term):
        return _with_field(node.field, _word_or_quoted(node.text))
    if isinstance(node, Phrase):
        return _with_field(node.field, quote(" ".join(node.words)))
    if isinstance(node, Prefix):
        return _with_field(node.field, node.prefix + "*")
    if isinstance(node, Wildcard):
        return _with_field(node.field, node.pattern)
    if isinstance(node, FieldEquals):
        return f"{node.field}:{_word_or_quoted(node.value)}"
    if isinstance(node, Exists):
        return f"{node.field}:*"
    if isinstance(node, CustomEquals):
        return f"{node.field}:{_word_or_quoted(node.value)}"
    if isinstance(node, CustomExists):
        return f"has:{node.field}"
    if isinstance(node, CustomNumber):
        if node.lo is not None and node.lo == node.hi and node.lo_inclusive and node.hi_inclusive:
            return f"{node.field}:{node.lo}"
        lo = "" if node.lo is None else f"{node.lo} "
        hi = "" if node.hi is None else f" {node.hi}"
        return (f"{node.field}:{'[' if node.lo_inclusive else '{'}{lo}to{hi}"
                f"{']' if node.hi_inclusive else '}'}")
    if isinstance(node, CustomDate):
        if node.start is None and node.end is None:
            return f"has:{node.field}"
        return _bounds(node.field, None if node.start is None else node.start.isoformat(),
                       None if node.end is None else node.end.isoformat(), "}")
    if isinstance(node, DateRange):
        lo = None if node.start is None else node.start.isoformat()
        hi = None if node.end is None else node.end.isoformat()
        if lo is None and hi is None:
            return f"{node.field}:*"
        return _bounds(node.field, lo, hi, "}")
    if isinstance(node, NumberRange):
        if node.lo is not None and node.lo == node.hi:
            return f"{node.field}:{node.lo}"
        if node.lo is None and node.hi is None:
            return f"{node.field}:*"
        return _bounds(
            node.field,
            None if node.lo is None else str(node.lo),
            None if node.hi is None else str(node.hi),
            "]",
        )
    if isinstance(node, Not):
        return f"NOT {_atom(node.child)}"
    if isinstance(node, And):
        return " AND ".join(_atom(child) for child in node.children)
    if isinstance(node, Or):
        return " OR ".join(_atom(child) for child in node.children)
    raise TypeError(f"not a query node: {node!r}")
