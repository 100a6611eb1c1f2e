"""What a POST of the web page changes: a document's metadata, uploads, a restore
from the trash, retrying failed files, saving a search, logging out.

Every change goes the way WebDAV's go: metadata and restores through the editor
(paperfs/dav/editor.py: the writer, with the same permission and lock checks on
the document as it is when the change is made), uploads into the user's own
upload area like a PUT into /inbox (paperfs/dav/inbox.py: handed to the consumer
when quiet, with the user as owner). Bad input answers 400 with what to fix;
nothing is changed then. (The CSRF token is checked before any of this runs:
paperfs/web/routing.py.)
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import secrets
from typing import TYPE_CHECKING, Any, Iterable

from wsgidav.dav_error import HTTP_CONFLICT, DAVError

from paperfs.archive.custom_fields import parse_value
from paperfs.archive.document import Document
from paperfs.dav.inbox import UPLOAD_TMP
from paperfs.errors import UsageError
from paperfs.search.syntax_error import QuerySyntaxError
from paperfs.search.saved import check_query, check_saved_name
from paperfs.web import multipart, pages
from paperfs.web.http import BadRequest, Request, StartResponse, redirect, url_of
from paperfs.web.templates import form_stamp

if TYPE_CHECKING:
    from paperfs.web.routing import WebSite

log = logging.getLogger(__name__)

_BAD_NAME = re.compile(r'[\x00-\x1f/\\]')
CHANGED_MEANWHILE = ("This document was changed by someone else since you opened it: "
                     "nothing was saved. Here it is as it is now; make your change again.")


def _optional(text: str) -> str | None:
    text = " ".join(text.split())
    return text or None


def _tags(text: str) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for part in text.split(","):
        tag = " ".join(part.split())
        if tag and tag.casefold() not in seen:
            seen[tag.casefold()] = tag
    return tuple(seen.values())


def metadata_change(site: "WebSite", req: Request) -> Any:
    """The change the form asks for, checked in full before anything is written."""
    title = " ".join(req.field("title").split())
    if not title:
        raise BadRequest("title: a document needs a title")
    try:
        created = dt.date.fromisoformat(req.field("created").strip())
    except ValueError:
        raise BadRequest(f"created: {req.field('created')!r} is not a date like 2024-03-15") from None
    tags = _tags(req.field("tags"))
    correspondent = _optional(req.field("correspondent"))
    document_type = _optional(req.field("document_type"))
    declared = site.services.fields.current().fields
    sets: dict[str, Any] = {}
    removes: list[str] = []
    for name, decl in declared.items():
        key = "field." + name
        if key not in req.form():
            continue
        text = req.field(key).strip()
        if not text:
            removes.append(name)
            continue
        try:
            sets[name] = parse_value(decl, text)
        except ValueError as exc:
            raise BadRequest(f"{name}: {exc}") from None

    stamp = req.field("stamp")

    def change(doc: Document) -> Document:
        if stamp and stamp != form_stamp(doc):  # checked in the writer: nothing in between
            raise DAVError(HTTP_CONFLICT, CHANGED_MEANWHILE)
        values = {k: v for k, v in doc.custom_fields.items() if k not in removes}
        # What the form sent back as it showed it stays exactly as it was: a tag with a
        # comma ("Smith, John", from an import) is not split, a title with two spaces
        # or a line break (a mail's subject) not folded, because another field changed.
        return doc.replace(
            title=doc.title if title == " ".join(doc.title.split()) else title,
            created=created,
            tags=doc.tags if tags == _tags(", ".join(doc.tags)) else tags,
            correspondent=doc.correspondent
            if correspondent == _optional(doc.correspondent or "") else correspondent,
            document_type=doc.document_type
            if document_type == _optional(doc.document_type or "") else document_type,
            custom_fields={**values, **sets})

    return change


def edit(site: "WebSite", req: Request, start_response: StartResponse,
         doc_id: str) -> Iterable[bytes]:
    try:
        change = metadata_change(site, req)
    except BadRequest as exc:  # the form again, with what to fix
        return pages.document(site, req, start_response, doc_id, problem=str(exc),
                              status="400 Bad Request")
    try:
        site.services.editor.update(req.ctx, int(doc_id), change)
    except DAVError as exc:
        if exc.value != HTTP_CONFLICT:
            raise
        return pages.document(site, req, start_response, doc_id, problem=CHANGED_MEANWHILE,
                              status="409 Conflict")
    log.info("doc %s: metadata changed by %s on the web page", doc_id, req.user.name)
    return redirect(start_response, f"/_/doc/{int(doc_id)}?saved=1")


def _upload_name(name: str) -> str:
    """A browser's file name as a name in the upload area (no folders, not hidden)."""
    name = _BAD_NAME.sub("_", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    name = name.lstrip(".")
    if not name:
        raise BadRequest("the file has no name")
    return name[:200]


def place_upload(tmp: str, home: str, name: str) -> str:
    """``tmp`` moved to ``name`` in ``home``, or ``name (2)`` etc. when taken; never over
    another file: the name is claimed first (O_EXCL, atomic on every filesystem), so
    two uploads of one name at once both stay."""
    stem, dot, ext = name.rpartition(".")
    n = 1
    while True:
        target = os.path.join(home, name if n == 1 else
                              f"{stem} ({n}).{ext}" if dot else f"{name} ({n})")
        try:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            n += 1
            continue
        os.replace(tmp, target)  # over the empty file claimed just now
        return target


def upload(site: "WebSite", req: Request, start_response: StartResponse) -> Iterable[bytes]:
    """Files of a form (or dropped on the page) into the user's upload area."""
    kind = req.environ.get("CONTENT_TYPE", "")
    if not kind.lower().startswith("multipart/form-data"):
        raise BadRequest("send the files as a form (multipart/form-data)")
    try:
        length = int(req.environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise BadRequest("Content-Length is not a number") from None
    uploads = site.services.uploads
    home = uploads.home(req.user.name)
    temps: list[str] = []

    def open_file(filename: str) -> tuple[object, Any]:
        tmp = os.path.join(home, UPLOAD_TMP + secrets.token_hex(8))
        temps.append(tmp)
        return (filename, tmp), open(tmp, "wb")

    done: list[str] = []
    try:
        parsed = multipart.parse(req.environ["wsgi.input"], length, kind, open_file)
        for filename, key in parsed.files:
            _name, tmp = key  # type: ignore[misc]
            if not filename or os.path.getsize(tmp) == 0:
                continue  # the empty file input of a form sent without a file
            target = place_upload(tmp, home, _upload_name(filename))
            uploads.touch(target)
            done.append(os.path.basename(target))
    finally:
        for tmp in temps:
            if os.path.exists(tmp):
                os.unlink(tmp)
    if not done:
        raise BadRequest("no file was sent: choose a file first")
    log.info("%d file(s) uploaded by %s on the web page", len(done), req.user.name)
    if req.environ.get("HTTP_ACCEPT", "").startswith("application/json"):
        from paperfs.web.http import as_json

        return as_json(start_response, {"uploaded": done})
    return redirect(start_response, url_of("/_/upload", uploaded=", ".join(done)))


def restore(site: "WebSite", req: Request, start_response: StartResponse,
            doc_id: str) -> Iterable[bytes]:
    path = site.services.editor.restore(req.ctx, int(doc_id))
    log.info("doc %s: restored from the trash by %s on the web page", doc_id, req.user.name)
    return redirect(start_response, url_of("/_/trash", restored=path))


def retry(site: "WebSite", req: Request, start_response: StartResponse) -> Iterable[bytes]:
    """``paperfs retry`` from the page: superusers only (failed/ holds every user's files)."""
    if not req.user.superuser:
        return site.error(req, start_response, "403 Forbidden",
                          "Only a superuser may retry failed files.")
    from paperfs.archive.store import retry_failed

    moved = retry_failed(site.services.root)
    return redirect(start_response, url_of("/_/status", retried=str(len(moved))))


def save_search(site: "WebSite", req: Request, start_response: StartResponse) -> Iterable[bytes]:
    """The current query as a saved search of the user's own (/saved over WebDAV too)."""
    try:
        name = check_saved_name(req.field("name").strip())
        query = check_query(req.field("q"), site.services.fields.types())
        site.services.saved.add(name, query, owner=req.user.name)
    except (UsageError, QuerySyntaxError) as exc:
        raise BadRequest(str(exc)) from None
    return redirect(start_response, "/_/saved")


def logout(site: "WebSite", req: Request, start_response: StartResponse) -> Iterable[bytes]:
    return redirect(start_response, "/_/login", [site.logout(req.environ)])
