"""Issue 15 end to end: mails APPENDed to a real dovecot, taken by the real daemon
(`paperfs run`, at its first poll and with IDLE), filed as linked documents.

One dovecot and one daemon for the module: each rule of mail.yml reads a
folder of its own, so the mails of one case never meet another's rule. The
mails of every folder but INBOX are there before the daemon starts (its
first poll takes them); the IDLE case APPENDs to INBOX (the folder IDLE
waits on) once the daemon waits, with a poll interval of 300 s.
"""

from __future__ import annotations

import email.utils
import json
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from paperfs.archive.document import read_sidecar
from paperfs.mail.records import RECORDS_NAME, MailRecords
from tests.daemon import Daemon
from tests.dovecot_server import DovecotServer
from tests.helpers import failed_state
from tests.mail_samples import make_mail
from tests.mail_support import mail_root
from tests.samples import make_scan, make_text_pdf

#: the repository's copy of ../shared/corpus/office/pngx-sample.docx (tests/corpus/README.md)
DOCX = Path(__file__).resolve().parent / "corpus" / "office" / "pngx-sample.docx"

RULES = """
work:
  - name: invoices              # INBOX: the first poll, then IDLE
    subject: Invoice
    consume: both
    title_from: subject
    correspondent_from: name
    tags: [invoice, mail]
    document_type: Invoice
    owner: bob
    action: mark_read
  - name: orders
    folder: Orders
    consume: attachments
    include: ["*.pdf"]
    exclude: ["*draft*"]
    correspondent_from: address
    action: move
    move_to: Done
  - name: statements
    folder: Statements
    consume: mail
    correspondent_from: fixed
    correspondent: Bank of Examples
    action: flag
  - name: newsletters
    folder: News
    consume: both
    inline: true
    action: keyword
    keyword: paperfs
  - name: contracts
    folder: Contracts
    consume: attachments
    action: delete
  - {name: twice-mail, folder: Twice, consume: mail, action: none}   # no stop: both
  - {name: twice-both, folder: Twice, consume: both, action: none}
"""


def mail(subject: str, message_id: str, **kwargs) -> bytes:
    message: EmailMessage = make_mail(subject, **kwargs)
    message.replace_header("Message-ID", f"<{message_id}@test.example>")
    message.replace_header("Date", email.utils.format_datetime(
        email.utils.localtime()))  # recent: no rule has max_age_days, but be real
    return bytes(message)


def pdf(tmp: Path, text: str) -> bytes:
    return make_text_pdf(tmp / f"{abs(hash(text))}.pdf", [text]).read_bytes()


class Setup:
    def __init__(self, server: DovecotServer, root, daemon: Daemon, tmp: Path) -> None:
        self.server, self.root, self.daemon, self.tmp = server, root, daemon, tmp

    def records(self) -> MailRecords:
        return MailRecords(self.root.root / RECORDS_NAME)

    def record_of(self, rule: str, subject_name: str):
        [record] = [r for r in self.records() if r.rule == rule and r.name == subject_name]
        return record

    def ended(self, rule: str, subject_name: str, timeout: float = 60):
        def done():
            found = [r for r in self.records() if r.rule == rule and r.name == subject_name]
            return found and found[0].outcome is not None
        self.daemon.wait_for(done, timeout, f"the outcome of {subject_name} ({rule})")
        return self.record_of(rule, subject_name)

    def docs(self) -> dict:
        """Every filed document by id, read while the daemon files others (so not
        archive_state, which wants every PDF's sidecar written already)."""
        out = {}
        for sidecar in self.root.archive.rglob("*.yml"):
            doc = read_sidecar(sidecar)  # written atomically: whole or not there
            out[doc.id] = doc
        return out

    def docs_of(self, key: str) -> dict:
        return {i: d for i, d in self.docs().items()
                if (d.extra.get("mail") or {}).get("record") == key}

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "paperfs", "--root",
                               str(self.root.root), *args],
                              capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mail-e2e")
    assert DOCX.is_file(), f"sample corpus missing: {DOCX} (restore it from git)"
    with DovecotServer() as server:
        png = make_scan(tmp / "logo.png", ["LOGO"], dpi=20).read_bytes()
        server.append([mail("Invoice 1", "inv1", attachments=[
            ("invoice-4711.pdf", pdf(tmp, "Invoice 4711 total 99 EUR"), "application/pdf")])])
        server.append([
            mail("Order 7", "ord7", attachments=[
                ("order-7.pdf", pdf(tmp, "Order 7 confirmed"), "application/pdf"),
                ("order-7-draft.pdf", pdf(tmp, "Order 7 draft"), "application/pdf"),
                ("notes.txt", b"call back on monday\n", "text/plain")]),
            mail("Hello", "hello")], folder="Orders")
        server.append([mail("Statement 05", "st5", attachments=[
            ("statement.pdf", pdf(tmp, "Statement May"), "application/pdf")])],
            folder="Statements")
        server.append([mail("News", "news1", html="<p>Our logo: <img src='cid:logo1'></p>",
                            inline=[("logo.png", png, "image/png", "logo1")],
                            attachments=[("agenda.txt", b"agenda: meeting at 10\n",
                                          "text/plain")])], folder="News")
        server.append([mail("Contract", "contract1", attachments=[
            ("contract.docx", DOCX.read_bytes(),
             "application/vnd.openxmlformats-officedocument.wordprocessingml.document")])],
            folder="Contracts")
        server.append([mail("Terms", "terms1", attachments=[
            ("terms.pdf", pdf(tmp, "General terms"), "application/pdf")])], folder="Twice")
        root = mail_root(tmp, server, RULES)
        daemon = Daemon(root, tmp / "daemon.log").start()
        try:
            yield Setup(server, root, daemon, tmp)
        finally:
            assert daemon.stop() == 0


def test_first_poll_files_the_mail_and_its_attachment_linked_both_ways(setup):
    record = setup.ended("invoices", "Invoice 1.eml")
    docs = setup.docs_of(record.key)
    [mail_doc] = [d for d in docs.values() if d.extra["mail"]["role"] == "mail"]
    [part] = [d for d in docs.values() if d.extra["mail"]["role"] == "attachment"]
    assert mail_doc.extra["mail"] == {"role": "mail", "record": record.key,
                                      "message_id": "<inv1@test.example>",
                                      "attachments": [part.id]}
    assert part.extra["mail"] == {"role": "attachment", "record": record.key,
                                  "of": mail_doc.id, "name": "invoice-4711.pdf"}
    # the rule's assignments, on both documents
    assert mail_doc.title == part.title == "Invoice 1"  # title_from: subject
    for doc in (mail_doc, part):
        assert doc.correspondent == "ACME Billing"       # correspondent_from: name
        assert doc.document_type == "Invoice" and doc.owner == "bob"
        assert {"invoice", "mail"} <= set(doc.tags)
        assert doc.source["kind"] == "mail"
    assert "Invoice 4711 total 99 EUR" in part.content
    # the outcome names the documents; the action was done after the hand-off
    assert record.state == "filed" and record.documents == sorted([mail_doc.id, part.id])
    assert record.acted
    with setup.server.mailbox() as box:
        box.folder.set("INBOX")
        flags = {m.subject: set(m.flags) for m in box.fetch(mark_seen=False)}
    assert flags["Invoice 1"] == {"\\Seen"}


def test_idle_takes_a_new_mail_within_seconds(setup):
    daemon = setup.daemon
    daemon.wait_for(lambda: (daemon.status().get("mail") or {}).get("accounts", {})
                    .get("work", {}).get("idle"), 60, "the account to wait with IDLE")
    sent = time.monotonic()
    setup.server.append([mail("Invoice 2", "inv2", attachments=[
        ("invoice-4712.pdf", pdf(setup.tmp, "Invoice 4712"), "application/pdf")])])
    record = setup.ended("invoices", "Invoice 2.eml", timeout=40)
    assert time.monotonic() - sent < 30  # the poll interval is 300 s
    docs = setup.docs_of(record.key)
    assert sorted(d.extra["mail"]["role"] for d in docs.values()) == ["attachment", "mail"]
    assert record.state == "filed" and record.documents == sorted(docs)


def test_consume_attachments_with_include_and_exclude(setup):
    record = setup.ended("orders", "Order 7.eml")
    [doc] = setup.docs_of(record.key).values()  # no mail document with consume: attachments
    assert doc.original.filename == "order-7.pdf" and doc.title == "order-7"
    assert doc.extra["mail"] == {"role": "attachment", "record": record.key,
                                 "name": "order-7.pdf"}
    assert doc.correspondent == "billing@acme.example"  # correspondent_from: address
    assert record.state == "filed" and record.documents == [doc.id]


def test_a_mail_with_no_consumable_part_is_recorded_without_documents(setup):
    record = setup.ended("orders", "Hello.eml")
    assert record.outcome == "done" and record.documents == []
    assert record.state == "no documents" and record.acted
    assert setup.docs_of(record.key) == {}
    assert not failed_state(setup.root)
    with setup.server.mailbox() as box:  # the action was done all the same: moved
        box.folder.set("Done")
        assert {m.subject for m in box.fetch(mark_seen=False)} >= {"Hello"}


def test_consume_mail_only_with_a_fixed_correspondent(setup):
    record = setup.ended("statements", "Statement 05.eml")
    [doc] = setup.docs_of(record.key).values()
    assert doc.extra["mail"] == {"role": "mail", "record": record.key,
                                 "message_id": "<st5@test.example>", "attachments": []}
    assert doc.title == "Statement 05" and doc.correspondent == "Bank of Examples"
    assert "statement.pdf" in doc.content  # listed in its header block, not filed
    assert record.documents == [doc.id]
    with setup.server.mailbox() as box:
        box.folder.set("Statements")
        assert [set(m.flags) for m in box.fetch(mark_seen=False)] == [{"\\Flagged"}]


def test_inline_parts_become_documents_when_the_rule_says_so(setup):
    record = setup.ended("newsletters", "News.eml", timeout=90)
    docs = setup.docs_of(record.key)
    names = sorted(d.original.filename for d in docs.values()
                   if d.extra["mail"]["role"] == "attachment")
    assert names == ["agenda.txt", "logo.png"]
    [mail_doc] = [d for d in docs.values() if d.extra["mail"]["role"] == "mail"]
    assert sorted(mail_doc.extra["mail"]["attachments"]) == sorted(
        i for i, d in docs.items() if d.extra["mail"]["role"] == "attachment")
    assert record.documents == sorted(docs)
    with setup.server.mailbox() as box:
        box.folder.set("News")
        assert [set(m.flags) for m in box.fetch(mark_seen=False)] == [{"paperfs"}]


def test_an_office_attachment_through_imap(setup):
    record = setup.ended("contracts", "Contract.eml", timeout=120)
    [doc] = setup.docs_of(record.key).values()
    assert doc.original.filename == "contract.docx"
    assert doc.original.path.endswith(".docx") and doc.content.strip()
    assert record.state == "filed" and record.documents == [doc.id]
    with setup.server.mailbox() as box:  # action: delete
        box.folder.set("Contracts")
        assert box.uids() == []


def test_a_mail_two_rules_take_is_filed_once_and_nothing_fails(setup):
    """No stop: both rules take the mail (docs/mail.md, Known limits). Whichever job is
    filed second finds the mail document there and links to it; in any order one mail
    document and one attachment document, no failure."""
    first, second = (setup.ended(rule, "Terms.eml") for rule in ("twice-mail", "twice-both"))
    assert first.outcome == second.outcome == "done"
    docs = {i: d for i, d in setup.docs().items()
            if d.extra.get("mail", {}).get("message_id") == "<terms1@test.example>"
            or d.original.filename == "terms.pdf"}
    [mail_doc] = [d for d in docs.values() if d.extra["mail"]["role"] == "mail"]
    [part] = [d for d in docs.values() if d.extra["mail"]["role"] == "attachment"]
    assert part.extra["mail"]["of"] == mail_doc.id
    assert part.extra["mail"]["record"] == second.key  # only twice-both takes attachments
    assert sorted(first.documents + second.documents) == sorted([mail_doc.id, part.id])
    assert not failed_state(setup.root)


def test_records_and_status_tell_filed_from_no_documents(setup):
    setup.daemon.wait_for(lambda: all(r.outcome for r in setup.records()), 120,
                          "every mail's outcome")  # the counts below stay as they are
    out = setup.cli("mail", "records", "--json")
    assert out.returncode == 0, out.stderr
    rows = {row["file"]: row for row in json.loads(out.stdout)}
    assert rows["Hello.eml"]["state"] == "no documents" and rows["Hello.eml"]["documents"] == []
    invoice = setup.record_of("invoices", "Invoice 1.eml")
    assert rows["Invoice 1.eml"]["state"] == "filed"
    assert rows["Invoice 1.eml"]["documents"] == invoice.documents
    text = setup.cli("mail", "records").stdout
    ids = ", ".join(map(str, invoice.documents))
    assert f"{invoice.key}: filed (documents {ids}): Invoice 1.eml" in text.splitlines()
    status = setup.cli("status").stdout
    [line] = [l for l in status.splitlines() if "being consumed" in l]
    counts = {r.state for r in setup.records()}
    assert "no documents" in counts
    no_docs = sum(1 for r in setup.records() if r.state == "no documents")
    assert f" {no_docs} without documents," in line, line
    assert not failed_state(setup.root)
