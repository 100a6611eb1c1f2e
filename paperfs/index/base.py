"""The backend-neutral interfaces of the index, and what every backend checks alike.

Three roles, each an ABC:

* ``Search`` (ranked search, facets, one document, more-like-this,
  suggestions, folder listings): the SQLite and the Solr backend;
* ``FiledLookups``: the exact lookups the writer makes on every filing (by
  id, path, checksum; every document; the largest id);
* ``Index`` = ``FiledLookups`` + ``Search`` + the writes (upsert, delete,
  clear, rebuild, housekeeping): what the writer and ``paperfs reindex`` use.

The **catalog** (paperfs/index/catalog.py: ``FiledLookups`` plus what WebDAV,
the CLI, ``status`` and ``check`` look up) is always the embedded SQLite
index. ``paperfs.index.factory`` opens each of them. The contract tests in
tests/index_contract.py run against every backend.
"""

from __future__ import annotations

import abc
import contextlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from paperfs.archive.document import Document
from paperfs.errors import UsageError
from paperfs.index.model import (LOCAL_ADMIN, Facets, FacetCount, Hit, SearchResult,
                                 StoredDocument, Suggestion, User)
from paperfs.search.match import fold
from paperfs.search.parser import parse

if TYPE_CHECKING:
    import datetime as dt

    from paperfs.archive.custom_fields import FieldsFile
    from paperfs.index.catalog import CatalogEntry
    from paperfs.search.tree import Node

__all__ = ["Index", "Search", "FiledLookups", "IndexEntry", "FiledRef", "User", "LOCAL_ADMIN",
           "Hit", "SearchResult", "Facets", "FacetCount", "Suggestion", "StoredDocument",
           "SORTS", "check_page", "parse_query", "suggestion_query", "Keep"]

#: Accepted ``sort`` values: a field ascending, or with '-' descending.
#: Every order ends with the document id, so pages never overlap or skip.
SORTS = ("relevance", "created", "-created", "added", "-added", "modified", "-modified",
         "title", "-title", "id", "-id")
#: ``suggest`` fields whose whole values are completed (``owner`` only when asked for)
VALUE_SUGGEST = ("correspondent", "tag", "type", "owner")
#: ``suggest`` fields whose words are completed (None: every text field)
WORD_SUGGEST = (None, "title", "content", "note", "path")

#: A further filter of a listing, given a Hit or a CatalogEntry (both carry the
#: metadata fields), e.g. an exact correspondent value.
Keep = Callable[[Any], bool]


def check_page(sort: str, limit: int, offset: int, max_limit: int) -> None:
    """The paging arguments of ``Search.search``, checked the same way by every backend."""
    if sort not in SORTS:
        raise UsageError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
    if not 0 <= limit <= max_limit:
        raise UsageError(f"limit must be between 0 and {max_limit}, not {limit}")
    if offset < 0:
        raise UsageError(f"offset must be 0 or more, not {offset}")


def parse_query(query: "str | Node", now: "dt.datetime | None",
                fields: "FieldsFile | None" = None) -> "Node":
    """A query argument (query-language text or a parsed tree) as a tree; ``fields``:
    the custom fields it may name (``Search.fields``)."""
    if not isinstance(query, str):
        return query
    return parse(query, now=now, custom=None if fields is None else fields.types())


def suggestion_query(field: str, value: str) -> str:
    """What to put into a query for a field value: ``tag:paid``, ``correspondent:"ACME Corp"``."""
    if re.fullmatch(r"[\w.\-]+", value) and value not in ("AND", "OR", "NOT"):
        return f"{field}:{value}"
    return f'{field}:"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


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


class FiledLookups(abc.ABC):
    """The exact lookups the writer makes on every filing (the catalog answers them)."""

    @abc.abstractmethod
    def ref(self, doc_id: int) -> FiledRef | None: ...

    @abc.abstractmethod
    def ref_by_path(self, path: str) -> FiledRef | None: ...

    @abc.abstractmethod
    def find_checksum(self, sha256: str) -> FiledRef | None:
        """A filed document whose original or archive file has this checksum."""

    @abc.abstractmethod
    def find_asn(self, asn: int) -> FiledRef | None:
        """The filed document holding this archive serial number."""

    @abc.abstractmethod
    def refs(self) -> Iterator[FiledRef]:
        """Every filed document, in id order (streamed)."""

    @abc.abstractmethod
    def count(self) -> int: ...

    @abc.abstractmethod
    def max_id(self) -> int: ...

    def close(self) -> None:
        pass


class Search(abc.ABC):
    """Searching the documents a user may view: what ``open_search`` gives."""

    #: the data root's custom field declarations, for queries given as text (set by
    #: index/factory.py; None: a query names no custom field)
    fields: "FieldsFile | None" = None

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

    def suggest(self, prefix: str, field: str | None = None, limit: int = 10, *,
                user: User) -> list[Suggestion]:
        """Completions for what the user is typing.

        ``field`` None: words of the text and values of tags, correspondents
        and types; "tag", "correspondent", "type", "owner": values of that
        field; "title", "content", "note", "path": words of that field.
        Only what occurs in documents the user may view. The most frequent
        first (then by text, then field), at most ``limit``.

        Every backend checks and merges alike (here); it finds the candidates
        (``_suggest_values``, ``_suggest_words``).
        """
        if field not in VALUE_SUGGEST and field not in WORD_SUGGEST:
            raise UsageError(f"no suggestions for field {field!r}")
        head = fold(prefix.strip())
        if not head or limit <= 0:
            return []
        fields = (["correspondent", "tag", "type"] if field is None
                  else [field] if field in VALUE_SUGGEST else [])
        found = self._suggest_values(head, fields, limit, user) if fields else []
        if field in WORD_SUGGEST:
            found.extend(self._suggest_words(head, field, limit, user))
        found.sort(key=lambda s: (-s.count, s.text.casefold(), s.field or ""))
        return found[:limit]

    def _suggest_values(self, head: str, fields: list[str], limit: int,
                        user: User) -> list[Suggestion]:
        """Up to ``limit`` values of each of ``fields`` whose folded form starts with
        ``head``, with the number of documents ``user`` may view that have them."""
        raise NotImplementedError

    def _suggest_words(self, head: str, field: str | None, limit: int,
                       user: User) -> list[Suggestion]:
        """Words of ``field`` (None: every text field) starting with ``head``, with
        the number of documents ``user`` may view that contain them."""
        raise NotImplementedError

    @abc.abstractmethod
    def listing(self, node: "Node", user: User,
                keep: Keep | None = None) -> Iterator["CatalogEntry"]:
        """Every document matching ``node`` that ``user`` may view, by (created, id),
        streamed (a WebDAV folder listing), as this backend sees them; ``keep``
        filters further. The embedded index answers from its catalog; with Solr,
        Solr says which documents and in which order and the catalog completes
        each page (paperfs/index/mirrored.py)."""

    def close(self) -> None:
        pass


class Index(FiledLookups, Search):
    """The writer's index: the lookups of a filing, searching, and every write."""

    #: Builds the rows of one IndexEntry in a rebuild's parser processes (a picklable
    #: function, paperfs/archive/reindex.py), for ``upsert_rows``. None: a rebuild
    #: passes the IndexEntry objects to ``upsert``.
    prepare: Callable[[IndexEntry], Any] | None = None

    @abc.abstractmethod
    def upsert(self, entries: Iterable[IndexEntry]) -> None:
        """Insert or replace documents; one commit per call."""

    def upsert_rows(self, batch: list[Any]) -> None:
        """``upsert`` for a batch of what ``prepare`` made."""
        raise UsageError(f"{type(self).__name__} takes IndexEntry objects (upsert)")

    @abc.abstractmethod
    def delete(self, ids: Iterable[int]) -> None:
        """Remove documents; one commit per call."""

    @abc.abstractmethod
    def clear(self) -> None: ...

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
