"""The account's security modes against a real dovecot serving TLS with a self-signed
certificate made by the test (tests/dovecot_server.py, tls=True), and a server that
accepts the connection and never answers.

The certificate is checked: without ``ca_file`` naming it, a self-signed server is
refused before the password is sent (a man in the middle would otherwise get it).
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from paperfs.archive.layout import DataRoot
from paperfs.mail.accounts import MailAccountError, connect
from tests.dovecot_server import DovecotServer
from tests.mail_support import Parts, mail_root


@pytest.fixture(scope="module")
def tls_dovecot():
    with DovecotServer(tls=True) as server:
        yield server


def at_port(port: int) -> DovecotServer:
    """A server of the tests' own at *port*, for mail_root (only its port is used)."""
    server = DovecotServer.__new__(DovecotServer)
    server.port = port
    return server


def account_of(tmp_path, server: DovecotServer, security: str, port: int, ca: bool):
    root = mail_root(tmp_path, server, "work: []\n")
    config = root.root / "paperfs.yml"
    text = config.read_text().replace("security: none", f"security: {security}")
    text = text.replace(f"port: {server.port}", f"port: {port}")
    if ca:
        text += f"      ca_file: {server.certificate}\n"
    config.write_text(text)
    return Parts(root).account


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_tls_and_starttls_log_in_with_the_servers_certificate(tmp_path, tls_dovecot,
                                                              security):
    port = tls_dovecot.tls_port if security == "tls" else tls_dovecot.port
    box = connect(account_of(tmp_path, tls_dovecot, security, port, ca=True))
    try:
        assert [f.name for f in box.folder.list()] == ["INBOX"]
        sock = box.client.sock
        assert sock.version() in ("TLSv1.2", "TLSv1.3"), sock
    finally:
        box.logout()


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_an_untrusted_certificate_is_refused_before_the_login(tmp_path, tls_dovecot,
                                                             security):
    port = tls_dovecot.tls_port if security == "tls" else tls_dovecot.port
    account = account_of(tmp_path, tls_dovecot, security, port, ca=False)
    logins = tls_dovecot.log().count("Login: user=<alice>")
    with pytest.raises(MailAccountError) as error:
        connect(account)
    text = str(error.value)
    assert text.startswith(f"mail account work: the certificate of 127.0.0.1:{port} is not "
                           "trusted"), text
    assert "ca_file" in text and "\n" not in text
    assert tls_dovecot.log().count("Login: user=<alice>") == logins  # no login was tried


def test_a_server_that_never_answers_times_out_with_one_line(tmp_path):
    """A server that accepts the connection and never greets: the login gives up after
    the account's timeout_seconds instead of holding the account's thread for ever."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(listener.accept()[0]), daemon=True).start()
    try:
        server = at_port(listener.getsockname()[1])
        root = mail_root(tmp_path, server, "work: []\n")
        config = root.root / "paperfs.yml"
        config.write_text(config.read_text() + "      timeout_seconds: 1\n")
        started = time.monotonic()
        with pytest.raises(MailAccountError) as error:
            connect(Parts(root).account)
        assert time.monotonic() - started < 5
        assert str(error.value) == (f"mail account work: 127.0.0.1:{server.port} did not "
                                    "answer within 1 s (timeout_seconds)"), error.value
    finally:
        listener.close()
        for conn in held:
            conn.close()


def test_a_ca_file_that_cannot_be_read_is_named(tmp_path, tls_dovecot):
    account_of(tmp_path, tls_dovecot, "tls", tls_dovecot.tls_port, ca=False)
    missing = tmp_path / "no-such-ca.pem"
    config = tmp_path / "data" / "paperfs.yml"
    config.write_text(config.read_text() + f"      ca_file: {missing}\n")
    with pytest.raises(MailAccountError) as error:
        connect(Parts(DataRoot(config.parent)).account)
    assert str(error.value).startswith(f"mail account work: cannot read its ca_file {missing}: "
                                       "FileNotFoundError"), error.value


def test_a_password_beyond_ascii_logs_in(tmp_path):
    """imaplib's LOGIN takes ASCII only (a password with an umlaut failed with "'ascii'
    codec can't encode"); such a password goes by AUTHENTICATE PLAIN in UTF-8."""
    password = "Geheimnis-äöü-€"
    with DovecotServer(users={"alice": password}) as server:
        box = connect(account_of_password(tmp_path, server, password))
        try:
            assert [f.name for f in box.folder.list()] == ["INBOX"]
        finally:
            box.logout()
        wrong = account_of_password(tmp_path / "wrong", server, "Geheimnis-äöü-$")
        with pytest.raises(MailAccountError, match="refused: wrong user or password") as error:
            connect(wrong)
        assert "Geheimnis" not in str(error.value)


def account_of_password(tmp_path, server: DovecotServer, password: str):
    tmp_path.mkdir(exist_ok=True)
    return Parts(mail_root(tmp_path, server, "work: []\n", password=password)).account


def test_a_server_that_echoes_the_login_command_never_shows_the_password(tmp_path):
    """Some servers quote the failed command back (with the password as imaplib quoted
    it: backslashes and quotes escaped); the error has neither form of it."""
    password = 'pa"ss\\word'
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"* OK fake IMAP ready\r\n")
            for line in lines:
                tag, command = line.rstrip().split(b" ", 2)[:2]
                if command.upper() == b"CAPABILITY":
                    conn.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK done\r\n")
                else:
                    conn.sendall(tag + b" NO cannot do " + line.rstrip() + b"\r\n")

    threading.Thread(target=serve, daemon=True).start()
    try:
        server = at_port(listener.getsockname()[1])
        account = Parts(mail_root(tmp_path, server, "work: []\n", password=password)).account
        with pytest.raises(MailAccountError) as error:
            connect(account)
        text = str(error.value)
        assert text.startswith("mail account work: login as alice at 127.0.0.1:"), text
        assert "LOGIN" in text and "ss" not in text.split("LOGIN", 1)[1].replace("alice", ""), \
            text
    finally:
        listener.close()
