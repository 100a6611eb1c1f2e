"""The search query language (Whoosh's syntax, as paperless-ngx users type it).

``parse(text, now=...)`` turns a query into a small tree of frozen dataclasses
that the index backends compile (SQLite FTS5 + SQL, Solr q + fq). The tree is
normalised: field names canonical, terms lower-cased, nested And/Or flattened,
double negations removed, relative dates resolved to absolute half-open
ranges. Nothing else is folded (diacritics and stemming are the index's job).

The user-facing description is docs/search.md. Decisions worth knowing:

* **Precedence**, tightest first: ``NOT``/``-``/``+`` > ``AND`` > ``OR`` >
  juxtaposition. Juxtaposition is an implicit AND that binds *loosest*, as in
  Whoosh: ``invoice acme OR globex`` means ``invoice AND (acme OR globex)``,
  while the explicit ``a AND b OR c`` means ``(a AND b) OR c``.
* **Operators** are the uppercase words ``AND OR NOT``; lowercase ``and`` is
  a plain word. ``-x`` excludes, ``+x`` is the same as ``x``. A lone ``-``
  (``foo - bar``) is an error rather than a silent no-op.
* **Unknown field names** (``foo:bar``, a mistyped ``corespondent:acme``) are
  an error listing the valid fields, not a plain term as Whoosh would make
  it: a typo would otherwise silently search for the text. Quote the text to
  search for it literally: ``"re:invoice"``. Only a word that starts with a
  letter counts as a field, so ``10:30`` is a plain word.
* **Field kinds** (``FIELDS``): text fields are searched word by word
  (``correspondent:acme`` finds "ACME Corp", as in paperless); keyword fields
  (``tag``, ``owner``) match whole values (``tag:"tax 2024"`` is the one tag);
  date and number fields take values, ranges and comparisons.
* A whitespace after ``field:`` is allowed (``title: invoice``). Directly
  after the colon the value is literal: ``title:AND`` searches "and".
* A quoted single word is a Term (``"acme"`` == ``acme``); in quotes ``*``
  and ``?`` are literal. ``*`` alone matches everything; ``field:*`` (and
  ``field:[* to *]``) means "the field has a value" (``Exists``).
* Limits against hostile input: nesting depth ``MAX_DEPTH``, query length
  ``MAX_QUERY_LENGTH``, search terms ``MAX_CLAUSES`` (Solr refuses more than
  1024 clauses by default). The parser is iterative except for parentheses,
  whose depth is checked before descending.

Printing the tree back (``to_query_string``) gives canonical syntax with
explicit ``AND``/``OR``, parentheses and absolute dates: it round-trips
(``parse(to_query_string(t), now=n) == t``) but freezes relative dates, so
store what the user typed (saved searches), not the printed tree.
"""

from __future__ import annotations

import difflib
import enum
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Final, Iterator, Mapping, Union, cast

from paperfs.errors import PaperfsError
from paperfs.search import date_ranges as dates

__all__ = [
    "QuerySyntaxError",
    "FieldKind",
    "FIELDS",
    "ALIASES",
    "DEFAULT_FIELDS",
    "MAX_DEPTH",
    "MAX_QUERY_LENGTH",
    "MAX_CLAUSES",
    "MatchAll",
    "Term",
    "Phrase",
    "Prefix",
    "Wildcard",
    "FieldEquals",
    "Exists",
    "DateRange",
    "NumberRange",
    "Not",
    "And",
    "Or",
    "Node",
    "parse",
    "to_query_string",
    "walk",
]


# --------------------------------------------------------------------------
# Fields
# --------------------------------------------------------------------------


class FieldKind(enum.Enum):
    TEXT = "text"  # tokenised full text: Term, Phrase, Prefix, Wildcard
    KEYWORD = "keyword"  # whole values, case-insensitive: FieldEquals, Prefix, Wildcard
    DATE = "date"  # DateRange
    NUMBER = "number"  # NumberRange (non-negative integers)


FIELDS: Final[Mapping[str, FieldKind]] = MappingProxyType(
    {
        "title": FieldKind.TEXT,
        "content": FieldKind.TEXT,
        "correspondent": FieldKind.TEXT,
        "type": FieldKind.TEXT,
        "note": FieldKind.TEXT,
        "path": FieldKind.TEXT,
        "tag": FieldKind.KEYWORD,
        "owner": FieldKind.KEYWORD,
        "created": FieldKind.DATE,
        "added": FieldKind.DATE,
        "modified": FieldKind.DATE,
        "asn": FieldKind.NUMBER,
        "id": FieldKind.NUMBER,
    }
)

#: Other spellings users bring from paperless-ngx (API names, plurals).
ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "tags": "tag",
        "document_type": "type",
        "notes": "note",
        "storage_path": "path",
        "archive_serial_number": "asn",
    }
)

#: What a word without a field searches (Term/Phrase/Prefix/Wildcard field=None).
DEFAULT_FIELDS: Final[tuple[str, ...]] = (
    "title",
    "content",
    "tag",
    "correspondent",
    "type",
    "note",
)

MAX_DEPTH: Final = 100
MAX_QUERY_LENGTH: Final = 32_768  # far above any real query; 100 KB of junk is refused
MAX_CLAUSES: Final = 1000
_MAX_NUMBER_DIGITS: Final = 18  # fits a signed 64-bit integer (SQLite, Solr plong)


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------

_WINDOW = 72


def _render(query: str, position: int, reason: str) -> str:
    # One char per char keeps the caret aligned: newlines, tabs → spaces.
    line = "".join(ch if ch.isprintable() else " " for ch in query)
    caret = position
    if len(line) > _WINDOW:
        start = max(0, min(position - _WINDOW // 2, len(line) - _WINDOW))
        end = start + _WINDOW
        head = "…" if start > 0 else ""
        tail = "…" if end < len(line) else ""
        line = head + line[start:end] + tail
        caret = len(head) + position - start
    return f"{line}\n{' ' * caret}^ {reason}"


class QuerySyntaxError(PaperfsError):
    """A query that cannot be parsed; ``str()`` shows it with a caret.

    ``position`` is the 0-based character offset of the problem,
    ``reason`` the one-line explanation.
    """

    exit_code = 2

    def __init__(self, query: str, position: int, reason: str) -> None:
        self.query = query
        self.position = position
        self.reason = reason
        super().__init__(_render(query, position, reason))

    def __reduce__(self) -> tuple[type, tuple[str, int, str]]:
        # Picklable across process boundaries despite the custom __init__.
        return (type(self), (self.query, self.position, self.reason))


# --------------------------------------------------------------------------
# The tree
# --------------------------------------------------------------------------


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


def _and(parts: list[Node]) -> Node:
    flat: list[Node] = []
    for part in parts:
        if isinstance(part, And):
            flat.extend(part.children)
        elif not isinstance(part, MatchAll):  # "everything AND x" is x
            flat.append(part)
    if not flat:
        return MatchAll()
    return flat[0] if len(flat) == 1 else And(tuple(flat))


def _or(parts: list[Node]) -> Node:
    flat: list[Node] = []
    for part in parts:
        if isinstance(part, MatchAll):
            return MatchAll()
        flat.extend(part.children if isinstance(part, Or) else (part,))
    return flat[0] if len(flat) == 1 else Or(tuple(flat))


def _not(node: Node) -> Node:
    return node.child if isinstance(node, Not) else Not(node)


# --------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------


class _Kind(enum.Enum):
    WORD = "word"
    PHRASE = "quoted text"
    FIELD = "field"
    LPAREN = "'('"
    RPAREN = "')'"
    AND = "'AND'"
    OR = "'OR'"
    NOT = "'NOT'"
    MINUS = "'-'"
    PLUS = "'+'"
    RANGE = "range"
    CMP = "comparison"
    EOF = "end of query"


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _Kind
    pos: int
    #: word / unescaped phrase / field name / comparison operand
    text: str = ""
    #: comparison operator; for RANGE the two brackets, e.g. "[}"
    op: str = ""
    #: RANGE: the words between the brackets with their offsets in the query
    words: tuple[tuple[int, str], ...] = ()
    #: where a comparison operand starts
    value_pos: int = 0


_OPERATORS = {"AND": _Kind.AND, "OR": _Kind.OR, "NOT": _Kind.NOT}
_WORD_STOP = frozenset('()"')
_STARTERS = {
    _Kind.WORD,
    _Kind.PHRASE,
    _Kind.FIELD,
    _Kind.LPAREN,
    _Kind.RANGE,
    _Kind.CMP,
    _Kind.NOT,
    _Kind.MINUS,
    _Kind.PLUS,
}


class _Tokenizer:
    def __init__(self, query: str) -> None:
        self.s = query
        self.n = len(query)
        self.i = 0

    def error(self, pos: int, reason: str) -> QuerySyntaxError:
        return QuerySyntaxError(self.s, pos, reason)

    def tokens(self) -> list[_Token]:
        out: list[_Token] = []
        s, n = self.s, self.n
        # True right after "field:" with no space: the next word is a literal value.
        value_next = False
        while True:
            spaced = False
            while self.i < n and s[self.i].isspace():
                self.i += 1
                spaced = True
            if spaced:
                value_next = False
            if self.i >= n:
                out.append(_Token(_Kind.EOF, n))
                return out
            c, start = s[self.i], self.i
            if c == "(":
                out.append(_Token(_Kind.LPAREN, start))
                self.i += 1
            elif c == ")":
                out.append(_Token(_Kind.RPAREN, start))
                self.i += 1
            elif c == '"':
                out.append(_Token(_Kind.PHRASE, start, text=self._quoted()))
            elif c in "[{":
                out.append(self._range())
            elif c in "<>":
                out.append(self._comparison())
            elif c in "-+" and not value_next:
                out.append(_Token(_Kind.MINUS if c == "-" else _Kind.PLUS, start))
                self.i += 1
            else:
                field = None if value_next else self._field_name()
                if field is not None:
                    out.append(_Token(_Kind.FIELD, start, text=field))
                    self.i += len(field) + 1
                    value_next = True
                    continue
                word = self._word()
                kind = _Kind.WORD if value_next else _OPERATORS.get(word, _Kind.WORD)
                out.append(_Token(kind, start, text=word))
            value_next = False

    def _field_name(self) -> str | None:
        """``name`` when the text at i is ``name:`` (a letter, then letters/digits/_)."""
        s, j = self.s, self.i
        if not s[j].isalpha():
            return None
        while j < self.n and (s[j].isalnum() or s[j] == "_"):
            j += 1
        return s[self.i : j] if j < self.n and s[j] == ":" else None

    def _word(self) -> str:
        s, j = self.s, self.i
        while j < self.n and not s[j].isspace() and s[j] not in _WORD_STOP:
            j += 1
        word = s[self.i : j]
        self.i = j
        return word

    def _quoted(self) -> str:
        """Text between double quotes; ``\\"`` and ``\\\\`` are the only escapes."""
        s, start = self.s, self.i
        j = start + 1
        chars: list[str] = []
        while j < self.n:
            ch = s[j]
            if ch == "\\" and j + 1 < self.n and s[j + 1] in '"\\':
                chars.append(s[j + 1])
                j += 2
            elif ch == '"':
                self.i = j + 1
                return "".join(chars)
            else:
                chars.append(ch)
                j += 1
        raise self.error(start, "unclosed quote")

    def _range(self) -> _Token:
        s, start = self.s, self.i
        j = start + 1
        while j < self.n and s[j] not in "]}":
            j += 1
        if j >= self.n:
            raise self.error(start, "unclosed range: end it with ] (or } to exclude the end)")
        self.i = j + 1
        # The words inside, with their offsets; the parser splits them at "to"
        # once it knows the field, so "tag:[x]" gets the more useful message.
        words: list[tuple[int, str]] = []
        k = start + 1
        while k < j:
            if s[k].isspace():
                k += 1
                continue
            w0 = k
            while k < j and not s[k].isspace():
                k += 1
            words.append((w0, s[w0:k]))
        return _Token(_Kind.RANGE, start, op=s[start] + s[j], words=tuple(words))

    def _comparison(self) -> _Token:
        s, start = self.s, self.i
        op = s[start]
        self.i += 1
        if self.i < self.n and s[self.i] == "=":
            op += "="
            self.i += 1
        value_pos = self.i
        if self.i < self.n and s[self.i] == '"':
            text = self._quoted()
        else:
            text = self._word()
        if not text.strip():
            raise self.error(start, f"'{op}' needs a value right after it, e.g. >2024-01-01")
        return _Token(_Kind.CMP, start, text=text, op=op, value_pos=value_pos)


# --------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------

_TWO_WORD_DATE_HEADS = frozenset({"this", "last", "previous"})
_TWO_WORD_DATE_UNITS = frozenset({"week", "month", "quarter", "year"})


class _Parser:
    """Recursive descent over the token list.

    seq  := or+                      implicit AND, loosest
    or   := and ("OR" and)*
    and  := unary ("AND" unary)*
    unary:= ("NOT" | "-" | "+")* primary     (a loop, not recursion)
    primary := "(" seq ")" | FIELD ":" value | FIELD ":" "(" seq ")" | value
    """

    def __init__(self, query: str, tokens: list[_Token], now: datetime) -> None:
        self.query = query
        self.tokens = tokens
        self.k = 0
        self.now = now
        self.clauses = 0

    def error(self, pos: int, reason: str) -> QuerySyntaxError:
        return QuerySyntaxError(self.query, pos, reason)

    def peek(self) -> _Token:
        return self.tokens[self.k]

    def next(self) -> _Token:
        tok = self.tokens[self.k]
        if tok.kind is not _Kind.EOF:
            self.k += 1
        return tok

    def parse(self) -> Node:
        node = self.seq(None, 0)
        tok = self.peek()
        if tok.kind is _Kind.RPAREN:
            raise self.error(tok.pos, "unmatched closing parenthesis")
        return node

    def seq(self, field: str | None, depth: int) -> Node:
        parts: list[Node] = []
        while self.peek().kind not in (_Kind.EOF, _Kind.RPAREN):
            parts.append(self.or_(field, depth))
        return _and(parts)

    def or_(self, field: str | None, depth: int) -> Node:
        parts = [self.and_(field, depth)]
        while self.peek().kind is _Kind.OR:
            self.expect_operand(self.next())
            parts.append(self.and_(field, depth))
        return _or(parts)

    def and_(self, field: str | None, depth: int) -> Node:
        parts = [self.unary(field, depth)]
        while self.peek().kind is _Kind.AND:
            self.expect_operand(self.next())
            parts.append(self.unary(field, depth))
        return _and(parts)

    def expect_operand(self, op: _Token) -> None:
        if self.peek().kind not in _STARTERS:
            raise self.error(op.pos, f"{op.kind.value} needs a search term after it")

    def unary(self, field: str | None, depth: int) -> Node:
        tok = self.peek()
        if tok.kind in (_Kind.AND, _Kind.OR):
            raise self.error(tok.pos, f"{tok.kind.value} needs a search term before it")
        negate = False
        while self.peek().kind in (_Kind.NOT, _Kind.MINUS, _Kind.PLUS):
            op = self.next()
            if op.kind is not _Kind.NOT:
                nxt = self.peek()
                if nxt.pos != op.pos + 1 or nxt.kind is _Kind.EOF:
                    raise self.error(
                        op.pos,
                        f"write '{self.query[op.pos]}' directly before the word "
                        f"(e.g. {self.query[op.pos]}draft); to search for it, put it in quotes",
                    )
            self.expect_operand(op)
            if op.kind is not _Kind.PLUS:  # "+x" is the same as "x"
                negate = not negate
        node = self.primary(field, depth)
        return _not(node) if negate else node

    def primary(self, field: str | None, depth: int) -> Node:
        tok = self.next()
        if tok.kind is _Kind.LPAREN:
            if depth + 1 > MAX_DEPTH:
                raise self.error(tok.pos, f"nesting too deep (the limit is {MAX_DEPTH})")
            if self.peek().kind is _Kind.RPAREN:
                raise self.error(tok.pos, "empty parentheses")
            node = self.seq(field, depth + 1)
            if self.peek().kind is not _Kind.RPAREN:
                raise self.error(tok.pos, "unclosed parenthesis")
            self.next()
            return node
        if tok.kind is _Kind.FIELD:
            name = self.field_name(tok)
            value = self.peek()
            if value.kind is _Kind.LPAREN:
                # tag:(paid OR open): the group's words default to this field.
                return self.primary(name, depth)
            if value.kind not in (_Kind.WORD, _Kind.PHRASE, _Kind.RANGE, _Kind.CMP):
                raise self.error(tok.pos, f"'{tok.text}:' needs a value after it")
            return self.value(name, self.next())
        if tok.kind in (_Kind.WORD, _Kind.PHRASE, _Kind.RANGE, _Kind.CMP):
            return self.value(field, tok)
        # Callers check for a starter first, so this is only a safety net.
        raise self.error(tok.pos, f"unexpected {tok.kind.value}")

    def field_name(self, tok: _Token) -> str:
        name = tok.text.lower()
        name = ALIASES.get(name, name)
        if name in FIELDS:
            return name
        known = sorted(FIELDS)
        close = difflib.get_close_matches(name, known + sorted(ALIASES), n=1)
        hint = f" (did you mean '{ALIASES.get(close[0], close[0])}'?)" if close else ""
        raise self.error(
            tok.pos,
            f"unknown field '{tok.text}'{hint}; fields are {', '.join(known)}"
            f' — to search for the text itself, put it in quotes: "{tok.text}:…"',
        )

    def count_clause(self, tok: _Token) -> None:
        self.clauses += 1
        if self.clauses > MAX_CLAUSES:
            raise self.error(tok.pos, f"too many search terms (the limit is {MAX_CLAUSES})")

    # ---- values -----------------------------------------------------------

    def value(self, field: str | None, tok: _Token) -> Node:
        self.count_clause(tok)
        kind = None if field is None else FIELDS[field]
        if field is not None and kind is FieldKind.DATE:
            if tok.kind in (_Kind.RANGE, _Kind.CMP):
                return self.date_bounds(field, tok)
            return self.date_value(field, tok)
        if field is not None and kind is FieldKind.NUMBER:
            if tok.kind in (_Kind.RANGE, _Kind.CMP):
                return self.number_bounds(field, tok)
            return self.number_value(field, tok)
        if tok.kind in (_Kind.RANGE, _Kind.CMP):
            raise self.not_orderable(field, tok)
        keyword = field if kind is FieldKind.KEYWORD else None
        if tok.kind is _Kind.PHRASE:
            words = tok.text.lower().split()
            if not words:
                raise self.error(tok.pos, "empty quotes")
            if keyword is not None:
                return FieldEquals(keyword, " ".join(words))
            return Term(field, words[0]) if len(words) == 1 else Phrase(field, tuple(words))
        text = tok.text.lower()
        if "*" in text or "?" in text:
            return self.pattern(field, text)
        if keyword is not None:
            return FieldEquals(keyword, text)
        return Term(field, text)

    def not_orderable(self, field: str | None, tok: _Token) -> QuerySyntaxError:
        if tok.kind is _Kind.RANGE:
            what, example = "a range", "created:[2005 to 2009]"
        else:
            what, example = f"'{tok.op}'", f"created:{tok.op}2024-01-01"
        if field is None:
            reason = (
                f"{what} needs a date or number field in front of it, e.g. {example}; "
                "to search for the text, put it in quotes"
            )
        else:
            reason = (
                f"{what} works only on date fields (created, added, modified) "
                f"and number fields (asn, id), not on '{field}'"
            )
        return self.error(tok.pos, reason)

    def pattern(self, field: str | None, text: str) -> Node:
        while "**" in text:  # "a**b" is "a*b"; keeps compiled patterns small
            text = text.replace("**", "*")
        if text == "*":
            return MatchAll() if field is None else Exists(field)
        body = text[:-1]
        if text.endswith("*") and "*" not in body and "?" not in body:
            return Prefix(field, body)
        return Wildcard(field, text)

    def is_everything(self, tok: _Token) -> bool:
        return tok.kind is _Kind.WORD and tok.text.strip("*") == "" and tok.text != ""

    def date_value(self, field: str, tok: _Token) -> Node:
        if self.is_everything(tok):
            return Exists(field)
        text = tok.text
        if tok.kind is _Kind.WORD:
            if "*" in text or "?" in text:
                raise self.error(
                    tok.pos, f"wildcards do not work on dates; write e.g. {field}:2024"
                )
            nxt = self.peek()
            # paperless accepts "added:previous month" unquoted; join the two words.
            if (
                text.lower() in _TWO_WORD_DATE_HEADS
                and nxt.kind is _Kind.WORD
                and nxt.text.lower() in _TWO_WORD_DATE_UNITS
            ):
                text = f"{text} {self.next().text}"
        try:
            start, end = dates.resolve_value(text, self.now)
        except dates.DateError as exc:
            raise self.error(tok.pos, str(exc)) from None
        return DateRange(field, start, end)

    def range_ends(
        self, tok: _Token
    ) -> tuple[tuple[str | None, int], tuple[str | None, int]] | None:
        """The two ends of a RANGE token as (text or None if open, offset).

        Returns None for ``[* to *]`` (Lucene's "has a value").
        """
        words = tok.words
        to_at = [i for i, (_, w) in enumerate(words) if w.lower() == "to"]
        if not to_at:
            raise self.error(tok.pos, "a range needs 'to' between its ends, e.g. [2005 to 2009]")
        if len(to_at) > 1:
            raise self.error(words[to_at[1]][0], "a range has only one 'to'")
        split = to_at[0]

        def end(part: tuple[tuple[int, str], ...]) -> tuple[str | None, int]:
            if not part:
                return None, words[split][0]
            # Quotes may group a bound ("last week"); they add nothing here.
            text = " ".join(w for _, w in part).replace('"', "").strip()
            return (None if text in ("", "*") else text), part[0][0]

        lo, hi = end(words[:split]), end(words[split + 1 :])
        if lo[0] is None and hi[0] is None:
            if any(w == "*" for _, w in words):
                return None
            raise self.error(tok.pos, "empty range: give at least one end, e.g. [2020 to]")
        return lo, hi

    def span(self, text: str, pos: int) -> dates.Span:
        try:
            return dates.resolve_span(text, self.now)
        except dates.DateError as exc:
            raise self.error(pos, str(exc)) from None

    def date_bounds(self, field: str, tok: _Token) -> Node:
        if tok.kind is _Kind.CMP:
            try:
                op = cast(dates.Comparison, tok.op)  # the tokenizer only makes < <= > >=
                start, end = dates.resolve_comparison(op, tok.text, self.now)
            except dates.DateError as exc:
                raise self.error(tok.value_pos, str(exc)) from None
            return DateRange(field, start, end)
        ends = self.range_ends(tok)
        if ends is None:
            return Exists(field)
        (lo_text, lo_pos), (hi_text, hi_pos) = ends
        lo = None if lo_text is None else self.span(lo_text, lo_pos)
        hi = None if hi_text is None else self.span(hi_text, hi_pos)
        try:
            start, end = dates.range_from_spans(lo, hi, tok.op[0] == "[", tok.op[1] == "]")
        except dates.DateError as exc:
            raise self.error(tok.pos, str(exc)) from None
        return DateRange(field, start, end)

    def number(self, text: str, pos: int, field: str) -> int:
        text = text.strip()
        if not (text.isascii() and text.isdigit()):
            raise self.error(pos, f"'{field}' needs a whole number ≥ 0, not '{text}'")
        if len(text.lstrip("0")) > _MAX_NUMBER_DIGITS:
            raise self.error(pos, f"number too large for '{field}'")
        return int(text)

    def number_value(self, field: str, tok: _Token) -> Node:
        if self.is_everything(tok):
            return Exists(field)
        n = self.number(tok.text, tok.pos, field)
        return NumberRange(field, n, n)

    def number_bounds(self, field: str, tok: _Token) -> Node:
        lo: int | None
        hi: int | None
        if tok.kind is _Kind.CMP:
            n = self.number(tok.text, tok.value_pos, field)
            lo, hi = {
                ">": (n + 1, None),
                ">=": (n, None),
                "<": (None, n - 1),
                "<=": (None, n),
            }[tok.op]
        else:
            ends = self.range_ends(tok)
            if ends is None:
                return Exists(field)
            (lo_text, lo_pos), (hi_text, hi_pos) = ends
            lo = None if lo_text is None else self.number(lo_text, lo_pos, field)
            hi = None if hi_text is None else self.number(hi_text, hi_pos, field)
            if lo is not None and tok.op[0] == "{":
                lo += 1
            if hi is not None and tok.op[1] == "}":
                hi -= 1
        if (hi is not None and hi < 0) or (lo is not None and hi is not None and lo > hi):
            raise self.error(tok.pos, "this range is empty: no number lies inside it")
        return NumberRange(field, lo, hi)


def parse(query: str, *, now: datetime | None = None) -> Node:
    """Parse a user's query into a normalised tree.

    ``now`` is the clock relative dates are resolved against; pass an aware
    datetime in the archive's time zone (tests pass a frozen one). Defaults
    to the local time with its current UTC offset.

    Raises QuerySyntaxError (with ``.position``) for anything it cannot parse.
    """
    if now is None:
        now = datetime.now().astimezone()
    if len(query) > MAX_QUERY_LENGTH:
        raise QuerySyntaxError(
            query,
            MAX_QUERY_LENGTH,
            f"query too long ({len(query)} characters; the limit is {MAX_QUERY_LENGTH})",
        )
    tokens = _Tokenizer(query).tokens()
    return _Parser(query, tokens, now).parse()


# --------------------------------------------------------------------------
# Printing
# --------------------------------------------------------------------------

_QUOTE_ANYWHERE = frozenset('()"*?:\\')
_QUOTE_AT_START = frozenset("-+[{<>")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _word_or_quoted(text: str) -> str:
    needs = (
        not text
        or text[0] in _QUOTE_AT_START
        or text in _OPERATORS
        or any(ch.isspace() or ch in _QUOTE_ANYWHERE for ch in text)
    )
    return _quote(text) if needs else text


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
        return _with_field(node.field, _quote(" ".join(node.words)))
    if isinstance(node, Prefix):
        return _with_field(node.field, node.prefix + "*")
    if isinstance(node, Wildcard):
        return _with_field(node.field, node.pattern)
    if isinstance(node, FieldEquals):
        return f"{node.field}:{_word_or_quoted(node.value)}"
    if isinstance(node, Exists):
        return f"{node.field}:*"
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
