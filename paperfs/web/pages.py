"""What a GET of the web page shows: search, a document, its PDF and thumbnail,
saved searches, the trash, status, the upload form.

Every document is reached with the asking user's permissions, as over WebDAV:
the index filters searches, facets, suggestions and more-like-this by user, and
a single document (page, PDF, thumbnail) is looked up through the catalog with
the same rules (paperfs/dav/catalog.py ``get``). A document the user may not
view answers exactly like one that does not exist (404).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable
from urllib.parse import quote

from paperfs.access.permissions import may_change, may_view
from paperfs.archive.document import read_sidecar
from paperfs.errors import SearchBackendError, SidecarError
from paperfs.index.base import suggestion_query
from paperfs.search.syntax_error import QuerySyntaxError
from paperfs.web.http import Request, StartResponse, as_json, respond, respond_stream, url_of
from paperfs.web.templates import render, stream

if TYPE_CHECKING:
    from paperfs.web.routing import WebSite

log = logging.getLogger(__name__)

PAGE_SIZE = 20
FACET_VALUES = 12
SORTS = {"relevance": "relevance", "newest": "-created", "oldest": "created",
         "added": "-added", "title": "title"}
#: the facet lists and the query field each narrows by
FACETS = (("tags", "tag", "Tags"), ("correspondents", "correspondent", "Correspondents"),
          ("types", "type", "Types"), ("years", "created", "Years"))
_CHUNK = 256 * 1024


def _page_number(req: Request) -> int:
    try:
        return max(1, min(int(req.args.get("page", "1")), 10_000))
    except ValueError:
        return 1


def narrowed(query: str, field: str, value: str) -> str:
    """The query with one more condition (a facet value)."""
    term = suggestion_query(field, value) if field != "created" else f"created:{value}"
    return f"{query} {term}".strip()


def search(site: "WebSite", req: Request, start_response: StartResponse) -> Iterable[bytes]:
    """Ranked results, sent first; the facets follow in the same page once counted
    (over many matches they cost more than the results: the results show sooner)."""
    ctx, q = req.ctx, req.args.get("q", "").strip()
    sort_name = req.args.get("sort", "relevance")
    sort = SORTS.get(sort_name, "relevance")
    page = _page_number(req)
    index = ctx.index
    error = None
    result = None
    try:
        result = index.search(q, user=ctx.user, sort=sort, limit=PAGE_SIZE,
                              offset=(page - 1) * PAGE_SIZE)
    except QuerySyntaxError as exc:
        error = str(exc)
    pages = None
    if result is not None:
        last = max(1, -(-result.total // PAGE_SIZE))
        pages = {"page": page, "last": last,
                 "prev": url_of("/_/search", q=q, sort=sort_name, page=page - 1) if page > 1 else None,
                 "next": url_of("/_/search", q=q, sort=sort_name, page=page + 1) if page < last else None}

    def facets() -> list:
        try:
            counted = index.facets(q, user=ctx.user)
        except SearchBackendError as exc:  # the results are sent already: no facets then
            log.warning("web page: no facets for %r: %s", q, exc)
            return []
        groups = []
        for attr, field, label in FACETS:
            values = [(c.value, c.count, url_of("/_/search", q=narrowed(q, field, c.value)))
                      for c in getattr(counted, attr)[:FACET_VALUES]]
            if values:
                groups.append((label, values))
        return groups

    return respond_stream(start_response, "200 OK", stream(
        "search.html", **site.common(req), result=result, facets=facets, error=error,
        sort=sort_name, sorts=list(SORTS), pages=pages))


def suggest(site: "WebSite", req: Request, start_response: StartResponse) -> Iterable[bytes]:
    """Completions of the last word typed (``tag:pa`` completes tags), as JSON."""
    text = req.args.get("q", "")
    head, _, last = text.rpartition(" ")
    field, sep, prefix = last.partition(":")
    field_name = {"tag": "tag", "correspondent": "correspondent", "type": "type",
                  "title": "title", "content": "content"}.get(field.lower()) if sep else None
    if not sep:
        prefix = last
    elif field_name is None:
        return as_json(start_response, [])
    found = req.ctx.index.suggest(prefix, field_name, 8, user=req.ctx.user) if prefix else []
    return as_json(start_response, [
        {"text": s.text, "field": s.field, "count": s.count,
         "query": f"{head} {s.query or s.text}".strip()} for s in found])


def _entry(req: Request, doc_id: str) -> Any:
    """The catalog entry of a document the user may view, or None."""
    return req.ctx.catalog.get(int(doc_id), req.user)


def _not_found(site: "WebSite", req: Request, start_response: StartResponse) -> Iterable[bytes]:
    return site.error(req, start_response, "404 Not Found", "No such document.")


def document(site: "WebSite", req: Request, start_response: StartResponse,
             doc_id: str, problem: str | None = None,
             status: str = "200 OK") -> Iterable[bytes]:
    entry = _entry(req, doc_id)
    if entry is None:
        return _not_found(site, req, start_response)
    root = site.services.root
    try:
        doc = read_sidecar(root.archive / (entry.path + ".yml"))
    except (OSError, SidecarError):
        return _not_found(site, req, start_response)
    if not may_view(req.user, doc):  # changed since the index saw it
        return _not_found(site, req, start_response)
    similar = req.ctx.index.more_like_this(doc.id, req.user, limit=6)
    declared = site.services.fields.current().fields
    return respond(start_response, status, render(
        "document.html", **site.common(req), doc=doc, similar=similar.hits,
        may_change=may_change(req.user, doc), problem=problem,
        fields=[(name, decl.type, doc.custom_fields.get(name)) for name, decl in declared.items()],
        extra_fields={k: v for k, v in doc.custom_fields.items() if k not in declared},
        saved=req.args.get("saved") == "1"))


def _stream(path: Path, start_response: StartResponse, content_type: str,
            headers: list[tuple[str, str]]) -> Iterable[bytes]:
    handle = open(path, "rb")
    size = os.fstat(handle.fileno()).st_size
    start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(size)),
                              ("X-Content-Type-Options", "nosniff"), *headers])

    def chunks() -> Iterable[bytes]:
        with handle:
            while True:
                block = handle.read(_CHUNK)
                if not block:
                    return
                yield block

    return chunks()


def pdf(site: "WebSite", req: Request, start_response: StartResponse,
        doc_id: str) -> Iterable[bytes]:
    """The archive PDF, inline: the browser's own viewer shows it."""
    entry = _entry(req, doc_id)
    path = site.services.root.archive / (entry.path + ".pdf") if entry else None
    if path is None or not path.is_file():
        return _not_found(site, req, start_response)
    name = os.path.basename(entry.path) + ".pdf"
    return _stream(path, start_response, "application/pdf", [
        ("Content-Disposition", f"inline; filename*=UTF-8''{quote(name)}"),
        ("Cache-Control", "private, no-cache"), ("ETag", f'"{entry.sha256[:32]}"')])


def thumbnail(site: "WebSite", req: Request, start_response: StartResponse,
              doc_id: str) -> Iterable[bytes]:
    entry = _entry(req, doc_id)
    if entry is None:
        return _not_found(site, req, start_response)
    etag = f'"{entry.sha256[:32]}"'
    if req.environ.get("HTTP_IF_NONE_MATCH") == etag:
        start_response("304 Not Modified", [("ETag", etag)])
        return [b""]
    pdf_path = site.services.root.archive / (entry.path + ".pdf")
    made = site.thumbnails.get(entry.id, entry.sha256, pdf_path)
    if made is None:
        return site.error(req, start_response, "404 Not Found", "This document has no thumbnail.")
    return _stream(made, start_response, "image/webp",
                   [("Cache-Control", "private, max-age=86400"), ("ETag", etag)])


def saved(site: "WebSite", req: Request, start_response: StartResponse) -> Iterable[bytes]:
    items = [(s, url_of("/_/search", q=s.query)) for s in site.services.saved.visible(req.user)]
    return respond(start_response, "200 OK", render("saved.html", **site.common(req), items=items))


def trash(site: "WebSite", req: Request, start_response: StartResponse) -> Iterable[bytes]:
    entries = [(e, may_change(req.user, e)) for e in site.services.trash.entries()
               if may_view(req.user, e)]
    entries.sort(key=lambda pair: pair[0].deleted_at, reverse=True)
    return respond(start_response, "200 OK", render(
        "trash.html", **site.common(req), entries=entries,
        restored=req.args.get("restored", "")))


def status(site: "WebSite", req: Request, start_response: StartResponse) -> Iterable[bytes]:
    """The queue for everyone; failed files (their names are other users' uploads too)
    and retry for superusers only."""
    from paperfs.daemon.status import collect_status

    data = collect_status(site.services.config)
    failed = data["failed"] if req.user.superuser else None
    return respond(start_response, "200 OK", render(
        "status.html", **site.common(req), data=data, daemon=data["daemon"], failed=failed,
        retried=req.args.get("retried", "")))


def upload(site: "WebSite", req: Request, start_response: StartResponse) -> Iterable[bytes]:
    home = site.services.uploads.home(req.user.name)
    waiting = sorted(p.name for p in home.iterdir() if p.is_file() and not p.name.startswith("."))
    return respond(start_response, "200 OK", render(
        "upload.html", **site.common(req), waiting=waiting,
        uploaded=req.args.get("uploaded", "")))
