"""The backend-neutral index interface.

Every backend (embedded SQLite, Apache Solr) implements this; the contract
tests in tests/index_contract.py run against each.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Iterable, Iterator

from paperfs.document import Document


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
