"""paperless-ngx mail accounts and rules (1.x–3.x) as paperfs.yml accounts and mail.yml rules.

Read from ``paperless_mail.mailaccount`` and ``paperless_mail.mailrule``
(src/paperless_mail/models.py): 1.x has one attachment glob
(``filter_attachment_filename``); 2.0 adds ``assign_owner_from_rule`` and the
title source "none"; 2.1 include/exclude globs (comma-separated); 2.13
``enabled`` and OAuth accounts (``account_type``, ``refresh_token``); 2.15
``pdf_layout``; 3.0 ``stop_processing``.

**Secrets are never read**: not the password, not the OAuth tokens (the
fields are not even looked at, so a plain and a ``--passphrase`` export map
alike). Each account gets a ``password_env`` placeholder that validates; what
has no equivalent is listed with the reason, a rule is never half translated.
The tables are shared with the way back (mail_export.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from paperfs.migrate.manifest import Export

#: paperless ImapSecurity → paperfs security
SECURITY = {1: "none", 2: "tls", 3: "starttls"}
#: ConsumptionScope → consume
CONSUME = {1: "attachments", 2: "mail", 3: "both"}
#: MailAction → action (5 "tag" is an IMAP keyword; Gmail labels and Apple colours aside)
ACTIONS = {1: "delete", 2: "move", 3: "mark_read", 4: "flag", 5: "keyword"}
#: TitleSource → title_from (3 "none": the file name, as paperless' consumer then does)
TITLE_FROM = {1: "subject", 2: "filename", 3: "filename"}
#: CorrespondentSource → correspondent_from
CORRESPONDENT_FROM = {1: "nothing", 2: "address", 3: "name", 4: "fixed"}
ACCOUNT_TYPES = {2: "Gmail OAuth", 3: "Outlook OAuth"}
PDF_LAYOUTS = {1: "text, then HTML", 2: "HTML, then text", 3: "HTML only", 4: "text only"}
#: a keyword paperfs can set (mail/rules.py refuses these characters)
_KEYWORD_BAD = set(' (){%*"\\]')


@dataclass
class MailAccountPlan:
    """An account for paperfs.yml's mail.accounts (never a password)."""

    name: str
    settings: dict[str, Any]
    #: what the report says about it beyond the password (OAuth, character set)
    notes: list[str] = field(default_factory=list)


@dataclass
class MailPlan:
    accounts: list[MailAccountPlan] = field(default_factory=list)
    #: account name → its rules for mail.yml, in paperless' order
    rules: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)

    def rule_count(self) -> int:
        return sum(len(rules) for rules in self.rules.values())


def password_variable(name: str, taken: set[str]) -> str:
    """The environment variable an imported account's password is expected in.
    Not PAPERFS_*: those are configuration overrides (config.py)."""
    base = "IMAP_PASSWORD_" + (re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_") or "ACCOUNT")
    variable, number = base, 2
    while variable in taken:
        variable = f"{base}_{number}"
        number += 1
    taken.add(variable)
    return variable


def globs(value: Any) -> list[str]:
    """paperless' comma-separated attachment globs as a list."""
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


class MailMapper:
    def __init__(self, export: Export, names: dict[str, dict[Any, str]]) -> None:
        self.export = export
        self.names = names
        self.plan = MailPlan()

    def build(self) -> MailPlan:
        accounts: dict[Any, str] = {}
        variables: set[str] = set()
        for record in self.export.of("paperless_mail.mailaccount"):
            account = self._account(record, variables)
            accounts[record["pk"]] = account.name
            self.plan.accounts.append(account)
            self.plan.rules.setdefault(account.name, [])
        rules = sorted(self.export.of("paperless_mail.mailrule"),
                       key=lambda r: (r["fields"].get("order") or 0, r["pk"]))
        for record in rules:
            f = record["fields"]
            name = " ".join(str(f.get("name") or f"rule {record['pk']}").split())
            account = accounts.get(f.get("account"))
            if account is None:
                self.plan.left_out.append(f"mail rule {name!r}: its account (pk "
                                          f"{f.get('account')}) is not in the export")
                continue
            if f.get("enabled") is False:
                self.plan.left_out.append(
                    f"mail rule {name!r} of {account!r}: disabled in paperless; paperfs has no "
                    "disabled rules (add it to mail.yml when you want it to run)")
                continue
            taken = {r["name"] for r in self.plan.rules[account]}
            unique, number = name, 2
            while unique in taken:  # unique per owner in paperless, per account in mail.yml
                unique = f"{name} ({number})"
                number += 1
            try:
                rule = self._rule(f, unique, f"mail rule {name!r} of {account!r}")
            except ValueError as why:
                self.plan.left_out.append(f"mail rule {name!r} of {account!r}: {why}; write "
                                          "it in mail.yml yourself")
                continue
            host = next(a.settings["host"] for a in self.plan.accounts if a.name == account)
            if rule.get("action") == "keyword" and host.endswith(("gmail.com", "googlemail.com")):
                self.plan.left_out.append(
                    f"mail rule {name!r} of {account!r}: paperless set a Gmail label; paperfs "
                    "sets an IMAP keyword, which Gmail may not keep (a Gmail label is a folder: "
                    "action: move)")
            self.plan.rules[account].append(rule)
        return self.plan

    def _account(self, record: dict[str, Any], variables: set[str]) -> MailAccountPlan:
        f = record["fields"]
        name = " ".join(str(f.get("name") or f"account {record['pk']}").split())
        settings: dict[str, Any] = {"name": name,
                                    "host": str(f.get("imap_server") or "").strip()}
        if f.get("imap_port"):
            settings["port"] = int(f["imap_port"])
        settings["security"] = SECURITY.get(f.get("imap_security") or 2, "tls")
        settings["user"] = str(f.get("username") or "")
        settings["password_env"] = password_variable(name, variables)
        account = MailAccountPlan(name, settings)
        kind = ACCOUNT_TYPES.get(f.get("account_type") or 1)
        if kind or f.get("is_token"):
            account.notes.append(f"paperless logged in with {kind or 'a token'} "
                                 "(not imported); paperfs logs in with a password: give an "
                                 "app password of the account")
        charset = str(f.get("character_set") or "UTF-8")
        if charset.upper().replace("-", "") not in ("UTF8", "USASCII"):
            account.notes.append(f"character set {charset}: paperfs searches in US-ASCII or "
                                 "UTF-8, whichever the rule's filters need")
        return account

    def _label(self, kind: str, pk: Any) -> str | None:
        return None if pk is None else self.names.get(kind, {}).get(pk)

    def _rule(self, f: dict[str, Any], name: str, who: str) -> dict[str, Any]:
        """The rule for mail.yml; ValueError: it cannot be translated at all. A setting
        without an equivalent that the rule can do without is listed under *who*."""
        rule: dict[str, Any] = {"name": name, "folder": str(f.get("folder") or "INBOX")}
        for key in ("from", "to", "subject", "body"):
            if f.get(f"filter_{key}"):
                rule[key] = str(f[f"filter_{key}"])
        if f.get("maximum_age"):  # 0: any age
            rule["max_age_days"] = min(int(f["maximum_age"]), 36500)
        rule["consume"] = CONSUME.get(f.get("consumption_scope") or 1, "attachments")
        if f.get("attachment_type") == 2:
            rule["inline"] = True
        include = globs(f.get("filter_attachment_filename_include",
                              f.get("filter_attachment_filename")))
        if include:
            rule["include"] = include
        if globs(f.get("filter_attachment_filename_exclude")):
            rule["exclude"] = globs(f.get("filter_attachment_filename_exclude"))
        if f.get("pdf_layout"):
            self.plan.left_out.append(
                f"{who}: its PDF layout ({PDF_LAYOUTS.get(f['pdf_layout'], '?')}) has no "
                "equivalent: paperfs renders a mail one way (docs/mail-documents.md)")
        rule["title_from"] = TITLE_FROM.get(f.get("assign_title_from") or 1, "subject")
        source = CORRESPONDENT_FROM.get(f.get("assign_correspondent_from") or 1, "nothing")
        if source == "fixed":
            correspondent = self._label("correspondents", f.get("assign_correspondent"))
            if correspondent is None:
                raise ValueError("it assigns a correspondent the export does not hold")
            rule["correspondent"] = correspondent
        rule["correspondent_from"] = source
        tags = [tag for tag in (self._label("tags", pk) for pk in f.get("assign_tags") or [])
                if tag]
        if tags:
            rule["tags"] = tags
        document_type = self._label("document_types", f.get("assign_document_type"))
        if document_type:
            rule["document_type"] = document_type
        owner = self._label("user", f.get("owner"))
        if owner and f.get("assign_owner_from_rule", True):  # 1.x: always the rule's owner
            rule["owner"] = owner
        rule.update(self._action(f, who))
        if f.get("stop_processing"):
            rule["stop"] = True
        return rule

    def _action(self, f: dict[str, Any], who: str) -> dict[str, Any]:
        action = ACTIONS.get(f.get("action") or 3)
        parameter = str(f.get("action_parameter") or "").strip()
        if action is None:
            raise ValueError(f"its action {f.get('action')!r} is unknown")
        if action == "move":
            if not parameter:
                raise ValueError("it moves mails but names no folder")
            if parameter == str(f.get("folder") or "INBOX"):
                raise ValueError(f"it moves mails into its own folder {parameter!r}")
            return {"action": "move", "move_to": parameter}
        if action == "keyword":
            if parameter.lower().startswith("apple:"):  # paperless: skips flagged mails too
                self.plan.left_out.append(f"{who}: the Apple Mail colour {parameter!r} is not "
                                          "set: paperfs flags the mail (action: flag)")
                return {"action": "flag"}
            if not parameter or not parameter.isascii() or _KEYWORD_BAD & set(parameter):
                raise ValueError(f"its tag {parameter!r} is not an IMAP keyword paperfs can "
                                 "set (ASCII, no spaces or ( ) { % * \" \\ ])")
            return {"action": "keyword", "keyword": parameter}
        return {"action": action}
