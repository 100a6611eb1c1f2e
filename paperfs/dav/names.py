"""File names of documents in virtual folders: stable, unique, portable.

A document appears as ``<created> <title>.pdf`` (``2024-03-15 Invoice ACME.pdf``),
cleaned like archive names (naming.clean_component). When names collide in a
folder (also when they differ only in case, which collides on Windows and
macOS), the document with the lowest id keeps the plain name and the others
get the stable suffix `` [ID]``. A new document never renames the ones a sync
client already has (its id is higher), and names only depend on what the
asking user may see, so a name never hints at a document he may not view.

Listings are sorted by (created, id), so documents whose names can collide
(same date) are adjacent: names are assigned one date at a time, with memory
bounded by the documents of one day, never the folder.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Iterable, Iterator, TypeVar

from paperfs.archive.naming import clean_component

EXT = ".pdf"
#: bytes kept free in a name for the suffix and the extension
_SUFFIX_ROOM = 16
_DATE_PREFIX = re.compile(r"(\d{4}-\d{2}-\d{2}) (.*)", re.S)

T = TypeVar("T")


#: names clean_component would return unchanged: printable ASCII without the
#: characters Windows refuses, no double spaces, not ending in a dot or space
_PLAIN = re.compile(r"[A-Za-z0-9!#$%&'()+,\-.;=@\[\]^_`{}~]+(?: [A-Za-z0-9!#$%&'()+,\-.;=@\[\]^_`{}~]+)*")


def base_name(created: dt.date, title: str, max_bytes: int) -> str:
    text = f"{created.isoformat()} {title}"
    limit = max(32, max_bytes - _SUFFIX_ROOM)
    if len(text) <= limit and _PLAIN.fullmatch(text) and text[-1] != ".":
        return text  # the common case, 10x faster than cleaning
    return clean_component(text.replace("/", "-"), limit)


def suffixed(base: str, doc_id: int) -> str:
    return f"{base} [{doc_id}]"


def assign(entries: Iterable[T], *, max_bytes: int) -> Iterator[tuple[str, T]]:
    """(file name, entry) for entries (with .created, .title, .id) sorted by (created, id)."""
    group: list[T] = []
    day: dt.date | None = None
    for entry in entries:
        created = entry.created  # type: ignore[attr-defined]
        if created != day:
            if len(group) == 1:
                only = group[0]
                yield base_name(day, only.title, max_bytes) + EXT, only  # type: ignore
            elif group:
                yield from _name_group(group, max_bytes)
            group = []
            day = created
        group.append(entry)
    if len(group) == 1:
        yield base_name(day, group[0].title, max_bytes) + EXT, group[0]  # type: ignore
    elif group:
        yield from _name_group(group, max_bytes)


def _name_group(group: list[Any], max_bytes: int) -> Iterator[tuple[str, Any]]:
    """Names for documents of one day: the lowest id of colliding names keeps the plain one."""
    bases = [base_name(e.created, e.title, max_bytes) for e in group]
    first: dict[str, int] = {}
    for base, entry in zip(bases, group):
        key = base.casefold()
        if key not in first or entry.id < first[key]:
            first[key] = entry.id
    used: set[str] = set()
    for base, entry in zip(bases, group):
        name = base if first[base.casefold()] == entry.id else suffixed(base, entry.id)
        n = 2
        while name.casefold() in used:  # only a title that itself ends in " [id]"
            name = f"{suffixed(base, entry.id)} ({n})"
            n += 1
        used.add(name.casefold())
        yield name + EXT, entry


def date_of(name: str) -> dt.date | None:
    """The created date a listed name starts with (every listed name has one)."""
    match = _DATE_PREFIX.match(name)
    if not match:
        return None
    try:
        return dt.date.fromisoformat(match.group(1))
    except ValueError:
        return None


def parse_rename(name: str, doc_id: int) -> tuple[str, dt.date | None]:
    """What a new file name asks for: (title, created or None).

    ``2024-04-01 New title.pdf`` sets both, ``New title.pdf`` only the title;
    the ``.pdf`` extension and a `` [ID]`` suffix of this document are dropped.
    """
    stem = name[:-len(EXT)] if name.lower().endswith(EXT) else name
    stem = re.sub(rf" \[{doc_id}\](?: \(\d+\))?$", "", stem)
    created = None
    match = _DATE_PREFIX.match(stem)
    if match:
        try:
            created = dt.date.fromisoformat(match.group(1))
            stem = match.group(2)
        except ValueError:
            created = None
    return stem.strip(), created


#: "/" cannot appear in a folder name; values containing it (a correspondent
#: "A/B GmbH") are shown with U+2215 DIVISION SLASH instead.
_SLASH = "\u2215"


def folder_name(value: str) -> str:
    return value.replace("/", _SLASH)


def folder_value(name: str) -> str:
    return name.replace(_SLASH, "/")
