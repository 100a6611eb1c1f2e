"""paperless-ngx mail accounts and rules: imported into paperfs.yml and mail.yml without
their secrets, exported back, and the daemon still starting after the import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperfs.cli import cli
from paperfs.config import load_config
from paperfs.mail.rules import load_rules
from paperfs.migrate.mail_mapping import MailMapper
from paperfs.migrate.manifest import Export
from tests.helpers import init_root
from tests.paperless_exports import MAIL_SECRETS, make_export

FIXTURES = Path(__file__).resolve().parent / "paperless-fixtures"


def run(root, *args, code=0):
    result = CliRunner().invoke(cli, ["--root", str(root.root), *map(str, args)])
    assert result.exit_code == code, result.output + repr(result.exception)
    return result.output


def _rule(pk, **fields):
    base = {"name": f"rule {pk}", "order": pk, "account": 1, "folder": "INBOX",
            "maximum_age": 30, "attachment_type": 1, "consumption_scope": 1, "action": 3,
            "assign_title_from": 1, "assign_correspondent_from": 1, "assign_tags": []}
    return {"pk": pk, "fields": {**base, **fields}}


def test_the_mapping_table_field_by_field(tmp_path):
    names = {"tags": {1: "Finance", 2: "Inbox"}, "correspondents": {1: "ACME GmbH"},
             "document_types": {1: "Invoice"}, "user": {1: "alice"}}
    rules = [
        _rule(1, filter_from="a@b.example", filter_to="me@example.org", filter_subject="Inv",
              filter_body="total", maximum_age=14, filter_attachment_filename_include=
              " *.pdf, *.xml ,", filter_attachment_filename_exclude="*sig*", action=2,
              action_parameter="Archive.Done", assign_title_from=2, assign_tags=[1, 2, 9],
              assign_document_type=1, assign_correspondent_from=4, assign_correspondent=1,
              owner=1, assign_owner_from_rule=True, stop_processing=True),
        _rule(2, maximum_age=0, attachment_type=2, consumption_scope=3, action=5,
              action_parameter="paperless", assign_title_from=3, assign_correspondent_from=3,
              owner=1, assign_owner_from_rule=False),
        _rule(3, consumption_scope=2, action=4, assign_correspondent_from=2, owner=1,
              filter_attachment_filename="*.PDF"),  # 1.x: one glob, the owner always given
        _rule(4, action=1, pdf_layout=2),
        _rule(5, action=5, action_parameter="apple:green"),
        _rule(6, name="rule 1"),  # the same name (another owner in paperless)
        _rule(7, action=2, action_parameter="INBOX"),
        _rule(8, action=5, action_parameter="two words"),
        _rule(9, assign_correspondent_from=4, assign_correspondent=None),
        _rule(10, enabled=False),
        _rule(11, account=5),
        _rule(12, action=3),
    ]
    export = Export(folder=tmp_path, version="3.0.5", records={
        "paperless_mail.mailaccount": [
            {"pk": 1, "fields": {"name": "home", "imap_server": "imap.example.org",
                                 "imap_port": 993, "imap_security": 2, "username": "me",
                                 "password": "s3cret", "character_set": "ISO-8859-1"}},
            {"pk": 2, "fields": {"name": "plain", "imap_server": "10.0.0.5", "imap_port": None,
                                 "imap_security": 1, "username": "u", "password": "x"}},
            {"pk": 3, "fields": {"name": "Out look!", "imap_server": "outlook.office365.com",
                                 "imap_security": 3, "username": "o", "password": "tok",
                                 "is_token": True, "account_type": 3, "refresh_token": "r"}},
            {"pk": 4, "fields": {"name": "g", "imap_server": "imap.gmail.com",
                                 "username": "g", "password": "x"}}],
        "paperless_mail.mailrule": [*rules, _rule(13, account=4, action=5,
                                                  action_parameter="paperless")]})
    plan = MailMapper(export, names).build()
    accounts = {a.name: a for a in plan.accounts}
    assert accounts["home"].settings == {
        "name": "home", "host": "imap.example.org", "port": 993, "security": "tls",
        "user": "me", "password_env": "IMAP_PASSWORD_HOME"}
    assert accounts["plain"].settings["security"] == "none"
    assert "port" not in accounts["plain"].settings
    assert accounts["Out look!"].settings["security"] == "starttls"
    assert accounts["Out look!"].settings["password_env"] == "IMAP_PASSWORD_OUT_LOOK"
    assert "Outlook OAuth" in accounts["Out look!"].notes[0]
    assert "ISO-8859-1" in accounts["home"].notes[0]
    assert "s3cret" not in repr(plan) and "tok" not in repr(plan.accounts)
    got = {rule["name"]: rule for rule in plan.rules["home"]}
    assert got["rule 1"] == {
        "name": "rule 1", "folder": "INBOX", "from": "a@b.example", "to": "me@example.org",
        "subject": "Inv", "body": "total", "max_age_days": 14, "consume": "attachments",
        "include": ["*.pdf", "*.xml"], "exclude": ["*sig*"], "title_from": "filename",
        "correspondent": "ACME GmbH", "correspondent_from": "fixed",
        "tags": ["Finance", "Inbox"], "document_type": "Invoice", "owner": "alice",
        "action": "move", "move_to": "Archive.Done", "stop": True}
    assert got["rule 2"] == {
        "name": "rule 2", "folder": "INBOX", "consume": "both", "inline": True,
        "title_from": "filename", "correspondent_from": "name", "action": "keyword",
        "keyword": "paperless"}
    assert got["rule 3"]["consume"] == "mail" and got["rule 3"]["action"] == "flag"
    assert got["rule 3"]["correspondent_from"] == "address" and got["rule 3"]["owner"] == "alice"
    assert got["rule 3"]["include"] == ["*.PDF"] and got["rule 3"]["title_from"] == "subject"
    assert got["rule 4"]["action"] == "delete"
    assert got["rule 5"]["action"] == "flag"
    assert got["rule 1 (2)"]["action"] == "mark_read"
    assert got["rule 12"]["action"] == "mark_read"
    assert list(got) == ["rule 1", "rule 2", "rule 3", "rule 4", "rule 5", "rule 1 (2)",
                         "rule 12"]  # paperless' order
    left = "\n".join(plan.left_out)
    for expected in ("rule 4' of 'home': its PDF layout (HTML, then text) has no equivalent",
                     "Apple Mail colour 'apple:green' is not set",
                     "rule 7' of 'home': it moves mails into its own folder 'INBOX'",
                     "rule 8' of 'home': its tag 'two words' is not an IMAP keyword",
                     "rule 9' of 'home': it assigns a correspondent the export does not hold",
                     "rule 10' of 'home': disabled in paperless",
                     "rule 11': its account (pk 5) is not in the export",
                     "rule 13' of 'g': paperless set a Gmail label"):
        assert expected in left, expected
    # every mapped rule is valid mail.yml for these accounts
    from paperfs.migrate.mail_files import _dump

    text = _dump({name: rules for name, rules in plan.rules.items() if rules})
    from paperfs.mail.rules import parse_rules

    assert len(parse_rules(text, "mail.yml", list(accounts))) == 8


def _all_text(folder: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in folder.rglob("*")
                     if p.is_file())


def test_import_dry_run_secrets_and_a_config_that_still_loads(tmp_path):
    export = make_export(tmp_path / "export", 3)
    root = init_root(tmp_path, "# my own comment: keep me\n")
    config = root.root / "paperfs.yml"
    before = config.read_text()
    dry = run(root, "import-paperless", export, "--dry-run")
    assert "mail accounts: 3" in dry and "mail rules: 3" in dry
    assert "IMAP_PASSWORD_HOME" in dry and "would be added to" in dry
    assert config.read_text() == before and not (root.root / "mail.yml").exists()
    out = run(root, "import-paperless", export)
    text = config.read_text()
    assert "# my own comment: keep me" in text and text.startswith(before.split("#")[0])
    for secret in MAIL_SECRETS:  # not in the data root, not in what was printed
        assert secret not in dry + out
        assert secret not in _all_text(root.root), secret
    loaded = load_config(config)
    assert [(a.name, a.password_env, a.password_file) for a in loaded.mail.accounts] == [
        ("home", "IMAP_PASSWORD_HOME", None), ("Work Mail", "IMAP_PASSWORD_WORK_MAIL", None),
        ("gmail", "IMAP_PASSWORD_GMAIL", None)]
    rules = load_rules(root.root / "mail.yml", [a.name for a in loaded.mail.accounts])
    invoices = rules.of("home")[0]
    assert (invoices.name, invoices.move_to, invoices.stop, invoices.correspondent) == \
        ("Invoices", "INBOX.Invoices", True, "ACME GmbH")
    assert [r.name for r in rules.of("Work Mail")] == ["Scans"]  # the disabled one left out
    assert "mail rule 'Old newsletter' of 'Work Mail': disabled in paperless" in out
    assert "paperless logged in with Gmail OAuth" in out
    assert "set the environment variable IMAP_PASSWORD_WORK_MAIL" in out
    # the configuration loads for every command; the account says what it lacks
    result = CliRunner().invoke(cli, ["--root", str(root.root), "mail", "test", "home"])
    assert result.exit_code == 3
    assert "IMAP_PASSWORD_HOME (password_env) is not set" in result.output
    assert "mail rules:  3" in run(root, "status")
    assert "no problems" in run(root, "check")
    again = run(root, "import-paperless", export)  # a rerun adds nothing twice
    assert "0 mail accounts, 0 mail rules" in again and config.read_text() == text
    assert "IMAP_PASSWORD_HOME" in again


def test_an_account_name_that_exists_is_never_overwritten(tmp_path):
    root = init_root(tmp_path, "mail:\n  accounts:\n"
                               "    - name: home  # my home server\n"
                               "      host: imap.home.example\n      user: bob\n"
                               "      password_file: /etc/paperfs/home.password\n"
                               "    - name: work mail\n      host: mail.acme.example\n"
                               "      user: alice\n      password_env: WORK_PW\n")
    (root.root / "mail.yml").write_text("home:\n  - name: mine  # keep\n    action: flag\n"
                                        "work mail:\n  - name: own rule\n")
    out = run(root, "import-paperless", make_export(tmp_path / "export", 2))
    config = load_config(root.root / "paperfs.yml")
    accounts = {a.name: a for a in config.mail.accounts}
    assert (accounts["home"].host, str(accounts["home"].password_file)) == \
        ("imap.home.example", "/etc/paperfs/home.password")
    assert accounts["home-paperless"].host == "imap.example.org"
    assert accounts["home-paperless"].password_env == "IMAP_PASSWORD_HOME"
    assert accounts["work mail"].password_env == "WORK_PW"  # the same mailbox: kept
    assert "Work Mail" not in accounts
    assert "paperfs.yml has another account of that name (kept); imported as " \
           "'home-paperless'" in out
    assert "# my home server" in (root.root / "paperfs.yml").read_text()
    text = (root.root / "mail.yml").read_text()
    assert "# keep" in text
    rules = load_rules(root.root / "mail.yml", list(accounts))
    assert [r.name for r in rules.of("home")] == ["mine"]
    assert [r.name for r in rules.of("home-paperless")] == ["Invoices", "Everything else"]
    assert [r.name for r in rules.of("work mail")] == ["own rule", "Scans"]


def _mail_view(manifest: list[dict]) -> dict:
    """Accounts and rules with their references resolved to names: what a round trip keeps
    (secrets and the login method aside; disabled rules are not imported)."""
    by = {}
    for record in manifest:
        by.setdefault(record["model"], {})[record["pk"]] = record["fields"]
    names = {model: {pk: f.get("name", f.get("username")) for pk, f in by.get(model, {}).items()}
             for model in ("documents.tag", "documents.correspondent",
                           "documents.documenttype", "auth.user")}
    accounts = by.get("paperless_mail.mailaccount", {})
    out = {"accounts": {f["name"]: (f["imap_server"], f["imap_port"], f["imap_security"],
                                    f["username"]) for f in accounts.values()}, "rules": {}}
    rules = sorted(by.get("paperless_mail.mailrule", {}).items(),
                   key=lambda item: (item[1]["order"], item[0]))
    for _, f in rules:
        if f.get("enabled") is False:
            continue
        view = {k: v for k, v in f.items() if k not in ("order", "account", "enabled")}
        view["assign_title_from"] = {3: 2}.get(f["assign_title_from"], f["assign_title_from"])
        view["assign_tags"] = sorted(names["documents.tag"][t] for t in f["assign_tags"])
        view["assign_correspondent"] = names["documents.correspondent"].get(
            f["assign_correspondent"])
        view["assign_document_type"] = names["documents.documenttype"].get(
            f["assign_document_type"])
        view["owner"] = names["auth.user"].get(f["owner"]) if f.get(
            "assign_owner_from_rule") else None
        view.pop("assign_owner_from_rule")
        view["pdf_layout"] = 0  # listed as not carried over
        out["rules"].setdefault(accounts[f["account"]]["name"], []).append(view)
    return out


def test_round_trip_keeps_accounts_and_rules(tmp_path):
    """The hand-checked 3.0 export (made with --passphrase here: its secrets encrypted) →
    paperfs → paperfs export: every account and enabled rule as it was, passwords empty."""
    export = tmp_path / "export"
    import shutil

    shutil.copytree(FIXTURES / "3.0-split-p", export)
    meta = json.loads((export / "metadata.json").read_text())
    meta["__crypto__"] = {"kdf_algorithm": "pbkdf2_sha256", "key_iterations": 1000000,
                          "key_size": 32, "salt": "00" * 16}
    (export / "metadata.json").write_text(json.dumps(meta))
    root = init_root(tmp_path)
    out = run(root, "import-paperless", export)
    assert "the secrets --passphrase encrypted" in out
    out = run(root, "export", tmp_path / "out")
    assert "3 mail accounts, 3 mail rules" in out
    assert "mail account 'home': exported without a password" in out
    original = json.loads((FIXTURES / "3.0-split-p" / "manifest.json").read_text())
    exported = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert all(r["fields"]["password"] == "" for r in exported
               if r["model"] == "paperless_mail.mailaccount")
    kept, back = _mail_view(original), _mail_view(exported)
    assert back == kept
    assert len(kept["rules"]["home"]) == 2 and len(kept["rules"]["Work Mail"]) == 1
    # paperless-ngx 3.0.5's models have exactly these fields (document_importer would stop)
    fixture_fields = {r["model"]: set(r["fields"]) for r in original
                      if r["model"].startswith("paperless_mail.")}
    for record in exported:
        if record["model"].startswith("paperless_mail."):
            assert set(record["fields"]) == fixture_fields[record["model"]]


@pytest.mark.parametrize("name,accounts,rules", [
    ("1.17", 2, 4), ("2.20-split", 3, 3)])
def test_older_fixtures_bring_their_rules(tmp_path, name, accounts, rules):
    root = init_root(tmp_path)
    out = run(root, "import-paperless", FIXTURES / name)
    assert f"mail accounts: {accounts}" in out and f"mail rules: {rules}" in out
    config = load_config(root.root / "paperfs.yml")
    loaded = load_rules(root.root / "mail.yml", [a.name for a in config.mail.accounts])
    assert len(loaded) == rules
    if name == "1.17":  # one glob; the owner of a 1.x rule is always given to documents
        invoices = loaded.of("home")[0]
        assert invoices.include == ("*.pdf",) and invoices.owner == "alice"
        assert not invoices.stop


def test_the_daemon_starts_after_an_import(tmp_path):
    """Accounts waiting for their passwords: the daemon runs and says so per account."""
    from tests.daemon import Daemon

    root = init_root(tmp_path)
    run(root, "import-paperless", make_export(tmp_path / "export", 1))
    daemon = Daemon(root, tmp_path / "daemon.log").start()
    try:
        def told() -> bool:
            accounts = (daemon.status().get("mail") or {}).get("accounts") or {}
            return all("password_env) is not set" in str((accounts.get(name) or {})
                                                       .get("problem"))
                       for name in ("home", "Work Mail"))

        daemon.wait_for(told, 30, "each account's missing password in the status")
    finally:
        assert daemon.stop() == 0
    for secret in MAIL_SECRETS:
        assert secret not in daemon.log()


def test_names_yaml_would_misread_are_quoted(tmp_path):
    """ruamel writes YAML 1.2, paperfs reads 1.1: "on", "yes", "1.5" must stay texts."""
    from paperfs.migrate import mail_files

    export = Export(folder=tmp_path, version="2.20.13", records={
        "paperless_mail.mailaccount": [{"pk": 1, "fields": {
            "name": "on", "imap_server": "imap.example.org", "username": "1.5",
            "password": "x"}}],
        "paperless_mail.mailrule": [_rule(1, name="yes", assign_tags=[1], action=5,
                                          action_parameter="off")]})
    plan = MailMapper(export, {"tags": {1: "no"}}).build()
    config = tmp_path / "paperfs.yml"
    config.write_text("data_root: .\n")
    merge = mail_files.prepare(config, tmp_path / "mail.yml", plan)
    mail_files.write(merge, tmp_path / "mail.yml")
    account = load_config(config).mail.accounts[0]
    assert (account.name, account.user) == ("on", "1.5")
    rule = load_rules(tmp_path / "mail.yml", ["on"]).of("on")[0]
    assert (rule.name, rule.tags, rule.keyword) == ("yes", ("no",), "off")


def test_a_zip_export_is_unpacked_without_its_secrets(tmp_path):
    """A zip is unpacked under .paperfs/migrate/ for the import: its manifests are
    written there with the secret fields blanked, so no password lands in the data root."""
    from paperfs.migrate.manifest import opened

    export = make_export(tmp_path / "export", 3, split=True, prefix=True, as_zip=True)
    scratch = tmp_path / "scratch"
    with opened(export, scratch) as unpacked:
        assert len(unpacked.of("paperless_mail.mailaccount")) == 3
        assert len(unpacked.of("documents.document")) == 6
        assert all(r["fields"]["password"] is None
                   for r in unpacked.of("paperless_mail.mailaccount"))
        for secret in MAIL_SECRETS:
            assert secret not in _all_text(scratch), secret
