"""What became of the mails handed over, and their retries.

A record handed over is still under way while its hand-off folder or a job
of the work queue carries its key; otherwise its job has ended: failed when
failed/ has a NAME.error.yml naming it (``mail_record``, written by
Archive.fail), else done, with the ids of the documents it filed (none: "no
consumable part"; found through the sidecars' ``record``: filed.py).
A failed mail is handed over again from failed/ after ``retry_seconds``,
twice as long after each later failure, ``retries`` times; then it stays in
failed/ and is listed by ``status`` and ``paperfs mail failed`` until
``paperfs mail retry`` hands it over again.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

from paperfs.archive.layout import DataRoot
from paperfs.archive.store import FAILED_INFO_SUFFIX
from paperfs.config import MailConfig
from paperfs.index.base import FiledLookups
from paperfs.mail.filed import documents_of, id_watermark
from paperfs.mail.handoff import Handoff
from paperfs.mail.records import MailRecord, MailRecords

log = logging.getLogger(__name__)


def keys_in_work(root: DataRoot, known: dict[str, str] | None = None) -> set[str]:
    """Record keys of the mail jobs in the work queue (claimed, not finished). *known*:
    job folder -> its key ('' for other jobs), filled and pruned here, so each job.yml
    is read once (its settings never change)."""
    known = {} if known is None else known
    try:
        folders = {p.name: p for p in root.work.iterdir()}
    except FileNotFoundError:
        folders = {}
    for gone in set(known) - set(folders):
        del known[gone]
    for name, folder in folders.items():
        if name in known:
            continue
        try:
            data = yaml.load((folder / "job.yml").read_text("utf-8"), Loader=yaml.CSafeLoader)
        except (OSError, yaml.YAMLError):
            continue  # being claimed: read at the next look
        mail = ((data or {}).get("settings") or {}).get("mail") or {}
        known[name] = mail.get("record", "") if data.get("source") == "mail" else ""
    return {key for key in known.values() if key}


def failures_in(root: DataRoot) -> dict[str, tuple[Path, dict[str, Any]]]:
    """record key -> (the file in failed/, its error info) for the mails in failed/."""
    out: dict[str, tuple[Path, dict[str, Any]]] = {}
    try:
        infos = [p for p in root.failed.iterdir() if p.name.endswith(FAILED_INFO_SUFFIX)]
    except FileNotFoundError:
        return out
    for info_path in infos:
        try:
            text = info_path.read_text("utf-8")
        except OSError:
            continue
        if "mail_record" not in text:  # most failures are not mail: not parsed
            continue
        try:
            info = yaml.load(text, Loader=yaml.CSafeLoader) or {}
        except yaml.YAMLError:
            continue
        if info.get("mail_record"):
            failed = info_path.with_name(info_path.name[:-len(FAILED_INFO_SUFFIX)])
            out[info["mail_record"]] = (failed, info)
    return out


class Outcomes:
    """Settles the pending records of a data root and hands failed ones over again."""

    def __init__(self, root: DataRoot, config: MailConfig, records: MailRecords,
                 handoff: Handoff,
                 lookups: Callable[[], FiledLookups | None] = lambda: None) -> None:
        self.root = root
        #: the catalog the documents of a finished mail are found with (the consumer's);
        #: None: they are not looked for (the outcome says done, documents not known)
        self.lookups = lookups
        self.config = config
        self.records = records
        self.handoff = handoff
        #: one settling at a time (the consumer's thread does it; a failure is counted once)
        self._lock = threading.Lock()
        #: job folder -> the record key of its mail ('' for other jobs): keys_in_work
        self._job_keys: dict[str, str] = {}

    def settle(self, now: float | None = None) -> None:
        """Record the outcome of every finished job; retry what is due."""
        with self._lock:
            self._settle(time.time() if now is None else now)

    def _settle(self, now: float) -> None:
        self.records.refresh()
        pending = self.records.select(pending=True)
        if pending:
            # in this order: a mail moves from the hand-off to the work queue to failed/
            in_handoff = self.handoff.pending_keys()
            in_work = keys_in_work(self.root, self._job_keys)
            ended = [r for r in pending if r.key not in in_handoff and r.key not in in_work]
            failures = failures_in(self.root) if ended else {}
            documents = self._documents([r for r in ended if r.key not in failures])
            for record in ended:
                failure = failures.get(record.key)
                if failure is None:
                    self.records.done(record.key, documents.get(record.key))
                    continue
                path, info = failure
                self.records.failed(record.key, failures=record.failures + 1,
                                    reason=str(info.get("reason", "")),
                                    message=str(info.get("message", "")), file=path.name)
                given_up = record.failures + 1 > self.config.retries
                log.warning("mail %s failed (%s): %s%s", record.key, info.get("reason"),
                            info.get("message"),
                            "; retries used up: 'paperfs mail retry' hands it over again"
                            if given_up else "; it is handed over again later")
        self.retry_due(now)

    def _documents(self, done: list[MailRecord]) -> dict[str, list[int]]:
        """record key -> its documents' ids, for the records that ended without a
        failure; a record handed over by an older version (no first_id) is left out."""
        lookups = self.lookups() if done else None
        known = [r for r in done if r.first_id > 0]
        if lookups is None or not known:
            return {}
        return documents_of(self.root, lookups, [r.key for r in known],
                            min(r.first_id for r in known))

    def drop_stale(self) -> None:
        """At start: a failure in failed/ of a mail that is being handed over again is
        what a crash in the middle of a retry left; the hand-off holds its copy."""
        failures = failures_in(self.root)
        for key in self.handoff.pending_keys() & set(failures):
            path, _info = failures[key]
            log.info("mail %s: dropping failed/%s, handed over again before a stop",
                     key, path.name)
            path.with_name(path.name + FAILED_INFO_SUFFIX).unlink(missing_ok=True)
            path.unlink(missing_ok=True)

    def retry_due(self, now: float) -> None:
        for record in self.records.select(outcome="failed"):
            if record.failures > self.config.retries:
                continue
            wait = self.config.retry_seconds * 2 ** (record.failures - 1)
            if now - record.failed_at >= wait:
                self.hand_again(record, reset=False)

    def given_up(self) -> list[MailRecord]:
        """Mails whose retries are used up (in failed/ until retried by hand)."""
        self.records.refresh()
        return [r for r in self.records.select(outcome="failed")
                if r.failures > self.config.retries]

    def hand_again(self, record: MailRecord, *, reset: bool) -> bool:
        """Its file from failed/ back to the intake with the same settings."""
        failed = self.root.failed / record.failed_file
        if not record.failed_file or not failed.is_file():
            # moved out by hand ('paperfs retry' puts it into the inbox): no longer ours
            log.warning("mail %s: its file failed/%s is gone (moved by hand?); not retried",
                        record.key, record.failed_file)
            self.records.done(record.key)
            return False
        name = record.name or failed.name
        # a copy in place first, then failed/ emptied: a crash in between leaves a recorded
        # hand-off (completed at the start, which drops the stale failure: drop_stale)
        self.handoff.prepare_from(record.key, name, failed, record.settings)
        failed.with_name(failed.name + FAILED_INFO_SUFFIX).unlink(missing_ok=True)
        failed.unlink(missing_ok=True)
        self.records.handed_again(record.key, reset=reset, first_id=id_watermark(self.root))
        self.handoff.release(record.key)
        log.info("mail %s: handed over again (failure %d)", record.key, record.failures)
        return True

    def retry(self, keys: Iterable[str] | None = None) -> list[MailRecord]:
        """``paperfs mail retry``: the given (or all) given-up mails, counting afresh."""
        wanted = None if keys is None else set(keys)
        out = []
        for record in self.records.select(outcome="failed"):
            if wanted is not None and record.key not in wanted:
                continue
            if record.failures <= self.config.retries:
                continue  # still retried automatically (by the daemon: not twice at once)
            if self.hand_again(record, reset=True):
                out.append(record)
        return out
