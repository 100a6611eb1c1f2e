"""Imported mail accounts merged into paperfs.yml, their rules into mail.yml.

Both files are edited round trip (ruamel.yaml): the user's comments, order
and settings stay, and only additions are made. An account of the same name
that paperfs.yml already has is never changed: when it is the same mailbox
(host and user) the paperless rules join its rules (this is also how a rerun
finds its own earlier import), otherwise the paperless account is added as
``NAME-paperless``. Both merged texts are validated as the daemon would load
them (``load_config``, ``parse_rules``) before anything is written; the
written account has no password, only a ``password_env`` placeholder, and the
report says per account how to give it one.
"""

from __future__ import annotations

import os
import shlex
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paperfs.archive.atomic import atomic_write_text
from paperfs.errors import ConfigError
from paperfs.mail.rules import RULES_NAME, MailRulesError, parse_rules
from paperfs.migrate.mail_mapping import MailPlan
from paperfs.migrate.manifest import ExportError
from paperfs.migrate.user_files import _round_trip, _round_trip_text as _dump


@dataclass
class AccountReport:
    """One imported account: where it went and how to give it its password."""

    name: str
    paperless_name: str
    describe: str
    #: the password_env placeholder written (None: an existing account was kept)
    variable: str | None
    rules: int = 0
    notes: list[str] = field(default_factory=list)

    def how(self, config: Path | None) -> str:
        if self.variable is None:
            return f"{self.name}: kept as it was in paperfs.yml ({self.describe})"
        where = config or "paperfs.yml"
        return (f"{self.name} ({self.describe}): no password imported; give it one: set the "
                f"environment variable {self.variable} for paperfs (systemd: Environment= or "
                f"EnvironmentFile=), or in {where} replace 'password_env: {self.variable}' "
                "with 'password_file: FILE' (a file only paperfs can read); then "
                f"'paperfs mail test {shlex.quote(self.name)}'")


@dataclass
class MailMerge:
    config_path: Path | None
    config_text: str = ""
    rules_text: str = ""
    accounts: list[AccountReport] = field(default_factory=list)
    added_accounts: int = 0
    added_rules: int = 0
    kept: list[str] = field(default_factory=list)


def _text(value: Any) -> Any:
    """A string quoted where PyYAML (YAML 1.1, which paperfs reads with) would not read it
    back as that string ("yes", "off", "1.5"); ruamel writes YAML 1.2 and would not."""
    import yaml
    from ruamel.yaml.scalarstring import SingleQuotedScalarString

    if isinstance(value, str):
        try:
            same = yaml.safe_load(value) == value
        except yaml.YAMLError:
            same = False
        return value if same else SingleQuotedScalarString(value)
    if isinstance(value, list):
        return [_text(item) for item in value]
    return value


def _mailbox(account: Any) -> tuple[str, str]:
    return (str(account.get("host") or "").casefold(), str(account.get("user") or ""))


def prepare(config_path: Path | None, rules_path: Path, plan: MailPlan) -> MailMerge | None:
    """The merged paperfs.yml and mail.yml, validated; None: the export has no mail."""
    if not plan.accounts:
        return None
    if config_path is None:
        raise ExportError("the export holds mail accounts, but this paperfs runs without a "
                          "paperfs.yml to add them to; pass --config FILE")
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    rt = _round_trip()
    merge = MailMerge(config_path)
    config = rt.load(config_path.read_text("utf-8")) or CommentedMap()
    if config.get("mail") is None:
        config["mail"] = CommentedMap()
    if config["mail"].get("accounts") is None:
        config["mail"]["accounts"] = CommentedSeq()
    accounts = config["mail"]["accounts"]
    rules_original = rules_path.read_text("utf-8") if rules_path.exists() else ""
    rules = rt.load(rules_original) or CommentedMap()
    for planned in plan.accounts:
        settings = planned.settings
        existing = {str(a.get("name")).casefold(): a for a in accounts}
        name, number = planned.name, 1
        while name.casefold() in existing and \
                _mailbox(existing[name.casefold()]) != _mailbox(settings):
            name = f"{planned.name}-paperless" + (f"-{number}" if number > 1 else "")
            number += 1
        describe = f"{settings['user']} at {settings['host']}, {settings['security']}"
        have = existing.get(name.casefold())
        if have is not None and have.get("password_env") == settings["password_env"]:
            # imported by an earlier run and still waiting for its password
            report = AccountReport(str(have.get("name")), planned.name, describe,
                                   settings["password_env"], notes=list(planned.notes))
        elif have is not None:
            merge.kept.append(f"mail account {name!r} (the same mailbox is already in "
                              "paperfs.yml; its paperless rules are added after its own)")
            report = AccountReport(str(have.get("name")), planned.name, describe, None)
        else:
            if name != planned.name:
                merge.kept.append(f"mail account {planned.name!r}: paperfs.yml has another "
                                  f"account of that name (kept); imported as {name!r}")
            entry = CommentedMap({k: _text(v) for k, v in {**settings, "name": name}.items()})
            accounts.append(entry)
            entry.yaml_add_eol_comment("from paperless-ngx without its password: set this "
                                       "variable, or use password_file", "password_env")
            merge.added_accounts += 1
            report = AccountReport(name, planned.name, describe, settings["password_env"],
                                   notes=list(planned.notes))
        merge.accounts.append(report)
        own = rules.get(report.name)
        if own is None:
            own = rules[_text(report.name)] = CommentedSeq()
        names = {str(rule.get("name")) for rule in own}
        for rule in plan.rules.get(planned.name, []):
            if rule["name"] in names:
                merge.kept.append(f"mail rule {rule['name']!r} of {report.name!r}")
                continue
            entry = CommentedMap({key: _text(value) for key, value in rule.items()})
            for key in ("include", "exclude", "tags"):
                if key in entry:
                    entry[key] = CommentedSeq(entry[key])
                    entry[key].fa.set_flow_style()
            own.append(entry)
            report.rules += 1
            merge.added_rules += 1
        if not own:
            del rules[report.name]  # an account without rules needs no entry
    merge.config_text = _dump(config)
    merge.rules_text = _dump(rules) if rules else rules_original
    _validate(merge)
    return merge


def _validate(merge: MailMerge) -> None:
    """Load both texts as the daemon would: a problem stops the import before any write."""
    from paperfs.config import load_config

    assert merge.config_path is not None
    with tempfile.TemporaryDirectory(prefix="paperfs-mail-import-") as tmp:
        candidate = Path(tmp) / merge.config_path.name
        candidate.write_text(merge.config_text, encoding="utf-8")
        try:
            config = load_config(candidate, os.environ)
        except ConfigError as exc:
            problem = str(exc).replace(str(candidate), str(merge.config_path))
            raise ExportError(f"the export's mail accounts do not fit paperfs.yml: {problem}"
                              ) from None
    try:
        parse_rules(merge.rules_text, RULES_NAME, [a.name for a in config.mail.accounts])
    except MailRulesError as exc:
        raise ExportError(f"the export's mail rules do not fit mail.yml: {exc}") from None


def write(merge: MailMerge | None, rules_path: Path) -> None:
    """paperfs.yml first: mail.yml's accounts must be in it when the daemon reads either."""
    if merge is None:
        return
    if merge.added_accounts:
        assert merge.config_path is not None
        atomic_write_text(merge.config_path, merge.config_text)
    if merge.added_rules:
        atomic_write_text(rules_path, merge.rules_text)
