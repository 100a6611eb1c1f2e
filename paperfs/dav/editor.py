"""Every change WebDAV makes to documents, with the permission checks.

Changes go through the writer (paperfs/archive/writer.py): in ``paperfs run``
the daemon's own, which applies them at once (the pair moves if its path
template says so); beside a running daemon (``paperfs dav``) a hand-off that
rewrites the sidecar or moves the files, which the daemon then applies like a
hand edit, as ``paperfs edit`` does.

Permissions and locks are checked on the sidecar as it is when the change is
made (the writer runs the checks on the document it is about to change), not
on what a listing showed a moment before: a document locked by someone else
(under any of its addresses) is changed only by a request that submits the
lock's token (423 otherwise).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, TypeVar

from wsgidav.dav_error import HTTP_BAD_REQUEST, DAVError

from paperfs.access.permissions import check_edit, may_change, may_view
from paperfs.archive.document import Document, loads
from paperfs.archive.versions import EditRequest, Output, submit
from paperfs.archive.writer import DocumentWriter
from paperfs.dav.context import Ctx, forbidden, not_found
from paperfs.errors import NotFoundError, SidecarError
from paperfs.index.model import User

log = logging.getLogger(__name__)

T = TypeVar("T")
Change = Callable[[Document], Document]


def _visible(user: User, doc: Document, path: str) -> None:
    """A document the user may not view is a missing one (404)."""
    if not may_view(user, doc):
        raise not_found(path)


def _or_not_found(path: str, call: Callable[[], T], checked: list[bool]) -> T:
    """``call()``; a document that is not there, or whose sidecar cannot be read
    before any check ran (``checked`` stays empty), is 404."""
    try:
        return call()
    except NotFoundError:
        raise not_found(path) from None
    except (OSError, SidecarError):
        if checked:
            raise
        raise not_found(path) from None


def _changeable(ctx: Ctx, doc_id: int, verb: str, checked: list[bool]
                ) -> Callable[[Document], None]:
    """The check that the asking user may *verb* the document and that no one else
    holds a lock on it (404 if he may not see it, 403, 423)."""
    def check(doc: Document) -> None:
        checked.append(True)
        _visible(ctx.user, doc, f"/by-id/{doc_id}.pdf")
        if not may_change(ctx.user, doc):
            raise forbidden(f"you may view this document but not {verb} it")
        ctx.check_unlocked(doc_id)

    return check


class Editor:
    def __init__(self, writer: DocumentWriter) -> None:
        self.writer = writer

    # ------------------------------------------------------------ metadata

    def update(self, ctx: Ctx, doc_id: int, change: Change) -> Document:
        """Change a document's metadata if the asking user may (403 when he may only
        view it, 423 when someone else locked it)."""
        user = ctx.user
        path = f"/by-id/{doc_id}.pdf"
        checked: list[bool] = []

        def checked_change(doc: Document) -> Document:
            checked.append(True)
            _visible(user, doc, path)
            new = change(doc)
            why = check_edit(user, doc, new)
            if why:
                raise forbidden(why)
            if not new.metadata_equals(doc):
                ctx.check_unlocked(doc_id)
            return new

        edited = _or_not_found(path, lambda: self.writer.update(doc_id, checked_change),
                               checked)
        if not edited.applied:
            log.info("doc %d: sidecar changed by %s over WebDAV", doc_id, user.name)
        return edited.doc

    def put_sidecar(self, ctx: Ctx, rel: str, text: str) -> str:
        """A sidecar uploaded over /archive: validated, then applied like a hand edit."""
        user = ctx.user
        where = f"archive/{rel}.yml"
        try:
            new = loads(text, where)
        except SidecarError as exc:
            raise DAVError(HTTP_BAD_REQUEST, f"not applied: {exc}") from None
        checked: list[bool] = []

        def check(doc: Document) -> None:
            checked.append(True)
            _visible(user, doc, f"/by-id/{doc.id}.pdf")
            if (new.id, new.original, new.archive) != (doc.id, doc.original, doc.archive):
                raise forbidden("id, original and archive are maintained by paperfs; "
                                "undo the change to these fields")
            why = check_edit(user, doc, new)
            if why:
                raise forbidden(why)
            ctx.check_unlocked(doc.id)

        outcome = _or_not_found("/" + where, lambda: self.writer.put_sidecar(rel, text, check),
                                checked)
        log.info("%s: sidecar uploaded by %s: %s", where, user.name, outcome)
        return outcome

    # ------------------------------------------------------------ versions

    def put_version(self, ctx: Ctx, doc_id: int, pdf: Path) -> None:
        """A PDF uploaded over a document (in a request folder): checked on the document
        as it is now (may change it, not locked by someone else), then submitted as a
        page-edit request that the writer carries out (archive/versions.py)."""
        checked: list[bool] = []
        seen: list[Document] = []
        check = _changeable(ctx, doc_id, "change", checked)

        def unchanged(doc: Document) -> Document:
            check(doc)
            seen.append(doc)
            return doc  # unchanged metadata: nothing is written

        _or_not_found(f"/by-id/{doc_id}.pdf", lambda: self.writer.update(doc_id, unchanged),
                      checked)
        submit(EditRequest(pdf.parent, doc_id, seen[-1].archive.sha256, "upload",
                           ctx.user.name, (Output(pdf.name, None),)))
        log.info("doc %d: new version uploaded by %s over WebDAV", doc_id, ctx.user.name)

    # ------------------------------------------------------------ trash

    def trash(self, ctx: Ctx, doc_id: int) -> None:
        checked: list[bool] = []
        check = _changeable(ctx, doc_id, "delete", checked)
        _or_not_found(f"/by-id/{doc_id}.pdf",
                      lambda: self.writer.trash(doc_id, ctx.user.name, check), checked)

    @staticmethod
    def _may_change_trashed(user: User, doc_id: int) -> Callable[[Document], None]:
        def check(doc: Document) -> None:
            _visible(user, doc, f"/trash/{doc_id}")
            if not may_change(user, doc):
                raise forbidden("you may view this document but not restore or delete it")

        return check

    def restore(self, ctx: Ctx, doc_id: int, change: Change | None = None) -> str:
        """Move a document out of the trash; ``change`` (e.g. add a tag) is applied too.
        (A document in the trash has no locks: they were dropped when it was deleted.)"""
        check = self._may_change_trashed(ctx.user, doc_id)
        try:
            return self.writer.restore(doc_id, check, change)
        except NotFoundError:
            raise not_found(f"/trash/{doc_id}") from None

    def purge(self, ctx: Ctx, doc_id: int) -> None:
        check = self._may_change_trashed(ctx.user, doc_id)
        try:
            self.writer.purge(doc_id, check)
        except NotFoundError:
            raise not_found(f"/trash/{doc_id}") from None
