"""An on-disk, append-only, fsynced journal of index updates (for Solr).

Every update for the remote index (Solr) is written here first, in order,
with a sequence number; a sender applies the records in order and then
acknowledges the last sequence number it applied. So when Solr is down,
slow or restarted, nothing is lost (the records wait on disk, across daemon
restarts) and nothing is applied twice in the normal course (records up to
the acknowledged number are never sent again). Should the process die
between applying and acknowledging, the same records are sent once more:
each one replaces a whole document by id or deletes an id, so applying a
suffix of the journal again leaves the same state.

Layout, under ``.paperfs/index-journal/``::

    000000000001.log     records with seq >= 1 (segment named by its first seq)
    000000004097.log     the next segment, once the previous one grew large
    acked                the highest seq applied ("4100\\n"; temp+fsync+rename)

A record is one line ``<crc32 hex> <json>\\n``; the JSON is
``{"s": seq, "op": "add", "doc": {...}}``, ``{"s": seq, "op": "delete", "id": 42}``
or ``{"s": seq, "op": "clear"}``. A line that is cut short or whose checksum
does not match can only be the end of an append that a crash interrupted:
it is dropped (and cut off the file when the journal is opened for writing).

Segments whose records are all acknowledged are deleted; the ``acked`` file
keeps the numbering going, so sequence numbers never repeat.

One process writes (the one holding the data root's writer lock); any other
may open the journal read-only for ``backlog()`` (``paperfs status``).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from paperfs.archive.atomic import atomic_write_text, fsync_dir
from paperfs.errors import DataRootError

log = logging.getLogger(__name__)

SUFFIX = ".log"
ACKED = "acked"
#: start a new segment once the current one is this large
SEGMENT_BYTES = 32 * 1024 * 1024
#: a fully acknowledged current segment is replaced once it is this large
ROTATE_ACKED_BYTES = 1024 * 1024
OPS = ("add", "delete", "clear")


@dataclass(frozen=True)
class Record:
    seq: int
    op: str
    #: "add": the document; "delete": the id; "clear": None
    value: Any = None

    def as_op(self) -> tuple[str, Any]:
        return self.op, self.value


@dataclass(frozen=True)
class _Pos:
    seq: int
    segment: Path
    offset: int
    length: int


def _line(seq: int, op: str, value: Any) -> bytes:
    data: dict[str, Any] = {"s": seq, "op": op}
    if op == "add":
        data["doc"] = value
    elif op == "delete":
        data["id"] = value
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return b"%08x " % zlib.crc32(body) + body + b"\n"


def _parse(line: bytes) -> dict[str, Any] | None:
    """The record of a complete, intact line; None for a torn or damaged one."""
    if len(line) < 11 or not line.endswith(b"\n") or line[8:9] != b" ":
        return None
    body = line[9:-1]
    try:
        if int(line[:8], 16) != zlib.crc32(body):
            return None
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("op") not in OPS or not isinstance(
            data.get("s"), int):
        return None
    return data


class Journal:
    """The update journal in ``folder``; ``readonly`` for observers (no writes, no repairs)."""

    def __init__(self, folder: Path, *, readonly: bool = False,
                 segment_bytes: int = SEGMENT_BYTES) -> None:
        self.folder = folder
        self.readonly = readonly
        self.segment_bytes = segment_bytes
        self._lock = threading.RLock()
        self._pending: list[_Pos] = []
        self._segments: list[Path] = []
        self._fd: int | None = None
        self._size = 0
        self.acked = 0
        self.last_seq = 0
        if not readonly:
            folder.mkdir(parents=True, exist_ok=True)
        self._load()

    # ------------------------------------------------------------ opening

    def _load(self) -> None:
        try:
            self.acked = int((self.folder / ACKED).read_text().strip() or 0)
        except FileNotFoundError:
            self.acked = 0
        except ValueError:
            raise DataRootError(f"{self.folder / ACKED} is damaged; stop paperfs, delete "
                                f"{self.folder} and run 'paperfs reindex'") from None
        self.last_seq = self.acked
        try:
            names = sorted(p for p in self.folder.iterdir()
                           if p.name.endswith(SUFFIX) and p.name[:-len(SUFFIX)].isdigit())
        except FileNotFoundError:
            names = []
        self._segments = names
        for i, segment in enumerate(names):
            self._scan(segment, last=(i == len(names) - 1))

    def _scan(self, segment: Path, last: bool) -> None:
        data = segment.read_bytes()
        offset = 0
        while offset < len(data):
            end = data.find(b"\n", offset)
            line = data[offset:] if end < 0 else data[offset:end + 1]
            record = _parse(line)
            if record is None:
                if last and (end < 0 or data.find(b"\n", end + 1) < 0):
                    # the torn tail of an interrupted append: never acknowledged
                    if not self.readonly:
                        log.warning("index journal: dropping an incomplete record at the end "
                                    "of %s (an append interrupted by a crash)", segment)
                        with open(segment, "r+b") as f:
                            f.truncate(offset)
                            os.fsync(f.fileno())
                    return
                raise DataRootError(
                    f"{segment}: damaged record at byte {offset}; stop paperfs, delete "
                    f"{self.folder} and run 'paperfs reindex' to bring the index in step")
            seq = record["s"]
            if seq <= self.last_seq and seq > self.acked:
                raise DataRootError(f"{segment}: sequence number {seq} out of order; stop "
                                    f"paperfs, delete {self.folder} and run 'paperfs reindex'")
            self.last_seq = max(self.last_seq, seq)
            if seq > self.acked:
                self._pending.append(_Pos(seq, segment, offset, len(line)))
            offset += len(line)

    # ------------------------------------------------------------ writing

    def _open_segment(self) -> None:
        """An append descriptor on the current segment (a new one when needed)."""
        if self._fd is not None and self._size < self.segment_bytes:
            return
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        current = self._segments[-1] if self._segments else None
        if current is not None:
            size = current.stat().st_size
            if size < self.segment_bytes:
                self._fd = os.open(current, os.O_WRONLY | os.O_APPEND)
                self._size = size
                return
        segment = self.folder / f"{self.last_seq + 1:012d}{SUFFIX}"
        self._fd = os.open(segment, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._size = 0
        self._segments.append(segment)
        fsync_dir(self.folder)

    def append(self, ops: Iterable[tuple[str, Any]]) -> int:
        """Write the operations (in order, one fsync); returns the last sequence number."""
        if self.readonly:
            raise RuntimeError("the index journal is open read-only")
        with self._lock:
            lines = []
            seq = self.last_seq
            for op, value in ops:
                if op not in OPS:
                    raise ValueError(f"unknown journal operation {op!r}")
                seq += 1
                lines.append((seq, _line(seq, op, value)))
            if not lines:
                return self.last_seq
            self._open_segment()
            assert self._fd is not None
            segment = self._segments[-1]
            blob = b"".join(line for _, line in lines)
            written = 0
            while written < len(blob):
                written += os.write(self._fd, blob[written:])
            os.fsync(self._fd)
            offset = self._size
            for s, line in lines:
                self._pending.append(_Pos(s, segment, offset, len(line)))
                offset += len(line)
            self._size = offset
            self.last_seq = seq
            return seq

    def pending(self, max_records: int = 1000, max_bytes: int = 16 * 1024 * 1024
                ) -> list[Record]:
        """The oldest unacknowledged records, in order (at least one if there is any)."""
        with self._lock:
            out: list[Record] = []
            total = 0
            for pos in self._pending[:max_records]:
                if out and total + pos.length > max_bytes:
                    break
                with open(pos.segment, "rb") as f:
                    f.seek(pos.offset)
                    line = f.read(pos.length)
                data = _parse(line)
                if data is None or data["s"] != pos.seq:
                    raise DataRootError(f"{pos.segment}: record {pos.seq} cannot be read back; "
                                        f"stop paperfs, delete {self.folder} and run "
                                        "'paperfs reindex'")
                value = data.get("doc") if data["op"] == "add" else data.get("id")
                out.append(Record(pos.seq, data["op"], value))
                total += pos.length
            return out

    def ack(self, seq: int) -> None:
        """Everything up to ``seq`` has been applied (durably recorded)."""
        if self.readonly:
            raise RuntimeError("the index journal is open read-only")
        with self._lock:
            seq = min(seq, self.last_seq)
            if seq <= self.acked:
                return
            atomic_write_text(self.folder / ACKED, f"{seq}\n")
            self.acked = seq
            self._pending = [p for p in self._pending if p.seq > seq]
            self._drop_applied()

    def _drop_applied(self) -> None:
        """Delete segments with nothing left to apply."""
        keep_from = self._pending[0].segment if self._pending else None
        removed = False
        for segment in list(self._segments):
            if segment == keep_from:
                break
            is_current = segment == self._segments[-1]
            if is_current:
                if self._size < ROTATE_ACKED_BYTES and self._fd is not None:
                    break
                if self._fd is not None:
                    os.close(self._fd)
                    self._fd = None
            segment.unlink(missing_ok=True)
            self._segments.remove(segment)
            removed = True
        if removed:
            fsync_dir(self.folder)

    # ------------------------------------------------------------ observing

    def backlog(self) -> int:
        """Records written but not yet applied."""
        with self._lock:
            return len(self._pending)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def backlog(folder: Path) -> int:
    """The backlog of the journal in ``folder`` (0 when there is none), read-only."""
    if not folder.is_dir():
        return 0
    journal = Journal(folder, readonly=True)
    try:
        return journal.backlog()
    finally:
        journal.close()


__all__ = ["Journal", "Record", "backlog"]
