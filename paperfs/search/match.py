"""Match a parsed query against one document in Python (no index needed).

Used where a single document is tested: path-template conditions
(``archive.paths[].when``) and, later, rules. Word splitting and folding
follow the embedded index (unicode61 with diacritics removed), so a condition
agrees with a search for the same query.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
import unicodedata
from typing import Callable

from paperfs.archive.custom_fields import Reading, readings
from paperfs.archive.document import Document
from paperfs.errors import ConfigError
from paperfs.search.parser import parse
from paperfs.search.syntax_error import QuerySyntaxError
from paperfs.search.tree import (And, CustomDate, CustomEquals, CustomExists, CustomNumber,
                                 DateRange, Exists, FieldEquals, MatchAll, Node, Not,
                                 NumberRange, Or, Phrase, Prefix, Term, Wildcard)

#: a run of letters and digits: the underscore separates words, as in FTS5's
#: unicode61 and the Solr configset
_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Case- and diacritics-insensitive form: 'Müller' -> 'muller'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


def _text_values(doc: Document, field: str, path: str | None) -> list[str]:
    if field == "title":
        return [doc.title]
    if field == "content":
        return [doc.content]
    if field == "correspondent":
        return [doc.correspondent or ""]
    if field == "type":
        return [doc.document_type or ""]
    if field == "note":
        return [note.text for note in doc.notes]
    if field == "path":
        return [path or ""]
    if field == "tag":
        return list(doc.tags)
    if field == "owner":
        return [doc.owner] if doc.owner else []
    return []


_DEFAULT = ("title", "content", "tag", "correspondent", "type", "note")


class _Matcher:
    def __init__(self, doc: Document, path: str | None, tz: dt.tzinfo | None) -> None:
        self.doc = doc
        self.path = path
        self.tz = tz
        self._words: dict[str, list[str]] = {}

    def words_of(self, field: str) -> list[str]:
        if field not in self._words:
            self._words[field] = [w for v in _text_values(self.doc, field, self.path)
                                  for w in words(v)]
        return self._words[field]

    def fields(self, field: str | None) -> tuple[str, ...]:
        return _DEFAULT if field is None else (field,)

    def keyword_values(self, field: str) -> list[str]:
        return [fold(v) for v in _text_values(self.doc, field, self.path)]

    def match(self, node: Node) -> bool:
        match node:
            case MatchAll():
                return True
            case And(children):
                return all(self.match(c) for c in children)
            case Or(children):
                return any(self.match(c) for c in children)
            case Not(child):
                return not self.match(child)
            case Term(field, text):
                wanted = words(text)
                return any(self._phrase_in(self.words_of(f), wanted) for f in self.fields(field))
            case Phrase(field, phrase):
                wanted = [w for part in phrase for w in words(part)]
                return any(self._phrase_in(self.words_of(f), wanted) for f in self.fields(field))
            case Prefix(field, prefix):
                p = fold(prefix)
                if field in ("tag", "owner"):
                    return any(v.startswith(p) for v in self.keyword_values(field))
                return any(w.startswith(p) for f in self.fields(field) for w in self.words_of(f))
            case Wildcard(field, pattern):
                p = fold(pattern)
                if field in ("tag", "owner"):
                    return any(fnmatch.fnmatchcase(v, p) for v in self.keyword_values(field))
                return any(fnmatch.fnmatchcase(w, p)
                           for f in self.fields(field) for w in self.words_of(f))
            case FieldEquals(field, value):
                return fold(value) in self.keyword_values(field)
            case Exists(field):
                return bool(self._value(field))
            case DateRange(field, start, end):
                value = self._value(field)
                if value is None:
                    return False
                return (start is None or value >= start) and (end is None or value < end)
            case NumberRange(field, lo, hi):
                value = self._value(field)
                if value is None:
                    return False
                return (lo is None or value >= lo) and (hi is None or value <= hi)
            case CustomEquals(field, value):
                return any(fold(r.text) == fold(value) for r in self.custom(field))
            case CustomExists(field):
                return bool(self.custom(field))
            case CustomNumber(field, lo, hi, lo_inclusive, hi_inclusive):
                # compared as the indexes compare them: as binary floating point
                return any(r.number is not None
                           and (lo is None or (r.number >= float(lo) if lo_inclusive
                                               else r.number > float(lo)))
                           and (hi is None or (r.number <= float(hi) if hi_inclusive
                                               else r.number < float(hi)))
                           for r in self.custom(field))
            case CustomDate(field, start, end):
                days = [dt.datetime.combine(dt.date.fromisoformat(r.day), dt.time(), tzinfo=self.tz)
                        for r in self.custom(field) if r.day is not None]
                return any((start is None or d >= start) and (end is None or d < end)
                           for d in days)
        raise TypeError(f"unknown query node {node!r}")

    def custom(self, field: str) -> list[Reading]:
        """The readings of a custom field's value (archive/custom_fields.py)."""
        return readings(self.doc.custom_fields.get(field))

    @staticmethod
    def _phrase_in(haystack: list[str], needle: list[str]) -> bool:
        if not needle:
            return False
        n = len(needle)
        return any(haystack[i:i + n] == needle for i in range(len(haystack) - n + 1))

    def _value(self, field: str) -> object:
        doc = self.doc
        if field == "created":
            return dt.datetime.combine(doc.created, dt.time(), tzinfo=self.tz)
        if field in ("added", "modified"):
            return getattr(doc, field)
        if field == "asn":
            return doc.asn
        if field == "id":
            return doc.id
        if field == "tag":
            return doc.tags
        values = _text_values(doc, field, self.path)
        return any(v.strip() for v in values)


def matches(node: Node, doc: Document, *, path: str | None = None,
            now: dt.datetime | None = None) -> bool:
    now = now or dt.datetime.now().astimezone()
    return _Matcher(doc, path, now.tzinfo).match(node)


def compile_condition(query: str, *, key: str) -> Callable[[Document], bool]:
    """A config condition: checked now, evaluated per document (relative dates
    such as ``created:"this year"`` are resolved when the document is placed)."""
    try:
        parse(query)
    except QuerySyntaxError as exc:
        raise ConfigError(f"{key}: {exc}") from None

    def condition(doc: Document) -> bool:
        now = dt.datetime.now().astimezone()
        return matches(parse(query, now=now), doc, now=now)

    return condition
