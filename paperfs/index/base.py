"""The backend-neutral index interface.

Every backend (embedded SQLite, Apache Solr) implements this; the contract
tests in tests/index_contract.py run against each.
"""

from __future__ import annotations

import abc
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from paperfs.archive.document import Document
from paperfs.errors import UsageError
from paperfs.index.model import (LOCAL_ADMIN, Facets, FacetCount, Hit, SearchResult,
                                 StoredDocument, Suggestion, User)

if TYPE_CHECKING:
    import datetime as dt

    from paperfs.search.query import Node

__all__ = ["Index", "IndexEntry", "FiledRef", "User", "LOCAL_ADMIN", "Hit", "SearchResult",
           "Facets", "FacetCount", "Suggestion", "StoredDocument", "SORTS", "check_page"]

#: Accepted ``sort`` values: a field ascending, or with '-' descending.
#: Every order ends with the document id, so pages never overlap or skip.
SORTS = ("relevance", "created", "-created", "added", "-added", "modified", "-modified",
         "title", "-title", "id", "-id")


def check_page(sort: str, limit: int, offset: int, max_limit: int) -> None:
    """The paging arguments of ``Index.search``, checked the same way by every backend."""
    if sort not in SORTS:
        raise UsageError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
    if not 0 <= limit <= max_limit:
        raise UsageError(f"limit must be between 0 and {max_limit}, not {limit}")
    if offset < 0:
        raise UsageError(f"offset must be 0 or more, not {offset}")


@dataclass(frozen=True)
class IndexEntry:
    """A document as filed: its metadata plus where its sidecar is."""

    doc: Document
    #: sidecar path relative to archive/, e.g. "ACME/2024/2024-03-15 Invoice.yml"
    path: str
    #: sidecar stat at indexing time, to notice hand edits and changes cheaply
    mtime_ns: int
    size: int


@dataclass(frozen=True)
class FiledRef:
    """The small facts the consumer needs about a filed document."""

    id: int
    path: str
    original_sha256: str
    archive_sha256: str
    mtime_ns: int
    size: int


class Index(abc.ABC):
    @abc.abstractmethod
    def upsert(self, entries: Iterable[IndexEntry]) -> None:
        """Insert or replace documents; one commit per call."""

    @abc.abstractmethod
    def delete(self, ids: Iterable[int]) -> None:
        """Remove documents; one commit per call."""

    @abc.abstractmethod
    def ref(self, doc_id: int) -> FiledRef | None: ...

    @abc.abstractmethod
    def ref_by_path(self, path: str) -> FiledRef | None: ...

    @abc.abstractmethod
    def find_checksum(self, sha256: str) -> FiledRef | None:
        """A filed document whose original or archive file has this checksum."""

    @abc.abstractmethod
    def refs(self) -> Iterator[FiledRef]:
        """Every filed document, in id order (streamed)."""

    @abc.abstractmethod
    def count(self) -> int: ...

    @abc.abstractmethod
    def max_id(self) -> int: ...

    @abc.abstractmethod
    def clear(self) -> None: ...

    def close(self) -> None:
        pass

    # ------------------------------------------------------------ rebuilding

    @contextlib.contextmanager
    def rebuilding(self) -> Iterator["Index"]:
        """An empty index to fill from the tree (``treesync.sync(rebuild=True)``).

        When the block ends normally the new content becomes this index's
        content; when it raises (or the process dies) this index is left as it
        was. The default clears in place; backends that can build aside and
        swap (SQLite: a new file renamed over the old one) override it.
        """
        self.clear()
        yield self

    def maintain(self, on_start: Callable[[], None] | None = None) -> None:
        """Housekeeping the writer runs now and then while idle (SQLite: refresh
        the champion lists once the index has changed enough); fast when there
        is nothing to do. ``on_start`` is called before work that takes long."""

    # ------------------------------------------------------------ searching

    @abc.abstractmethod
    def search(self, query: "str | Node", *, user: User, sort: str = "relevance",
               limit: int = 25, offset: int = 0, highlight: bool = True,
               now: "dt.datetime | None" = None) -> SearchResult:
        """One page of the documents matching ``query`` that ``user`` may view.

        ``query`` is query-language text (parsed with ``now`` as the clock for
        relative dates; QuerySyntaxError when it cannot be parsed) or a parsed
        tree. ``sort`` is one of SORTS; relevance ranks title hits above body
        hits and falls back to newest created first when the query has no
        words. ``total`` counts every match the user may view.
        """

    @abc.abstractmethod
    def facets(self, query: "str | Node", *, user: User,
               now: "dt.datetime | None" = None) -> Facets:
        """Counts of tags, correspondents, types and created years over the matches."""

    @abc.abstractmethod
    def get(self, doc_id: int, user: User) -> StoredDocument | None:
        """The document, or None when it does not exist or the user may not view it."""

    @abc.abstractmethod
    def more_like_this(self, doc_id: int, user: User, limit: int = 10) -> SearchResult:
        """Documents with similar words (never the document itself)."""

    @abc.abstractmethod
    def suggest(self, prefix: str, field: str | None = None, limit: int = 10, *,
                user: User) -> list[Suggestion]:
        """Completions for what the user is typing.

        ``field`` None: words of the text and values of tags, correspondents
        and types; "tag", "correspondent", "type", "owner": values of that
        field; "title", "content", "note", "path": words of that field.
        Only what occurs in documents the user may view.
        """
