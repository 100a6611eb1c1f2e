"""One poll of one account: each rule's SEARCH, new mails handed to the intake, actions.

Per mail, in this order (the "never twice, never lost" protocol):

1. the raw message is fetched (BODY.PEEK: the server's \\Seen flag stays as it is)
   and written into its hand-off folder, not yet visible (handoff.prepare);
2. the record is appended and fsynced (records.handed);
3. the hand-off: the file becomes visible to the consumer (handoff.release);
4. the rule's action on the server, then ``acted`` is recorded.

A crash after 2 finishes 3 at the next start (Handoff.recover) and 4 at the
next poll of the account (``finish_actions``). Which mails are new is decided
in memory: the SEARCH's UIDs minus the recorded ones of the same folder,
UIDVALIDITY and rule (no body is fetched for a known mail). A new UID whose
Message-ID and checksum were recorded for the rule before (the folder was
recreated: a new UIDVALIDITY) is recorded as ``seen`` and not consumed again.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

from paperfs.config import MailAccount
from paperfs.mail.filed import id_watermark
from paperfs.mail.handoff import Handoff, eml_name
from paperfs.mail.records import MailRecord, MailRecords, record_key
from paperfs.mail.rules import MailRule
from paperfs.mail_documents.message import header

if TYPE_CHECKING:
    from imap_tools.mailbox import BaseMailBox

log = logging.getLogger(__name__)


class MissingFolderError(Exception):
    """A rule names a folder the server does not have (the message lists those it has)."""


@dataclass
class PollReport:
    account: str
    #: rule name -> record keys handed over in this poll
    handed: dict[str, list[str]] = field(default_factory=dict)
    #: one line per rule that could not run (its folder is missing …)
    problems: list[str] = field(default_factory=list)
    missing_folders: set[str] = field(default_factory=set)
    seconds: float = 0.0

    @property
    def count(self) -> int:
        return sum(len(keys) for keys in self.handed.values())


def folder_names(box: "BaseMailBox") -> list[str]:
    return [info.name for info in box.folder.list()]


def missing_folder(account: str, rule: MailRule, folder: str, names: list[str]) -> str:
    return (f"mail account {account}, rule {rule.name!r}: the server has no folder "
            f"{folder!r}; its folders: {', '.join(sorted(names)) or 'none'}")


def uidvalidity_of(box: "BaseMailBox", folder: str) -> int:
    return int(box.folder.status(folder, ["UIDVALIDITY"])["UIDVALIDITY"])


def fetch_raw(box: "BaseMailBox", uid: str) -> bytes | None:
    """The message exactly as the server gives it, without setting \\Seen; None: gone."""
    typ, data = box.client.uid("FETCH", uid, "(BODY.PEEK[])")
    if typ != "OK":
        return None
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            return item[1]
    return None


def headers_of(raw: bytes) -> tuple[str, str, str]:
    """(Message-ID, From, Subject) of a raw message, decoded as the mail document's header
    block decodes them (RFC 2047, raw 8-bit bytes too); a broken header reads as ''."""
    headers = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(raw)
    return header(headers, "message-id").strip(), header(headers, "from"), \
        header(headers, "subject")


class AccountPoller:
    """Polls the rules of one account over one connection (made by the caller)."""

    def __init__(self, account: MailAccount, records: MailRecords, handoff: Handoff) -> None:
        self.account = account
        self.records = records
        self.handoff = handoff

    def poll(self, box: "BaseMailBox", rules: Iterable[MailRule]) -> PollReport:
        started = time.monotonic()
        report = PollReport(self.account.name)
        self.records.compact_if_due()  # reads what others appended first
        self.finish_actions(box, rules)
        names: list[str] | None = None
        #: folder -> UIDs a stop-processing rule matched: later rules skip them
        stopped: dict[str, set[str]] = {}
        for rule in rules:
            try:
                uidvalidity = uidvalidity_of(box, rule.folder)
            except Exception:  # noqa: BLE001 - imap-tools raises its own error for a missing folder
                names = names if names is not None else folder_names(box)
                if rule.folder not in names:
                    report.problems.append(missing_folder(self.account.name, rule,
                                                          rule.folder, names))
                    report.missing_folders.add(rule.folder)
                    continue
                raise
            box.folder.set(rule.folder, readonly=False)
            matched = box.uids(rule.criteria(), charset=rule.charset)
            skip = self.records.known_uids(self.account.name, rule.folder, uidvalidity,
                                           rule.name) | stopped.get(rule.folder, set())
            new = [uid for uid in matched if uid not in skip]
            handed = report.handed.setdefault(rule.name, [])
            for uid in new:
                key = self.take(box, rule, uidvalidity, uid)
                if key is not None:
                    handed.append(key)
            if rule.stop:
                stopped.setdefault(rule.folder, set()).update(matched)
        report.seconds = time.monotonic() - started
        if report.count:
            log.info("mail account %s: %d mail(s) handed to the intake in %.1f s",
                     self.account.name, report.count, report.seconds)
        return report

    def take(self, box: "BaseMailBox", rule: MailRule, uidvalidity: int,
             uid: str) -> str | None:
        """Hand one new mail over and do its action; its record key (None: not taken)."""
        raw = fetch_raw(box, uid)
        if raw is None:
            return None  # expunged meanwhile
        message_id, sender, subject = headers_of(raw)
        key = record_key(self.account.name, rule.folder, uidvalidity, uid, rule.name)
        record = MailRecord(key=key, account=self.account.name, folder=rule.folder,
                            uidvalidity=uidvalidity, uid=uid, rule=rule.name,
                            message_id=message_id, sha256=hashlib.sha256(raw).hexdigest(),
                            name=eml_name(subject, uid))
        if message_id and self.records.has_mail(self.account.name, rule.name, message_id,
                                                record.sha256):
            log.info("mail account %s: %s (%s) was consumed before under another "
                     "UIDVALIDITY; not again", self.account.name, key, message_id)
            self.records.seen(record)
            return None
        record.settings = rule.settings(key, sender)
        record.first_id = id_watermark(self.handoff.root)
        self.handoff.prepare(key, record.name, raw, record.settings)
        self.records.handed(record)
        self.handoff.release(key)
        self.act(box, rule, uid)
        self.records.acted(key)
        return key

    def act(self, box: "BaseMailBox", rule: MailRule, uid: str) -> None:
        if rule.action == "mark_read":
            box.flag(uid, "\\Seen", True)
        elif rule.action == "flag":
            box.flag(uid, "\\Flagged", True)
        elif rule.action == "keyword":
            box.flag(uid, rule.keyword, True)
        elif rule.action == "move":
            if not box.folder.exists(rule.move_to):
                box.folder.create(rule.move_to)
            box.move(uid, rule.move_to)
        elif rule.action == "delete":
            box.delete(uid)

    def finish_actions(self, box: "BaseMailBox", rules: Iterable[MailRule]) -> None:
        """Actions a crash left undone after the hand-off are done now."""
        by_name = {rule.name: rule for rule in rules}
        for record in self.records.select(account=self.account.name, unacted=True):
            rule = by_name.get(record.rule)
            if rule is None:
                continue  # the rule is gone from mail.yml: nothing left to do on the server
            try:
                if uidvalidity_of(box, record.folder) != record.uidvalidity:
                    self.records.acted(record.key)  # the folder was recreated: that mail is gone
                    continue
                box.folder.set(record.folder, readonly=False)
                if box.uids(f"UID {record.uid}"):
                    log.info("mail account %s: doing the action of %s a stop left undone",
                             self.account.name, record.key)
                    self.act(box, rule, record.uid)
            except Exception as exc:  # noqa: BLE001 - tried again at the next poll
                log.warning("mail account %s: the action of %s failed: %s; tried again at "
                            "the next poll", self.account.name, record.key, exc)
                continue
            self.records.acted(record.key)
