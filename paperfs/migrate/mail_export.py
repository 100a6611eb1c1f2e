"""paperfs' mail accounts and mail.yml rules as paperless-ngx 3.x mail records.

``paperless_mail.mailaccount`` with an **empty password** (paperfs keeps
none; the report says to set it in paperless) and ``paperless_mail.mailrule``
with every field of 3.0.5's model, through the tables mail_mapping.py reads
with. What paperless cannot say is reported: ``action: none`` (paperless
has no such action: exported as mark read), an account's timeout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from paperfs.mail.rules import RULES_NAME, MailRule, MailRulesError, load_rules
from paperfs.migrate.mail_mapping import (
    ACTIONS, CONSUME, CORRESPONDENT_FROM, SECURITY, TITLE_FROM)

if TYPE_CHECKING:
    from paperfs.config import MailAccount

TO_SECURITY = {name: number for number, name in SECURITY.items()}
TO_CONSUME = {name: number for number, name in CONSUME.items()}
TO_ACTION = {name: number for number, name in ACTIONS.items()}
TO_TITLE = {"subject": 1, "filename": 2}
TO_CORRESPONDENT = {name: number for number, name in CORRESPONDENT_FROM.items()}
assert set(TO_TITLE.values()) <= set(TITLE_FROM)
#: maximum_age is a PositiveSmallIntegerField: PostgreSQL stops the import above this
#: (mail.yml allows 36,500 days; both mean "about forever")
MAX_AGE = 32767


@dataclass
class MailExport:
    accounts: tuple["MailAccount", ...] = ()
    rules: list[MailRule] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)

    def labels(self) -> Iterator[tuple[str, str]]:
        """(kind, name) of every label a rule assigns: the export must hold them."""
        for rule in self.rules:
            for tag in rule.tags:
                yield "tags", tag
            if rule.document_type:
                yield "document_types", rule.document_type
            if rule.correspondent_from == "fixed":
                yield "correspondents", rule.correspondent

    def owners(self) -> set[str]:
        return {rule.owner for rule in self.rules if rule.owner}


def load(accounts: tuple["MailAccount", ...], root: Path) -> MailExport:
    """The accounts and their valid rules; an invalid mail.yml is reported, not fatal."""
    out = MailExport(accounts)
    try:
        rules = load_rules(root / RULES_NAME, [a.name for a in accounts])
    except MailRulesError as exc:
        out.left_out.append(f"mail rules: {exc}; none exported (fix mail.yml, export again)")
        return out
    for account in accounts:
        out.rules.extend(rules.of(account.name))
    return out


def add_records(records: Any, mail: MailExport, user_pks: dict[str, int]) -> None:
    """The account and rule records, into the exporter's records (exporter._Records)."""
    account_pks: dict[str, int] = {}
    for pk, account in enumerate(mail.accounts, 1):
        account_pks[account.name] = pk
        records.add("paperless_mail.mailaccount", pk, {
            "owner": None, "name": account.name, "imap_server": account.host,
            "imap_port": account.port or None, "imap_security": TO_SECURITY[account.security],
            "username": account.user, "password": "", "is_token": False,
            "character_set": "UTF-8", "account_type": 1, "refresh_token": None,
            "expiration": None})
        mail.left_out.append(f"mail account {account.name!r}: exported without a password "
                             "(paperfs keeps none): set it in paperless after the import")
    used: set[tuple[str, int | None]] = set()
    for pk, rule in enumerate(mail.rules, 1):
        owner = user_pks.get(rule.owner) if rule.owner else None
        name = rule.name
        if (name, owner) in used:  # unique per owner in paperless, per account in mail.yml
            name = f"{rule.name} ({rule.account})"
            mail.left_out.append(f"mail rule {rule.name!r} of {rule.account!r}: exported as "
                                 f"{name!r} (paperless names a rule once per owner)")
        used.add((name, owner))
        action = TO_ACTION.get(rule.action)
        if action is None:
            action = TO_ACTION["mark_read"]
            mail.left_out.append(f"mail rule {name!r}: paperless has no action "
                                 f"{rule.action!r}; exported with 'mark as read'")
        records.add("paperless_mail.mailrule", pk, {
            "owner": owner, "name": name, "order": pk - 1,
            "account": account_pks[rule.account], "enabled": True, "folder": rule.folder,
            "filter_from": rule.from_ or None, "filter_to": rule.to or None,
            "filter_subject": rule.subject or None, "filter_body": rule.body or None,
            "filter_attachment_filename_include": ",".join(rule.include) or None,
            "filter_attachment_filename_exclude": ",".join(rule.exclude) or None,
            "maximum_age": min(rule.max_age_days, MAX_AGE), "attachment_type": 2 if rule.inline else 1,
            "consumption_scope": TO_CONSUME[rule.consume], "pdf_layout": 0,
            "action": action, "action_parameter": rule.move_to or rule.keyword or None,
            "assign_title_from": TO_TITLE[rule.title_from],
            "assign_document_type": records.pk("document_types", rule.document_type or None),
            "assign_correspondent_from": TO_CORRESPONDENT[rule.correspondent_from],
            "assign_correspondent": records.pk("correspondents", rule.correspondent or None)
            if rule.correspondent_from == "fixed" else None,
            "assign_owner_from_rule": owner is not None,
            "stop_processing": rule.stop,
            "assign_tags": [records.pk("tags", tag) for tag in rule.tags]})
