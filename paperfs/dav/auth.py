"""HTTP authentication (Basic and Digest) against paperfs users, with throttling.

* **Basic** (``dav.auth: basic`` or ``both``): the password is checked
  against its argon2id hash (UserStore caches a success for a few minutes).
  Use it over TLS: Windows and macOS send Basic credentials only over HTTPS
  by default.
* **Digest** (``digest`` or ``both``; RFC 7616, MD5, ``qop=auth``): checked
  against the HA1 stored while digest is enabled. Nonces are issued by this
  server (an HMAC over a time stamp with a per-process key) and expire after
  five minutes (the client then gets ``stale=true`` and retries silently);
  the ``uri`` must be the request target. Each (nonce, cnonce, nc) is taken
  once: a replayed request gets a new challenge, as if its nonce had expired
  (counts may come out of order, from clients sending requests in parallel).
* **Throttling**: every request that carries credentials that are wrong
  counts as a failure of its client address; after ``dav.throttle_failures``
  failures within ``dav.throttle_window_seconds`` the address gets
  ``429 Too Many Requests`` (with ``Retry-After``) for
  ``dav.throttle_block_seconds`` — even with the right password, so guessing
  cannot go on. A first request without credentials is not a failure.

Nothing here logs a password; failed logins are logged with the user name
and the client address.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections import deque
from typing import Callable, Iterable

from paperfs.index.model import User
from paperfs.access.users import REALM, UserStore

log = logging.getLogger(__name__)

NONCE_SECONDS = 300.0
_DIGEST_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


class Throttle:
    """Failed logins per client address; refuses an address that failed too often."""

    def __init__(self, failures: int, window: float, block: float) -> None:
        self.failures = failures
        self.window = window
        self.block = block
        self._lock = threading.Lock()
        self._failed: dict[str, deque[float]] = {}
        self._blocked: dict[str, float] = {}

    def blocked_for(self, address: str) -> float:
        """Seconds this address is still refused (0: not refused)."""
        now = time.monotonic()
        with self._lock:
            until = self._blocked.get(address)
            if until is None:
                return 0.0
            if until <= now:
                del self._blocked[address]
                return 0.0
            return until - now

    def failed(self, address: str) -> bool:
        """Record a failure; True when the address is now blocked."""
        now = time.monotonic()
        with self._lock:
            times = self._failed.setdefault(address, deque())
            times.append(now)
            while times and times[0] < now - self.window:
                times.popleft()
            if len(times) >= self.failures:
                self._blocked[address] = now + self.block
                del self._failed[address]
                return True
            if len(self._failed) > 50_000:  # bounded memory under a flood
                cutoff = now - self.window
                self._failed = {a: t for a, t in self._failed.items() if t and t[-1] >= cutoff}
            return False

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failed.pop(address, None)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


class Authenticator:
    """WSGI middleware: sets ``environ['paperfs.user']`` or answers 401/429."""

    def __init__(self, app: Callable, users: UserStore, *, mode: str, throttle: Throttle,
                 on_user: Callable[[User, dict], None] | None = None) -> None:
        self.app = app
        self.users = users
        self.basic = mode in ("basic", "both")
        self.digest = mode in ("digest", "both")
        self.throttle = throttle
        self.on_user = on_user
        self._key = secrets.token_bytes(32)
        self._opaque = secrets.token_hex(16)
        #: nonce -> (issued, the (cnonce, nc) pairs already taken with it)
        self._used: dict[str, tuple[float, set[tuple[str, str]]]] = {}
        self._used_lock = threading.Lock()

    # ------------------------------------------------------------ nonces

    def _nonce(self) -> str:
        stamp = f"{time.time():.3f}"
        mac = hmac.new(self._key, stamp.encode(), hashlib.sha256).hexdigest()[:32]
        return base64.b64encode(f"{stamp}:{mac}".encode()).decode()

    def _nonce_state(self, nonce: str) -> tuple[str, float]:
        """('ok', 'stale' (ours, expired) or 'bad'; when it was issued)."""
        try:
            stamp, mac = base64.b64decode(nonce, validate=True).decode().split(":", 1)
            issued = float(stamp)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return "bad", 0.0
        good = hmac.new(self._key, stamp.encode(), hashlib.sha256).hexdigest()[:32]
        if not hmac.compare_digest(good, mac):
            return "bad", 0.0
        return ("ok" if 0 <= time.time() - issued <= NONCE_SECONDS else "stale"), issued

    def _first_use(self, nonce: str, issued: float, cnonce: str, nc: str) -> bool:
        """True the first time this nonce comes with this cnonce and count."""
        now = time.time()
        with self._used_lock:
            for old in [n for n, (t, _) in self._used.items() if now - t > NONCE_SECONDS]:
                del self._used[old]  # expired: refused as stale from now on anyway
            taken = self._used.setdefault(nonce, (issued, set()))[1]
            key = (cnonce, nc.lower())
            if key in taken:
                return False
            taken.add(key)
            return True

    # ------------------------------------------------------------ the middleware

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        address = environ.get("REMOTE_ADDR", "?")
        wait = self.throttle.blocked_for(address)
        if wait:
            return self._too_many(start_response, wait)
        header = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, credentials = header.partition(" ")
        scheme = scheme.lower()
        user: User | None = None
        stale = False
        tried = False
        name = ""
        if scheme == "basic" and self.basic:
            tried = True
            name, user = self._check_basic(credentials.strip())
        elif scheme == "digest" and self.digest:
            tried = True
            name, user, stale = self._check_digest(credentials, environ)
        elif header:
            tried = True  # a scheme we do not accept: challenge again
        if user is not None:
            self.throttle.succeeded(address)
            environ["paperfs.user"] = user
            environ["wsgidav.auth.user_name"] = user.name
            environ["wsgidav.auth.realm"] = REALM
            if self.on_user is not None:
                self.on_user(user, environ)
            return self.app(environ, start_response)
        if tried and not stale and header:
            log.warning("failed WebDAV login for %r from %s", name[:64], address)
            if self.throttle.failed(address):
                log.warning("WebDAV logins from %s refused for %.0f s after repeated failures",
                            address, self.throttle.block)
        return self._challenge(start_response, stale=stale)

    def _check_basic(self, credentials: str) -> tuple[str, User | None]:
        try:
            raw = base64.b64decode(credentials, validate=True)
        except (binascii.Error, ValueError):
            return "", None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        name, sep, password = text.partition(":")
        if not sep or not name:
            return name, None
        return name, self.users.verify(name, password)

    def _check_digest(self, credentials: str, environ: dict) -> tuple[str, User | None, bool]:
        params: dict[str, str] = {}
        for key, quoted_value, token in _DIGEST_PARAM.findall(credentials):
            value = quoted_value if quoted_value or not token else token
            params[key.lower()] = re.sub(r"\\(.)", r"\1", value)
        name = params.get("username", "")
        needed = ("username", "realm", "nonce", "uri", "response", "qop", "nc", "cnonce")
        if any(not params.get(k) for k in needed):
            return name, None, False
        if params["realm"] != REALM or params["qop"].lower() != "auth":
            return name, None, False
        if params.get("algorithm", "MD5").upper() != "MD5":
            return name, None, False
        target = environ.get("REQUEST_URI") or environ.get("RAW_URI") or environ.get("PATH_INFO", "")
        if params["uri"] != target:
            return name, None, False
        state, issued = self._nonce_state(params["nonce"])
        if state == "bad":
            return name, None, False
        ha1 = self.users.digest_ha1(name)
        if ha1 is None:
            return name, None, False
        ha2 = _md5(f"{environ['REQUEST_METHOD']}:{params['uri']}")
        expected = _md5(f"{ha1}:{params['nonce']}:{params['nc']}:{params['cnonce']}:"
                        f"{params['qop']}:{ha2}")
        if not hmac.compare_digest(expected, params["response"].lower()):
            return name, None, False
        if state == "stale":
            return name, None, True
        if not self._first_use(params["nonce"], issued, params["cnonce"], params["nc"]):
            log.warning("replayed WebDAV Digest request for %r from %s refused",
                        name[:64], environ.get("REMOTE_ADDR", "?"))
            return name, None, True
        return name, self.users.user(name), False

    # ------------------------------------------------------------ answers

    def _challenge(self, start_response: Callable, *, stale: bool = False) -> list[bytes]:
        body = b"401 Unauthorized: log in with a paperfs user name and password\n"
        headers = [("Content-Type", "text/plain; charset=utf-8"),
                   ("Content-Length", str(len(body)))]
        if self.digest:
            headers.append(("WWW-Authenticate",
                            f'Digest realm="{REALM}", qop="auth", algorithm=MD5, '
                            f'nonce="{self._nonce()}", opaque="{self._opaque}"'
                            + (", stale=true" if stale else "")))
        if self.basic:
            headers.append(("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"'))
        start_response("401 Unauthorized", headers)
        return [body]

    @staticmethod
    def _too_many(start_response: Callable, wait: float) -> list[bytes]:
        body = b"429 Too Many Requests: too many failed logins from this address\n"
        start_response("429 Too Many Requests", [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Retry-After", str(int(wait) + 1)),
            ("Connection", "close"),
        ])
        return [body]


