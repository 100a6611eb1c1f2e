"""The query tree: the frozen dataclasses a parsed query is made of.

``parse`` (search/parser.py) returns one; the index backends compile it
(SQLite FTS5 + SQL, Solr q + fq) and search/match.py tests it against one
document. The tree is normalised: field names canonical, terms lower-cased,
nested And/Or flattened, double negations removed, relative dates resolved
to absolute half-open ranges. Nothing else is folded (diacritics and
stemming are the index's job).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Iterator, Union


@dataclass(frozen=True, slots=True)
class MatchAll:
    """Every document (the empty query, ``*``)."""


@dataclass(frozen=True, slots=True)
class Term:
    """One word in a text field; ``field=None`` means all DEFAULT_FIELDS."""

    field: str | None
    text: str


@dataclass(frozen=True, slots=True)
class Phrase:
    """Consecutive words (two or more) in a text field."""

    field: str | None
    words: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Prefix:
    """Words (text field) or whole values (keyword field) starting with ``prefix``."""

    field: str | None
    prefix: str


@dataclass(frozen=True, slots=True)
class Wildcard:
    """Like Prefix, with ``*`` (any run, never two in a row) and ``?`` (one char)."""

    field: str | None
    pattern: str


@dataclass(frozen=True, slots=True)
class FieldEquals:
    """A keyword field (tag, owner) has exactly this value, case-insensitively."""

    field: str
    value: str


@dataclass(frozen=True, slots=True)
class Exists:
    """The field has a value (``tag:*``); ``NOT tag:*`` finds untagged documents."""

    field: str


@dataclass(frozen=True, slots=True)
class DateRange:
    """``start <= field < end``; None is an open end (never both None)."""

    field: str
    start: datetime | None
    end: datetime | None


@dataclass(frozen=True, slots=True)
class NumberRange:
    """``lo <= field <= hi`` (inclusive integers); None is an open end."""

    field: str
    lo: int | None
    hi: int | None


@dataclass(frozen=True, slots=True)
class CustomEquals:
    """A declared custom field (fields.yml) has this whole value, case-insensitively:
    text, url, select; ``true``/``false`` for boolean; a linked document's id."""

    field: str
    value: str


@dataclass(frozen=True, slots=True)
class CustomNumber:
    """A number, integer or monetary custom field lies between ``lo`` and ``hi``
    (None: an open end; the currency of an amount is not compared)."""

    field: str
    lo: Decimal | None
    hi: Decimal | None
    lo_inclusive: bool = True
    hi_inclusive: bool = True


@dataclass(frozen=True, slots=True)
class CustomDate:
    """A date custom field's day lies in ``[start, end)`` (its midnight, as ``created``)."""

    field: str
    start: datetime | None
    end: datetime | None


@dataclass(frozen=True, slots=True)
class CustomExists:
    """A custom field has a value (``has:due``, ``due:*``)."""

    field: str


#: the conditions on custom fields
CUSTOM = (CustomEquals, CustomNumber, CustomDate, CustomExists)


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class And:
    """All children match (two or more, none of them an And)."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """Any child matches (two or more, none of them an Or)."""

    children: tuple[Node, ...]


Node = Union[
    MatchAll,
    Term,
    Phrase,
    Prefix,
    Wildcard,
    FieldEquals,
    Exists,
    DateRange,
    NumberRange,
    CustomEquals,
    CustomNumber,
    CustomDate,
    CustomExists,
    Not,
    And,
    Or,
]


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children, left to right."""
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, (And, Or)):
            stack.extend(reversed(current.children))
        elif isinstance(current, Not):
            stack.append(current.child)


# The parser builds the tree through these, so that it is always normalised:
# nested And/Or flattened, MatchAll absorbed, double negations removed.


def conjunction(parts: list[Node]) -> Node:
    """All of ``parts``, flattened; no parts (or only MatchAll) is MatchAll."""
    flat: list[Node] = []
    for part in parts:
        if isinstance(part, And):
            flat.extend(part.children)
        elif not isinstance(part, MatchAll):  # "everything AND x" is x
            flat.append(part)
    if not flat:
        return MatchAll()
    return flat[0] if len(flat) == 1 else And(tuple(flat))


def disjunction(parts: list[Node]) -> Node:
    """Any of ``parts`` (one or more), flattened; MatchAll among them is MatchAll."""
    flat: list[Node] = []
    for part in parts:
        if isinstance(part, MatchAll):
            return MatchAll()
        flat.extend(part.children if isinstance(part, Or) else (part,))
    return flat[0] if len(flat) == 1 else Or(tuple(flat))


def negation(node: Node) -> Node:
    """NOT ``node``; NOT NOT x is x."""
    return node.child if isinstance(node, Not) else Not(node)
