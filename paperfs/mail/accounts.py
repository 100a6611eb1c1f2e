"""An IMAP account of paperfs.yml: its password (from a file or the environment) and a login.

The password is read when a connection is made, never kept in the
configuration, and never put into a message: errors name the account, its
server and user only.
"""

from __future__ import annotations

import os
import socket
import ssl
from typing import TYPE_CHECKING, Mapping

from paperfs.config import MailAccount
from paperfs.errors import PaperfsError

if TYPE_CHECKING:
    from imap_tools.mailbox import BaseMailBox


class MailAccountError(PaperfsError):
    """An account that cannot be used now: no password, unreachable, refused login."""

    exit_code = 3


def port_of(account: MailAccount) -> int:
    return account.port or (993 if account.security == "tls" else 143)


def describe(account: MailAccount) -> str:
    """'work (bob@imap.example.com:993, tls)': what messages and status say, no secret."""
    return f"{account.name} ({account.user}@{account.host}:{port_of(account)}, {account.security})"


def password_of(account: MailAccount, environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    if account.password_env:
        value = environ.get(account.password_env)
        if not value:
            raise MailAccountError(f"mail account {account.name}: the environment variable "
                                   f"{account.password_env} (password_env) is not set")
        return value
    assert account.password_file is not None
    try:
        lines = account.password_file.read_text(encoding="utf-8").splitlines()
        value = lines[0] if lines else ""  # its first line: what docs/configuration.md says
    except (OSError, UnicodeDecodeError) as exc:
        raise MailAccountError(f"mail account {account.name}: cannot read its password_file "
                               f"{account.password_file}: {exc.__class__.__name__}") from None
    if not value:
        raise MailAccountError(f"mail account {account.name}: its password_file "
                               f"{account.password_file} is empty")
    return value


def tls_context(account: MailAccount) -> ssl.SSLContext:
    """Certificate and host name checked (imaplib alone checks neither): the system's CAs,
    or the account's ca_file for a private CA or a self-signed server."""
    cafile = str(account.ca_file) if account.ca_file else None
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise MailAccountError(f"mail account {account.name}: cannot read its ca_file "
                               f"{account.ca_file}: {exc.__class__.__name__}: {exc}") from None


def connect(account: MailAccount, environ: Mapping[str, str] | None = None) -> "BaseMailBox":
    """A logged-in mailbox; MailAccountError says in one line why not."""
    from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted

    password = password_of(account, environ)
    where = f"{account.host}:{port_of(account)}"
    try:
        if account.security == "tls":
            box = MailBox(account.host, port_of(account), timeout=account.timeout_seconds,
                          ssl_context=tls_context(account))
        elif account.security == "starttls":
            box = MailBoxStartTls(account.host, port_of(account),
                                  timeout=account.timeout_seconds,
                                  ssl_context=tls_context(account))
        else:
            box = MailBoxUnencrypted(account.host, port_of(account),
                                     timeout=account.timeout_seconds)
    except ssl.SSLCertVerificationError as exc:
        raise MailAccountError(f"mail account {account.name}: the certificate of {where} is "
                               f"not trusted ({exc.verify_message}); nothing was sent. For a "
                               "private CA or a self-signed server, name its certificate "
                               "with ca_file") from None
    except socket.timeout:
        raise MailAccountError(f"mail account {account.name}: {where} did not answer within "
                               f"{account.timeout_seconds:g} s (timeout_seconds)") from None
    except (OSError, ssl.SSLError) as exc:
        raise MailAccountError(f"mail account {account.name}: cannot reach {where}: "
                               f"{exc.strerror or exc}") from None
    except MailAccountError:
        raise
    except Exception as exc:  # noqa: BLE001 - imaplib's own errors (a bad greeting, STARTTLS)
        raise MailAccountError(f"mail account {account.name}: {where} answered "
                               f"unexpectedly: {exc}") from None
    try:
        if (account.user + password).isascii():
            box.login(account.user, password)
        else:  # LOGIN is ASCII only (imaplib); AUTHENTICATE PLAIN carries UTF-8
            box.login_utf8(account.user, password)
    except Exception as exc:  # noqa: BLE001 - MailboxLoginError, imaplib.error, a lost socket
        try:
            box.client.shutdown()
        except Exception:  # noqa: BLE001 - it is being dropped anyway
            pass
        reason = _redacted(_server_reason(exc), password)
        raise MailAccountError(f"mail account {account.name}: login as {account.user} at "
                               f"{where} refused: {reason}") from None
    return box


def _redacted(text: str, password: str) -> str:
    """*text* without the password in any form a server's echo of the LOGIN command takes
    in it: as sent (imaplib quotes it: backslash and quote escaped), and inside the
    repr of the bytes imap-tools prints."""
    quoted = password.replace("\\", "\\\\").replace('"', '\\"')
    forms = {password, quoted, *(repr(form.encode())[2:-1] for form in (password, quoted))}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    return text


def _server_reason(exc: Exception) -> str:
    """The server's words from an imap-tools/imaplib error, without the command it echoes."""
    text = str(exc)
    for marker in ("AUTHENTICATIONFAILED", "Authentication failed", "[AUTH"):
        if marker in text:
            return "wrong user or password (the server said: authentication failed)"
    return text.splitlines()[-1][:300] if text else exc.__class__.__name__
