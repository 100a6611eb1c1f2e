"""Requests and answers of the web page: small helpers over plain WSGI."""

from __future__ import annotations

import json
from http.cookies import CookieError, SimpleCookie
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, quote

#: the largest url-encoded form read (metadata edits, buttons); uploads are multipart
MAX_FORM_BYTES = 1 << 20

#: no script, style, frame or form target from anywhere else; nothing from a network
SECURITY_HEADERS = [
    ("Content-Security-Policy",
     "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     "frame-src 'self'; object-src 'self'; form-action 'self'; frame-ancestors 'self'; "
     "base-uri 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
]

StartResponse = Callable[..., Any]

#: what a file served over WebDAV may show: PDFs as they are (a sandbox would stop
#: the browser's PDF viewer), anything else (an .html or .svg someone put in an
#: inbox) without scripts and as an origin of its own, away from the page's session
_FILE_SANDBOX = ("Content-Security-Policy", "sandbox")


def sandboxed(start_response: StartResponse) -> StartResponse:
    """``start_response`` for an answer with the user's bytes in it (a WebDAV GET)."""
    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        kind = next((v for k, v in headers if k.lower() == "content-type"), "")
        extra = [("X-Content-Type-Options", "nosniff")]
        if not kind.lower().startswith("application/pdf"):
            extra.append(_FILE_SANDBOX)
        return start_response(status, [*headers, *extra], exc_info)

    return start


class BadRequest(Exception):
    """A request the page cannot take; the message says what to do (400)."""


class Request:
    def __init__(self, environ: dict) -> None:
        self.environ = environ
        self.method = environ.get("REQUEST_METHOD", "GET")
        self.path = environ.get("PATH_INFO", "/") or "/"
        self.args = {k: v[-1] for k, v in
                     parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
        self._form: dict[str, list[str]] | None = None

    @property
    def ctx(self) -> Any:
        """The asking user's request context (paperfs/dav/context.py Ctx)."""
        return self.environ["paperfs.ctx"]

    @property
    def user(self) -> Any:
        return self.ctx.user

    def cookie(self, name: str) -> str | None:
        try:
            jar = SimpleCookie(self.environ.get("HTTP_COOKIE", ""))
        except CookieError:
            return None
        morsel = jar.get(name)
        return morsel.value if morsel is not None else None

    def form(self) -> dict[str, list[str]]:
        """The url-encoded body (read once, at most MAX_FORM_BYTES)."""
        if self._form is None:
            kind = self.environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
            if kind not in ("application/x-www-form-urlencoded", ""):
                raise BadRequest(f"expected a form, got {kind}")
            try:
                length = int(self.environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                raise BadRequest("Content-Length is not a number") from None
            if length > MAX_FORM_BYTES:
                raise BadRequest("the form is too large")
            body = self.environ["wsgi.input"].read(length) if length > 0 else b""
            self._form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return self._form

    def field(self, name: str, default: str = "") -> str:
        values = self.form().get(name)
        return values[-1] if values else default

    def same_origin(self) -> bool:
        """A POST from another site is refused even with a valid token: its Origin (when
        the browser sends one) must be this server."""
        origin = self.environ.get("HTTP_ORIGIN")
        if not origin or origin == "null":
            return origin is None
        host = self.environ.get("HTTP_HOST", "")
        return origin.split("://", 1)[-1] == host


def respond(start_response: StartResponse, status: str, body: bytes | str,
            content_type: str = "text/html; charset=utf-8",
            headers: Iterable[tuple[str, str]] = ()) -> list[bytes]:
    data = body.encode("utf-8") if isinstance(body, str) else body
    start_response(status, [("Content-Type", content_type),
                            ("Content-Length", str(len(data))),
                            ("Cache-Control", "no-store"),
                            *SECURITY_HEADERS, *headers])
    return [data]


def respond_stream(start_response: StartResponse, status: str, parts: Iterable[bytes],
                   content_type: str = "text/html; charset=utf-8") -> Iterable[bytes]:
    """An answer sent in parts as they are made (chunked: no Content-Length)."""
    start_response(status, [("Content-Type", content_type), ("Cache-Control", "no-store"),
                            *SECURITY_HEADERS])
    return parts


def redirect(start_response: StartResponse, location: str,
             headers: Iterable[tuple[str, str]] = ()) -> list[bytes]:
    """303 See Other: after a POST the browser GETs the page (no resubmission)."""
    start_response("303 See Other", [("Location", location), ("Content-Length", "0"),
                                     ("Cache-Control", "no-store"), *headers])
    return [b""]


def as_json(start_response: StartResponse, data: Any) -> list[bytes]:
    return respond(start_response, "200 OK", json.dumps(data, ensure_ascii=False),
                   "application/json; charset=utf-8")


def url_of(path: str, **args: Any) -> str:
    """A page's URL with its query arguments (empty ones left out)."""
    query = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in args.items()
                     if v not in (None, ""))
    return f"{path}?{query}" if query else path
