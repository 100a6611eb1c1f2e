"""The query language's grammar: ``parse(text, now=...)`` turns a query into a tree.

The language is Whoosh's syntax, as paperless-ngx users type it; the
user-facing description is docs/search.md. The tree (search/tree.py) is
normalised as it is built. Decisions worth knowing:

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
* **Custom fields** declared in fields.yml (``custom``: name → type) are
  fields too, compared by their type: ``amount:>100``, ``due:[now to +30d]``,
  ``paid:true``, ``priority:high``; ``has:NAME`` means the field has a value.
  Without declarations a custom field's name is an unknown field.
* **Field kinds** (search/fields.py) decide what a value becomes: words in
  text fields, whole values in keyword fields, ranges in date and number
  fields.
* A whitespace after ``field:`` is allowed (``title: invoice``). Directly
  after the colon the value is literal: ``title:AND`` searches "and".
* A quoted single word is a Term (``"acme"`` == ``acme``); in quotes ``*``
  and ``?`` are literal. ``*`` alone matches everything; ``field:*`` (and
  ``field:[* to *]``) means "the field has a value" (``Exists``).
* Limits against hostile input: nesting depth ``MAX_DEPTH``, query length
  ``MAX_QUERY_LENGTH``, search terms ``MAX_CLAUSES`` (Solr refuses more than
  1024 clauses by default). The parser is iterative except for parentheses,
  whose depth is checked before descending.
"""

from __future__ import annotations

import difflib
import re
from datetime import datetime
from decimal import Decimal
from typing import Callable, Final, Mapping, TypeVar, cast

from paperfs.search import date_ranges as dates
from paperfs.search.fields import ALIASES, FIELDS, FieldKind
from paperfs.search.lexer import Token, TokenKind, tokenize
from paperfs.search.syntax_error import QuerySyntaxError
from paperfs.search.tree import (CustomDate, CustomEquals, CustomExists, CustomNumber,
                                 DateRange, Exists, FieldEquals, MatchAll, Node, NumberRange,
                                 Phrase, Prefix, Term, Wildcard, conjunction, disjunction,
                                 negation)

T = TypeVar("T")

MAX_DEPTH: Final = 100
MAX_QUERY_LENGTH: Final = 32_768  # far above any real query; 100 KB of junk is refused
MAX_CLAUSES: Final = 1000
_MAX_NUMBER_DIGITS: Final = 18  # fits a signed 64-bit integer (SQLite, Solr plong)

#: the tokens that can begin an operand: an operator must be followed by one of them
_STARTERS = {
    TokenKind.WORD,
    TokenKind.PHRASE,
    TokenKind.FIELD,
    TokenKind.LPAREN,
    TokenKind.RANGE,
    TokenKind.CMP,
    TokenKind.NOT,
    TokenKind.MINUS,
    TokenKind.PLUS,
}

#: relative dates of two words ("previous month"), accepted unquoted after a date field
_TWO_WORD_DATE_HEADS = frozenset({"this", "last", "previous"})
_TWO_WORD_DATE_UNITS = frozenset({"week", "month", "quarter", "year"})
#: ``has:NAME``: the field has a value
HAS: Final = "has"
_NUMBER_TYPES = frozenset({"integer", "number", "monetary"})
#: a number in a query; an amount may carry its currency ("EUR100": the currency is not compared)
_DECIMAL = re.compile(r"(?:[A-Za-z]{3})?([-+]?\d{1,18}(?:\.\d{1,18})?)\Z")
_BOOLEANS = {"true": "true", "yes": "true", "false": "false", "no": "false"}


class _Parser:
    """Recursive descent over the token list.

    seq  := or+                      implicit AND, loosest
    or   := and ("OR" and)*
    and  := unary ("AND" unary)*
    unary:= ("NOT" | "-" | "+")* primary     (a loop, not recursion)
    primary := "(" seq ")" | FIELD ":" value | FIELD ":" "(" seq ")" | value
    """

    def __init__(self, query: str, tokens: list[Token], now: datetime,
                 custom: Mapping[str, str]) -> None:
        self.query = query
        self.custom = custom
        self.tokens = tokens
        self.k = 0
        self.now = now
        self.clauses = 0

    def error(self, pos: int, reason: str) -> QuerySyntaxError:
        return QuerySyntaxError(self.query, pos, reason)

    def peek(self) -> Token:
        return self.tokens[self.k]

    def next(self) -> Token:
        tok = self.tokens[self.k]
        if tok.kind is not TokenKind.EOF:
            self.k += 1
        return tok

    def parse(self) -> Node:
        node = self.seq(None, 0)
        tok = self.peek()
        if tok.kind is TokenKind.RPAREN:
            raise self.error(tok.pos, "unmatched closing parenthesis")
        return node

    def seq(self, field: str | None, depth: int) -> Node:
        parts: list[Node] = []
        while self.peek().kind not in (TokenKind.EOF, TokenKind.RPAREN):
            parts.append(self.or_(field, depth))
        return conjunction(parts)

    def or_(self, field: str | None, depth: int) -> Node:
        parts = [self.and_(field, depth)]
        while self.peek().kind is TokenKind.OR:
            self.expect_operand(self.next())
            parts.append(self.and_(field, depth))
        return disjunction(parts)

    def and_(self, field: str | None, depth: int) -> Node:
        parts = [self.unary(field, depth)]
        while self.peek().kind is TokenKind.AND:
            self.expect_operand(self.next())
            parts.append(self.unary(field, depth))
        return conjunction(parts)

    def expect_operand(self, op: Token) -> None:
        if self.peek().kind not in _STARTERS:
            raise self.error(op.pos, f"{op.kind.value} needs a search term after it")

    def unary(self, field: str | None, depth: int) -> Node:
        tok = self.peek()
        if tok.kind in (TokenKind.AND, TokenKind.OR):
            raise self.error(tok.pos, f"{tok.kind.value} needs a search term before it")
        negate = False
        while self.peek().kind in (TokenKind.NOT, TokenKind.MINUS, TokenKind.PLUS):
            op = self.next()
            if op.kind is not TokenKind.NOT:
                nxt = self.peek()
                if nxt.pos != op.pos + 1 or nxt.kind is TokenKind.EOF:
                    raise self.error(
                        op.pos,
                        f"write '{self.query[op.pos]}' directly before the word "
                        f"(e.g. {self.query[op.pos]}draft); to search for it, put it in quotes",
                    )
            self.expect_operand(op)
            if op.kind is not TokenKind.PLUS:  # "+x" is the same as "x"
                negate = not negate
        node = self.primary(field, depth)
        return negation(node) if negate else node

    def primary(self, field: str | None, depth: int) -> Node:
        tok = self.next()
        if tok.kind is TokenKind.LPAREN:
            if depth + 1 > MAX_DEPTH:
                raise self.error(tok.pos, f"nesting too deep (the limit is {MAX_DEPTH})")
            if self.peek().kind is TokenKind.RPAREN:
                raise self.error(tok.pos, "empty parentheses")
            node = self.seq(field, depth + 1)
            if self.peek().kind is not TokenKind.RPAREN:
                raise self.error(tok.pos, "unclosed parenthesis")
            self.next()
            return node
        if tok.kind is TokenKind.FIELD:
            name = self.field_name(tok)
            value = self.peek()
            if value.kind is TokenKind.LPAREN:
                # tag:(paid OR open): the group's words default to this field.
                return self.primary(name, depth)
            if value.kind not in (TokenKind.WORD, TokenKind.PHRASE, TokenKind.RANGE, TokenKind.CMP):
                raise self.error(tok.pos, f"'{tok.text}:' needs a value after it")
            return self.value(name, self.next())
        if tok.kind in (TokenKind.WORD, TokenKind.PHRASE, TokenKind.RANGE, TokenKind.CMP):
            return self.value(field, tok)
        # Callers check for a starter first, so this is only a safety net.
        raise self.error(tok.pos, f"unexpected {tok.kind.value}")

    def field_name(self, tok: Token) -> str:
        name = tok.text.lower()
        name = ALIASES.get(name, name)
        if name in FIELDS or name == HAS or name in self.custom:
            return name
        known = sorted([*FIELDS, *self.custom, HAS])
        close = difflib.get_close_matches(name, known + sorted(ALIASES), n=1)
        hint = f" (did you mean '{ALIASES.get(close[0], close[0])}'?)" if close else ""
        raise self.error(
            tok.pos,
            f"unknown field '{tok.text}'{hint}; fields are {', '.join(known)}"
            f' — to search for the text itself, put it in quotes: "{tok.text}:…"',
        )

    def count_clause(self, tok: Token) -> None:
        self.clauses += 1
        if self.clauses > MAX_CLAUSES:
            raise self.error(tok.pos, f"too many search terms (the limit is {MAX_CLAUSES})")

    # ---- values -----------------------------------------------------------

    def value(self, field: str | None, tok: Token) -> Node:
        self.count_clause(tok)
        if field == HAS:
            return self.has_value(tok)
        if field is not None and field not in FIELDS:
            return self.custom_value(field, self.custom[field], tok)
        kind = None if field is None else FIELDS[field]
        if field is not None and kind is FieldKind.DATE:
            if tok.kind in (TokenKind.RANGE, TokenKind.CMP):
                return self.date_bounds(field, tok)
            return self.date_value(field, tok)
        if field is not None and kind is FieldKind.NUMBER:
            if tok.kind in (TokenKind.RANGE, TokenKind.CMP):
                return self.number_bounds(field, tok)
            return self.number_value(field, tok)
        if tok.kind in (TokenKind.RANGE, TokenKind.CMP):
            raise self.not_orderable(field, tok)
        keyword = field if kind is FieldKind.KEYWORD else None
        if tok.kind is TokenKind.PHRASE:
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

    def not_orderable(self, field: str | None, tok: Token) -> QuerySyntaxError:
        if tok.kind is TokenKind.RANGE:
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

    # ---- custom fields (fields.yml) -----------------------------------------

    def has_value(self, tok: Token) -> Node:
        name = ALIASES.get(tok.text.lower(), tok.text.lower())
        if tok.kind is not TokenKind.WORD or not (name in FIELDS or name in self.custom):
            fields = ", ".join(sorted([*FIELDS, *self.custom]))
            raise self.error(tok.pos, f"'has:' takes a field name ({fields}), not '{tok.text}'")
        return CustomExists(name) if name in self.custom else Exists(name)

    def custom_value(self, field: str, kind: str, tok: Token) -> Node:
        if self.is_everything(tok):
            return CustomExists(field)
        if kind in _NUMBER_TYPES:
            return self.custom_number(field, tok)
        if kind == "date":
            node = self.date_bounds(field, tok) if tok.kind in (TokenKind.RANGE, TokenKind.CMP) \
                else self.date_value(field, tok)
            if isinstance(node, DateRange):
                return CustomDate(field, node.start, node.end)
            return CustomExists(field)
        if tok.kind in (TokenKind.RANGE, TokenKind.CMP):
            what = "a range" if tok.kind is TokenKind.RANGE else f"'{tok.op}'"
            raise self.error(tok.pos, f"{what} works on number, monetary and date fields, not on "
                                      f"'{field}' ({kind})")
        text = " ".join(tok.text.lower().split())
        if not text:
            raise self.error(tok.pos, "empty quotes")
        if tok.kind is TokenKind.WORD and ("*" in text or "?" in text):
            raise self.error(tok.pos, f"wildcards do not work on '{field}' ({kind}); give its "
                                      f"whole value, or {field}:* for any")
        if kind == "boolean":
            if text not in _BOOLEANS:
                raise self.error(tok.pos, f"'{field}' is true or false, not '{tok.text}'")
            text = _BOOLEANS[text]
        if kind == "document_link" and not text.isdigit():
            raise self.error(tok.pos, f"'{field}' links documents: give a document id, "
                                      f"not '{tok.text}'")
        return CustomEquals(field, text)

    def decimal(self, text: str, pos: int, field: str) -> Decimal:
        found = _DECIMAL.match(text.strip())
        if not found:
            raise self.error(pos, f"'{field}' needs a number like 100 or 12.50, not '{text}'")
        return Decimal(found.group(1))

    def custom_number(self, field: str, tok: Token) -> Node:
        if tok.kind is TokenKind.CMP:
            n = self.decimal(tok.text, tok.value_pos, field)
            return {">": CustomNumber(field, n, None, lo_inclusive=False),
                    ">=": CustomNumber(field, n, None),
                    "<": CustomNumber(field, None, n, hi_inclusive=False),
                    "<=": CustomNumber(field, None, n)}[tok.op]
        if tok.kind is not TokenKind.RANGE:
            n = self.decimal(tok.text, tok.pos, field)
            return CustomNumber(field, n, n)
        ends = self.range_values(tok, field, self.decimal)
        if ends is None:
            return CustomExists(field)
        lo, hi = ends
        if lo is not None and hi is not None and lo > hi:
            raise self.error(tok.pos, "this range is empty: no number lies inside it")
        return CustomNumber(field, lo, hi, tok.op[0] == "[", tok.op[1] == "]")

    def pattern(self, field: str | None, text: str) -> Node:
        while "**" in text:  # "a**b" is "a*b"; keeps compiled patterns small
            text = text.replace("**", "*")
        if text == "*":
            return MatchAll() if field is None else Exists(field)
        body = text[:-1]
        if text.endswith("*") and "*" not in body and "?" not in body:
            return Prefix(field, body)
        return Wildcard(field, text)

    def is_everything(self, tok: Token) -> bool:
        return tok.kind is TokenKind.WORD and tok.text.strip("*") == "" and tok.text != ""

    def date_value(self, field: str, tok: Token) -> Node:
        if self.is_everything(tok):
            return Exists(field)
        text = tok.text
        if tok.kind is TokenKind.WORD:
            if "*" in text or "?" in text:
                raise self.error(
                    tok.pos, f"wildcards do not work on dates; write e.g. {field}:2024"
                )
            nxt = self.peek()
            # paperless accepts "added:previous month" unquoted; join the two words.
            if (
                text.lower() in _TWO_WORD_DATE_HEADS
                and nxt.kind is TokenKind.WORD
                and nxt.text.lower() in _TWO_WORD_DATE_UNITS
            ):
                text = f"{text} {self.next().text}"
        try:
            start, end = dates.resolve_value(text, self.now)
        except dates.DateError as exc:
            raise self.error(tok.pos, str(exc)) from None
        return DateRange(field, start, end)

    def range_ends(
        self, tok: Token
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

    def range_values(self, tok: Token, field: str, convert: Callable[[str, int, str], T]
                     ) -> tuple[T | None, T | None] | None:
        """The ends of a number RANGE token, each ``convert(text, pos, field)`` or None
        (open); None for ``[* to *]``."""
        ends = self.range_ends(tok)
        if ends is None:
            return None
        (lo_text, lo_pos), (hi_text, hi_pos) = ends
        return (None if lo_text is None else convert(lo_text, lo_pos, field),
                None if hi_text is None else convert(hi_text, hi_pos, field))

    def span(self, text: str, pos: int) -> dates.Span:
        try:
            return dates.resolve_span(text, self.now)
        except dates.DateError as exc:
            raise self.error(pos, str(exc)) from None

    def date_bounds(self, field: str, tok: Token) -> Node:
        if tok.kind is TokenKind.CMP:
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

    def number_value(self, field: str, tok: Token) -> Node:
        if self.is_everything(tok):
            return Exists(field)
        n = self.number(tok.text, tok.pos, field)
        return NumberRange(field, n, n)

    def number_bounds(self, field: str, tok: Token) -> Node:
        lo: int | None
        hi: int | None
        if tok.kind is TokenKind.CMP:
            n = self.number(tok.text, tok.value_pos, field)
            lo, hi = {
                ">": (n + 1, None),
                ">=": (n, None),
                "<": (None, n - 1),
                "<=": (None, n),
            }[tok.op]
        else:
            ends = self.range_values(tok, field, self.number)
            if ends is None:
                return Exists(field)
            lo, hi = ends
            if lo is not None and tok.op[0] == "{":
                lo += 1
            if hi is not None and tok.op[1] == "}":
                hi -= 1
        if (hi is not None and hi < 0) or (lo is not None and hi is not None and lo > hi):
            raise self.error(tok.pos, "this range is empty: no number lies inside it")
        return NumberRange(field, lo, hi)


def parse(query: str, *, now: datetime | None = None,
          custom: Mapping[str, str] | None = None) -> Node:
    """Parse a user's query into a normalised tree.

    ``now`` is the clock relative dates are resolved against; pass an aware
    datetime in the archive's time zone (tests pass a frozen one). Defaults
    to the local time with its current UTC offset.

    ``custom``: the declared custom fields, name → type (``FieldSet.types()``).

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
    tokens = tokenize(query)
    return _Parser(query, tokens, now, custom or {}).parse()

