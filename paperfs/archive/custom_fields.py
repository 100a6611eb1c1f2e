"""Typed custom fields: their declarations in ``fields.yml`` and their values' checks.

``fields.yml`` in the data root declares each field with a type::

    amount: {type: monetary, currency: EUR}
    due: {type: date}
    priority: {type: select, options: [low, normal, high]}

``load_fields`` reads it (an error names the file, the line, the field and
the fix; nothing of an invalid file is used), ``FieldsFile`` keeps the last
valid declarations of a data root and reloads them when the file changes.
``FieldSet.validate`` checks a document's ``custom_fields`` against them and
returns the values in their sidecar notation (docs/metadata.md). A field
that is not declared keeps working untyped: its value is kept as written
(archives from before declarations keep their free-form fields).

``readings`` gives the index every typed reading of a value (text, number,
day), whatever its declaration: the query picks the reading by the declared
type, so changing a type needs no reindex.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping
from urllib.parse import urlsplit

import yaml

from paperfs.archive.document import as_date
from paperfs.errors import ConfigError, UsageError
from paperfs.user_files import LastValid, NodeReader, compose, read_text

FIELDS_FILE = "fields.yml"
TYPES = ("text", "integer", "number", "monetary", "boolean", "date", "url", "select",
         "document_link")
#: the settings each type takes besides ``type``
_SETTINGS = {"monetary": ("currency",), "select": ("options",)}
#: a field name: what a query can name (``amount:>100``) and Solr can hold in a field name
NAME = re.compile(r"[a-z][a-z0-9_]{0,63}\Z")
CURRENCY = re.compile(r"[A-Z]{3}\Z")
#: monetary notation: an optional ISO 4217 code, then the amount ("EUR12.50", paperless' notation)
_MONEY = re.compile(r"\s*([A-Za-z]{3})?\s*([-+]?\d+(?:\.\d+)?)\s*\Z")
_INT64 = 2 ** 63
#: built-in query fields a custom field may not shadow (search/fields.py, plus ``has``)
RESERVED = frozenset({"title", "content", "correspondent", "type", "note", "notes", "path",
                      "tag", "tags", "owner", "created", "added", "modified", "asn", "id",
                      "has", "document_type", "storage_path", "archive_serial_number"})


class FieldsError(ConfigError):
    """fields.yml is not valid; the message names the file, line, field and fix."""


@dataclass(frozen=True)
class FieldDecl:
    name: str
    type: str
    #: monetary: the one currency of its values (None: each value names its own)
    currency: str | None = None
    #: select: the allowed values
    options: tuple[str, ...] = ()
    #: where it is declared in fields.yml (0: not from a file)
    line: int = 0

    def describe(self) -> str:
        if self.type == "monetary" and self.currency:
            return f"monetary ({self.currency})"
        if self.type == "select":
            return f"select ({', '.join(self.options)})"
        return self.type


@dataclass(frozen=True)
class FieldSet:
    fields: Mapping[str, FieldDecl] = field(default_factory=dict)

    def __iter__(self) -> Iterator[FieldDecl]:
        return iter(self.fields.values())

    def __contains__(self, name: object) -> bool:
        return name in self.fields

    def get(self, name: str) -> FieldDecl | None:
        return self.fields.get(name)

    def types(self) -> dict[str, str]:
        """name → type: what the query parser needs (paperfs/search/parser.py)."""
        return {name: decl.type for name, decl in self.fields.items()}

    def validate(self, values: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """The values in their sidecar notation, and one problem per wrong value
        ("due: expected a date like 2025-01-31, got 'soon'"). Undeclared fields are
        kept as they are; an empty value (null) is kept: the field is there, unset."""
        out: dict[str, Any] = {}
        problems: list[str] = []
        for name, value in values.items():
            decl = self.fields.get(str(name))
            if decl is None or value is None:
                out[name] = value
                continue
            try:
                out[name] = normalise(decl, value)
            except ValueError as exc:
                problems.append(f"{name}: {exc}")
        return out, problems


# ---------------------------------------------------------------- values


def normalise(decl: FieldDecl, value: Any) -> Any:
    """One value of a declared field in its sidecar notation; ValueError says what is wrong."""
    return _NORMALISE[decl.type](decl, value)


def parse_value(decl: FieldDecl, text: str) -> Any:
    """A value typed on the command line (``--field due=2025-01-31``), normalised."""
    if text.strip() == "":
        return None
    if decl.type == "document_link":
        return normalise(decl, [part for part in re.split(r"[,\s]+", text.strip()) if part])
    return normalise(decl, text)


def _text(decl: FieldDecl, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float, dt.date)):
        raise ValueError(f"expected a text, got {_shown(value)}")
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _integer(decl: FieldDecl, value: Any) -> int:
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected a whole number, got {_shown(value)}")
    if not -_INT64 <= value < _INT64:
        raise ValueError(f"{value} is too large (at most 19 digits)")
    return value


def _number(decl: FieldDecl, value: Any) -> int | float:
    if isinstance(value, str):
        try:
            value = _decimal(value)
        except ValueError:
            raise ValueError(f"expected a number like 3.25, got {_shown(value)}") from None
        return int(value) if value == value.to_integral_value() and "." not in str(value) \
            else float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            isinstance(value, float) and not math.isfinite(value)):
        raise ValueError(f"expected a number like 3.25, got {_shown(value)}")
    return value


def _decimal(text: str) -> Decimal:
    if not re.fullmatch(r"\s*[-+]?\d+(\.\d+)?\s*", text):
        raise ValueError(text)
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(text) from None


def money(value: Any) -> tuple[str | None, Decimal] | None:
    """(currency or None, amount) of a monetary value, exactly; None if it is none."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None, Decimal(value)
    if isinstance(value, float):
        # repr is the shortest text that reads back as this float: what the person typed
        return (None, Decimal(repr(value))) if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    found = _MONEY.match(value)
    if not found:
        return None
    code = found.group(1).upper() if found.group(1) else None
    return code, Decimal(found.group(2))


def _monetary(decl: FieldDecl, value: Any) -> str:
    parsed = money(value)
    example = f"{decl.currency or 'EUR'}12.50"
    if parsed is None:
        raise ValueError(f"expected an amount like {example}, got {_shown(value)}")
    code, amount = parsed
    if decl.currency is None and code is None:
        raise ValueError(f"say which currency: {example} (this field has no fixed currency)")
    if decl.currency is not None and code is not None and code != decl.currency:
        raise ValueError(f"the amounts of this field are in {decl.currency}, got {_shown(value)}")
    if amount.as_tuple().exponent > -2:  # type: ignore[operator]
        amount = amount.quantize(Decimal("0.01"))
    return f"{code or decl.currency}{amount}"


def _boolean(decl: FieldDecl, value: Any) -> bool:
    if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
        return _BOOL_WORDS[value.strip().lower()]
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {_shown(value)}")
    return value


_BOOL_WORDS = {"true": True, "yes": True, "false": False, "no": False}


def _date(decl: FieldDecl, value: Any) -> dt.date:
    day = as_date(value)
    if day is None:
        raise ValueError(f"expected a date like 2025-01-31, got {_shown(value)}")
    return day


def _url(decl: FieldDecl, value: Any) -> str:
    text = value.strip() if isinstance(value, str) else ""
    parts = urlsplit(text)
    if not (parts.scheme and (parts.netloc or parts.scheme == "mailto")) or " " in text:
        raise ValueError(f"expected an address like https://example.com/page, got {_shown(value)}")
    return text


def _select(decl: FieldDecl, value: Any) -> str:
    text = str(value).strip() if isinstance(value, (str, int, float)) and not isinstance(
        value, bool) else None
    for option in decl.options:
        if text is not None and option.casefold() == text.casefold():
            return option  # the declared spelling
    raise ValueError(f"expected one of {', '.join(decl.options)}, got {_shown(value)}")


def _document_link(decl: FieldDecl, value: Any) -> list[int]:
    items = value if isinstance(value, list) else [value]
    out: list[int] = []
    for item in items:
        if isinstance(item, str) and item.strip().isdigit():
            item = int(item)
        if isinstance(item, bool) or not isinstance(item, int) or item <= 0:
            raise ValueError(f"expected document ids like [12, 40], got {_shown(value)}")
        if item not in out:
            out.append(item)
    return out


_NORMALISE = {"text": _text, "integer": _integer, "number": _number, "monetary": _monetary,
              "boolean": _boolean, "date": _date, "url": _url, "select": _select,
              "document_link": _document_link}


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ---------------------------------------------------------------- the index's readings


@dataclass(frozen=True)
class Reading:
    """One value as the index holds it: its text (the index folds it), and the number
    and day it reads as."""

    text: str
    number: float | None = None
    day: str | None = None


def readings(value: Any) -> list[Reading]:
    """Every typed reading of a sidecar value (a list: one per element)."""
    if value is None:
        return []
    if isinstance(value, list):
        return [r for item in value if not isinstance(item, list) for r in readings(item)]
    if isinstance(value, bool):
        return [Reading("true" if value else "false")]
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return [Reading(str(value).lower())]
        return [Reading(str(value), float(value))]
    if isinstance(value, dt.date):
        day = (value.date() if isinstance(value, dt.datetime) else value).isoformat()
        return [Reading(day, None, day)]
    if not isinstance(value, str):
        return []
    text = value.strip()
    if not text:
        return []
    parsed = money(text)
    day = None
    try:
        day = dt.date.fromisoformat(text).isoformat() if len(text) == 10 else None
    except ValueError:
        pass
    return [Reading(text, float(parsed[1]) if parsed else None, day)]


def indexed_names(values: Mapping[str, Any]) -> Iterator[tuple[str, list[Reading]]]:
    """The fields of a document the index holds: those a query can name."""
    for name, value in values.items():
        if isinstance(name, str) and NAME.match(name):
            yield name, readings(value)


# ---------------------------------------------------------------- fields.yml


def load_fields(path: Path) -> FieldSet:
    """The declarations in *path*; no file is no declarations. FieldsError if invalid."""
    text = read_text(path, FieldsError)
    return FieldSet() if text is None else parse_fields(text, str(path))


def parse_fields(text: str, source: str) -> FieldSet:
    return _Parser(source).parse(text)


class _Parser(NodeReader):
    def __init__(self, source: str) -> None:
        super().__init__(source, FieldsError)

    def fail(self, node: yaml.Node | None, problem: str, name: str = "") -> Exception:
        return super().fail(node, problem, f"field {name!r}" if name else "")

    def parse(self, text: str) -> FieldSet:
        root = compose(text, self.source, FieldsError)
        if root is None or (isinstance(root, yaml.ScalarNode) and self.value(root) is None):
            return FieldSet()
        if not isinstance(root, yaml.MappingNode):
            raise self.fail(root, "expected a mapping of field names to their settings, "
                                  "e.g. 'due: {type: date}'")
        fields: dict[str, FieldDecl] = {}
        for key, node in root.value:
            name = self.value(key)
            if not isinstance(name, str) or not NAME.match(name):
                raise self.fail(key, f"{name!r} cannot be a field name: use lower-case letters, "
                                     "digits and '_', starting with a letter (e.g. due_date)")
            if name in RESERVED:
                raise self.fail(key, "this name is a built-in search field; choose another",
                                name)
            if name in fields:
                raise self.fail(key, f"declared twice (first on line {fields[name].line})", name)
            fields[name] = self.declaration(name, key, node)
        return FieldSet(fields)

    def declaration(self, name: str, key: yaml.Node, node: yaml.Node) -> FieldDecl:
        if isinstance(node, yaml.ScalarNode) and isinstance(self.value(node), str):
            settings = {"type": self.value(node)}  # "due: date" is short for {type: date}
            nodes = {"type": node}
        elif isinstance(node, yaml.MappingNode):
            nodes = {str(self.value(k)): v for k, v in node.value}
            settings = {k: self.value(v) for k, v in nodes.items()}
        else:
            raise self.fail(node, "expected its settings, e.g. {type: date}", name)
        kind = settings.get("type")
        if kind not in TYPES:
            raise self.fail(nodes.get("type", node), f"unknown type {kind!r}; the types are "
                                                     f"{', '.join(TYPES)}", name)
        allowed = ("type", *_SETTINGS.get(kind, ()))
        for setting, setting_node in nodes.items():
            if setting not in allowed:
                raise self.fail(setting_node, f"a {kind} field takes no {setting!r} "
                                              f"(its settings: {', '.join(allowed)})", name)
        currency = settings.get("currency")
        if currency is not None and (not isinstance(currency, str) or not CURRENCY.match(currency)):
            raise self.fail(nodes["currency"], f"currency must be a three-letter ISO 4217 code "
                                               f"like EUR, got {currency!r}", name)
        options: tuple[str, ...] = ()
        if kind == "select":
            raw = settings.get("options")
            if (not isinstance(raw, list) or not raw
                    or not all(isinstance(o, (str, int)) and not isinstance(o, bool) for o in raw)):
                raise self.fail(nodes.get("options", node), "a select field needs 'options', a "
                                                            "list of texts, e.g. [low, high]", name)
            options = tuple(str(o).strip() for o in raw)
            folded = [o.casefold() for o in options]
            if len(set(folded)) < len(folded) or "" in folded:
                raise self.fail(nodes["options"], "options must be distinct non-empty texts "
                                                  "(compared without case)", name)
        return FieldDecl(name, kind, currency, options, key.start_mark.line + 1)


class FieldsFile(LastValid[FieldSet]):
    """The declarations of one data root, reloaded when ``fields.yml`` changes.

    An invalid file changes nothing: the last valid declarations stay in force
    and ``problem`` says what is wrong (``paperfs check``, ``paperfs status``)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, load_fields, FieldSet(), FieldsError)

    def types(self) -> dict[str, str]:
        return self.current().types()


@functools.lru_cache(maxsize=64)
def fields_of(path: Path) -> FieldsFile:
    """The one holder of a data root's fields.yml in this process: the catalog, the
    writer, workflows and WebDAV share it (one stat and one parse per change, and one
    log line for an invalid edit, instead of one per holder and per WebDAV thread)."""
    return FieldsFile(path)


# ---------------------------------------------------------------- edits


def assignments_change(fields: FieldSet, assignments: Iterable[str]) -> Callable[[Any], Any] | None:
    """The change ``--field NAME=VALUE`` (set; an empty VALUE leaves the field unset)
    and ``--field -NAME`` (remove) ask for, checked in full first: a name must be
    declared (a typo would otherwise add a field), a value right for its type."""
    sets: dict[str, Any] = {}
    removes: list[str] = []
    for item in assignments:
        if item.startswith("-") and "=" not in item:
            removes.append(item[1:].strip())
            continue
        name, equals, text = item.partition("=")
        name = name.strip()
        if not equals or not name:
            raise UsageError(f"--field {item!r}: write NAME=VALUE (or -NAME to remove it)")
        decl = fields.get(name)
        if decl is None:
            known = ", ".join(fields.fields) or "none yet"
            raise UsageError(f"--field {item!r}: {name!r} is not a declared field (declared: "
                             f"{known}); declare it with 'paperfs field add {name} TYPE'")
        try:
            sets[name] = parse_value(decl, text)
        except ValueError as exc:
            raise UsageError(f"--field {item!r}: {exc}") from None
    if not sets and not removes:
        return None

    def change(doc: Any) -> Any:
        values = {k: v for k, v in doc.custom_fields.items() if k not in removes}
        return doc.replace(custom_fields={**values, **sets})

    return change
