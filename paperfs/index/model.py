"""What the index answers with: users, hits, result pages, facets, suggestions.

Backend-neutral frozen dataclasses; the SQLite and Solr backends return the
same objects, so the contract tests (tests/index_contract.py) compare them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Mapping

#: Highlight markers around matched words in ``Hit.snippet``. Control
#: characters: sidecar content never contains them (document.clean_content
#: removes them, and the index strips them), so they cannot be confused with
#: text. ``Hit.marked`` replaces them with whatever the output needs.
MARK_START = "\x02"
MARK_END = "\x03"
#: a hit whose words are not in its content gets the content's start, this long
FALLBACK_SNIPPET_CHARS = 200


def snippet_text(text: str) -> str:
    """A snippet on one line: runs of whitespace become one space."""
    return " ".join(text.split())


def fallback_snippet(content: str) -> str:
    """The start of the content, cut at a word (every backend's snippet when no
    word of the query is in the content)."""
    text = snippet_text(content[:FALLBACK_SNIPPET_CHARS * 2])
    if len(text) <= FALLBACK_SNIPPET_CHARS:
        return text
    cut = text.rfind(" ", 0, FALLBACK_SNIPPET_CHARS)
    return text[:cut if cut > 40 else FALLBACK_SNIPPET_CHARS] + "…"


@dataclass(frozen=True)
class User:
    """Who is asking. Until real users exist (issue 4) there is one local admin.

    A document is visible to a user when the user is a superuser, owns it,
    is named in its view or change permissions (users or groups), or when the
    document has **no owner** (then it is visible to everyone, as in
    paperless-ngx).
    """

    name: str
    groups: tuple[str, ...] = ()
    superuser: bool = False


#: The one user of a single-person archive: sees everything.
LOCAL_ADMIN = User(name="admin", superuser=True)


@dataclass(frozen=True)
class Hit:
    id: int
    title: str
    correspondent: str | None
    document_type: str | None
    created: dt.date
    added: dt.datetime
    tags: tuple[str, ...]
    asn: int | None
    #: archive-relative path without suffix ("ACME/2024/2024-03-15 Invoice")
    path: str
    #: higher is better; 0.0 when the query has no words to rank by
    score: float
    #: a piece of the content with MARK_START/MARK_END around matched words
    snippet: str = ""

    def marked(self, start: str, end: str) -> str:
        """The snippet with the markers replaced, e.g. by ANSI bold or '**'."""
        return self.snippet.replace(MARK_START, start).replace(MARK_END, end)

    def to_json(self, start: str = "**", end: str = "**") -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "correspondent": self.correspondent,
            "document_type": self.document_type,
            "created": self.created.isoformat(),
            "added": self.added.isoformat(),
            "tags": list(self.tags),
            "asn": self.asn,
            "path": f"archive/{self.path}.pdf",
            "score": round(self.score, 4),
            "snippet": self.marked(start, end),
        }


@dataclass(frozen=True)
class SearchResult:
    #: every visible document the query matches (not just this page)
    total: int
    offset: int
    limit: int
    sort: str
    hits: tuple[Hit, ...]

    def ids(self) -> list[int]:
        return [hit.id for hit in self.hits]


@dataclass(frozen=True)
class FacetCount:
    value: str
    count: int


@dataclass(frozen=True)
class Facets:
    """Counts over every visible document that matches, largest first."""

    total: int
    tags: tuple[FacetCount, ...] = ()
    correspondents: tuple[FacetCount, ...] = ()
    types: tuple[FacetCount, ...] = ()
    years: tuple[FacetCount, ...] = ()

    def as_dicts(self) -> dict[str, dict[str, int]]:
        return {name: {c.value: c.count for c in getattr(self, name)}
                for name in ("tags", "correspondents", "types", "years")}

    @classmethod
    def counted(cls, total: int, correspondents: Mapping[str, int], types: Mapping[str, int],
                years: Mapping[str, int], tags: Mapping[str, int]) -> "Facets":
        """From counts by value (every backend): largest first, then by value;
        years newest first."""
        def ordered(counts: Mapping[str, int]) -> tuple[FacetCount, ...]:
            return tuple(FacetCount(v, n) for v, n in
                         sorted(counts.items(), key=lambda item: (-item[1], item[0])))

        return cls(total=total, tags=ordered(tags), correspondents=ordered(correspondents),
                   types=ordered(types),
                   years=tuple(FacetCount(y, n) for y, n in sorted(years.items(), reverse=True)))


@dataclass(frozen=True)
class Suggestion:
    #: the word or the field value as stored ("invoice", "ACME Corp")
    text: str
    #: None for a word of the text, else "tag", "correspondent", "type"
    field: str | None
    #: documents containing it (visible to the asking user)
    count: int
    #: what to put into a query for it: invoice, tag:paid, correspondent:"ACME Corp"
    query: str = ""


@dataclass(frozen=True)
class StoredDocument:
    """A document as the index holds it (``Index.get``)."""

    id: int
    title: str
    correspondent: str | None
    document_type: str | None
    created: dt.date
    added: dt.datetime
    modified: dt.datetime
    tags: tuple[str, ...]
    asn: int | None
    owner: str | None
    path: str
    notes: tuple[str, ...] = ()
    content: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
