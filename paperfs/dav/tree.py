"""/archive: the real tree, filtered to what the user may view.

A folder is shown only when it holds (at any depth) a document the user may
view: folder names are correspondents, years, titles, and must not hint at
documents he may not see. In a folder: each visible document's PDF
(read-only), its ``.yml`` sidecar (editable: a PUT is validated and applied
like a hand edit) and the ``.paperfs-error.txt`` note of a rejected edit.

The layout follows the path rules, so files are not moved, renamed or
created here: change metadata (sidecar, virtual folders) and paperfs moves
the pair. DELETE of a PDF moves the document to the trash.
"""

from __future__ import annotations

import os
import posixpath
from typing import Any, Iterable, Iterator
from urllib.parse import quote

from lxml import etree
from wsgidav import util
from wsgidav.dav_error import HTTP_REQUEST_ENTITY_TOO_LARGE, DAVError

from paperfs.archive.store import EDIT_ERROR_SUFFIX
from paperfs.dav.base import Collection, DocFile, ReadOnlyFile
from paperfs.dav.catalog import DocEntry
from paperfs.dav.context import forbidden, lock_key, not_found

SIDECAR_MAX_BYTES = 32 * 1024 * 1024
_READ_ONLY = ("the archive's folders and names follow the path rules: documents are not "
              "created, moved or renamed in /archive (upload into /inbox; change "
              "metadata in the .yml sidecar or with the folders under /tags, "
              "/correspondents and /types)")


class ArchiveFolder(Collection):
    def __init__(self, path: str, environ: dict, rel: str) -> None:
        super().__init__(path, environ, "archive" if not rel else None)
        #: folder relative to archive/ ("" for the top)
        self.rel = rel

    @property
    def fs_path(self) -> str:
        return os.path.join(self.ctx.services.root.archive, self.rel)

    def get_last_modified(self) -> float | None:
        try:
            return os.stat(self.fs_path).st_mtime
        except FileNotFoundError:
            return None

    def _rel(self, name: str) -> str:
        return posixpath.join(self.rel, name) if self.rel else name

    def iter_members(self) -> Iterator[Any]:
        ctx = self.ctx
        try:
            entries = sorted(os.scandir(self.fs_path), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                if ctx.catalog.folder_visible(self._rel(name), ctx.user):
                    yield ArchiveFolder(util.join_uri(self.path, name), self.environ,
                                        self._rel(name))
            elif entry.is_file(follow_symlinks=False):
                member = self._file(name)
                if member is not None:
                    yield member

    def _file(self, name: str) -> Any:
        ctx = self.ctx
        for suffix, cls in ((".pdf", ArchivePdf), (".yml", ArchiveSidecar),
                            (EDIT_ERROR_SUFFIX, ArchiveNote)):
            if name.endswith(suffix) and len(name) > len(suffix):
                doc = ctx.catalog.by_path(self._rel(name[:-len(suffix)]), ctx.user)
                if doc is None:
                    return None
                return cls(util.join_uri(self.path, name), self.environ, doc, self, name)
        return None

    def get_member(self, name: str) -> Any:
        if name.startswith(".") or "/" in name:
            return None
        full = os.path.join(self.fs_path, name)
        if os.path.islink(full):
            return None
        if os.path.isdir(full):
            ctx = self.ctx
            if ctx.catalog.folder_visible(self._rel(name), ctx.user):
                return ArchiveFolder(util.join_uri(self.path, name), self.environ,
                                     self._rel(name))
            return None
        if os.path.isfile(full):
            return self._file(name)
        return None

    def create_collection(self, name: str) -> None:
        raise forbidden(_READ_ONLY)

    def create_empty_resource(self, name: str) -> Any:
        if self.environ.get("REQUEST_METHOD") == "LOCK":
            raise not_found(util.join_uri(self.path, name))
        raise forbidden(_READ_ONLY)

    def receive(self, doc: DocFile, name: str, *, move: bool) -> None:
        raise forbidden(_READ_ONLY)


class ArchivePdf(DocFile):
    """A PDF in /archive: the document itself (read-only; DELETE moves it to the trash)."""


class _ArchiveExtra(ReadOnlyFile):
    """A file that belongs to a document: its sidecar or an edit-error note."""

    content_type = "text/plain; charset=utf-8"
    refuse_write = "this file is written by paperfs"
    refuse_delete = "delete the document's .pdf to move the document to the trash"
    refuse_move = _READ_ONLY
    refuse_copy = "this file cannot be copied; copy the document's .pdf"

    def __init__(self, path: str, environ: dict, entry: DocEntry, folder: ArchiveFolder,
                 name: str) -> None:
        super().__init__(path, environ, name, os.path.join(folder.fs_path, name))
        self.entry = entry
        self.folder = folder


class ArchiveNote(_ArchiveExtra):
    """NAME.paperfs-error.txt: why the last hand edit of the sidecar was not applied."""


class TextUpload:
    """A file whose PUT is collected whole in memory, decoded as UTF-8 and handed to
    ``received``: nothing is written before the body is complete and checked."""

    upload_limit = SIDECAR_MAX_BYTES
    upload_what = "a sidecar"  # named in refusals
    _upload: "LimitedBuffer | None" = None

    def begin_write(self, *, content_type: str | None = None) -> Any:
        self._upload = LimitedBuffer(self.upload_limit, self.upload_what)
        return self._upload

    def end_write(self, *, with_errors: bool) -> None:
        upload, self._upload = self._upload, None
        if upload is None or with_errors:
            return
        try:
            text = upload.getvalue().decode("utf-8")
        except UnicodeDecodeError:
            raise self.refusal(f"{self.upload_what} must be UTF-8 text") from None
        self.received(text)

    def refusal(self, message: str) -> DAVError:
        return forbidden(f"{message}; nothing was changed")

    def received(self, text: str) -> None:
        raise NotImplementedError


class ArchiveSidecar(TextUpload, _ArchiveExtra):
    """NAME.yml: editable; an upload is checked and applied like a hand edit.

    It is an address of its document for locking: it shares the document's
    lock (a lock taken on the PDF under any address holds here, and a lock
    taken here holds for the document), but has dead properties of its own.
    """

    content_type = "application/yaml; charset=utf-8"

    def get_ref_url(self) -> str:
        return lock_key(self.entry.id)

    def props_key(self) -> str:
        return quote("/archive/" + self.folder._rel(self.name))

    def may_change(self) -> bool:
        return self.ctx.catalog.can_change(self.entry, self.ctx.user)

    def prevent_locking(self) -> bool:
        return False  # LOCK checks change permission first (provider)

    def set_property_value(self, name: str, value: Any, *, dry_run: bool = False) -> Any:
        if not self.may_change():
            raise forbidden("you may view this document but not change it")
        pm = self.provider.prop_manager
        if pm is None or name.startswith("{DAV:}"):
            raise forbidden(f"{name} cannot be set on a sidecar")
        if value is None:
            return pm.remove_property(self.props_key(), name, dry_run, self.environ)
        return pm.write_property(self.props_key(), name, etree.tostring(value), dry_run,
                                 self.environ)

    def begin_write(self, *, content_type: str | None = None) -> Any:
        if not self.may_change():
            raise forbidden("you may view this document but not change it")
        return super().begin_write(content_type=content_type)

    def received(self, text: str) -> None:
        ctx = self.ctx
        rel = self.folder._rel(self.name[:-len(".yml")])
        outcome = ctx.services.editor.put_sidecar(ctx, rel, text)
        try:
            self._stat = os.stat(self.fs_path)  # the ETag the response announces
        except FileNotFoundError:
            self._stat = None  # moved: its template path changed
        if outcome == "invalid":
            raise forbidden("the edit was not applied; see "
                            f"{self.name[:-4]}{EDIT_ERROR_SUFFIX} beside the sidecar")


class LimitedBuffer:
    """Collects an upload in memory, refusing more than ``limit`` bytes."""

    def __init__(self, limit: int, what: str) -> None:
        self.limit = limit
        self.what = what  # named in the refusal
        self._parts: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> int:
        self._size += len(data)
        if self._size > self.limit:
            raise DAVError(HTTP_REQUEST_ENTITY_TOO_LARGE,
                           f"{self.what} may be at most {self.limit} bytes")
        self._parts.append(bytes(data))
        return len(data)

    def writelines(self, chunks: Iterable[bytes]) -> None:
        for chunk in chunks:
            self.write(chunk)

    def close(self) -> None:
        pass

    def getvalue(self) -> bytes:
        return b"".join(self._parts)
