"""Polls of a real dovecot (tests/dovecot_server.py): filters, actions, stop, UIDVALIDITY, dry run.

What a poll hands over is checked at the hand-off folder (the .eml bytes
exactly, the job settings of the contract with the .eml stage), the records
and the server's state; the daemon's side is tests/test_mail_daemon.py.
"""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from paperfs.mail.accounts import MailAccountError, connect
from paperfs.mail.dry_run import preview
from paperfs.mail.outcome import Outcomes
from paperfs.mail.poll import AccountPoller
from tests.dovecot_server import DovecotServer, dovecot  # noqa: F401 (fixture)
from tests.mail_support import TINY_PDF, Parts, mail_root, message


def poll(parts: Parts):
    box = connect(parts.account)
    try:
        return AccountPoller(parts.account, parts.records, parts.handoff).poll(box,
                                                                               parts.rules())
    finally:
        box.logout()


def handed(parts: Parts) -> dict[str, dict]:
    """subject -> {settings, raw} of every mail in the hand-off folder."""
    out = {}
    for item in parts.handoff.ready():
        raw = item.eml.read_bytes()
        subject = next(line for line in raw.decode().splitlines() if line.startswith("Subject:"))
        out[subject[len("Subject: "):]] = {"settings": item.settings, "raw": raw,
                                           "key": item.key, "name": item.eml.name}
    return out


def flags(server: DovecotServer, folder: str = "INBOX") -> dict[str, set[str]]:
    with server.mailbox() as box:
        box.folder.set(folder)
        return {m.subject: set(m.flags) for m in box.fetch(mark_seen=False, headers_only=True)}


def test_filters_are_server_side_searches(tmp_path, dovecot):
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=40)
    dovecot.append([
        message("Invoice 7", attachment=TINY_PDF),
        message("Invoice 8", sender="Other <someone@else.example>"),
        message("Newsletter", body="nothing to see"),
        message("Invoice 9 old", date=old),
        message("Letter to Bob", to="bob@example.org", body="your contract number 4711"),
        message("Other letter to Bob", to="bob@example.org", body="no number"),
        message("Letter to Alice", body="her contract number 4711"),
    ])
    root = mail_root(tmp_path, dovecot, """
work:
  - name: acme
    from: billing@acme.example
    subject: Invoice
    max_age_days: 30
    action: none
    consume: attachments
    include: ["*.pdf"]
    exclude: ["*draft*"]
    inline: true
    title_from: subject
    correspondent_from: name
    tags: [invoice, acme]
    document_type: Invoice
    owner: alice
  - name: bob
    to: bob@example.org
    body: "4711"
    correspondent_from: address
    action: none
""")
    parts = Parts(root)
    report = poll(parts)
    assert not report.problems
    taken = handed(parts)
    assert sorted(taken) == ["Invoice 7", "Letter to Bob"]
    acme = taken["Invoice 7"]["settings"]
    assert acme == {"tags": ["invoice", "acme"], "correspondent": "ACME Billing",
                    "document_type": "Invoice", "owner": "alice",
                    "mail": {"consume": "attachments", "inline": True, "include": ["*.pdf"],
                             "exclude": ["*draft*"], "title_from": "subject",
                             "record": taken["Invoice 7"]["key"]}}
    assert taken["Letter to Bob"]["settings"]["correspondent"] == "billing@acme.example"
    assert taken["Letter to Bob"]["settings"]["mail"]["consume"] == "both"
    assert taken["Invoice 7"]["name"] == "Invoice 7.eml"
    # the raw bytes exactly as the server holds them
    with dovecot.mailbox() as box:
        box.folder.set("INBOX")
        uid = taken["Invoice 7"]["key"].split("/")[3]
        typ, data = box.client.uid("FETCH", uid, "(BODY.PEEK[])")
        assert data[0][1] == taken["Invoice 7"]["raw"]
    record = parts.records.get(taken["Invoice 7"]["key"])
    assert record.acted and record.rule == "acme" and record.message_id.startswith("<")
    # a second poll takes nothing: the records say so
    assert poll(parts).count == 0
    assert poll(parts).count == 0 and len(list(parts.records)) == 2


@pytest.mark.parametrize("action, check", [
    ("mark_read", lambda f, s: "\\Seen" in f["INBOX"]["Invoice 1"]),
    ("flag", lambda f, s: "\\Flagged" in f["INBOX"]["Invoice 1"]),
    ("keyword", lambda f, s: "paperfs" in f["INBOX"]["Invoice 1"]),
    ("move", lambda f, s: f["INBOX"] == {} and "Invoice 1" in flags(s, "Done/Invoices")),
    ("delete", lambda f, s: f["INBOX"] == {}),
    ("none", lambda f, s: f["INBOX"]["Invoice 1"] == set()),
])
def test_actions(tmp_path, dovecot, action, check):
    dovecot.append([message("Invoice 1")])
    extra = {"move": "\n    move_to: Done/Invoices", "keyword": "\n    keyword: paperfs"}
    root = mail_root(tmp_path, dovecot, f"work:\n  - name: all\n    action: {action}"
                                        f"{extra.get(action, '')}\n")
    parts = Parts(root)
    assert poll(parts).count == 1
    assert check({"INBOX": flags(dovecot)}, dovecot), flags(dovecot)
    assert poll(parts).count == 0  # taken once, whatever the action left on the server


def test_stop_processing_and_rule_order(tmp_path, dovecot):
    dovecot.append([message("Invoice 1"), message("Reminder 2")])
    root = mail_root(tmp_path, dovecot, """
work:
  - {name: invoices, subject: Invoice, action: none, stop: true}
  - {name: rest, action: none}
""")
    parts = Parts(root)
    report = poll(parts)
    assert {rule: len(keys) for rule, keys in report.handed.items()} == {"invoices": 1, "rest": 1}
    assert [k.split("/")[-1] for k in report.handed["rest"]] == ["rest"]
    assert handed(parts)["Reminder 2"]["key"].endswith("/rest")


def test_uidvalidity_change_consumes_nothing_twice(tmp_path, dovecot):
    first = [message("Invoice 1", attachment=TINY_PDF), message("Invoice 2")]
    dovecot.append(first, folder="Bills")
    root = mail_root(tmp_path, dovecot, "work:\n  - {name: bills, folder: Bills, action: none}\n")
    parts = Parts(root)
    assert poll(parts).count == 2
    old_validity = {r.uidvalidity for r in parts.records}
    with dovecot.mailbox() as box:  # the folder recreated: a new UIDVALIDITY, the same mails
        box.folder.delete("Bills")
        box.folder.create("Bills")
    dovecot.append(first + [message("Invoice 3")], folder="Bills")
    report = poll(parts)
    assert report.count == 1
    [new] = report.handed["bills"]
    assert parts.records.get(new).uidvalidity not in old_validity
    assert sorted(handed(parts)) == ["Invoice 1", "Invoice 2", "Invoice 3"]  # one of each
    seen = [r for r in parts.records if r.outcome == "seen"]
    assert len(seen) == 2
    assert poll(parts).count == 0


def test_missing_folder_lists_the_servers_folders(tmp_path, dovecot):
    dovecot.append([message("Invoice 1")], folder="Archive")
    root = mail_root(tmp_path, dovecot, """
work:
  - {name: gone, folder: Rechnungen, action: none}
  - {name: inbox, folder: Archive, action: none}
""")
    report = poll(Parts(root))
    assert report.problems == ["mail account work, rule 'gone': the server has no folder "
                               "'Rechnungen'; its folders: Archive, INBOX"]
    assert report.count == 1  # the other rule goes on


def test_wrong_password_is_one_clear_line_without_the_password(tmp_path, dovecot):
    root = mail_root(tmp_path, dovecot, "work: []\n", password="not-the-password")
    with pytest.raises(MailAccountError) as error:
        connect(Parts(root).account)
    text = str(error.value)
    assert text.startswith(f"mail account work: login as alice at 127.0.0.1:{dovecot.port} "
                           "refused: wrong user or password"), text
    assert "not-the-password" not in text and "\n" not in text


def test_unreachable_server(tmp_path, dovecot):
    root = mail_root(tmp_path, dovecot, "work: []\n")
    parts = Parts(root)
    port = parts.account.port
    dovecot.close()
    with pytest.raises(MailAccountError, match=f"cannot reach 127.0.0.1:{port}"):
        connect(parts.account)


def test_dry_run_changes_nothing(tmp_path, dovecot):
    dovecot.append([message("Invoice 1", attachment=TINY_PDF), message("Hello")])
    root = mail_root(tmp_path, dovecot, """
work:
  - {name: invoices, subject: Invoice, include: ["*.pdf"], action: delete}
  - {name: mail-only, subject: Invoice, consume: mail, action: delete}
""")
    parts = Parts(root)
    before = flags(dovecot)
    box = connect(parts.account)
    try:
        result, mail_only = preview(box, parts.account, parts.rules(), parts.records)
    finally:
        box.logout()
    assert (result.matched, result.already) == (1, 0)
    assert [(m.subject, m.attachments) for m in result.mails] == [("Invoice 1", ["invoice.pdf"])]
    # consume: mail takes the mail as a document and none of its attachments
    assert [(m.subject, m.attachments) for m in mail_only.mails] == [("Invoice 1", [])]
    assert flags(dovecot) == before  # not even \Seen
    assert list(parts.records) == [] and not list(parts.handoff.ready())


def test_crash_between_record_and_handoff_completes_it(tmp_path, dovecot):
    """A .part with its record is handed over at the next start; one without is dropped."""
    dovecot.append([message("Invoice 1")])
    root = mail_root(tmp_path, dovecot, "work:\n  - {name: all, action: none}\n")
    parts = Parts(root)
    poll(parts)
    [item] = parts.handoff.ready()
    item.eml.rename(item.eml.with_name(item.eml.name + ".part"))  # as before the rename
    parts.handoff.prepare("work/INBOX/1/99/all", "never recorded.eml", b"x", {})
    (parts.handoff.dir / ".building-0123").mkdir()  # a folder being made when it stopped
    parts.handoff.recover(lambda key: parts.records.get(key) is not None)
    assert [h.key for h in parts.handoff.ready()] == [item.key]
    assert yaml.safe_load((item.folder / "settings.yml").read_text())["record"] == item.key
    assert sorted(p.name for p in parts.handoff.dir.iterdir()) == [item.folder.name]
    # a retry stopped after its copy was in place: the failure it came from is dropped
    stale = root.failed / "Invoice 1.eml"
    stale.write_bytes(b"x")
    stale.with_name(stale.name + ".error.yml").write_text(f"mail_record: {item.key}\n")
    Outcomes(root, parts.config.mail, parts.records, parts.handoff).drop_stale()
    assert list(root.failed.iterdir()) == []


def test_mail_test_command(tmp_path, dovecot):
    import subprocess
    import sys

    dovecot.append([message("Invoice 1", attachment=TINY_PDF)])
    root = mail_root(tmp_path, dovecot, "work:\n  - {name: invoices, subject: Invoice, "
                                        "action: delete}\n  - {name: x, folder: Nope}\n")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "paperfs", "--root", str(root.root),
                               "mail", "test", *args], capture_output=True, text=True,
                              timeout=60)

    out = run("work")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == f"work (alice@127.0.0.1:{dovecot.port}, none): logged in"
    assert lines[1].startswith("rule 'invoices' (INBOX; (SUBJECT \"Invoice\"); consume both; "
                               "then delete):")
    assert lines[2:5] == ["  1 match, 0 taken before, 1 would be taken now",
                          lines[3], "      attachments: invoice.pdf"]
    assert "from ACME Billing" not in lines[3] and lines[3].endswith(
        "from billing@acme.example: Invoice 1")
    assert lines[6].startswith("  ERROR: mail account work, rule 'x': the server has no folder "
                               "'Nope'; its folders: INBOX")
    assert flags(dovecot) == {"Invoice 1": set()}  # nothing deleted, not even read
    unknown = run("home")
    assert unknown.returncode == 2 and "no mail account 'home'" in unknown.stderr


def test_non_ascii_filters_search_in_utf8(tmp_path, dovecot):
    dovecot.append([message("Rechnung für März"), message("Rechnung fur April"),
                    message("Überweisung", body="Grüße aus Köln")])
    root = mail_root(tmp_path, dovecot, "work:\n  - {name: a, subject: Rechnung für, "
                                        "action: none}\n  - {name: b, body: Köln, action: none}\n")
    parts = Parts(root)
    assert {rule: len(keys) for rule, keys in poll(parts).handed.items()} == {"a": 1, "b": 1}
    # the files are named by the decoded subject
    assert sorted(item["name"] for item in handed(parts).values()) == \
        ["Rechnung für März.eml", "Überweisung.eml"]


def test_a_subject_in_raw_8_bit_names_its_file_readably(tmp_path, dovecot):
    """Subjects not in UTF-8 nor RFC 2047 (raw Windows-1252 bytes, and raw UTF-8): the
    hand-off's file name (the original's name, failed/'s) is the subject as the mail
    document's title reads it, not replacement characters."""
    def raw_mail(subject: bytes, number: int) -> bytes:
        return (b"From: billing@acme.example\r\nTo: alice@example.org\r\nSubject: " + subject
                + f"\r\nMessage-ID: <{number}@test.example>\r\n\r\nbody\r\n".encode())

    dovecot.append([raw_mail("Rechnung für März".encode("cp1252"), 1),
                    raw_mail("Grüße".encode("utf-8"), 2)])
    root = mail_root(tmp_path, dovecot, "work:\n  - {name: a, action: none}\n")
    parts = Parts(root)
    poll(parts)
    assert sorted(item.eml.name for item in parts.handoff.ready()) == \
        ["Grüße.eml", "Rechnung für März.eml"]
