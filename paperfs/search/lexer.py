"""The first step of parsing a query: its text split into tokens.

Words, quoted text, ``field:`` names, parentheses, the operators ``AND OR
NOT - +``, ranges (``[a to b]``) and comparisons (``>2024``), each with its
offset in the query for error messages. The rules a user sees (what counts
as a field name or an operator) are listed in search/parser.py.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from paperfs.search.syntax_error import QuerySyntaxError


class TokenKind(enum.Enum):
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
class Token:
    kind: TokenKind
    pos: int
    #: word / unescaped phrase / field name / comparison operand
    text: str = ""
    #: comparison operator; for RANGE the two brackets, e.g. "[}"
    op: str = ""
    #: RANGE: the words between the brackets with their offsets in the query
    words: tuple[tuple[int, str], ...] = ()
    #: where a comparison operand starts
    value_pos: int = 0


#: the operator words; only these exact uppercase spellings are operators
OPERATORS = {"AND": TokenKind.AND, "OR": TokenKind.OR, "NOT": TokenKind.NOT}
_WORD_STOP = frozenset('()"')


def tokenize(query: str) -> list[Token]:
    """The tokens of ``query``, ending with an EOF token; QuerySyntaxError if unreadable."""
    return _Tokenizer(query).tokens()


class _Tokenizer:
    def __init__(self, query: str) -> None:
        self.s = query
        self.n = len(query)
        self.i = 0

    def error(self, pos: int, reason: str) -> QuerySyntaxError:
        return QuerySyntaxError(self.s, pos, reason)

    def tokens(self) -> list[Token]:
        out: list[Token] = []
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
                out.append(Token(TokenKind.EOF, n))
                return out
            c, start = s[self.i], self.i
            if c == "(":
                out.append(Token(TokenKind.LPAREN, start))
                self.i += 1
            elif c == ")":
                out.append(Token(TokenKind.RPAREN, start))
                self.i += 1
            elif c == '"':
                out.append(Token(TokenKind.PHRASE, start, text=self._quoted()))
            elif c in "[{":
                out.append(self._range())
            elif c in "<>":
                out.append(self._comparison())
            elif c in "-+" and not value_next:
                out.append(Token(TokenKind.MINUS if c == "-" else TokenKind.PLUS, start))
                self.i += 1
            else:
                field = None if value_next else self._field_name()
                if field is not None:
                    out.append(Token(TokenKind.FIELD, start, text=field))
                    self.i += len(field) + 1
                    value_next = True
                    continue
                word = self._word()
                kind = TokenKind.WORD if value_next else OPERATORS.get(word, TokenKind.WORD)
                out.append(Token(kind, start, text=word))
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

    def _range(self) -> Token:
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
        return Token(TokenKind.RANGE, start, op=s[start] + s[j], words=tuple(words))

    def _comparison(self) -> Token:
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
        return Token(TokenKind.CMP, start, text=text, op=op, value_pos=value_pos)

