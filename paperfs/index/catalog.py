"""The catalog: exact lookups of the archive's documents, always local.

Answered by the embedded SQLite index (``paperfs.index.factory.open_catalog``)
whatever ``index.backend`` says: exact and immediate (a document filed,
changed or moved is found at once), and independent of the network. Used by
the writer (``FiledLookups``), WebDAV (single documents, names, folder-wide
changes, archive folders), the CLI, ``status`` and ``check``.

Ranked search, facets and suggestions are the ``Search`` side
(paperfs/index/base.py); with Solr they are Solr's.
"""

from __future__ import annotations

import abc
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

from paperfs.archive.document import Permissions
from paperfs.index.base import FiledLookups, Keep
from paperfs.index.model import Hit, User

if TYPE_CHECKING:
    from paperfs.search.tree import Node

__all__ = ["Catalog", "CatalogEntry"]


@dataclass(slots=True)
class CatalogEntry:
    """A document as WebDAV shows it: its name parts, ETag and change time."""

    id: int
    title: str
    created: dt.date
    added: dt.datetime
    #: archive-relative path without suffix
    path: str
    correspondent: str | None
    document_type: str | None
    asn: int | None
    #: the archive PDF's SHA-256 (the ETag)
    sha256: str
    #: when the metadata last changed (the sidecar's mtime), seconds
    mtime: float
    #: None until known (listings do not carry them; single lookups do)
    owner: str | None = None
    permissions: Permissions | None = None


class Catalog(FiledLookups):
    """Exact lookups (the writer's ``FiledLookups`` and WebDAV's), always local."""

    @abc.abstractmethod
    def entry(self, doc_id: int) -> CatalogEntry | None:
        """The document with its owner and permissions (not checked against a user)."""

    @abc.abstractmethod
    def entry_by_path(self, path: str) -> CatalogEntry | None:
        """Like ``entry``, by archive-relative path without suffix."""

    @abc.abstractmethod
    def entries(self, ids: list[int]) -> dict[int, CatalogEntry]:
        """``entry`` of many documents in one lookup (those that exist)."""

    @abc.abstractmethod
    def stream(self, node: "Node", user: User,
               keep: Keep | None = None) -> Iterator[CatalogEntry]:
        """Every document matching ``node`` that ``user`` may view, by (created, id),
        streamed with memory bounded by a page; ``keep`` filters further."""

    @abc.abstractmethod
    def first(self, node: "Node", user: User, keep: Keep | None = None) -> Hit | None:
        """One document matching ``node`` (and ``keep``) that ``user`` may view, or None
        (does a folder exist?)."""

    @abc.abstractmethod
    def any_visible_under(self, folder: str, user: User) -> bool:
        """Whether archive/<folder>/ holds (at any depth) a document ``user`` may view."""
