"""The mail section of paperfs.yml and mail.yml: validated, with clear errors."""

from __future__ import annotations

import pytest

from paperfs.config import load_config
from paperfs.errors import ConfigError
from paperfs.mail.accounts import MailAccountError, password_of
from paperfs.mail.rules import MailRulesFile, MailRulesError, parse_rules

ACCOUNT = "mail:\n  accounts:\n    - name: work\n      host: imap.example.com\n      user: bob\n"


def config(tmp_path, text: str):
    path = tmp_path / "paperfs.yml"
    path.write_text("data_root: .\n" + text)
    return load_config(path, environ={})


def test_a_password_in_the_yaml_is_refused_without_being_repeated(tmp_path):
    with pytest.raises(ConfigError) as error:
        config(tmp_path, ACCOUNT + "      password: hunter2\n")
    text = str(error.value)
    assert "mail.accounts[0].password: a password is never written in paperfs.yml" in text
    assert "password_file" in text and "password_env" in text and "hunter2" not in text


@pytest.mark.parametrize("extra, problem", [
    ("", r"give password_file \(a file holding the password\) or password_env"),
    ("      password_env: X\n      password_file: /run/x\n", "one of them"),
    ("      password_env: X\n      security: ssl\n", "'ssl' is not one of none, starttls, tls"),
    ("      password_env: X\n      port: 70000\n", "is not a port"),
    ("      password_env: PAPERFS_IMAP_WORK\n",
     "read as configuration overrides; name it otherwise, e.g. IMAP_PASSWORD_WORK"),
])
def test_account_problems(tmp_path, extra, problem):
    with pytest.raises(ConfigError, match=problem):
        config(tmp_path, ACCOUNT + extra)


def test_account_names_are_unique_and_ports_default(tmp_path):
    with pytest.raises(ConfigError, match=r"mail.accounts\[1\].name: 'work' is used twice"):
        config(tmp_path, ACCOUNT + "      password_env: X\n"
               "    - {name: work, host: h.example, user: u, password_env: Y}\n")
    loaded = config(tmp_path, ACCOUNT + "      password_env: X\n").mail.accounts[0]
    assert (loaded.security, loaded.port, loaded.password_env) == ("tls", 0, "X")


def test_password_sources(tmp_path):
    account = config(tmp_path, ACCOUNT + f"      password_file: {tmp_path}/pw\n").mail.accounts[0]
    with pytest.raises(MailAccountError, match="cannot read its password_file"):
        password_of(account)
    (tmp_path / "pw").write_text("s3cret\n")
    assert password_of(account) == "s3cret"
    (tmp_path / "pw").write_text("s3cret\r\nwritten by hand: a note after it\n")
    assert password_of(account) == "s3cret"  # its first line, as documented
    by_env = config(tmp_path, ACCOUNT + "      password_env: IMAP_PW\n").mail.accounts[0]
    assert password_of(by_env, {"IMAP_PW": "x"}) == "x"
    with pytest.raises(MailAccountError, match="IMAP_PW .password_env. is not set"):
        password_of(by_env, {})


@pytest.mark.parametrize("text, problem", [
    ("work:\n  - {folder: INBOX}\n", "line 2: account 'work': a rule needs a name"),
    ("work:\n  - {name: a, consume: everything}\n",
     "line 2: rule 'a': consume: 'everything' is not one of attachments, mail, both"),
    ("work:\n  - name: a\n    action: move\n", "line 2: rule 'a': action: move and move_to"),
    ("work:\n  - {name: a, action: move, move_to: INBOX}\n", "'INBOX' is the rule's own folder"),
    ("work:\n  - name: a\n    colour: red\n", "line 3: rule 'a': unknown key 'colour'"),
    ("work:\n  - {name: a}\n  - {name: a}\n", "line 3: rule name 'a' is used twice"),
    ("home:\n  - {name: a}\n", "line 1: no mail account 'home' in paperfs.yml; its accounts: work"),
    ("work:\n  - {name: a, max_age_days: -1}\n", "max_age_days must be a whole number"),
    ("work:\n  - {name: a, correspondent_from: fixed}\n", "fixed needs correspondent: NAME"),
    ("work:\n  - {name: a, action: keyword, keyword: two words}\n", "is not an IMAP keyword"),
    ("work: [\n", "not valid YAML"),
])
def test_rules_errors_name_file_line_rule(text, problem):
    with pytest.raises(MailRulesError) as error:
        parse_rules(text, "mail.yml", accounts=["work"])
    assert str(error.value).startswith("mail.yml: ") and problem in str(error.value), error.value


def test_rules_defaults_and_search():
    [rule] = parse_rules("work:\n  - {name: a, correspondent: ACME, subject: Rechnung für}\n",
                         accounts=["work"]).of("work")
    assert (rule.folder, rule.consume, rule.action, rule.correspondent_from) == \
        ("INBOX", "both", "mark_read", "fixed")
    assert rule.charset == "UTF-8" and "UNSEEN" in rule.criteria()
    assert rule.settings("k", "X <x@y.z>")["correspondent"] == "ACME"


def test_last_valid_rules_stay_in_force(tmp_path):
    path = tmp_path / "mail.yml"
    path.write_text("work:\n  - {name: a}\n")
    held = MailRulesFile(path, ["work"])
    assert [r.name for r in held.current().of("work")] == ["a"]
    path.write_text("work:\n  - {name: b, action: fly}\n")
    assert [r.name for r in held.current().of("work")] == ["a"]
    assert "line 2: rule 'b': action: 'fly'" in held.problem
