"""/mail/<id>/: a mail and its attachments, side by side (docs/webdav.md).

<id> is the id of the mail document or of any of its attachments: the folder
lists the mail's PDF and the PDF of every attachment the user may view,
named as in every document folder. The links come from the sidecars' ``mail``
field (mail_documents/links.py), read when the folder is opened. ``/mail/``
itself is not listed (like /by-id: one folder per mail would be too many);
a document's id is in its sidecar and in ``paperfs show``.
"""

from __future__ import annotations

import re
from typing import Iterator

from paperfs.archive.document import read_sidecar
from paperfs.dav import names
from paperfs.dav.base import Collection
from paperfs.dav.catalog import DocEntry
from paperfs.dav.virtual import DocFolder
from paperfs.errors import SidecarError
from paperfs.mail_documents.links import of_document


class MailRoot(Collection):
    def get_member(self, name: str) -> "MailFolder | None":
        if not re.fullmatch(r"[1-9][0-9]{0,17}", name):
            return None
        ctx = self.ctx
        entry = ctx.catalog.get(int(name), ctx.user)
        link = self._link(entry)
        if entry is None or link is None:
            return None
        mail_id = entry.id if link.get("role") == "mail" else link.get("of")
        mail = ctx.catalog.get(mail_id, ctx.user) if isinstance(mail_id, int) else None
        mail_link = self._link(mail)
        if mail is None or mail_link is None:
            return None
        ids = [i for i in mail_link.get("attachments") or () if isinstance(i, int)]
        return MailFolder(f"{self.path}/{name}", self.environ, (mail.id, *ids))

    def _link(self, entry: DocEntry | None):  # noqa: ANN202
        if entry is None:
            return None
        sidecar = self.ctx.services.root.archive / f"{entry.path}.yml"
        try:
            return of_document(read_sidecar(sidecar).extra)
        except (OSError, SidecarError):
            return None


class MailFolder(DocFolder):
    """The mail document first, then its attachments: those the user may view."""

    def __init__(self, path: str, environ: dict, ids: tuple[int, ...]) -> None:
        super().__init__(path, environ)
        self.ids = ids

    def _entries(self) -> list[DocEntry]:
        ctx = self.ctx
        found = (ctx.catalog.get(doc_id, ctx.user) for doc_id in self.ids)
        return sorted((e for e in found if e is not None), key=lambda e: (e.created, e.id))

    def named_members(self) -> Iterator[tuple[str, DocEntry]]:
        return names.assign(self._entries(), max_bytes=self.ctx.services.max_name_bytes)

    def _named(self, node, *, exact: bool = False):  # noqa: ANN001, ANN202 - no query here
        return self.named_members()

    def first(self):  # noqa: ANN201
        return next(iter(self._entries()), None)

    def get_member(self, name: str):  # noqa: ANN201
        key = name.casefold()
        for listed, entry in self.named_members():
            if listed.casefold() == key:
                return self._file(listed, entry)
        return None
