"""The page's style sheet and script, served from paperfs/web/static/ (no CDN, no build).

Public (the login page needs them), a fixed list of files, cached by the browser
for a day and revalidated by ETag.
"""

from __future__ import annotations

import functools
import hashlib
from importlib import resources
from typing import Iterable

from paperfs.web.http import SECURITY_HEADERS, StartResponse

PREFIX = "/_/static/"
FILES = {"app.css": "text/css; charset=utf-8", "app.js": "text/javascript; charset=utf-8"}


@functools.lru_cache(maxsize=None)
def content(name: str) -> tuple[bytes, str]:
    data = resources.files("paperfs.web").joinpath("static", name).read_bytes()
    return data, '"' + hashlib.sha256(data).hexdigest()[:16] + '"'


def serve(environ: dict, start_response: StartResponse) -> Iterable[bytes]:
    name = environ.get("PATH_INFO", "")[len(PREFIX):]
    if name not in FILES or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        body = b"404 Not Found\n"
        start_response("404 Not Found", [("Content-Type", "text/plain"),
                                         ("Content-Length", str(len(body)))])
        return [body]
    data, etag = content(name)
    if environ.get("HTTP_IF_NONE_MATCH") == etag:
        start_response("304 Not Modified", [("ETag", etag)])
        return [b""]
    start_response("200 OK", [("Content-Type", FILES[name]), ("Content-Length", str(len(data))),
                              ("Cache-Control", "max-age=86400"), ("ETag", etag),
                              *SECURITY_HEADERS])
    return [data]
