"""Refuses hostile requests before wsgidav sees them.

* **Paths**: the request path must be UTF-8; a segment ``.`` or ``..`` (also
  when sent percent-encoded, ``%2e%2e``: the server decodes before we look)
  or a NUL byte is refused with 400. The path is normalised once here.
* **Destination** (COPY/MOVE): the same checks on its path (400); another
  scheme or host than the request's is refused with 502 Bad Gateway
  (RFC 4918 §9.9.4: the server cannot move to another server); a query or
  fragment is refused with 400. It is rewritten to a plain local path.
* **Bodies**: a Content-Length that is not a number of bytes (``-1``, ``+5``,
  ``abc``) is refused with 400 before anything is read or created. Only PUT
  may carry a large body (``dav.max_body_bytes``, checked by cheroot before
  reading); it is read through ``body.UploadBody``, so an upload that does
  not arrive whole is discarded (400), never kept. Any other request body
  is limited to ``dav.max_xml_bytes`` (413), read here (a body shorter than
  its Content-Length: 400), and — for the XML methods — must
  be UTF-8 and must not contain a document type declaration: ``<!DOCTYPE``
  or ``<!ENTITY`` are refused with 400, so no external entity (XXE) and no
  entity expansion (billion laughs) ever reaches the XML parser (which also
  has entity resolution switched off).
* **Heads**: the request line and headers are limited by cheroot
  (``dav.max_header_bytes``).
"""

from __future__ import annotations

import io
import re
from typing import Callable, Iterable
from urllib.parse import quote, unquote_to_bytes, urlsplit

from paperfs.dav.body import UploadBody

XML_METHODS = frozenset({"PROPFIND", "PROPPATCH", "LOCK", "UNLOCK", "REPORT", "SEARCH"})
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.I)
_PATH_SAFE = "/!$&'()*+,;=:@-._~"


class Refused(Exception):
    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def clean_path(path: str) -> str:
    """A normalised absolute path, or Refused for traversal and NUL bytes."""
    if "\x00" in path:
        raise Refused("400 Bad Request", "the path contains a NUL byte")
    segments = [s for s in path.split("/") if s != ""]
    for segment in segments:
        if segment in (".", ".."):
            raise Refused("400 Bad Request", "'.' and '..' are not allowed in paths")
    clean = "/" + "/".join(segments)
    if path.endswith("/") and segments:
        clean += "/"
    return clean


def _host(netloc: str, scheme: str) -> str:
    netloc = netloc.lower().rsplit("@", 1)[-1]
    default = ":443" if scheme == "https" else ":80"
    return netloc[:-len(default)] if netloc.endswith(default) else netloc


def _wsgi_path_to_str(raw: str) -> str:
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise Refused("400 Bad Request", "the path must be UTF-8") from None


class Guard:
    def __init__(self, app: Callable, *, max_xml_bytes: int) -> None:
        self.app = app
        self.max_xml_bytes = max_xml_bytes

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        try:
            self._check(environ)
        except Refused as refused:
            body = (refused.message + "\n").encode("utf-8")
            start_response(refused.status, [("Content-Type", "text/plain; charset=utf-8"),
                                            ("Content-Length", str(len(body))),
                                            ("Connection", "close")])
            return [body]
        return self.app(environ, start_response)

    def _check(self, environ: dict) -> None:
        method = environ.get("REQUEST_METHOD", "").upper()
        raw = environ.get("PATH_INFO", "") or "/"
        if not (method == "OPTIONS" and raw == "*"):
            environ["PATH_INFO"] = clean_path(_wsgi_path_to_str(raw))
        if "HTTP_DESTINATION" in environ:
            environ["HTTP_DESTINATION"] = self._destination(environ)
        self._body(environ, method)

    def _destination(self, environ: dict) -> str:
        value = environ["HTTP_DESTINATION"].strip()
        try:
            parts = urlsplit(value)
        except ValueError:
            raise Refused("400 Bad Request", "the Destination header is not a URL") from None
        scheme = environ.get("wsgi.url_scheme", "http")
        if parts.scheme:
            if parts.scheme.lower() not in ("http", "https"):
                raise Refused("400 Bad Request", "Destination must be an http(s) URL or a path")
            if parts.scheme.lower() != scheme:
                raise Refused("502 Bad Gateway", "Destination is on another server")
        if parts.netloc:
            host = _host(environ.get("HTTP_HOST", ""), scheme)
            if _host(parts.netloc, scheme) != host:
                raise Refused("502 Bad Gateway", "Destination is on another server")
        elif parts.scheme:
            raise Refused("400 Bad Request", "Destination URL without a host")
        if parts.query or parts.fragment or "#" in value:
            raise Refused("400 Bad Request", "Destination must not have a query or fragment")
        if not parts.path.startswith("/"):
            raise Refused("400 Bad Request", "Destination must be an absolute path")
        try:
            path = unquote_to_bytes(parts.path).decode("utf-8")
        except UnicodeDecodeError:
            raise Refused("400 Bad Request", "the Destination path must be UTF-8") from None
        return quote(clean_path(path), safe=_PATH_SAFE)

    def _body(self, environ: dict, method: str) -> None:
        length = _content_length(environ)
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if method == "PUT":
            # limited by cheroot (max_request_body_size) and streamed to disk, but only
            # ever kept when it arrives whole
            environ["wsgi.input"] = UploadBody(environ["wsgi.input"],
                                               None if chunked else length or 0, environ)
            return
        if length is not None and length > self.max_xml_bytes:
            raise Refused("413 Request Entity Too Large",
                          f"request bodies are limited to {self.max_xml_bytes} bytes")
        if not length and not chunked:
            return
        stream = environ["wsgi.input"]
        body = stream.read(length) if length else stream.read(self.max_xml_bytes + 1)
        if len(body) > self.max_xml_bytes:
            raise Refused("413 Request Entity Too Large",
                          f"request bodies are limited to {self.max_xml_bytes} bytes")
        if length and len(body) < length:
            raise Refused("400 Bad Request", f"the body ended after {len(body)} of the "
                                             f"{length} bytes announced")
        if method in XML_METHODS and body.strip():
            if body.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in body:
                raise Refused("415 Unsupported Media Type", "XML request bodies must be UTF-8")
            if _DTD.search(body):
                raise Refused("400 Bad Request",
                              "document type declarations (DOCTYPE, ENTITY) are not allowed")
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)


def _content_length(environ: dict) -> int | None:
    """The Content-Length (None when there is none); 400 unless it is a number of bytes."""
    text = environ.get("CONTENT_LENGTH", "").strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit():
        raise Refused("400 Bad Request",
                      f"invalid Content-Length {text!r}: it must be a number of bytes")
    return int(text)
