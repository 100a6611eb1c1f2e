"""The wsgidav provider: resolves a path, per user, with one small class per folder level."""

from __future__ import annotations

import os
from typing import Any, Callable, Iterator
from urllib.parse import unquote, urlsplit

from wsgidav.dav_provider import DAVProvider

from paperfs.dav import inbox
from paperfs.dav.base import Collection, DocFile
from paperfs.dav.context import Services, ctx_of, forbidden
from paperfs.dav.labels_file import LABELS_NAME, LabelsYml, may_see
from paperfs.dav.mail_folder import MailRoot
from paperfs.dav.trash_folder import TrashDoc, TrashFolder
from paperfs.dav.tree import ArchiveFolder, ArchiveNote, ArchiveSidecar
from paperfs.dav.virtual import (AsnRoot, ByIdRoot, CorrespondentsRoot, SavedRoot, SearchRoot,
                                 TagsRoot, TypesRoot, YearsRoot)

TOP = ("inbox", "archive", "tags", "correspondents", "types", "years", "saved", "search",
       "asn", "by-id", "mail", "trash")
_VIRTUAL: dict[str, type[Collection]] = {
    "tags": TagsRoot, "correspondents": CorrespondentsRoot, "types": TypesRoot,
    "years": YearsRoot, "saved": SavedRoot, "search": SearchRoot, "asn": AsnRoot,
    "by-id": ByIdRoot, "trash": TrashFolder,
    "mail": MailRoot,
}
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PROPFIND"})


class RootFolder(Collection):
    def __init__(self, environ: dict) -> None:
        super().__init__("/", environ, "")

    def iter_members(self) -> Iterator[Any]:
        for name in (*TOP, LABELS_NAME):
            member = self.provider.get_resource_inst("/" + name, self.environ)
            if member is not None:
                yield member

    def create_empty_resource(self, name: str) -> Any:
        """A superuser's PUT of /labels.yml where there is none yet."""
        if name == LABELS_NAME and may_see(self.environ) \
                and self.environ.get("REQUEST_METHOD") == "PUT":
            return LabelsYml(self.environ)
        return super().create_empty_resource(name)


class PaperfsProvider(DAVProvider):
    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services

    def __repr__(self) -> str:
        return f"PaperfsProvider({self.services.root.root})"

    def is_readonly(self) -> bool:
        return False

    # ------------------------------------------------------------ resolving

    def get_resource_inst(self, path: str, environ: dict) -> Any:
        ctx = environ.get("paperfs.ctx")
        if ctx is None:
            return None
        parts = [p for p in path.split("/") if p]
        if not parts:
            return RootFolder(environ)
        top, rest = parts[0], parts[1:]
        if top == "inbox":
            return inbox.resolve(ctx, rest, environ)
        if top == LABELS_NAME:
            if rest or not may_see(environ) or not ctx.services.root.labels_file.exists():
                return None
            return LabelsYml(environ)
        if top == "archive":
            node: Any = ArchiveFolder("/archive", environ, "")
        elif top in _VIRTUAL:
            node = _VIRTUAL[top]("/" + top, environ)
        else:
            return None
        for name in rest:
            if node is None or not node.is_collection:
                return None
            node = node.get_member(name)
        return node

    def inbox_fs_path(self, path: str, environ: dict) -> str:
        """The file behind /inbox/<…> for the asking user (inside his upload area)."""
        ctx = ctx_of(environ)
        home = str(self.services.uploads.home(ctx.user.name))
        parts = [p for p in path.split("/") if p][1:]
        if any(p in (".", "..") or "\x00" in p for p in parts):
            raise forbidden("invalid path")
        fs = os.path.join(home, *parts)
        real_home = os.path.realpath(home)
        parent = os.path.realpath(os.path.dirname(fs)) if parts else real_home
        if parent != real_home and not parent.startswith(real_home + os.sep):
            raise forbidden("invalid path")
        return fs

    def ref_url_to_path(self, ref_url: str) -> str:
        path = "/" + unquote(ref_url).lstrip("/")
        if path.startswith(inbox.USER_REF):
            rest = path[len(inbox.USER_REF):]
            path = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
        return path

    # ------------------------------------------------------------ per request

    def custom_request_handler(self, environ: dict, start_response: Callable,
                               default_handler: Callable) -> Any:
        method = environ["REQUEST_METHOD"]
        path = environ["PATH_INFO"]
        if method not in READ_METHODS:
            self._note_inbox_activity(environ, path)
        if method in ("LOCK", "PROPPATCH"):
            res = self.get_resource_inst(path, environ)
            if isinstance(res, (DocFile, ArchiveSidecar)) and not res.may_change():
                raise forbidden("you may view this document but not change or lock it")
        elif method == "PUT":
            res = self.get_resource_inst(path, environ)
            if isinstance(res, (DocFile, TrashDoc, ArchiveNote)):
                res.begin_write()  # raises 403 with the reason
        return default_handler(environ, start_response)

    def _note_inbox_activity(self, environ: dict, path: str) -> None:
        uploads = self.services.uploads
        targets = [path]
        destination = environ.get("HTTP_DESTINATION")
        if destination:
            targets.append(unquote(urlsplit(destination).path))
        for target in targets:
            if target == "/inbox" or target.startswith("/inbox/"):
                try:
                    uploads.touch(self.inbox_fs_path(target, environ))
                except Exception:  # noqa: BLE001 - bookkeeping only; the request decides
                    pass


