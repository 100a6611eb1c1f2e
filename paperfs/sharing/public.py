"""/s/<token>: the public routes of share links, answered before authentication.

    GET /s/<token>                 the shared document's page, or the search's list
    GET /s/<token>/document.pdf    a document link's PDF (inline, Range requests)
    GET /s/<token>/<n>.pdf         the n-th document of a search link's list, now

Nothing else under /s answers but 404, with the same body whatever was
wrong: a path of another shape, percent-encoded characters (a token needs
none), a position or file the link does not have, an unknown token. An
expired or revoked link answers 410 with a plain sentence. Requests with
unknown tokens (and paths of the wrong shape) count as failed logins of the
client address in the login throttle (dav/auth.py), so guessing is refused
with 429 like password guessing. The token never reaches a log: this app sits
in front of the access log and logs the link's id.
"""

from __future__ import annotations

import logging
import os
import re
import urllib.parse
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from wsgidav.dav_error import DAVError

from paperfs.dav.auth import Throttle
from paperfs.errors import PaperfsError
from paperfs.sharing import pages, view
from paperfs.sharing.store import ShareLink, ShareStore

if TYPE_CHECKING:
    from paperfs.dav.context import Services

log = logging.getLogger(__name__)

_OURS = re.compile(r"/s(?:/|%2[fF]|$)")
_ROUTE = re.compile(r"/s/(?P<token>[A-Za-z0-9_-]{43})(?:/(?P<file>document|[1-9][0-9]{0,5})\.pdf)?")
BLOCK = 256 * 1024
#: on every answer under /s
COMMON_HEADERS = [
    ("Cache-Control", "no-store"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Robots-Tag", "noindex, nofollow"),
    ("X-Content-Type-Options", "nosniff"),
]
HTML_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; "
               "frame-ancestors 'self'; base-uri 'none'; form-action 'none'")
NOT_FOUND = b"404 Not Found\n"


def raw_path(environ: dict) -> str:
    """The request target's path as the client sent it (not decoded)."""
    target = environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")
    if "://" in target.split("?", 1)[0]:
        target = urllib.parse.urlsplit(target).path
    return target.split("?", 1)[0]


class SharedLinks:
    """WSGI middleware in front of the whole stack: answers /s and /s/…, passes the rest."""

    def __init__(self, app: Callable, services: "Services", store: ShareStore,
                 throttle: Throttle) -> None:
        self.app = app
        self.services = services
        self.store = store
        self.throttle = throttle

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path, raw = environ.get("PATH_INFO", ""), raw_path(environ)
        if not (_OURS.match(path) or _OURS.match(raw)):
            return self.app(environ, start_response)
        address = environ.get("REMOTE_ADDR", "?")
        wait = self.throttle.blocked_for(address)
        if wait:
            return _plain(start_response, "429 Too Many Requests",
                          b"429 Too Many Requests: too many unknown links from this address\n",
                          [("Retry-After", str(int(wait) + 1))])
        route = _ROUTE.fullmatch(raw)
        if route is None or raw != path:
            return self._unknown(start_response, address)
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return _plain(start_response, "405 Method Not Allowed",
                          b"405 Method Not Allowed: share links are read-only\n",
                          [("Allow", "GET, HEAD")])
        try:
            link = self.store.find(route["token"])
            if link is None:
                return self._unknown(start_response, address)
            state = link.state(self.store.now())
            if state != "active":
                log.info("share link %s (%s) asked for from %s", link.id, state, address)
                message = "has expired" if state == "expired" else "was revoked"
                return _plain(start_response, "410 Gone",
                              f"410 Gone: this share link {message}.\n".encode())
            return self._serve(environ, start_response, link, route["token"], route["file"])
        except (PaperfsError, DAVError) as exc:
            # a broken shares.json, the index not ready: one line for the log, none of it out
            log.error("share links: cannot answer: %s", exc)
            return _plain(start_response, "503 Service Unavailable",
                          b"503 Service Unavailable: try again later\n")

    def _unknown(self, start_response: Callable, address: str) -> list[bytes]:
        if self.throttle.failed(address):
            log.warning("share links: %s refused for %.0f s after repeated unknown links",
                        address, self.throttle.block)
        return _plain(start_response, "404 Not Found", NOT_FOUND)

    def _serve(self, environ: dict, start_response: Callable, link: ShareLink, token: str,
               file: str | None) -> Iterable[bytes]:
        services = self.services
        log.debug("share link %s: %s from %s", link.id, file or "page",
                  environ.get("REMOTE_ADDR", "?"))
        if link.kind == "document":
            entry = view.shared_document(link, services)
            if entry is None:
                return _gone_away(start_response)
            if file is None:
                return _html(environ, start_response,
                             pages.document_page(token, entry, link.expires))
            if file != "document":
                return _plain(start_response, "404 Not Found", NOT_FOUND)
        else:
            found = view.shared_search(link, services)
            if found is None:
                return _gone_away(start_response)
            name, entries = found
            if file is None:
                return _html(environ, start_response, pages.search_page(
                    token, name, entries, link.expires, view.MAX_LISTED))
            if file == "document" or int(file) > len(entries):
                return _plain(start_response, "404 Not Found", NOT_FOUND)
            entry = entries[int(file) - 1]
        return _pdf(environ, start_response, view.pdf_path(services, entry),
                    entry.title or "document")


# ---------------------------------------------------------------- answers


def _plain(start_response: Callable, status: str, body: bytes,
           extra: list[tuple[str, str]] | None = None) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body))), *COMMON_HEADERS,
                            *(extra or [])])
    return [body]


def _gone_away(start_response: Callable) -> list[bytes]:
    return _plain(start_response, "404 Not Found",
                  b"404 Not Found: nothing is shared under this link any more.\n")


def _html(environ: dict, start_response: Callable, body: bytes) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                              ("Content-Length", str(len(body))), *COMMON_HEADERS,
                              ("Content-Security-Policy", HTML_POLICY)])
    return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]


def _pdf(environ: dict, start_response: Callable, path: str, title: str) -> Iterable[bytes]:
    """The file inline, whole or one byte range (``Range: bytes=a-b``, ``a-``, ``-n``)."""
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return _gone_away(start_response)
    size = os.fstat(handle.fileno()).st_size
    wanted = None if environ.get("HTTP_IF_RANGE") else _range(environ.get("HTTP_RANGE"), size)
    if wanted == "unsatisfiable":
        handle.close()
        return _plain(start_response, "416 Range Not Satisfiable",
                      b"416 Range Not Satisfiable\n", [("Content-Range", f"bytes */{size}")])
    start, end = wanted if isinstance(wanted, tuple) else (0, size - 1)
    name = urllib.parse.quote(re.sub(r"[\x00-\x1f/\\]", " ", title)[:150] + ".pdf")
    headers = [("Content-Type", "application/pdf"), ("Content-Length", str(end - start + 1)),
               ("Accept-Ranges", "bytes"),
               ("Content-Disposition", f"inline; filename=\"document.pdf\"; "
                                       f"filename*=UTF-8''{name}"),
               *COMMON_HEADERS, ("Content-Security-Policy", "frame-ancestors 'self'")]
    if isinstance(wanted, tuple):
        headers.append(("Content-Range", f"bytes {start}-{end}/{size}"))
    start_response("206 Partial Content" if isinstance(wanted, tuple) else "200 OK", headers)
    if environ["REQUEST_METHOD"] == "HEAD":
        handle.close()
        return []
    return _read(handle, start, end - start + 1)


def _read(handle, start: int, length: int) -> Iterator[bytes]:
    with handle:
        handle.seek(start)
        while length > 0:
            chunk = handle.read(min(BLOCK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk


def _range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """One byte range of ``size`` bytes, 'unsatisfiable', or None (the whole file:
    no header, several ranges or one we do not read)."""
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header or "")
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.groups()
    if first == "":
        length = int(last)
        if length == 0:
            return "unsatisfiable"
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if last and int(last) < start:
        return None  # not a valid range: ignored, as RFC 9110 says
    if start >= size:
        return "unsatisfiable"
    return start, end
