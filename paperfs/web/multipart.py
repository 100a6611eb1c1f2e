"""Uploads from a form: a streaming reader of multipart/form-data.

Files are written to disk as they arrive (memory bounded by one chunk, whatever
the file's size); small text fields are kept (at most ``MAX_FIELD_BYTES``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import IO, BinaryIO, Callable

from paperfs.web.http import BadRequest

CHUNK = 256 * 1024
MAX_FIELD_BYTES = 64 * 1024
MAX_HEADER_BYTES = 16 * 1024
_PARAM = re.compile(r';\s*(\w+)\*?=(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))')


@dataclass
class Parsed:
    fields: dict[str, str] = field(default_factory=dict)
    #: (the file name the browser gave, what ``open_file`` returned for it)
    files: list[tuple[str, object]] = field(default_factory=list)


def boundary_of(content_type: str) -> bytes:
    for key, quoted, plain in _PARAM.findall(content_type):
        if key.lower() == "boundary" and (quoted or plain):
            return (quoted or plain).encode("latin-1")
    raise BadRequest("a multipart form without a boundary")


def _disposition(headers: bytes) -> tuple[str, str | None]:
    name, filename = "", None
    for line in headers.decode("utf-8", "replace").split("\r\n"):
        key, _, value = line.partition(":")
        if key.strip().lower() != "content-disposition":
            continue
        for param, quoted, plain in _PARAM.findall(value):
            text = quoted.replace('\\"', '"') if quoted else plain
            if param.lower() == "name":
                name = text
            elif param.lower() == "filename":
                filename = text
    return name, filename


class _Reader:
    def __init__(self, stream: BinaryIO, length: int) -> None:
        self.stream = stream
        self.left = length
        self.buffer = b""

    def fill(self) -> bool:
        if self.left <= 0:
            return False
        data = self.stream.read(min(CHUNK, self.left))
        if not data:
            raise BadRequest("the upload was cut off: send it again")
        self.left -= len(data)
        self.buffer += data
        return True


def parse(stream: BinaryIO, length: int, content_type: str,
          open_file: Callable[[str], tuple[object, IO[bytes]]]) -> Parsed:
    """Read a whole multipart body; each file part is written to what
    ``open_file(filename)`` gives (a key, a writable file), which is closed after."""
    delimiter = b"\r\n--" + boundary_of(content_type)
    reader = _Reader(stream, length)
    reader.buffer = b"\r\n"  # the first delimiter has no line break before it
    out = Parsed()
    while delimiter not in reader.buffer[:len(delimiter) + 2]:
        if not reader.fill() or len(reader.buffer) > MAX_HEADER_BYTES:
            raise BadRequest("not a multipart form")
    reader.buffer = reader.buffer[reader.buffer.index(delimiter) + len(delimiter):]
    while True:
        while len(reader.buffer) < 2 and reader.fill():
            pass
        if reader.buffer.startswith(b"--"):
            return out
        while b"\r\n\r\n" not in reader.buffer:
            if len(reader.buffer) > MAX_HEADER_BYTES or not reader.fill():
                raise BadRequest("a part of the form has no end of its headers")
        head, reader.buffer = reader.buffer[2:].split(b"\r\n\r\n", 1)
        name, filename = _disposition(head)
        sink: IO[bytes] | None = None
        kept = bytearray()
        if filename is not None:
            key, sink = open_file(filename)
            out.files.append((filename, key))
        try:
            while True:
                at = reader.buffer.find(delimiter)
                if at >= 0:
                    data, reader.buffer = reader.buffer[:at], reader.buffer[at + len(delimiter):]
                else:  # keep what could be the start of a delimiter
                    cut = max(0, len(reader.buffer) - len(delimiter))
                    data, reader.buffer = reader.buffer[:cut], reader.buffer[cut:]
                if sink is not None:
                    sink.write(data)
                else:
                    kept += data
                    if len(kept) > MAX_FIELD_BYTES:
                        raise BadRequest(f"the form field {name!r} is too large")
                if at >= 0:
                    break
                if not reader.fill():
                    raise BadRequest("the upload was cut off: send it again")
        finally:
            if sink is not None:
                sink.close()
        if filename is None:
            out.fields[name] = kept.decode("utf-8", "replace")
