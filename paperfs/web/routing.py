"""Who gets the page and who gets WebDAV, and which handler answers which URL.

The page lives on one port with WebDAV. A request is the page's when

* its path is under ``/_/`` (no archive name can be ``_``: the top level of
  the drive is a fixed list, paperfs/dav/provider.py ``TOP``), or
* it is a ``GET``/``HEAD`` of ``/`` whose ``Accept`` names ``text/html`` and
  that carries none of the signs of a WebDAV client: a ``Depth``,
  ``Translate``, ``If`` or ``Lock-Token`` header, or the User-Agent of a known
  client (Windows' mini-redirector, macOS' WebDAVFS, davfs2, gvfs, rclone,
  litmus, Cyberduck, DAVx⁵, …), which send other Accept headers anyway.

Everything else is WebDAV, exactly as without the page. Folders below ``/``
keep wsgidav's plain listing for a browser (DirBrowser).

Two pieces sit in the server's stack (paperfs/dav/server.py):
``front`` before the Authenticator (the login form, static files, and the
session cookie, which stands for a login on every URL, WebDAV's too) and
``dispatch`` behind it (a browser that sent HTTP Basic gets the page as well).
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any, Callable, Iterable

from wsgidav.dav_error import DAVError

from paperfs.errors import SearchBackendError
from paperfs.web import csrf, forms, pages, shares, static
from paperfs.web.http import (BadRequest, Request, StartResponse, redirect, respond, sandboxed,
                              url_of)
from paperfs.web.sessions import COOKIE, Sessions
from paperfs.web.templates import render
from paperfs.web.thumbnails import Thumbnails

log = logging.getLogger(__name__)

PREFIX = "/_/"
LOGIN = "/_/login"
_DAV_HEADERS = ("HTTP_DEPTH", "HTTP_TRANSLATE", "HTTP_IF", "HTTP_LOCK_TOKEN",
                "HTTP_DESTINATION", "HTTP_OVERWRITE")
_DAV_AGENTS = re.compile(
    r"Microsoft-WebDAV|MiniRedir|WebDAVFS|WebDAVLib|davfs2|gvfs|gvfsd|rclone|litmus|neon|"
    r"Cyberduck|DAVx|Dolphin|KIO|WinSCP|cadaver|curl|Wget|python-requests|Transmit|"
    r"DavClnt|Mountain Duck|GoodSync|Nautilus", re.I)

Handler = Callable[..., Iterable[bytes]]
#: (method, URL pattern) -> handler(site, request, start_response, **groups)
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    ("GET", re.compile(r"/"), pages.search),
    ("GET", re.compile(r"/_/search"), pages.search),
    ("GET", re.compile(r"/_/suggest"), pages.suggest),
    ("GET", re.compile(r"/_/doc/(?P<doc_id>\d{1,12})"), pages.document),
    ("GET", re.compile(r"/_/pdf/(?P<doc_id>\d{1,12})"), pages.pdf),
    ("GET", re.compile(r"/_/thumb/(?P<doc_id>\d{1,12})\.webp"), pages.thumbnail),
    ("GET", re.compile(r"/_/saved"), pages.saved),
    ("GET", re.compile(r"/_/trash"), pages.trash),
    ("GET", re.compile(r"/_/status"), pages.status),
    ("GET", re.compile(r"/_/upload"), pages.upload),
    ("POST", re.compile(r"/_/doc/(?P<doc_id>\d{1,12})"), forms.edit),
    ("POST", re.compile(r"/_/upload"), forms.upload),
    ("POST", re.compile(r"/_/trash/(?P<doc_id>\d{1,12})/restore"), forms.restore),
    ("POST", re.compile(r"/_/retry"), forms.retry),
    ("POST", re.compile(r"/_/saved"), forms.save_search),
    ("POST", re.compile(r"/_/logout"), forms.logout),
    ("GET", re.compile(r"/_/shares"), shares.listing),
    ("POST", re.compile(r"/_/shares/(?P<link_id>[0-9a-f]{10})/revoke"), shares.revoke),
]


def wants_page(environ: dict) -> bool:
    """Whether this request is the web page's (see the module doc), not WebDAV's."""
    path = environ.get("PATH_INFO", "")
    if path.startswith(PREFIX) or path == "/_":
        return True
    if path != "/" or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        return False
    if "text/html" not in environ.get("HTTP_ACCEPT", ""):
        return False
    if any(key in environ for key in _DAV_HEADERS):
        return False
    return not _DAV_AGENTS.search(environ.get("HTTP_USER_AGENT", ""))


#: Sec-Fetch-Site values of a request another site's page made
_OTHER_SITES = ("cross-site", "same-site")
#: a path of this site: a slash, then neither a slash nor a backslash (browsers read
#: a backslash as a slash: two make a protocol-relative URL, another host), and only
#: printable ASCII (browsers drop tabs and line breaks; a Location header is ASCII)
_LOCAL_PATH = re.compile(r"/(?![/\\])[\x21-\x5b\x5d-\x7e]*")


def local_target(target: str) -> str:
    """Where to go after the login: ``target`` if it is a path of this site, else "/"."""
    return target if _LOCAL_PATH.fullmatch(target) else "/"


def _secure(environ: dict) -> bool:
    return environ.get("wsgi.url_scheme") == "https"


class WebSite:
    """The web page of one server: its sessions, thumbnails and handlers."""

    def __init__(self, services: Any, throttle: Any, bind: Callable[[Any, dict], None], *,
                 sessions: Sessions | None = None) -> None:
        self.services = services
        self.throttle = throttle
        self.bind = bind
        self.sessions = sessions or Sessions()
        self.thumbnails = Thumbnails(services.root)
        self.shares = services.shares  # the user's links (paperfs/web/shares.py)

    # ------------------------------------------------------------ the two pieces

    def dispatch(self, dav: Callable) -> Callable:
        """Behind the Authenticator: the page for a browser, WebDAV for the rest."""
        def app(environ: dict, start_response: StartResponse) -> Iterable[bytes]:
            if wants_page(environ):
                return self.answer(environ, start_response)
            if environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
                start_response = sandboxed(start_response)
            return dav(environ, start_response)

        return app

    def front(self, authenticated: Callable, inner: Callable) -> Callable:
        """Before the Authenticator: login, static files, session cookies.

        ``authenticated``: the Authenticator (and all behind it); ``inner``: what is
        behind it (``dispatch``), reached directly with a live session."""
        def app(environ: dict, start_response: StartResponse) -> Iterable[bytes]:
            path = environ.get("PATH_INFO", "")
            if path.startswith(static.PREFIX):
                return static.serve(environ, start_response)
            if path == LOGIN:
                return self.login(environ, start_response)
            if "HTTP_AUTHORIZATION" not in environ:
                session = self.sessions.get(Request(environ).cookie(COOKIE))
                user = session and self._current_user(session.user, session.credential)
                if session is not None and user is not None:
                    environ[csrf.SESSION_KEY] = session.token
                    environ["paperfs.user"] = user
                    environ["wsgidav.auth.user_name"] = user.name
                    self.bind(user, environ)
                    return inner(environ, start_response)
                if wants_page(environ):
                    target = environ.get("PATH_INFO", "/")
                    if environ.get("QUERY_STRING"):
                        target += "?" + environ["QUERY_STRING"]
                    return redirect(start_response, url_of(LOGIN, next=target))
            return authenticated(environ, start_response)

        return app

    # ------------------------------------------------------------ login

    def login(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        req = Request(environ)
        target = local_target(req.args.get("next", ""))
        if req.method != "POST":
            return respond(start_response, "200 OK",
                           render("login.html", next=target, error=None, user=None))
        if not req.same_origin() or environ.get("HTTP_SEC_FETCH_SITE") in _OTHER_SITES:
            # login CSRF: another site's form would log the victim into the attacker's
            # account (and his uploads would go there); browsers send Origin on a POST
            return respond(start_response, "403 Forbidden",
                           render("login.html", next=target, user=None,
                                  error="This login form was sent from another site: "
                                        "log in from this server's own page."))
        address = environ.get("REMOTE_ADDR", "?")
        wait = self.throttle.blocked_for(address)
        if wait:
            return respond(start_response, "429 Too Many Requests",
                           render("login.html", next=target, user=None,
                                  error=f"Too many failed logins: try again in {int(wait) + 1} s."),
                           headers=[("Retry-After", str(int(wait) + 1))])
        try:
            name, password = req.field("user").strip(), req.field("password")
        except BadRequest as exc:
            return respond(start_response, "400 Bad Request", str(exc), "text/plain")
        user = self.services.users.verify(name, password) if name else None
        if user is None:
            log.warning("failed web login for %r from %s", name[:64], address)
            self.throttle.failed(address)
            return respond(start_response, "401 Unauthorized",
                           render("login.html", next=target, user=None,
                                  error="Wrong user name or password."))
        self.throttle.succeeded(address)
        session = self.sessions.start(user.name, self._credential(user.name) or "")
        return redirect(start_response, target,
                        [self.sessions.cookie(session, _secure(environ))])

    def _credential(self, name: str) -> str | None:
        """A fingerprint of the user's stored password hash (None: no such user, or
        one who cannot log in): a new password ends the sessions of the old one."""
        account = self.services.users.table().accounts.get(name)
        if account is None or not account.password:
            return None
        return hashlib.sha256(account.password.encode("utf-8")).hexdigest()

    def _current_user(self, name: str, credential: str) -> Any:
        """The session's user as users.yml says now, or None when the user was removed
        or his password changed since the login."""
        if self._credential(name) != credential:
            return None
        return self.services.users.user(name)

    def logout(self, environ: dict) -> tuple[str, str]:
        self.sessions.end(environ.get(csrf.SESSION_KEY))
        return self.sessions.clearing_cookie(_secure(environ))

    # ------------------------------------------------------------ handlers

    def answer(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        req = Request(environ)
        method = "GET" if req.method == "HEAD" else req.method
        for route_method, pattern, handler in ROUTES:
            match = pattern.fullmatch(req.path)
            if match is None:
                continue
            if route_method != method:
                continue
            try:
                if method == "POST":
                    problem = self._refused_post(req)
                    if problem:
                        return self.error(req, start_response, "403 Forbidden", problem)
                return handler(self, req, start_response, **match.groupdict())
            except BadRequest as exc:
                return self.error(req, start_response, "400 Bad Request", str(exc))
            except SearchBackendError as exc:
                return self.error(req, start_response, "503 Service Unavailable",
                                  f"search is unavailable: {str(exc).splitlines()[0]}")
            except DAVError as exc:  # the editor's checks: 403, 404, 423
                return self.error(req, start_response, f"{exc.value} {_reason(exc.value)}",
                                  exc.context_info or _reason(exc.value))
            except Exception:  # noqa: BLE001 - a page, not a dropped connection
                log.exception("web page: %s %s", req.method, req.path)
                return self.error(req, start_response, "500 Internal Server Error",
                                  "Something went wrong; the server's log has the details.")
        if any(p.fullmatch(req.path) for _m, p, _h in ROUTES):
            return respond(start_response, "405 Method Not Allowed", "405 Method Not Allowed\n",
                           "text/plain; charset=utf-8", [("Allow", "GET, HEAD, POST")])
        return self.error(req, start_response, "404 Not Found", "No such page.")

    @staticmethod
    def _refused_post(req: Request) -> str | None:
        if not req.same_origin():
            return "This form was sent from another site."
        kind = req.environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        form = {} if kind == "multipart/form-data" else req.form()
        token = csrf.given(req.environ, form)
        if kind == "multipart/form-data" and not token:
            token = req.args.get(csrf.FIELD, "")
        if not csrf.valid(req.environ, token):
            return "The form's security token is missing or stale: reload the page and try again."
        return None

    def error(self, req: Request, start_response: StartResponse, status: str,
              message: str) -> Iterable[bytes]:
        return respond(start_response, status,
                       render("error.html", **self.common(req), status=status, message=message))

    def common(self, req: Request) -> dict[str, Any]:
        """What every page's frame shows: the user, the token of its forms."""
        return {"user": req.environ.get("paperfs.user"), "csrf": csrf.token(req.environ),
                "q": req.args.get("q", ""),
                # the share buttons offer what /_share accepts (dav.share_max_days)
                "share_max_days": max(1, int(self.services.config.dav.share_max_days))}


def _reason(code: int) -> str:
    return {403: "Forbidden", 404: "Not Found", 423: "Locked", 400: "Bad Request",
            409: "Conflict", 503: "Service Unavailable"}.get(code, "Error")
