"""Generated e-mails for the mail-document tests and the benchmark."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime
import datetime as dt
from pathlib import Path


def make_mail(subject: str = "Invoice 4711", *, html: str | None = None,
              text: str = "Please find the invoice attached.\n",
              attachments: list[tuple[str, bytes, str]] = (),
              inline: list[tuple[str, bytes, str, str]] = (),
              date: dt.datetime = dt.datetime(2023, 5, 17, 9, 30, tzinfo=dt.timezone.utc),
              ) -> EmailMessage:
    """A mail: text (and HTML) body, attachments (name, bytes, type), inline
    parts of the HTML (name, bytes, type, content id)."""
    mail = EmailMessage()
    mail["From"] = "ACME Billing <billing@acme.example>"
    mail["To"] = "Jane Doe <jane@example.org>"
    mail["Cc"] = "books@example.org"
    mail["Subject"] = subject
    mail["Date"] = format_datetime(date)
    mail["Message-ID"] = "<4711@acme.example>"
    mail.set_content(text)
    if html is not None:
        mail.add_alternative(html, subtype="html")
        if inline:
            html_part = mail.get_payload()[1]
            for name, data, mime, cid in inline:
                main, sub = mime.split("/")
                html_part.add_related(data, main, sub, cid=f"<{cid}>", filename=name,
                                      disposition="inline")
    for name, data, mime in attachments:
        main, sub = mime.split("/")
        mail.add_attachment(data, maintype=main, subtype=sub, filename=name)
    return mail


def write_mail(path: Path, mail: EmailMessage) -> Path:
    path.write_bytes(bytes(mail))
    return path
