"""The mail records: which mail (account, folder, UIDVALIDITY, UID, rule) became which job.

An append-only file of JSON lines in the data root (``mail-records.jsonl``),
each line fsynced before anything it records is acted on. It is the truth
about mail as the archive tree is about documents, so it is not under
``.paperfs/`` (which may be deleted): losing it would consume every mail
still on the server again. Events of one record, by its key:

* ``handed``   the .eml is handed to the intake (written before the hand-off
  completes and before the action on the server); carries the rule's
  settings, the Message-ID and the SHA-256 of the raw message
* ``acted``    the rule's action was done on the server
* ``seen``     the same mail (Message-ID and checksum) under a new
  UIDVALIDITY: recorded, not consumed again
* ``done``     its job ended without a failure, with the ids of the documents
  it filed (``documents``; empty: the mail had no consumable part; absent:
  not known, a record of an older version)
* ``failed``   its job failed (the reason, the attempt, its file in failed/)
* ``handed_again``  a retry (automatic with back-off, or ``paperfs mail retry``)

The whole file is read once (a few ms for 10,000 mails); later lines,
written by this process or by ``paperfs mail retry`` beside it, are read on
the next ``refresh``. A poll asks only in memory (``known_uids``).

**Compaction.** Every mail adds three lines or more (a failure and a retry
two more each), so the daemon rewrites the file with one ``record`` line per
mail (its whole state) when the superseded lines are at least as many as the
records and at least ``COMPACT_MIN_LINES`` (at start and at each poll). It
writes a new file and renames it over the old one; appends and compaction
hold an exclusive ``flock`` on the file (checking after the lock that the
path still names the file they opened), and a reader that finds another
file under the name reads it anew: a ``paperfs mail retry`` beside the
daemon loses no line.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

log = logging.getLogger(__name__)

RECORDS_NAME = "mail-records.jsonl"
#: compaction is not worth a rewrite below this many superseded lines
COMPACT_MIN_LINES = 1000


def record_key(account: str, folder: str, uidvalidity: int, uid: str, rule: str) -> str:
    return f"{account}/{folder}/{uidvalidity}/{uid}/{rule}"


@dataclass
class MailRecord:
    key: str
    account: str
    folder: str
    uidvalidity: int
    uid: str
    rule: str
    message_id: str = ""
    sha256: str = ""
    #: the .eml's name (the job's file name; failed/NAME after a failure)
    name: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    handed_at: float = 0.0
    acted: bool = False
    #: None: consumption not finished; "done"; "failed"; "seen" (a duplicate, never handed)
    outcome: str | None = None
    #: the id counter at the (last) hand-off: its documents have ids from here (filed.py)
    first_id: int = 0
    #: with outcome "done": the ids of its documents ([]: none; None: not known)
    documents: list[int] | None = None
    failures: int = 0
    reason: str = ""
    message: str = ""
    failed_at: float = 0.0
    #: the file in failed/ its last failure left
    failed_file: str = ""

    @property
    def pending(self) -> bool:
        """Handed over, and its job's outcome not known yet."""
        return self.outcome is None

    @property
    def state(self) -> str:
        """What a user is shown: "being consumed", "filed" (documents), "no documents"
        (nothing consumable), "failed", "seen" (a duplicate under a new UIDVALIDITY)."""
        if self.outcome is None:
            return "being consumed"
        if self.outcome == "done":
            if self.documents is None:
                return "done"  # an older record: its documents are not known
            return "filed" if self.documents else "no documents"
        return self.outcome


class MailRecords:
    """The records file, read into memory; appends are fsynced, one line each."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: dict[str, MailRecord] = {}
        #: (account, folder, uidvalidity, rule) -> UIDs recorded
        self._uids: dict[tuple[str, str, int, str], set[str]] = {}
        #: (account, rule, Message-ID, sha256) of every mail recorded
        self._mails: set[tuple[str, str, str, str]] = set()
        #: keys whose job has not ended, and keys whose action is not done: kept as the
        #: events come, so the checks each second and each poll do not walk every record
        self._pending: set[str] = set()
        self._unacted: set[str] = set()
        self._offset = 0
        #: lines read, and the file they were read from (another one: it was compacted)
        self._lines = 0
        self._inode: int | None = None
        self._lock = threading.RLock()
        self.refresh()

    def _reset(self) -> None:
        self.records.clear()
        self._uids.clear()
        self._mails.clear()
        self._pending.clear()
        self._unacted.clear()
        self._offset = self._lines = 0
        self._inode = None

    # ------------------------------------------------------------ reading

    def refresh(self) -> None:
        """Read the lines appended since the last read (by anyone)."""
        with self._lock:
            try:
                with open(self.path, "rb") as f:
                    inode = os.fstat(f.fileno()).st_ino
                    if self._inode is not None and inode != self._inode:
                        self._reset()  # compacted (by another process): read it anew
                    self._inode = inode
                    f.seek(self._offset)
                    data = f.read()
            except FileNotFoundError:
                return
            end = data.rfind(b"\n") + 1  # a torn last line (a crash mid-append) is skipped
            for line in data[:end].splitlines():
                self._lines += 1
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                self._apply(event)
            self._offset += end

    def _apply(self, event: dict[str, Any]) -> None:
        kind, key = event.get("e"), event.get("key", "")
        if kind == "record":  # a compacted record: its whole state
            fields = {f.name for f in dataclasses.fields(MailRecord)}
            self._add(MailRecord(**{k: v for k, v in event.items() if k in fields}))
            return
        if kind in ("handed", "seen"):
            record = MailRecord(key=key, account=event["account"], folder=event["folder"],
                                uidvalidity=int(event["uidvalidity"]), uid=str(event["uid"]),
                                rule=event["rule"], message_id=event.get("message_id", ""),
                                sha256=event.get("sha256", ""), name=event.get("name", ""),
                                settings=event.get("settings") or {},
                                handed_at=event.get("at", 0.0),
                                first_id=int(event.get("first_id", 0)),
                                outcome="seen" if kind == "seen" else None)
            self._add(record)
            return
        record = self.records.get(key)
        if record is None:
            return
        if kind == "acted":
            record.acted = True
            self._unacted.discard(key)
        elif kind == "done":
            record.outcome = "done"
            documents = event.get("documents")
            record.documents = None if documents is None else [int(i) for i in documents]
            self._pending.discard(key)
        elif kind == "failed":
            record.outcome = "failed"
            self._pending.discard(key)
            record.failures = int(event.get("failures", record.failures + 1))
            record.reason = event.get("reason", "")
            record.message = event.get("message", "")
            record.failed_at = event.get("at", 0.0)
            record.failed_file = event.get("file", "")
        elif kind == "handed_again":
            record.outcome = None
            self._pending.add(key)
            record.handed_at = event.get("at", 0.0)
            record.first_id = int(event.get("first_id", record.first_id))
            record.documents = None
            if event.get("reset"):
                record.failures = 0

    def _add(self, record: MailRecord) -> None:
        self.records[record.key] = record
        self._uids.setdefault((record.account, record.folder, record.uidvalidity,
                               record.rule), set()).add(record.uid)
        self._mails.add((record.account, record.rule, record.message_id, record.sha256))
        if record.outcome is None:
            self._pending.add(record.key)
        if not record.acted and record.outcome != "seen":
            self._unacted.add(record.key)

    def known_uids(self, account: str, folder: str, uidvalidity: int, rule: str) -> set[str]:
        with self._lock:
            return self._uids.get((account, folder, uidvalidity, rule), set())

    def has_mail(self, account: str, rule: str, message_id: str, sha256: str) -> bool:
        """Whether this very mail was recorded for the rule before (under any UIDVALIDITY)."""
        with self._lock:
            return (account, rule, message_id, sha256) in self._mails

    def get(self, key: str) -> MailRecord | None:
        with self._lock:
            return self.records.get(key)

    def select(self, *, account: str | None = None, pending: bool | None = None,
               unacted: bool = False, outcome: str | None = None) -> list[MailRecord]:
        with self._lock:
            if pending:
                candidates = [self.records[key] for key in self._pending]
            elif unacted:
                candidates = [self.records[key] for key in self._unacted]
            else:
                candidates = list(self.records.values())
            out = []
            for record in candidates:
                if account is not None and record.account != account:
                    continue
                if pending is not None and record.pending != pending:
                    continue
                if unacted and (record.acted or record.outcome == "seen"):
                    continue
                if outcome is not None and record.outcome != outcome:
                    continue
                out.append(record)
            return out

    # ------------------------------------------------------------ writing

    def append(self, events: Iterable[dict[str, Any]], *, sync: bool = True) -> None:
        """Write events as lines, fsynced (the caller acts only after this returns)."""
        with self._lock:
            self.refresh()  # lines of others first: the offset then covers ours
            lines = []
            for event in events:
                event.setdefault("at", time.time())
                lines.append(json.dumps(event, ensure_ascii=False, separators=(",", ":")))
            if not lines:
                return
            data = ("\n".join(lines) + "\n").encode()
            fd = self._open_locked()
            try:
                self.refresh()  # lines another process wrote before it got the lock
                os.write(fd, data)  # one write: whole lines even beside another writer
                if sync:
                    os.fsync(fd)
            finally:
                os.close(fd)  # releases the lock
            self.refresh()

    def _open_locked(self) -> int:
        """The records file, opened for appending under an exclusive flock: the file the
        path names once the lock is held (a compaction may have replaced it meanwhile)."""
        while True:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                if os.stat(self.path).st_ino == os.fstat(fd).st_ino:
                    return fd
            except FileNotFoundError:
                pass
            os.close(fd)

    @property
    def superseded(self) -> int:
        """Lines a compaction would drop (one line per record stays)."""
        with self._lock:
            return self._lines - len(self.records)

    def compact_if_due(self) -> bool:
        """Compact when at least as many lines are superseded as there are records, and
        at least COMPACT_MIN_LINES."""
        with self._lock:
            self.refresh()
            if self.superseded < max(COMPACT_MIN_LINES, len(self.records)):
                return False
            self.compact()
            return True

    def compact(self) -> None:
        """Rewrite the file with one line per record, atomically (a new file renamed
        over the old one, fsynced)."""
        from paperfs.archive.atomic import fsync_dir

        with self._lock:
            fd = self._open_locked()
            try:
                self.refresh()
                before = self._lines
                lines = [json.dumps({"e": "record", **dataclasses.asdict(record)},
                                    ensure_ascii=False, separators=(",", ":"))
                         for record in self.records.values()]
                temp = self.path.with_name(self.path.name + ".compacting")
                with open(temp, "wb") as f:
                    f.write("".join(line + "\n" for line in lines).encode())
                    f.flush()
                    os.fsync(f.fileno())
                os.chmod(temp, 0o600)
                os.replace(temp, self.path)
                fsync_dir(self.path.parent)
            finally:
                os.close(fd)
            self._reset()
            self.refresh()
            log.info("mail records: %s compacted, %d lines to %d", self.path.name, before,
                     len(lines))

    def handed(self, record: MailRecord) -> None:
        self.append([{"e": "handed", **_identity(record), "name": record.name,
                      "settings": record.settings, "first_id": record.first_id}])

    def seen(self, record: MailRecord) -> None:
        self.append([{"e": "seen", **_identity(record)}])

    def acted(self, key: str) -> None:
        self.append([{"e": "acted", "key": key}])

    def done(self, key: str, documents: list[int] | None = None) -> None:
        event: dict[str, Any] = {"e": "done", "key": key}
        if documents is not None:
            event["documents"] = documents
        self.append([event])

    def failed(self, key: str, *, failures: int, reason: str, message: str,
               file: str) -> None:
        self.append([{"e": "failed", "key": key, "failures": failures, "reason": reason,
                      "message": message, "file": file}])

    def handed_again(self, key: str, *, reset: bool, first_id: int = 0) -> None:
        self.append([{"e": "handed_again", "key": key, "reset": reset, "first_id": first_id}])

    def __iter__(self) -> Iterator[MailRecord]:
        with self._lock:
            return iter(list(self.records.values()))


def _identity(record: MailRecord) -> dict[str, Any]:
    return {"key": record.key, "account": record.account, "folder": record.folder,
            "uidvalidity": record.uidvalidity, "uid": record.uid, "rule": record.rule,
            "message_id": record.message_id, "sha256": record.sha256}
