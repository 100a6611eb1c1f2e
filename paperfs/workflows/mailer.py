"""The e-mail action: a message through the configured SMTP server (``smtp.*``).

``smtp.security``: ``none`` (plain), ``starttls`` (upgraded after connecting)
or ``tls`` (TLS from the start, usually port 465). With ``attach: true`` the
archived PDF goes along.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any, Mapping

from paperfs.config import SmtpConfig


class EmailFailed(Exception):
    pass


def build_message(settings: Mapping[str, Any], variables: Mapping[str, Any], sender: str,
                  pdf: Path | None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(settings["to"])
    message["Subject"] = " ".join(settings["subject"].render(variables).split())
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(settings["body"].render(variables) or "")
    if pdf is not None:
        name = Path(variables.get("archive_path") or pdf.name).name
        message.add_attachment(pdf.read_bytes(), maintype="application", subtype="pdf",
                               filename=name)
    return message


def send_email(settings: Mapping[str, Any], variables: Mapping[str, Any], smtp: SmtpConfig,
               pdf: Path | None) -> str:
    """Send it; returns what happened, raises EmailFailed with the reason."""
    if not smtp.host:
        raise EmailFailed("smtp.host is not set in paperfs.yml; set smtp.host (and port, "
                          "security, username, password) to send e-mail")
    if settings["attach"] and (pdf is None or not pdf.exists()):
        raise EmailFailed(f"the archived PDF to attach is missing ({pdf})")
    message = build_message(settings, variables, smtp.sender,
                            pdf if settings["attach"] else None)
    try:
        if smtp.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout_seconds,
                                                    context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds)
        with client:
            if smtp.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if smtp.username:
                client.login(smtp.username, smtp.password)
            client.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise EmailFailed(f"sending to {', '.join(settings['to'])} through "
                          f"{smtp.host}:{smtp.port} failed: {exc}") from None
    return f"sent to {', '.join(settings['to'])}"
