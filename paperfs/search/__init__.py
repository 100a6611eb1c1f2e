"""Search: the query language, from text to a tree and back.

``lexer`` splits a query into tokens, ``parser`` builds the normalised tree
of ``tree`` from them (field kinds in ``fields``, dates through
``date_ranges``, errors as ``syntax_error.QuerySyntaxError``),
``query_string`` prints a tree back. The index backends compile the tree
(see docs/search.md); ``match`` tests it against one document in Python;
``saved`` holds the saved searches.
"""

from paperfs.search.fields import ALIASES, DEFAULT_FIELDS, FIELDS, FieldKind
from paperfs.search.parser import parse
from paperfs.search.query_string import to_query_string
from paperfs.search.syntax_error import QuerySyntaxError
from paperfs.search.tree import (And, DateRange, Exists, FieldEquals, MatchAll, Node, Not,
                                 NumberRange, Or, Phrase, Prefix, Term, Wildcard, walk)

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
