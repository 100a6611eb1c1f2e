"""Search: the query language (``query``) and its date expressions (``dates``).

The index backends compile the tree from ``parse`` (see docs/search.md).
"""

from paperfs.search.query import (
    ALIASES,
    DEFAULT_FIELDS,
    FIELDS,
    And,
    DateRange,
    Exists,
    FieldEquals,
    FieldKind,
    MatchAll,
    Node,
    Not,
    NumberRange,
    Or,
    Phrase,
    Prefix,
    QuerySyntaxError,
    Term,
    Wildcard,
    parse,
    to_query_string,
    walk,
)

__all__ = [
    "ALIASES",
    "DEFAULT_FIELDS",
    "FIELDS",
    "And",
    "DateRange",
    "Exists",
    "FieldEquals",
    "FieldKind",
    "MatchAll",
    "Node",
    "Not",
    "NumberRange",
    "Or",
    "Phrase",
    "Prefix",
    "QuerySyntaxError",
    "Term",
    "Wildcard",
    "parse",
    "to_query_string",
    "walk",
]
