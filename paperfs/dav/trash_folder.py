"""/trash: deleted documents the user may view.

MOVE a document out (anywhere but /inbox) restores it; when the destination
is a tag, correspondent or type folder, that change is applied too. DELETE
in /trash deletes for good. MOVE into /trash (from any folder) deletes.
Trashed documents cannot be locked, renamed or have properties set.
"""

from __future__ import annotations

from typing import Iterator

from wsgidav import util

from paperfs.dav import names
from paperfs.dav.base import PDF_TYPE, Collection, DocFile, ReadOnlyFile
from paperfs.dav.context import forbidden
from paperfs.access.permissions import can_view
from paperfs.archive.trash import TrashEntry


class TrashFolder(Collection):
    def _named(self) -> Iterator[tuple[str, TrashEntry]]:
        ctx = self.ctx
        visible = [e for e in ctx.services.trash.entries()
                   if can_view(ctx.user, e.owner, e.permissions)]
        visible.sort(key=lambda e: (e.created, e.id))
        return names.assign(visible, max_bytes=ctx.services.max_name_bytes)

    def iter_members(self) -> Iterator["TrashDoc"]:
        for name, entry in self._named():
            yield TrashDoc(util.join_uri(self.path, name), self.environ, entry, self, name)

    def get_member(self, name: str) -> "TrashDoc | None":
        key = name.casefold()
        for listed, entry in self._named():
            if listed.casefold() == key:
                return TrashDoc(util.join_uri(self.path, listed), self.environ, entry, self,
                                listed)
        return None

    def receive(self, doc: DocFile, name: str, *, move: bool) -> None:
        """MOVE into /trash: delete (to the trash)."""
        if not move:
            raise forbidden("copy into /trash is not possible; move or delete the document")
        ctx = self.ctx
        ctx.services.editor.trash(ctx, doc.entry.id)
        doc.forget()


class TrashDoc(ReadOnlyFile):
    content_type = PDF_TYPE
    refuse_props = refuse_write = "documents in the trash cannot be changed; restore them first"
    refuse_copy = "documents in the trash cannot be copied; move them out to restore"

    def __init__(self, path: str, environ: dict, entry: TrashEntry, folder: TrashFolder,
                 name: str) -> None:
        super().__init__(path, environ, name, str(entry.pdf))
        self.entry = entry
        self.folder = folder

    def get_creation_date(self) -> float:
        return self.entry.deleted_at.timestamp()

    def get_etag(self) -> str:
        return self.entry.archive_sha256

    def get_last_modified(self) -> float:
        return self.entry.modified.timestamp()

    def handle_delete(self) -> bool:
        ctx = self.ctx
        ctx.services.editor.purge(ctx, self.entry.id)
        return True

    def handle_move(self, dest_path: str) -> bool:
        """Restore; then apply what the destination folder means."""
        from paperfs.dav.inbox import InboxFolder
        from paperfs.dav.virtual import FacetFolder

        parent = self.provider.get_resource_inst(util.get_uri_parent(dest_path), self.environ)
        if isinstance(parent, TrashFolder):
            raise forbidden("documents in the trash cannot be renamed")
        if parent is None or isinstance(parent, InboxFolder):
            raise forbidden("move the document to /archive/ (or a tag folder) to restore it")
        ctx = self.ctx
        change = parent.set_change() if isinstance(parent, FacetFolder) else None
        ctx.services.editor.restore(ctx, self.entry.id, change)
        return True

