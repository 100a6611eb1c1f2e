"""Notes on a document: a text with who wrote it and when.

A sidecar's ``notes:`` is a list; each note is a mapping ``{text, author,
time}``. A plain string (sidecars from before authors) is a note whose
author and time are unknown, and is written back as a plain string, so an
old sidecar keeps its shape until a note with an author is added.
"""

from __future__ import annotations

import datetime as dt
import getpass
from dataclasses import dataclass
from typing import Any

_KEYS = ("text", "author", "time")


@dataclass(frozen=True)
class Note:
    text: str
    author: str | None = None
    time: dt.datetime | None = None

    def to_yaml(self) -> Any:
        if self.author is None and self.time is None:
            return self.text
        return {"text": self.text, "author": self.author, "time": self.time}


def note_from(value: Any) -> Note:
    """A note as a sidecar holds it; ValueError says what is wrong."""
    if isinstance(value, str):
        return Note(value)
    if not isinstance(value, dict):
        raise ValueError(f"each note is a text or {{text, author, time}}, got {value!r}")
    unknown = set(value) - set(_KEYS)
    if unknown:
        raise ValueError(f"a note has no {sorted(map(str, unknown))[0]!r}; "
                         "its keys are text, author, time")
    text, author, time = value.get("text"), value.get("author"), value.get("time")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"a note needs a non-empty 'text', got {text!r}")
    if author is not None and not isinstance(author, (str, int)):
        raise ValueError(f"a note's author is a name, got {author!r}")
    if isinstance(time, str):
        try:
            time = dt.datetime.fromisoformat(time.strip())
        except ValueError:
            raise ValueError(f"a note's time is like 2025-01-31T10:00:00+00:00, got {time!r}") \
                from None
    elif isinstance(time, dt.date) and not isinstance(time, dt.datetime):
        time = dt.datetime(time.year, time.month, time.day)
    elif time is not None and not isinstance(time, dt.datetime):
        raise ValueError(f"a note's time is like 2025-01-31T10:00:00+00:00, got {time!r}")
    if time is not None and time.tzinfo is None:
        time = time.replace(tzinfo=dt.timezone.utc)
    return Note(text, None if author is None else str(author), time)


def new_note(text: str, author: str | None = None) -> Note:
    """A note written now; the author defaults to the user running this process."""
    if not text.strip():
        raise ValueError("a note needs some text")
    if author is None:
        try:
            author = getpass.getuser()
        except (KeyError, OSError):
            author = None
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    return Note(text, author, now)
