"""Upload bodies that must arrive whole.

cheroot hands a request body to the application as a stream that simply
ends when the connection does: a client that announces ``Content-Length:
4000``, sends 2,000 bytes and hangs up looks exactly like a complete
2,000-byte upload, and a broken chunked body raises a bare ``ValueError``
(a 500 with a stack trace). ``UploadBody`` wraps the body of every PUT and
raises ``IncompleteUpload`` (400) when the body ends before its
Content-Length, or its chunked coding is broken or cut off, or the
connection is lost; wsgidav then calls ``end_write(with_errors=True)`` and
the resource throws the partial upload away (an /inbox temp file, a sidecar
edit) — so nothing incomplete is ever kept, listed or handed over.
"""

from __future__ import annotations

import logging
from typing import Any

from cheroot.errors import MaxSizeExceeded
from wsgidav.dav_error import HTTP_BAD_REQUEST, HTTP_REQUEST_ENTITY_TOO_LARGE, DAVError

log = logging.getLogger(__name__)


class IncompleteUpload(DAVError):
    """400: the upload did not arrive whole; it was discarded."""

    def __init__(self, message: str) -> None:
        super().__init__(HTTP_BAD_REQUEST, message, add_headers=[("Connection", "close")])


class UploadBody:
    """A PUT body read through to its end, or IncompleteUpload.

    ``length`` is the Content-Length, or None for a chunked body (whose end is
    its last, empty chunk: cheroot's reader raises when that never comes).
    """

    def __init__(self, stream: Any, length: int | None, environ: dict) -> None:
        self.stream = stream
        self.length = length
        self.environ = environ
        self.received = 0

    def read(self, size: int = -1) -> bytes:
        try:
            data = self.stream.read(size) if size is not None and size >= 0 \
                else self.stream.read()
        except MaxSizeExceeded:
            raise DAVError(HTTP_REQUEST_ENTITY_TOO_LARGE, "the upload is too large") from None
        except ValueError as exc:  # cheroot: bad or missing chunk size, missing CRLF
            raise self._incomplete(f"its chunked body is broken or cut off ({exc})") from None
        except OSError as exc:
            if "Too Large" in str(exc):  # cheroot's chunked reader past max_body_bytes
                raise DAVError(HTTP_REQUEST_ENTITY_TOO_LARGE, "the upload is too large") \
                    from None
            raise self._incomplete(f"the connection was lost ({exc})") from None
        self.received += len(data)
        if not data and self.length is not None and self.received < self.length:
            raise self._incomplete(f"the client sent {self.received} of the {self.length} "
                                   "bytes it announced and closed the connection")
        return data

    def _incomplete(self, why: str) -> IncompleteUpload:
        environ = self.environ
        message = f"incomplete upload discarded: {why}"
        log.warning("WebDAV PUT %s by %s: %s", environ.get("PATH_INFO"),
                    environ.get("wsgidav.auth.user_name") or "-", message)
        return IncompleteUpload(message)


class _HideIncompleteTraceback(logging.Filter):
    """wsgidav logs a failed PUT with its traceback; an incomplete upload is the
    client's doing and is logged in one line by UploadBody instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, IncompleteUpload)


HIDE_INCOMPLETE_TRACEBACK = _HideIncompleteTraceback()
