"""Every change WebDAV makes to documents, with the permission checks.

With the writer in this process (``paperfs run``) changes go through
``LockedWriter`` and are applied at once (the pair moves if its path
template says so). Without it (``paperfs dav`` next to a daemon) the sidecar
is rewritten and the daemon applies it like a hand edit, as ``paperfs edit``
does; deleting and restoring move files the daemon's watcher picks up.

Permissions and locks are checked on the sidecar as it is when the change is
made (inside the writer's lock), not on what a listing showed a moment
before: a document locked by someone else (under any of its addresses) is
changed only by a request that submits the lock's token (423 otherwise).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from wsgidav.dav_error import HTTP_BAD_REQUEST, DAVError

from paperfs.archive.atomic import atomic_write_text
from paperfs.dav.context import Ctx, forbidden, not_found
from paperfs.archive.document import Document, loads, read_sidecar, write_sidecar
from paperfs.errors import NotFoundError, SidecarError
from paperfs.index.base import Index
from paperfs.index.model import User
from paperfs.archive.layout import DataRoot
from paperfs.access.permissions import check_edit, may_change, may_view
from paperfs.archive.trash import Trash

if TYPE_CHECKING:
    from paperfs.archive.store import Archive
    from paperfs.archive.writer import LockedWriter

log = logging.getLogger(__name__)

Change = Callable[[Document], Document]


class Editor:
    def __init__(self, root: DataRoot, writer: "LockedWriter | None", trash: Trash) -> None:
        self.root = root
        self.writer = writer
        self.trash_can = trash

    def _sidecar(self, rel: str) -> Path:
        return self.root.archive / (rel + ".yml")

    def _current(self, index: Index, doc_id: int, user: User) -> tuple[Document, str]:
        ref = index.ref(doc_id)
        if ref is None:
            raise not_found(f"/by-id/{doc_id}.pdf")
        try:
            doc = read_sidecar(self._sidecar(ref.path))
        except (OSError, SidecarError):
            raise not_found(f"/by-id/{doc_id}.pdf") from None
        if not may_view(user, doc):
            raise not_found(f"/by-id/{doc_id}.pdf")
        return doc, ref.path

    def _run(self, index: Index, operation: Callable[["Archive | None", Index], object]) -> object:
        if self.writer is not None:
            return self.writer.run(lambda archive: operation(archive, archive.index))
        return operation(None, index)

    # ------------------------------------------------------------ metadata

    def update(self, ctx: Ctx, doc_id: int, change: Change) -> Document:
        """Change a document's metadata if the asking user may (403 when he may only
        view it, 423 when someone else locked it)."""
        user = ctx.user

        def operation(archive: "Archive | None", idx: Index) -> Document:
            doc, rel = self._current(idx, doc_id, user)
            new = change(doc)
            why = check_edit(user, doc, new)
            if why:
                raise forbidden(why)
            if new.metadata_equals(doc):
                return doc
            ctx.check_unlocked(doc_id)
            if archive is not None:
                try:
                    return archive.update(doc_id, lambda _d: new)
                except NotFoundError:
                    raise not_found(f"/by-id/{doc_id}.pdf") from None
            write_sidecar(self._sidecar(rel), new)  # the daemon applies it
            log.info("doc %d: sidecar changed by %s over WebDAV", doc_id, user.name)
            return new

        return self._run(ctx.index, operation)  # type: ignore[return-value]

    def put_sidecar(self, ctx: Ctx, rel: str, text: str) -> str:
        """A sidecar uploaded over /archive: validated, then applied like a hand edit."""
        user = ctx.user
        where = f"archive/{rel}.yml"
        try:
            new = loads(text, where)
        except SidecarError as exc:
            raise DAVError(HTTP_BAD_REQUEST, f"not applied: {exc}") from None

        def operation(archive: "Archive | None", idx: Index) -> str:
            ref = idx.ref_by_path(rel)
            if ref is None:
                raise not_found("/archive/" + rel + ".yml")
            doc, _ = self._current(idx, ref.id, user)
            if (new.id, new.original, new.archive) != (doc.id, doc.original, doc.archive):
                raise forbidden("id, original and archive are maintained by paperfs; "
                                "undo the change to these fields")
            why = check_edit(user, doc, new)
            if why:
                raise forbidden(why)
            ctx.check_unlocked(doc.id)
            path = self._sidecar(rel)
            atomic_write_text(path, text)
            if archive is None:
                return "written"  # the daemon applies it
            return archive.sidecar_changed(path)

        outcome = self._run(ctx.index, operation)
        log.info("%s: sidecar uploaded by %s: %s", where, user.name, outcome)
        return str(outcome)

    # ------------------------------------------------------------ trash

    def trash(self, ctx: Ctx, doc_id: int) -> None:
        user = ctx.user

        def operation(archive: "Archive | None", idx: Index) -> None:
            doc, rel = self._current(idx, doc_id, user)
            if not may_change(user, doc):
                raise forbidden("you may view this document but not delete it")
            ctx.check_unlocked(doc_id)
            self.trash_can.put(archive, doc_id, rel, user.name)

        self._run(ctx.index, operation)

    def _trashed(self, doc_id: int, user: User) -> Document:
        entry = self.trash_can.get(doc_id)
        if entry is None:
            raise not_found(f"/trash/{doc_id}")
        doc = read_sidecar(entry.sidecar)
        if not may_view(user, doc):
            raise not_found(f"/trash/{doc_id}")
        if not may_change(user, doc):
            raise forbidden("you may view this document but not restore or delete it")
        return doc

    def restore(self, ctx: Ctx, doc_id: int, change: Change | None = None) -> str:
        """Move a document out of the trash; ``change`` (e.g. add a tag) is applied too.
        (A document in the trash has no locks: they were dropped when it was deleted.)"""
        user = ctx.user

        def operation(archive: "Archive | None", idx: Index) -> str:
            self._trashed(doc_id, user)
            rel = self.trash_can.restore(archive, doc_id)
            if change is not None:
                if archive is not None:
                    archive.update(doc_id, change)
                else:
                    sidecar = self._sidecar(rel)
                    write_sidecar(sidecar, change(read_sidecar(sidecar)))
            return rel

        return str(self._run(ctx.index, operation))

    def purge(self, ctx: Ctx, doc_id: int) -> None:
        def operation(archive: "Archive | None", idx: Index) -> None:
            self._trashed(doc_id, ctx.user)
            self.trash_can.purge(doc_id)

        self._run(ctx.index, operation)
