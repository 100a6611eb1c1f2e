"""/_share: a logged-in user makes a share link (the web page's button).

    GET  /_share?kind=document&target=42    a small form (expiry) with its CSRF token
    GET  /_share (Accept: application/json) {"csrf": …}: the token for a script's form
    POST /_share  kind, target, expires_days, csrf    the link, shown once (HTML or JSON)

It sits behind the Authenticator (the user is ``environ["paperfs.ctx"].user``)
and answers 403 for a document or saved search the user may not view, the
same for one that does not exist. Cross-site requests are refused twice: a
``Sec-Fetch-Site`` other than same-origin, or an ``Origin``/``Referer`` of
another origin, is 403; and ``csrf`` must be the web page's token for the
user or login session (paperfs/web/csrf.py), the one its share buttons carry.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.parse
from typing import TYPE_CHECKING, Callable, Iterable

from paperfs.dav.guard import Refused
from paperfs.errors import UsageError
from paperfs.sharing import pages, view
from paperfs.sharing.store import ShareStore
from paperfs.web import csrf as web_csrf
from paperfs.web.http import BadRequest, Request

if TYPE_CHECKING:
    from paperfs.dav.context import Services
    from paperfs.index.model import User

log = logging.getLogger(__name__)

PATH = "/_share"
#: the expiries the form offers (days); any number up to dav.share_max_days is accepted
FORM_DAYS = (1, 7, 30, 90)


def _page_token(environ: dict, form: dict) -> str | None:
    if web_csrf.valid(environ, form.get(web_csrf.FIELD) or environ.get(web_csrf.HEADER)):
        return None
    return "the form's csrf token is missing or wrong; open the share form again"


def own_origin(environ: dict, public_url: str) -> str:
    """scheme://host[:port] of this server as the client reached it (or dav.public_url)."""
    if public_url:
        parts = urllib.parse.urlsplit(public_url)
        return f"{parts.scheme}://{parts.netloc}"
    return f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"


def cross_site(environ: dict, origin: str) -> str | None:
    """Why the request does not come from a page of this server, or None."""
    fetch_site = environ.get("HTTP_SEC_FETCH_SITE")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return f"a {fetch_site} request"
    sent = environ.get("HTTP_ORIGIN")
    if sent is None and environ.get("HTTP_REFERER"):
        parts = urllib.parse.urlsplit(environ["HTTP_REFERER"])
        sent = f"{parts.scheme}://{parts.netloc}"
    if sent is not None and sent.rstrip("/") != origin:
        return f"a request from {sent[:100]}"
    return None


class ShareCreation:
    """WSGI middleware behind the Authenticator: answers /_share, passes the rest."""

    def __init__(self, app: Callable, services: "Services", store: ShareStore,
                 public_url: str = "") -> None:
        self.app = app
        self.services = services
        self.store = store
        self.public_url = public_url

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH:
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD")
        try:
            if method in ("GET", "HEAD"):
                return self._form(environ, start_response)
            if method == "POST":
                return self._create(environ, start_response)
        except Refused as refused:
            return _answer(environ, start_response, refused.status, {"error": refused.message})
        return _answer(environ, start_response, "405 Method Not Allowed",
                       {"error": "GET the form or POST it"}, [("Allow", "GET, HEAD, POST")])

    def _form(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        query = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", "")))
        user = environ["paperfs.ctx"].user
        token = web_csrf.token(environ)
        if _wants_json(environ):  # a script's form: the token alone
            return _answer(environ, start_response, "200 OK", {"csrf": token})
        kind, target = self._target(user, query)
        days = [d for d in FORM_DAYS if d <= self.store.max_days]
        body = pages.creation_form(kind, target, token, days or [1], 7 if 7 in days else
                                   (days or [1])[0])
        return _send(environ, start_response, "200 OK", "text/html; charset=utf-8", body)

    def _create(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        problem = cross_site(environ, own_origin(environ, self.public_url))
        if problem:
            log.warning("/_share: refused %s for %s", problem, environ["paperfs.ctx"].user.name)
            raise Refused("403 Forbidden", f"refused: {problem}; make links from this "
                                            "server's own page")
        form = _read_form(environ)
        problem = _page_token(environ, form)
        if problem:
            raise Refused("403 Forbidden", problem)
        user = environ["paperfs.ctx"].user
        kind, target = self._target(user, form)
        try:
            days = float(form.get("expires_days", ""))
        except ValueError:
            raise Refused("400 Bad Request", "expires_days: give a number of days") from None
        try:
            link, token = self.store.create(kind, target, user.name, dt.timedelta(days=days))
        except UsageError as exc:
            raise Refused("400 Bad Request", str(exc)) from None
        url = f"{own_origin(environ, self.public_url)}/s/{token}"
        log.info("share link %s made by %s for %s", link.id, user.name, link.describe())
        if _wants_json(environ):
            return _answer(environ, start_response, "201 Created", {
                "url": url, "id": link.id, "expires": link.expires.isoformat()})
        return _send(environ, start_response, "201 Created", "text/html; charset=utf-8",
                     pages.created_page(url, link.describe(), link.expires))

    def _target(self, user: "User", fields: dict) -> tuple[str, str]:
        """(kind, target) of a request, if ``user`` may view it; else 400/403."""
        kind, target = fields.get("kind", ""), fields.get("target", "").strip()
        if kind == "document":
            if not target.isdigit() or len(target) > 18 or \
                    view.may_view_document(user, int(target), self.services) is None:
                raise Refused("403 Forbidden", f"you cannot share document {target[:30]!r}: "
                                                "no document you may view has this id")
            return kind, str(int(target))
        if kind == "search":
            if not view.may_view_search(user, target, self.services):
                raise Refused("403 Forbidden", f"you have no saved search {target[:100]!r}")
            return kind, target
        raise Refused("400 Bad Request", "kind: give document or search")


def _read_form(environ: dict) -> dict[str, str]:
    """The posted form (the page's reader: url-encoded, bounded), one value per field."""
    try:
        return {name: values[-1] for name, values in Request(environ).form().items()}
    except BadRequest as problem:
        raise Refused("400 Bad Request", str(problem)) from None


def _wants_json(environ: dict) -> bool:
    return "application/json" in environ.get("HTTP_ACCEPT", "")


def _answer(environ: dict, start_response: Callable, status: str, data: dict,
            extra: list[tuple[str, str]] | None = None) -> list[bytes]:
    if _wants_json(environ):
        return _send(environ, start_response, status, "application/json",
                     json.dumps(data).encode(), extra)
    text = data.get("error") or json.dumps(data)
    return _send(environ, start_response, status, "text/plain; charset=utf-8",
                 f"{status}: {text}\n".encode(), extra)


def _send(environ: dict, start_response: Callable, status: str, content_type: str,
          body: bytes, extra: list[tuple[str, str]] | None = None) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body))),
                            ("Cache-Control", "no-store"), ("Referrer-Policy", "no-referrer"),
                            ("X-Content-Type-Options", "nosniff"),
                            ("X-Frame-Options", "DENY"), *(extra or [])])
    return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]
