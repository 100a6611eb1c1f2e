"""The writer interface: every change to a data root goes through one of these methods.

``DocumentWriter`` is what a user's changes need (WebDAV, ``paperfs edit``):
edit a document's metadata (the pair moves if its path template says so),
apply an uploaded sidecar, move a document into the trash, restore it,
delete it for good. ``Writer`` adds what consuming and keeping the data root
need: file or fail a job, resume one after a crash, apply a hand edit, expire
the trash, the index's housekeeping, the start-up recovery.

Implementations today, both in-process:

* ``LocalWriter``: the one writer of a data root (its process holds the writer
  lock). The consumer's loop, the scheduler and WebDAV request threads share
  it; a re-entrant lock makes their changes happen one at a time, as if there
  were one writer thread, and each change updates the index at once.
* ``HandOffWriter``: a process beside a running daemon (``paperfs dav`` alone,
  ``paperfs edit`` while the daemon runs). It changes files only — rewrites a
  sidecar, moves a pair into or out of the trash — and the daemon's archive
  watcher applies them like hand edits.

A queue-based writer (scale-out) implements the same methods. Their ``change``
and ``check`` arguments are functions of the document as it is now (``check``
raises to refuse): such a writer runs them where the sidecar is read, in the
caller's process, and sends the result with the version it was read at,
retrying when another change came first.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from paperfs.archive.atomic import atomic_write_text
from paperfs.archive.document import Document, read_sidecar, write_sidecar
from paperfs.archive.layout import DataRoot
from paperfs.archive.recovery import recover
from paperfs.archive.storage import storage_errors
from paperfs.archive.trash import Trash
from paperfs.archive.versions import remove_versions, version_folders
from paperfs.errors import ConsumeError, NotFoundError
from paperfs.index.base import FiledLookups

if TYPE_CHECKING:
    from paperfs.archive.store import Archive
    from paperfs.archive.versions import EditRequest
    from paperfs.consume.jobs import Job

T = TypeVar("T")
Change = Callable[[Document], Document]
Check = Callable[[Document], None]
YML = ".yml"


@dataclass(frozen=True)
class Edited:
    """A document after a change of its metadata."""

    doc: Document
    #: its path in archive/, without suffix
    path: str
    #: False: handed to the running daemon, which applies it (HandOffWriter)
    applied: bool


class DocumentWriter(ABC):
    """The changes a user makes to filed documents."""

    @abstractmethod
    def update(self, doc_id: int, change: Change) -> Edited:
        """Change a document's metadata; unchanged metadata writes nothing."""

    @abstractmethod
    def put_sidecar(self, rel: str, text: str, check: Check) -> str:
        """Replace the sidecar archive/<rel>.yml with *text* (already validated) if
        *check* passes on the current document; returns what happened
        (``Archive.sidecar_changed``'s outcome, or "written")."""

    @abstractmethod
    def trash(self, doc_id: int, by: str, check: Check) -> None:
        """Move a document into the trash."""

    @abstractmethod
    def restore(self, doc_id: int, check: Check, change: Change | None = None) -> str:
        """Move a document out of the trash (and apply *change*); returns its path."""

    @abstractmethod
    def purge(self, doc_id: int, check: Check) -> None:
        """Delete a trashed document for good, with its original."""

    @abstractmethod
    def recover_trash(self) -> int:
        """Complete moves into or out of the trash that a crash interrupted."""


class Writer(DocumentWriter):
    """The one writer of a data root: everything a user changes, and consuming."""

    @abstractmethod
    def file(self, job: "Job", done: Any) -> Any:
        """File the documents proposed for a job (``Archive.commit``): returns the
        updated job and each filed document with its archive path."""

    @abstractmethod
    def resume(self, job: "Job") -> bool:
        """Finish a job that was filed or failed before a crash; False: not yet."""

    @abstractmethod
    def fail(self, job: "Job", error: ConsumeError) -> Path:
        """Move a job's input to failed/ with the reason beside it."""

    @abstractmethod
    def sidecar_changed(self, sidecar: Path) -> str:
        """Apply a sidecar that changed on disk (a hand edit)."""

    @abstractmethod
    def expire_trash(self, days: float) -> int:
        """Delete for good what was trashed more than *days* ago; returns how many."""

    @abstractmethod
    def maintain_index(self) -> None:
        """The index's housekeeping (champion lists)."""

    @abstractmethod
    def recover(self) -> None:
        """Bring the tree and the index to a consistent state after a stop or a crash."""

    @abstractmethod
    def commit_edit(self, request: "EditRequest", texts: Any) -> Document:
        """Make a page edit's new PDF the document's current version, the one before
        kept (``versions.commit_edit``: journaled, rolled back after a crash)."""


class _DirectWriter(DocumentWriter):
    """The user's changes made on the files of this data root, in this process."""

    def __init__(self, root: DataRoot) -> None:
        self.root = root
        self.trash_can = Trash(root)

    @abstractmethod
    def _run(self, operation: Callable[["Archive | None"], T]) -> T:
        """``operation(archive)``: with this process's Archive, or None (no writer
        here: only files change)."""

    @abstractmethod
    def _lookups(self) -> FiledLookups:
        """Where documents are looked up (the catalog; opened on first use)."""

    def _sidecar(self, rel: str) -> Path:
        return self.root.archive / (rel + YML)

    def _current(self, archive: "Archive | None", doc_id: int) -> tuple[Document, str]:
        if archive is not None:
            return archive.load(doc_id)
        ref = self._lookups().ref(doc_id)
        if ref is None:
            raise NotFoundError(f"no document with id {doc_id}")
        return read_sidecar(self._sidecar(ref.path)), ref.path

    def update(self, doc_id: int, change: Change) -> Edited:
        def operation(archive: "Archive | None") -> Edited:
            if archive is not None:
                doc = archive.update(doc_id, change)
                ref = archive.index.ref(doc_id)
                assert ref is not None
                return Edited(doc, ref.path, applied=True)
            doc, rel = self._current(None, doc_id)
            new = change(doc)
            if new.metadata_equals(doc):
                return Edited(doc, rel, applied=False)
            with storage_errors():
                write_sidecar(self._sidecar(rel), new)  # the daemon applies it
            return Edited(new, rel, applied=False)

        return self._run(operation)

    def put_sidecar(self, rel: str, text: str, check: Check) -> str:
        def operation(archive: "Archive | None") -> str:
            ref = self._lookups().ref_by_path(rel)
            if ref is None:
                raise NotFoundError(f"archive/{rel}{YML} is not a filed document's sidecar")
            check(self._current(archive, ref.id)[0])
            path = self._sidecar(rel)
            atomic_write_text(path, text)
            if archive is None:
                return "written"  # the daemon applies it
            return archive.sidecar_changed(path)

        return self._run(operation)

    def trash(self, doc_id: int, by: str, check: Check) -> None:
        def operation(archive: "Archive | None") -> None:
            doc, rel = self._current(archive, doc_id)
            check(doc)
            self.trash_can.put(archive, doc_id, rel, by)

        self._run(operation)

    def _trashed(self, doc_id: int, check: Check) -> None:
        entry = self.trash_can.get(doc_id)
        if entry is None:
            raise NotFoundError(f"document {doc_id} is not in the trash")
        check(read_sidecar(entry.sidecar))

    def restore(self, doc_id: int, check: Check, change: Change | None = None) -> str:
        def operation(archive: "Archive | None") -> str:
            self._trashed(doc_id, check)
            rel = self.trash_can.restore(archive, doc_id)
            if change is not None:
                if archive is not None:
                    archive.update(doc_id, change)
                else:
                    sidecar = self._sidecar(rel)
                    write_sidecar(sidecar, change(read_sidecar(sidecar)))
            return rel

        return self._run(operation)

    def purge(self, doc_id: int, check: Check) -> None:
        def operation(archive: "Archive | None") -> None:
            self._trashed(doc_id, check)
            self.trash_can.purge(doc_id)
            remove_versions(self.root, doc_id)

        self._run(operation)

    def recover_trash(self) -> int:
        return self._run(self.trash_can.recover)


class HandOffWriter(_DirectWriter):
    """Beside a running daemon: files change here, the daemon applies them.

    ``catalog`` gives the catalog to look documents up in (WebDAV: the request
    thread's own connection)."""

    def __init__(self, root: DataRoot, catalog: Callable[[], FiledLookups]) -> None:
        super().__init__(root)
        self.catalog = catalog

    def _run(self, operation: Callable[["Archive | None"], T]) -> T:
        return operation(None)

    def _lookups(self) -> FiledLookups:
        return self.catalog()


class LocalWriter(_DirectWriter, Writer):
    """The writer of a data root in this process, shared by its threads."""

    def __init__(self, archive: "Archive") -> None:
        super().__init__(archive.root)
        self.archive = archive
        self.lock = threading.RLock()
        #: told the ids of documents whose metadata changed (an edit, a hand edit), after
        #: the change and outside the lock: the daemon's document_updated workflows
        self.listeners: list[Callable[[list[int]], None]] = []

    def _run(self, operation: Callable[["Archive"], T]) -> T:  # type: ignore[override]
        with self.lock, storage_errors(self.root.index_db):  # SQLite's errors name no file
            result = operation(self.archive)
            changed, self.archive.changed[:] = list(self.archive.changed), []
        if changed:
            for listener in self.listeners:
                listener(changed)
        return result

    def _lookups(self) -> FiledLookups:
        return self.archive.index

    def file(self, job: "Job", done: Any) -> Any:
        return self._run(lambda archive: archive.commit(job, done))

    def resume(self, job: "Job") -> bool:
        return self._run(lambda archive: archive.resume(job))

    def fail(self, job: "Job", error: ConsumeError) -> Path:
        return self._run(lambda archive: archive.fail(job, error))

    def sidecar_changed(self, sidecar: Path) -> str:
        return self._run(lambda archive: archive.sidecar_changed(sidecar))

    def expire_trash(self, days: float) -> int:
        def operation(archive: "Archive") -> int:
            expired = self.trash_can.expire(days)
            if expired:  # their earlier versions go too
                for doc_id in version_folders(self.root):
                    if archive.index.ref(doc_id) is None and self.trash_can.get(doc_id) is None:
                        remove_versions(self.root, doc_id)
            return expired

        return self._run(operation)

    def maintain_index(self) -> None:
        # Under the writer's lock: WebDAV edits wait (seconds at 100k documents, once
        # per tenth of growth) instead of sharing the writer's connection.
        self._run(lambda archive: archive.index.maintain())

    def recover(self) -> None:
        self._run(recover)

    def commit_edit(self, request: "EditRequest", texts: Any) -> Document:
        from paperfs.archive.versions import commit_edit

        return self._run(lambda archive: commit_edit(archive, request, texts))

    def close(self) -> None:
        self.archive.index.close()
