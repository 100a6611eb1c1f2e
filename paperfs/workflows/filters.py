"""Whether a workflow takes a document: its filters against what is known of it.

All filters given must pass (an empty filter set takes every document).
Names (tags, correspondents, types) compare without case, as labels do;
file name and path globs are case-insensitive, as in paperless.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import PurePosixPath
from typing import Any, Mapping

from paperfs.archive.custom_fields import money
from paperfs.workflows.model import FieldCondition, Filters


@dataclass(frozen=True)
class Subject:
    """What the filters look at: a filed document, or a file whose consumption starts."""

    #: inbox, webdav, mail or cli
    source: str
    #: where it came from: relative to the data root (inbox/…), or an absolute path (cli)
    source_path: str
    filename: str
    text: str | None = None
    tags: tuple[str, ...] = ()
    correspondent: str | None = None
    document_type: str | None = None
    custom_fields: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of_document(cls, doc: Any) -> "Subject":
        source = doc.source or {}
        return cls(source=str(source.get("kind") or "inbox"), source_path=str(source.get("path") or ""),
                   filename=doc.original.filename, text=doc.content, tags=tuple(doc.tags),
                   correspondent=doc.correspondent, document_type=doc.document_type,
                   custom_fields=dict(doc.custom_fields or {}))


def _folded(names: tuple[str, ...] | list[str]) -> set[str]:
    return {name.casefold() for name in names}


def _glob(pattern: str, *candidates: str) -> bool:
    pattern = pattern.casefold()
    return any(fnmatch.fnmatchcase(candidate.casefold(), pattern) for candidate in candidates if candidate)


def _inbox_relative(path: str) -> str:
    """inbox/scanner/x.pdf -> scanner/x.pdf (a path filter names the inbox sub-path)."""
    parts = PurePosixPath(path).parts
    return PurePosixPath(*parts[1:]).as_posix() if len(parts) > 1 else path


def passes(filters: Filters, subject: Subject) -> bool:
    if filters.sources and subject.source not in filters.sources:
        return False
    if filters.filename is not None and not _glob(filters.filename, subject.filename):
        return False
    if filters.path is not None and not _glob(filters.path, subject.source_path,
                                              _inbox_relative(subject.source_path)):
        return False
    if filters.content is not None and not (subject.text and filters.content.matches(subject.text)):
        return False
    tags = _folded(subject.tags)
    if filters.tags_any and not tags & _folded(filters.tags_any):
        return False
    if filters.tags_all and not _folded(filters.tags_all) <= tags:
        return False
    if filters.tags_none and tags & _folded(filters.tags_none):
        return False
    if not _member(subject.correspondent, filters.correspondent_in, filters.correspondent_not_in):
        return False
    if not _member(subject.document_type, filters.type_in, filters.type_not_in):
        return False
    return all(field_passes(c, subject.custom_fields) for c in filters.custom_fields)


def _member(value: str | None, among: tuple[str, ...], not_among: tuple[str, ...]) -> bool:
    folded = value.casefold() if value else None
    if among and folded not in _folded(among):
        return False
    return not (not_among and folded in _folded(not_among))


def _comparable(value: Any) -> Any:
    """A number (also a monetary "EUR12.50"), a date, or folded text: what a
    condition's value compares as."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)):
        return Decimal(str(value))
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        return Decimal(text)
    except InvalidOperation:
        pass
    amount = money(text)  # a monetary field's "EUR12.50" compares as its amount
    if amount is not None:
        return amount[1]
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return text.casefold()


def field_passes(condition: FieldCondition, values: Mapping[str, Any]) -> bool:
    """One custom field condition against the document's values (plain sidecar values)."""
    present = condition.field in values and values[condition.field] not in (None, "", [])
    if condition.op == "exists":
        return present
    if condition.op == "missing":
        return not present
    if not present:
        return condition.op == "!="
    have, want = values[condition.field], condition.value
    if condition.op == "contains":
        if isinstance(have, list):
            return _comparable(want) in [_comparable(item) for item in have]
        return str(want).casefold() in str(have).casefold()
    left, right = _comparable(have), _comparable(want)
    if condition.op == "=":
        return left == right
    if condition.op == "!=":
        return left != right
    try:
        if condition.op == ">":
            return left > right
        if condition.op == ">=":
            return left >= right
        if condition.op == "<":
            return left < right
        return left <= right
    except TypeError:  # a number against a text: the condition does not hold
        return False
