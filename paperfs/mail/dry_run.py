"""``paperfs mail test ACCOUNT``: log in and list what each rule would take, changing nothing.

The folders are opened read-only (EXAMINE) and messages fetched with
BODY.PEEK, so not even the \\Seen flag changes; nothing is recorded or handed
over.
"""

from __future__ import annotations

import email.policy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

from paperfs.config import MailAccount
from paperfs.mail.poll import folder_names, missing_folder, uidvalidity_of
from paperfs.mail.records import MailRecords
from paperfs.errors import BrokenFileError
from paperfs.mail.rules import MailRule
from paperfs.mail_documents.message import parse
from paperfs.mail_documents.settings import MailSettings

if TYPE_CHECKING:
    from imap_tools.mailbox import BaseMailBox


@dataclass
class WouldTake:
    uid: str
    sender: str
    subject: str
    date: str
    #: the attachments the rule's include/exclude globs let through
    attachments: list[str]


@dataclass
class RulePreview:
    rule: MailRule
    problem: str = ""
    matched: int = 0
    already: int = 0
    mails: list[WouldTake] = field(default_factory=list)


def attachments_taken(raw: bytes, rule: MailRule) -> list[str]:
    """The attachments the mail stage would try for *rule* (consume, inline, the globs)."""
    settings = MailSettings.of(rule.settings("", "")["mail"], "preview")
    try:
        mail = parse(raw, "preview")
    except BrokenFileError:
        return []
    return [part.filename for part in mail.parts if settings.offers(part.filename, part.inline)]


def preview(box: "BaseMailBox", account: MailAccount, rules: Iterable[MailRule],
            records: MailRecords, limit: int = 50) -> list[RulePreview]:
    out = []
    names = folder_names(box)
    stopped: dict[str, set[str]] = {}
    for rule in rules:
        result = RulePreview(rule)
        out.append(result)
        if rule.folder not in names:
            result.problem = missing_folder(account.name, rule, rule.folder, names)
            continue
        uidvalidity = uidvalidity_of(box, rule.folder)
        box.folder.set(rule.folder, readonly=True)
        matched = box.uids(rule.criteria(), charset=rule.charset)
        known = records.known_uids(account.name, rule.folder, uidvalidity, rule.name)
        skip = known | stopped.get(rule.folder, set())
        new = [uid for uid in matched if uid not in skip]
        result.matched, result.already = len(matched), len(matched) - len(new)
        if new:
            for message in box.fetch(uid_list=new[:limit], mark_seen=False, bulk=True):
                result.mails.append(WouldTake(
                    uid=message.uid or "", sender=message.from_, subject=message.subject,
                    date=message.date_str,
                    attachments=attachments_taken(
                        message.obj.as_bytes(policy=email.policy.compat32), rule)))
        if rule.stop:
            stopped.setdefault(rule.folder, set()).update(matched)
    return out
