"""/trash: deleted documents the user may view.

MOVE a document out (anywhere but /inbox) restores it; when the destination
is a tag, correspondent or type folder, that change is applied too. DELETE
in /trash deletes for good. MOVE into /trash (from any folder) deletes.
Trashed documents cannot be locked, renamed or have properties set.
"""

from __future__ import annotations

import os
from typing import Any, Iterator

from wsgidav import util
from wsgidav.dav_provider import DAVNonCollection

from paperfs.dav import names
from paperfs.dav.base import BLOCK, PDF_TYPE, Collection, DocFile, Props
from paperfs.dav.context import forbidden, not_found
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


class TrashDoc(Props, DAVNonCollection):
    def __init__(self, path: str, environ: dict, entry: TrashEntry, folder: TrashFolder,
                 name: str) -> None:
        super().__init__(path, environ)
        self.entry = entry
        self.folder = folder
        self.name = name

    def get_content_length(self) -> int:
        try:
            return os.stat(self.entry.pdf).st_size
        except FileNotFoundError:
            return 0

    def get_content_type(self) -> str:
        return PDF_TYPE

    def get_creation_date(self) -> float:
        return self.entry.deleted_at.timestamp()

    def get_display_name(self) -> str:
        return self.name

    def get_etag(self) -> str:
        return self.entry.archive_sha256

    def get_last_modified(self) -> float:
        return self.entry.modified.timestamp()

    def support_etag(self) -> bool:
        return True

    def support_ranges(self) -> bool:
        return True

    def get_content(self) -> Any:
        try:
            return open(self.entry.pdf, "rb", buffering=BLOCK)
        except FileNotFoundError:
            raise not_found(self.path) from None

    def prevent_locking(self) -> bool:
        return True

    def set_property_value(self, name: str, value: Any, *, dry_run: bool = False) -> Any:
        raise forbidden("documents in the trash cannot be changed; restore them first")

    def begin_write(self, *, content_type: str | None = None) -> Any:
        raise forbidden("documents in the trash cannot be changed; restore them first")

    def handle_delete(self) -> bool:
        ctx = self.ctx
        ctx.services.editor.purge(ctx, self.entry.id)
        return True

    def handle_copy(self, dest_path: str, *, depth_infinity: bool) -> bool:
        raise forbidden("documents in the trash cannot be copied; move them out to restore")

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

