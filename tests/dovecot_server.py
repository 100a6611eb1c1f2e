"""A real dovecot IMAP server for the tests: 127.0.0.1, a free port, everything under a temp dir.

Plain login on loopback (``ssl = no``; with ``tls=True`` a self-signed
certificate for 127.0.0.1 made by openssl, STARTTLS on the IMAP port and
implicit TLS on ``tls_port``), maildir under the temp dir, users in a
passwd-file, its log in a file, its base and state dirs in the temp dir. It
runs as root with the Debian package's users for its internal and login
processes; mail is accessed as ``nobody``. ``DovecotServer`` is a context
manager; ``mailbox()`` logs in with imap-tools, ``append()`` delivers a
message with IMAP APPEND, ``deliver_maildir()`` writes messages straight into
the maildir (many at once, for the benchmark). The ``dovecot`` fixture gives
a fresh server with the user ``alice`` per test.

Without dovecot (Debian packages dovecot-imapd; scripts/install-system-deps.sh
--test) the tests fail loudly when ``CI`` is set and are skipped with the
reason elsewhere.

Use in a test module::

    from tests.dovecot_server import DovecotServer, dovecot  # noqa: F401 (fixture)
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Iterable, Iterator

import pytest

from tests.redis_server import _in_ci, free_port

DOVECOT = "/usr/sbin/dovecot"
START_TIMEOUT = 10.0
#: mail is read and written as this user (dovecot refuses root for mail access)
MAIL_USER = "nobody"
USER, PASSWORD = "alice", "alice-secret"


def require_dovecot() -> str:
    """The dovecot binary; fails in CI, skips loudly elsewhere when it is absent."""
    binary = shutil.which("dovecot") or (DOVECOT if os.path.exists(DOVECOT) else None)
    missing = None
    if binary is None:
        missing = "'dovecot' is not installed"
    else:
        for user in ("dovecot", "dovenull", MAIL_USER):
            try:
                pwd.getpwnam(user)
            except KeyError:
                missing = f"the system user {user!r} is missing"
    if missing is None and os.geteuid() != 0:
        missing = "the tests start dovecot as root (its login processes change user)"
    if missing:
        message = (f"DOVECOT NOT AVAILABLE: {missing}. Install the Debian packages "
                   "dovecot-core dovecot-imapd (scripts/install-system-deps.sh --test)")
        if _in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return binary


_CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {dir}/run
state_dir = {dir}/state
instance_name = paperfs-test-{port}
log_path = {dir}/dovecot.log
info_log_path = {dir}/dovecot.log
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = dovecot
default_login_user = dovenull
mail_location = maildir:{dir}/mail/%u
mailbox_idle_check_interval = 1 secs
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={dir}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service anvil {{
  chroot =
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
"""


class DovecotServer:
    """One dovecot process with its own configuration under a temp dir."""

    def __init__(self, users: dict[str, str] | None = None, tls: bool = False) -> None:
        self.binary = require_dovecot()
        self.host = "127.0.0.1"
        self.port = free_port()
        #: implicit TLS (imaps), with tls=True; 0: no such listener
        self.tls_port = free_port() if tls else 0
        self.tls = tls
        self.users = users or {USER: PASSWORD}
        self.dir = Path(tempfile.mkdtemp(prefix="paperfs-dovecot-"))
        self.dir.chmod(0o755)  # the mail user reaches its maildir through it
        self.process: subprocess.Popen | None = None
        mail_user = pwd.getpwnam(MAIL_USER)
        self.uid, self.gid = mail_user.pw_uid, mail_user.pw_gid

    @property
    def config_file(self) -> Path:
        return self.dir / "dovecot.conf"

    @property
    def certificate(self) -> Path:
        """The server's self-signed certificate (PEM), with tls=True: a client's CA file."""
        return self.dir / "cert.pem"

    def _ssl_settings(self) -> str:
        if not self.tls:
            return "ssl = no"
        openssl = shutil.which("openssl")
        if openssl is None:
            message = "OPENSSL NOT AVAILABLE: the TLS tests make their certificate with it"
            if _in_ci():
                pytest.fail(message, pytrace=False)
            pytest.skip(message)
        key = self.dir / "key.pem"
        subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(self.certificate)],
                       check=True, capture_output=True)
        return f"ssl = yes\nssl_cert = <{self.certificate}\nssl_key = <{key}"

    def start(self) -> "DovecotServer":
        for sub in ("run", "state", "mail"):
            (self.dir / sub).mkdir(exist_ok=True)
        os.chown(self.dir / "mail", self.uid, self.gid)
        (self.dir / "users").write_text(
            "".join(f"{user}:{{PLAIN}}{password}\n" for user, password in self.users.items()))
        self.config_file.write_text(_CONFIG.format(dir=self.dir, port=self.port,
                                                   tls_port=self.tls_port, uid=self.uid,
                                                   gid=self.gid, ssl=self._ssl_settings()))
        self.process = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.config_file)],
            stdout=subprocess.DEVNULL, stderr=open(self.dir / "stderr.log", "wb"),
            start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("dovecot exited: " + self.log()[-2000:]
                                   + (self.dir / "stderr.log").read_text()[-2000:])
            if self._greets():
                return self
            time.sleep(0.05)
        self.close()
        raise RuntimeError(f"dovecot did not answer on {self.host}:{self.port}")

    def _greets(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5) as conn:
                return conn.recv(64).startswith(b"* OK")
        except OSError:
            return False

    def log(self) -> str:
        try:
            return (self.dir / "dovecot.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "DovecotServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ mail

    def mailbox(self, user: str = USER):
        """A logged-in imap-tools MailBox (a context manager)."""
        from imap_tools import MailBoxUnencrypted

        return MailBoxUnencrypted(self.host, self.port).login(user, self.users[user])

    def append(self, messages: Iterable[bytes], folder: str = "INBOX", user: str = USER,
               flags: tuple[str, ...] = ()) -> None:
        """Deliver messages with IMAP APPEND (creating the folder when it is missing)."""
        with self.mailbox(user) as box:
            if not box.folder.exists(folder):
                box.folder.create(folder)
            for message in messages:
                box.append(message, folder, flag_set=flags or None)

    def deliver_maildir(self, messages: Iterable[bytes], folder: str = "INBOX",
                        user: str = USER) -> int:
        """Write messages straight into the maildir's new/ (plain files; dovecot gives them
        UIDs when it next looks); far faster than APPEND for thousands."""
        base = self.dir / "mail" / user
        box = base if folder == "INBOX" else base / ("." + folder.replace("/", "."))
        for sub in ("new", "cur", "tmp"):
            (box / sub).mkdir(parents=True, exist_ok=True)
        count = 0
        host = socket.gethostname()
        for message in messages:
            name = f"{int(time.time())}.M{uuid.uuid4().hex}.{host}"
            (box / "new" / name).write_bytes(message)
            count += 1
        for path in [base, *base.rglob("*")]:
            os.chown(path, self.uid, self.gid)
        return count


@pytest.fixture
def dovecot() -> Iterator[DovecotServer]:
    server = DovecotServer().start()
    try:
        yield server
    finally:
        server.close()
