"""Which documents a user may view, as bitsets shared by every connection of a process.

A user who is not a superuser must only count the matches he may view. As a
join that is a look-up of the documents row per match (~45 ms for 55,000
matches at 100,000 documents, most of a high-hit search). Instead the
documents a user may view are one bitset (a Python int, bit ``id`` set), made
once per index *generation* and user, and a count is the matching ids (one
string out of FTS5) turned into a bitset, one AND and one popcount.

The generation is a number in ``meta`` that triggers on ``documents`` raise
in the same transaction as every change (a document's tags, grants and text
are only ever written and deleted with its documents row), so any
connection, of any process, reads it in the snapshot of its search and finds
the bitsets of exactly that state. It starts at a random
value, so a rebuilt file never repeats the generation of the file it
replaced. An index whose writer has not added the triggers yet has no
generation: its searches count in SQL as before. Bitsets are kept for the
newest generation seen only (a few KB per user).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from functools import lru_cache
from itertools import repeat
from typing import Iterable

from paperfs.index.model import User
from paperfs.index.sqlite_query import permission_sql
from paperfs.index.sqlitelib import sqlite3

#: every change of a document's rows raises the generation: its documents row is
#: written with its tags, grants and text and deleted with them
#: (sqlite_writes.py), so the documents row alone is watched (a trigger on every
#: tag and grant row made replacing documents three times as slow)
_WATCHED = ("documents",)

#: bits per user: one key per (name, groups); superusers need none
_Key = tuple[str, tuple[str, ...]]


def install(db: sqlite3.Connection) -> None:
    """The generation counter and its triggers (the writer, at every opening: an
    index from an older paperfs gains them)."""
    db.execute("INSERT OR IGNORE INTO meta VALUES"
               " ('generation', abs(random() % 1000000000000000))")
    for table in _WATCHED:
        for event in ("INSERT", "UPDATE", "DELETE"):
            db.execute(f"CREATE TRIGGER IF NOT EXISTS generation_{table}_{event.lower()}"
                       f" AFTER {event} ON {table} BEGIN UPDATE meta SET value = value + 1"
                       " WHERE key = 'generation'; END")


def generation(db: sqlite3.Connection) -> str | None:
    """The index's generation in this connection's snapshot; None without triggers."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'trigger'"
                  " AND name = 'generation_documents_insert'").fetchone() is None:
        return None
    row = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
    return str(row[0]) if row else None


def ids_of(text: str | None) -> list[int]:
    """``group_concat(id)`` ("3,17,42") -> [3, 17, 42] (json.loads parses in C:
    faster than fetching one row per id, or than split() and int())."""
    return json.loads("[" + text + "]") if text else []


@lru_cache(maxsize=8)
def _squeeze(size: int) -> tuple[int, int, int]:
    def repeated(pattern: bytes) -> int:
        return int.from_bytes(pattern * (size // len(pattern)), "little")
    return (repeated(b"\x03\x00"), repeated(b"\x0f\x00\x00\x00"),
            repeated(b"\xff" + b"\x00" * 7))


def mask_bytes(highest_id: int) -> int:
    """The byte-per-document mask size for ids up to ``highest_id`` (whole 64-id words)."""
    return -(-(highest_id + 1) // 64) * 64


def flags_of(ids: Iterable[int], size: int) -> bytearray:
    """A byte per document, 1 for ``ids`` (each below ``size``), set in C."""
    mask = bytearray(size)
    deque(map(mask.__setitem__, ids, repeat(1)), 0)
    return mask


def bits_of(ids: Iterable[int], size: int) -> int:
    """The set of ``ids`` (each below ``size``, a multiple of 64) as a bitset."""
    return squeezed(flags_of(ids, size))


def squeezed(mask: bytearray) -> int:
    """A byte-per-document mask as a bitset: squeezed eight to one with
    big-integer shifts and masks."""
    size = len(mask)
    x = int.from_bytes(mask, "little")  # bit 8i for document i
    m1, m2, m3 = _squeeze(size)
    x = (x | (x >> 7)) & m1    # 2 bits in every 16
    x = (x | (x >> 14)) & m2   # 4 bits in every 32
    x = (x | (x >> 28)) & m3   # 8 bits in every 64
    return int.from_bytes(x.to_bytes(size, "little")[::8], "little")


class _Generation:
    """The bitsets of one index file at one generation."""

    def __init__(self, value: str, size: int) -> None:
        self.value = value
        self.size = size
        #: per user: (a byte per document, the same as a bitset)
        self.users: dict[_Key, tuple[bytearray, int]] = {}


class SharedVisibility:
    """Per-user visibility bitsets of one index file, for every connection of the
    process (server threads share them; they are never changed, only replaced)."""

    _registry: dict[str, "SharedVisibility"] = {}
    _registry_lock = threading.Lock()

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: _Generation | None = None

    @classmethod
    def of(cls, path: object) -> "SharedVisibility":
        with cls._registry_lock:
            return cls._registry.setdefault(str(path), cls())

    def matches_visible(self, db: sqlite3.Connection, user: User, match: str) -> int | None:
        """How many documents of the FTS5 expression ``match`` ``user`` may view, in
        ``db``'s current snapshot (the caller holds a read transaction); None when
        the index has no generation (count in SQL then)."""
        seen = self.for_user(db, user)
        if seen is None:
            return None
        size, _, visible = seen
        ids = ids_of(db.execute("SELECT group_concat(rowid) FROM fts WHERE fts MATCH ?",
                                (match,)).fetchone()[0])
        try:
            return (bits_of(ids, size) & visible).bit_count()
        except IndexError:  # an id past the snapshot's highest: not in one snapshot
            return None

    def for_user(self, db: sqlite3.Connection, user: User
                 ) -> tuple[int, bytearray, int] | None:
        """(mask size, a byte per document, the bitset) of the documents ``user``
        may view in ``db``'s snapshot (never to be changed); None without a
        generation."""
        value = generation(db)
        if value is None:
            return None
        key = (user.name, tuple(sorted(user.groups)))
        with self._lock:
            current = self._current
            if current is not None and current.value == value:
                known = current.users.get(key)
                if known is not None:
                    return (current.size,) + known
        if current is None or current.value != value:
            highest = db.execute("SELECT coalesce(max(id), 0) FROM documents").fetchone()[0]
            current = _Generation(value, mask_bytes(highest))
        perm, params = permission_sql(user)
        ids = ids_of(db.execute(f"SELECT group_concat(d.id) FROM documents d WHERE {perm}",
                                params).fetchone()[0])
        flags = flags_of(ids, current.size)
        bits = squeezed(flags)
        with self._lock:
            if self._current is None or self._current.value != value:
                # Replace the bitsets of another generation, older or (a
                # connection a commit behind) newer: either is only a cache.
                self._current = current
            if self._current.value == value:
                self._current.users[key] = (flags, bits)
        return current.size, flags, bits
