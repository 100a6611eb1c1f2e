"""mail.yml: which mails of which account are consumed, how, and what happens to them.

The file maps account names (paperfs.yml's mail.accounts) to their rules, in
the order they run::

    work:
      - name: invoices
        folder: INBOX
        from: billing@acme.example
        subject: Invoice
        max_age_days: 30
        consume: attachments
        include: ["*.pdf"]
        correspondent_from: name
        tags: [invoice]
        action: move
        move_to: Archive/Invoices
        stop: true

It is checked as a whole when it is read: an error names the file, the line,
the rule and what is wrong, and nothing of an invalid file is used
(``MailRulesFile`` keeps the last valid version in force).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml

from paperfs.errors import ConfigError
from paperfs.user_files import LastValid, NodeReader, compose, node_kind, read_text

RULES_NAME = "mail.yml"
CONSUME = ("attachments", "mail", "both")
TITLE_FROM = ("filename", "subject")
CORRESPONDENT_FROM = ("nothing", "address", "name", "fixed")
ACTIONS = ("mark_read", "flag", "keyword", "move", "delete", "none")
_FILTERS = ("from", "to", "subject", "body")
_KEYS = ("name", "folder", *_FILTERS, "max_age_days", "consume", "inline", "include",
         "exclude", "title_from", "correspondent_from", "correspondent", "tags",
         "document_type", "owner", "action", "move_to", "keyword", "stop")


class MailRulesError(ConfigError):
    """mail.yml is invalid: the message names the file, line and rule."""


@dataclass(frozen=True)
class MailRule:
    account: str
    name: str
    folder: str = "INBOX"
    #: server-side IMAP SEARCH filters (empty: not filtered)
    from_: str = ""
    to: str = ""
    subject: str = ""
    body: str = ""
    max_age_days: int = 0
    consume: str = "both"
    inline: bool = False
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    title_from: str = "filename"
    correspondent_from: str = "nothing"
    correspondent: str = ""
    tags: tuple[str, ...] = ()
    document_type: str = ""
    owner: str = ""
    action: str = "mark_read"
    move_to: str = ""
    keyword: str = ""
    #: later rules of this account do not see the mails this one matches in its folder
    stop: bool = False

    def criteria(self, today: dt.date | None = None) -> str:
        """The IMAP SEARCH of this rule: its filters, and what its action marks as done."""
        from imap_tools import AND

        parts: dict[str, Any] = {}
        for key, attr in (("from_", "from_"), ("to", "to"), ("subject", "subject"),
                          ("body", "body")):
            if getattr(self, attr):
                parts[key] = getattr(self, attr)
        if self.max_age_days:
            parts["sent_date_gte"] = (today or dt.date.today()) - dt.timedelta(days=self.max_age_days)
        # What the action leaves behind is not searched again (records would skip it too).
        if self.action == "mark_read":
            parts["seen"] = False
        elif self.action == "flag":
            parts["flagged"] = False
        elif self.action == "keyword":
            parts["no_keyword"] = self.keyword
        return str(AND(**parts)) if parts else "ALL"

    @property
    def charset(self) -> str:
        text = "".join((self.from_, self.to, self.subject, self.body))
        return "US-ASCII" if text.isascii() else "UTF-8"

    def settings(self, record: str, sender: str) -> dict[str, Any]:
        """Job.settings of a mail this rule takes (the folder-rule keys plus ``mail``)."""
        out: dict[str, Any] = {}
        if self.tags:
            out["tags"] = list(self.tags)
        correspondent = self.correspondent_for(sender)
        if correspondent:
            out["correspondent"] = correspondent
        if self.document_type:
            out["document_type"] = self.document_type
        if self.owner:
            out["owner"] = self.owner
        out["mail"] = {"consume": self.consume, "inline": self.inline,
                       "include": list(self.include), "exclude": list(self.exclude),
                       "title_from": self.title_from, "record": record}
        return out

    def correspondent_for(self, sender: str) -> str:
        """The correspondent a mail from *sender* (its From header) gets, or ''."""
        if self.correspondent_from == "fixed":
            return self.correspondent
        if self.correspondent_from in ("address", "name"):
            name, address = email.utils.parseaddr(sender)
            if self.correspondent_from == "name":
                return name.strip() or address
            return address
        return ""

    def describe_action(self) -> str:
        if self.action == "move":
            return f"move to {self.move_to}"
        if self.action == "keyword":
            return f"add keyword {self.keyword}"
        return self.action.replace("_", " ")


@dataclass(frozen=True)
class MailRules:
    """The valid rules, in order, by account."""

    by_account: dict[str, tuple[MailRule, ...]] = dataclasses.field(default_factory=dict)

    def of(self, account: str) -> tuple[MailRule, ...]:
        return self.by_account.get(account, ())

    def __len__(self) -> int:
        return sum(len(rules) for rules in self.by_account.values())


class _Reader(NodeReader):
    def __init__(self, source: str, accounts: Iterable[str] | None) -> None:
        super().__init__(source, MailRulesError)
        self.accounts = None if accounts is None else tuple(accounts)

    def text(self, node: yaml.Node, what: str) -> str:
        value = self.value(node)
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.fail(node, f"{what} must be a text, got {node_kind(node)}")
        return str(value)

    def choice(self, node: yaml.Node, what: str, choices: tuple[str, ...]) -> str:
        value = self.text(node, what)
        if value not in choices:
            raise self.fail(node, f"{what}: {value!r} is not one of {', '.join(choices)}")
        return value

    def names(self, node: yaml.Node, what: str) -> tuple[str, ...]:
        value = self.value(node)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip()
                                                  for v in value):
            raise self.fail(node, f"{what} must be a list of texts, got {node_kind(node)}")
        return tuple(v.strip() for v in value)

    def parse(self, text: str) -> MailRules:
        root = compose(text, self.source, MailRulesError)
        if root is None:
            return MailRules()
        if not isinstance(root, yaml.MappingNode):
            raise self.fail(root, "the file must map account names to lists of rules, got "
                                  f"{node_kind(root)}")
        out: dict[str, tuple[MailRule, ...]] = {}
        for key, value in root.value:
            account = self.text(key, "an account's name")
            if account in out:
                raise self.fail(key, f"account {account!r} is given twice")
            if self.accounts is not None and account not in self.accounts:
                known = ", ".join(self.accounts) or "none (add mail.accounts to paperfs.yml)"
                raise self.fail(key, f"no mail account {account!r} in paperfs.yml; its "
                                     f"accounts: {known}")
            if not isinstance(value, yaml.SequenceNode):
                raise self.fail(value, f"account {account!r}: its rules must be a list, got "
                                       f"{node_kind(value)}")
            rules = tuple(self.rule(account, item) for item in value.value)
            seen: set[str] = set()
            for item, rule in zip(value.value, rules):
                if rule.name in seen:
                    raise self.fail(item, f"rule name {rule.name!r} is used twice in account "
                                          f"{account!r}")
                seen.add(rule.name)
            out[account] = rules
        return MailRules(out)

    def rule(self, account: str, node: yaml.Node) -> MailRule:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"account {account!r}: a rule must be a mapping, got "
                                  f"{node_kind(node)}")
        parts = {self.text(k, "a key"): (k, v) for k, v in node.value}
        if "name" not in parts:
            raise self.fail(node, "a rule needs a name (its records are kept under it)",
                            f"account {account!r}")
        name = self.text(parts["name"][1], "name").strip()
        who = f"rule {name!r}"
        for key, (knode, _v) in parts.items():
            if key not in _KEYS:
                raise self.fail(knode, f"unknown key {key!r}; valid keys: {', '.join(_KEYS)}",
                                who)
        values: dict[str, Any] = {"account": account, "name": name}
        for key, (_k, vnode) in parts.items():
            values.update(self.field(key, vnode, who))
        rule = MailRule(**values)
        if rule.correspondent and rule.correspondent_from == "nothing" \
                and "correspondent_from" not in parts:
            rule = dataclasses.replace(rule, correspondent_from="fixed")
        if rule.correspondent_from == "fixed" and not rule.correspondent:
            raise self.fail(node, "correspondent_from: fixed needs correspondent: NAME", who)
        if (rule.action == "move") != bool(rule.move_to):
            raise self.fail(node, "action: move and move_to: FOLDER go together", who)
        if rule.action == "move" and rule.move_to == rule.folder:
            raise self.fail(node, f"move_to: {rule.move_to!r} is the rule's own folder", who)
        if (rule.action == "keyword") != bool(rule.keyword):
            raise self.fail(node, "action: keyword and keyword: WORD go together", who)
        if rule.keyword and (not rule.keyword.isascii() or any(c in rule.keyword
                                                                for c in ' (){%*"\\]')):
            raise self.fail(node, f"keyword {rule.keyword!r} is not an IMAP keyword (ASCII, "
                                  "no spaces or ( ) { % * \" \\ ])", who)
        return rule

    def field(self, key: str, node: yaml.Node, who: str) -> dict[str, Any]:
        what = f"{who}: {key}"
        if key in ("name",):
            return {}
        if key in _FILTERS:
            return {"from_" if key == "from" else key: self.text(node, what)}
        if key in ("folder", "correspondent", "document_type", "owner", "move_to", "keyword"):
            value = self.text(node, what).strip()
            if not value:
                raise self.fail(node, f"{what} must not be empty")
            return {key: value}
        if key == "max_age_days":
            value = self.value(node)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 36500:
                raise self.fail(node, f"{what} must be a whole number of days (1–36500)")
            return {key: value}
        if key in ("inline", "stop"):
            value = self.value(node)
            if not isinstance(value, bool):
                raise self.fail(node, f"{what} must be true or false, got {node_kind(node)}")
            return {key: value}
        if key in ("include", "exclude", "tags"):
            return {key: self.names(node, what)}
        choices = {"consume": CONSUME, "title_from": TITLE_FROM,
                   "correspondent_from": CORRESPONDENT_FROM, "action": ACTIONS}[key]
        return {key: self.choice(node, what, choices)}


def parse_rules(text: str, source: str = RULES_NAME,
                accounts: Iterable[str] | None = None) -> MailRules:
    return _Reader(source, accounts).parse(text)


def load_rules(path: Path, accounts: Iterable[str] | None = None) -> MailRules:
    text = read_text(path, MailRulesError)
    return MailRules() if text is None else parse_rules(text, str(path), accounts)


class MailRulesFile(LastValid[MailRules]):
    """mail.yml as the daemon sees it: read again when it changed, last valid in force."""

    def __init__(self, path: Path, accounts: Iterable[str]) -> None:
        names = tuple(accounts)
        super().__init__(path, lambda p: load_rules(p, names), MailRules(), MailRulesError)
