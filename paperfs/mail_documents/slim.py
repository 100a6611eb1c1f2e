"""An .eml read without the attachments too large to consume.

The stdlib parser holds a message several times over while it parses (the
text, its lines, the joined payloads): a 70 MB .eml with a 50 MB attachment
took 636 MB. Parts above ``ocr.mail_attachment_max_mb`` are never decoded
anyway, so their bytes need not be read at all: the file is streamed line
by line, and each run of base64 lines longer than the limit is replaced by
one marker line giving its size. What is parsed then holds only the parts
that can be consumed. (Attachments are base64 in practice; a giant
quoted-printable part is parsed whole.)
"""

from __future__ import annotations

import re
from pathlib import Path

#: the line that stands for an omitted payload in the slimmed message
MARK = b"paperfs-omitted-base64: "
_BASE64_LINE = re.compile(rb"[A-Za-z0-9+/=]{4,}\r?\n")


def slimmed(path: Path, limit_bytes: int) -> bytes:
    """The .eml's bytes with every base64 payload over *limit_bytes* (decoded)
    replaced by a marker line. Memory: about the limit, plus what is kept."""
    threshold = limit_bytes * 4 // 3 + 4096  # base64 characters
    out: list[bytes] = []
    run: list[bytes] = []
    size = 0  # base64 characters in the current run
    with open(path, "rb") as source:
        for line in source:
            if _BASE64_LINE.fullmatch(line):
                size += len(line.rstrip())
                if size <= threshold:
                    run.append(line)
                else:
                    run.clear()  # too large: only counted from here on
                continue
            _end_run(out, run, size, threshold)
            run, size = [], 0
            out.append(line)
    _end_run(out, run, size, threshold)
    return b"".join(out)


def _end_run(out: list[bytes], run: list[bytes], size: int, threshold: int) -> None:
    if size > threshold:
        out.append(MARK + str(size).encode() + b"\r\n")
    else:
        out.extend(run)


def omitted_size(payload: str) -> int | None:
    """The base64 size of a payload slimmed() left out, or None if it is all there."""
    if not payload.startswith(MARK.decode()):
        return None
    try:
        return int(payload[len(MARK):].split()[0])
    except (ValueError, IndexError):
        return None
