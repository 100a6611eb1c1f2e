"""Mails for the mail tests and the mail benchmark: messages, a data root with accounts."""

from __future__ import annotations

import datetime as dt
import email.message
import email.utils
from pathlib import Path

from paperfs.archive.layout import DataRoot
from paperfs.config import load_config
from paperfs.mail.handoff import Handoff
from paperfs.mail.records import RECORDS_NAME, MailRecords
from paperfs.mail.rules import RULES_NAME, load_rules
from tests.dovecot_server import PASSWORD, USER, DovecotServer
from tests.helpers import init_root

#: a small valid PDF (one empty page)
TINY_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
            b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
            b"trailer<</Root 1 0 R>>\n%%EOF\n")


def message(subject: str = "Invoice 1", sender: str = "ACME Billing <billing@acme.example>",
            to: str = "alice@example.org", body: str = "Please find the invoice attached.",
            date: dt.datetime | None = None, attachment: bytes | None = None,
            attachment_name: str = "invoice.pdf", message_id: str | None = None) -> bytes:
    msg = email.message.EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"] = email.utils.format_datetime(date or dt.datetime.now(dt.timezone.utc))
    msg["Message-ID"] = message_id or email.utils.make_msgid(domain="test.example")
    msg.set_content(body)
    if attachment is not None:
        msg.add_attachment(attachment, maintype="application", subtype="pdf",
                           filename=attachment_name)
    return bytes(msg)


def mail_root(tmp_path: Path, server: DovecotServer, rules: str, *, extra: str = "",
              password: str = PASSWORD, name: str = "work", more_accounts: str = "") -> DataRoot:
    """A data root with one account on *server* (password in a file) and mail.yml;
    *more_accounts*: further YAML list items of mail.accounts."""
    secret = tmp_path / "imap-password"
    secret.write_text(password + "\n")
    secret.chmod(0o600)
    root = init_root(tmp_path, extra=(
        f"mail:\n  poll_seconds: 300\n{extra}  accounts:\n"
        f"    - name: {name}\n      host: 127.0.0.1\n      port: {server.port}\n"
        f"      security: none\n      user: {USER}\n      password_file: {secret}\n"
        + more_accounts))
    (root.root / RULES_NAME).write_text(rules)
    return root


class Parts:
    """The pieces of a data root's mail intake, as the daemon makes them."""

    def __init__(self, root: DataRoot) -> None:
        self.root = root
        self.config = load_config(root.root / "paperfs.yml", environ={})
        self.account = self.config.mail.accounts[0]
        self.records = MailRecords(root.root / RECORDS_NAME)
        self.handoff = Handoff(root)

    def rules(self):
        return load_rules(self.root.root / RULES_NAME,
                          [a.name for a in self.config.mail.accounts]).of(self.account.name)
