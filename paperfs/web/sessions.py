"""Login sessions of the web page: a random server-side token in a cookie.

The cookie holds only a random token (256 bits); the server keeps which user it
belongs to and until when. It is ``HttpOnly`` (no script reads it),
``SameSite=Strict`` (no other site's page sends it) and ``Secure`` over TLS. A
session ends at logout, after ``IDLE_SECONDS`` without a request, or
``MAX_SECONDS`` after the login, whichever comes first; sessions live in the
server's memory, so a restart logs everyone out. The user is looked up on every
request: a removed user's session stops working at once, and so does every session
of a user whose password changed since (``credential``: a fingerprint of the stored
password hash at login).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import Callable

COOKIE = "paperfs_session"
IDLE_SECONDS = 2 * 3600.0
MAX_SECONDS = 12 * 3600.0
#: bounded memory: the oldest sessions go first past this many
MAX_SESSIONS = 10_000


@dataclass
class Session:
    token: str
    user: str
    started: float
    seen: float
    #: the user's stored password at login, fingerprinted (routing.py compares it)
    credential: str = ""


class Sessions:
    def __init__(self, *, idle: float = IDLE_SECONDS, lifetime: float = MAX_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.idle = idle
        self.lifetime = lifetime
        self.clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def start(self, user: str, credential: str = "") -> Session:
        now = self.clock()
        session = Session(secrets.token_urlsafe(32), user, now, now, credential)
        with self._lock:
            if len(self._sessions) >= MAX_SESSIONS:
                self._drop_expired(now)
                while len(self._sessions) >= MAX_SESSIONS:
                    del self._sessions[min(self._sessions, key=lambda t: self._sessions[t].seen)]
            self._sessions[session.token] = session
        return session

    def get(self, token: str | None) -> Session | None:
        """The live session of this token (its idle time starts again), or None."""
        if not token:
            return None
        now = self.clock()
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if self._expired(session, now):
                del self._sessions[token]
                return None
            session.seen = now
            return session

    def end(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.seen > self.idle or now - session.started > self.lifetime

    def _drop_expired(self, now: float) -> None:
        for token in [t for t, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[token]

    def cookie(self, session: Session, secure: bool) -> tuple[str, str]:
        return ("Set-Cookie", f"{COOKIE}={session.token}; Path=/; HttpOnly; SameSite=Strict; "
                f"Max-Age={int(self.lifetime)}" + ("; Secure" if secure else ""))

    @staticmethod
    def clearing_cookie(secure: bool) -> tuple[str, str]:
        return ("Set-Cookie", f"{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
                + ("; Secure" if secure else ""))
