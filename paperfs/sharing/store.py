"""shares.json in the data root: the share links, one line each.

A link is user intent, like saved.yml and users.yml beside it, so it lives in
the data root, not under .paperfs/ (derived state that may be deleted and
rebuilt: a rebuild cannot bring links back). Only the SHA-256 of each token
is stored: the file (and its backups) does not give working links. The token
is 256 random bits, so a plain hash cannot be reversed by guessing; a slow
salted hash would only cost every page view time. The URL is therefore shown
once, when the link is made; later the link is named by its short id.

Several processes change the file (the CLI, the WebDAV server's /_share): a
change takes a flock on .paperfs/shares.lock, reads, writes atomically.
JSON, not YAML like its neighbours: the file is written by paperfs only, and
PyYAML reads 10,000 links in 2 s where json reads them in a few ms.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator

from paperfs.archive.atomic import atomic_write_text
from paperfs.errors import ConfigError, NotFoundError, UsageError

SHARES_FILE = "shares.json"
KINDS = ("document", "search")
#: what secrets.token_urlsafe(32) makes
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{43}")
#: expired or revoked links are kept this long (for `paperfs share list`), then dropped
KEEP_ENDED = dt.timedelta(days=30)
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([mhdw]?)\s*")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks", "": "days"}


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def parse_duration(text: str) -> dt.timedelta:
    """'7d', '12h', '30m', '2w', or a number of days."""
    match = _DURATION.fullmatch(str(text))
    if not match or float(match.group(1)) <= 0:
        raise UsageError(f"{text!r} is not an expiry: give a duration such as 7d, 12h, "
                         "30m or 2w")
    return dt.timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ShareLink:
    #: short, not secret: names the link in `paperfs share list|revoke`
    id: str
    token_sha256: str
    #: "document" or "search"
    kind: str
    #: the document id (as text) or the saved search's name
    target: str
    #: the paperfs user who made it: the link never shows more than this user may view
    creator: str
    created: dt.datetime
    expires: dt.datetime
    revoked: dt.datetime | None = None

    def state(self, now: dt.datetime) -> str:
        """'active', 'expired' or 'revoked'."""
        if self.revoked is not None:
            return "revoked"
        return "active" if now < self.expires else "expired"

    @property
    def document_id(self) -> int | None:
        return int(self.target) if self.kind == "document" else None

    def describe(self) -> str:
        return f"document {self.target}" if self.kind == "document" \
            else f"saved search {self.target!r}"

    def to_json(self, now: dt.datetime) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "target": self.target,
                "creator": self.creator, "created": self.created.isoformat(),
                "expires": self.expires.isoformat(),
                "revoked": self.revoked.isoformat() if self.revoked else None,
                "state": self.state(now)}


class ShareStore:
    """The links of one data root; ``now`` is replaceable (tests use a fake clock)."""

    def __init__(self, data_root: Path, state_dir: Path, *, max_days: float,
                 now: Callable[[], dt.datetime] = utc_now) -> None:
        self.path = Path(data_root) / SHARES_FILE
        self.lock_path = Path(state_dir) / "shares.lock"
        self.max_days = max_days
        self.now = now
        self._cache: tuple[tuple[int, int, int], list[ShareLink]] | None = None
        self._cache_lock = threading.Lock()

    # ------------------------------------------------------------ reading

    def links(self) -> list[ShareLink]:
        """Every link in the file (read again only when the file changed)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return []
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        with self._cache_lock:
            if self._cache is not None and self._cache[0] == stamp:
                return self._cache[1]
        links = self._read()
        with self._cache_lock:
            self._cache = (stamp, links)
        return links

    def _read(self) -> list[ShareLink]:
        try:
            data = json.loads(self.path.read_text("utf-8") or "{}")
        except FileNotFoundError:
            return []
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{self.path}: not valid JSON: {exc}; fix it or remove the "
                              "broken entry (its link then no longer works)") from None
        if not isinstance(data, dict) or not isinstance(data.get("shares") or [], list):
            raise ConfigError(f"{self.path}: expected a list under 'shares:'")
        return [self._link(i, item) for i, item in enumerate(data.get("shares") or [])]

    def _link(self, i: int, item: Any) -> ShareLink:
        where = f"{self.path}: shares[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: expected a mapping; remove the entry")
        try:
            link = ShareLink(
                id=str(item["id"]), token_sha256=str(item["token_sha256"]),
                kind=str(item["kind"]), target=str(item["target"]),
                creator=str(item["creator"]), created=_time(item["created"]),
                expires=_time(item["expires"]),
                revoked=_time(item["revoked"]) if item.get("revoked") else None)
        except KeyError as exc:
            raise ConfigError(f"{where}: missing {exc.args[0]!r}; remove the entry") from None
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: {exc}; remove the entry") from None
        if link.kind not in KINDS:
            raise ConfigError(f"{where}: kind {link.kind!r} is not one of {', '.join(KINDS)}")
        if link.kind == "document" and not link.target.isdigit():
            raise ConfigError(f"{where}: target {link.target!r} is not a document id")
        return link

    def find(self, token: str) -> ShareLink | None:
        """The link of ``token`` (in any state), or None. Every stored hash is compared,
        in constant time each, so the answer's time does not tell how close a guess was."""
        if not TOKEN_RE.fullmatch(token):
            return None
        wanted = token_hash(token)
        found = None
        for link in self.links():
            if hmac.compare_digest(link.token_sha256, wanted):
                found = link
        return found

    def get(self, key: str) -> ShareLink:
        """A link by its id, its token, or its URL (for revoke)."""
        token = key.rstrip("/").rsplit("/", 1)[-1]
        link = self.find(token)
        if link is None:
            link = next((s for s in self.links() if s.id == key), None)
        if link is None:
            raise NotFoundError(f"no share link {key!r} in {self.path} ('paperfs share list' "
                                "shows their ids)")
        return link

    # ------------------------------------------------------------ changing

    def create(self, kind: str, target: str, creator: str,
               expires_in: dt.timedelta) -> tuple[ShareLink, str]:
        """A new link and its token (shown once: only its hash is stored)."""
        if kind not in KINDS:
            raise UsageError(f"a share link is to a document or a search, not {kind!r}")
        if expires_in <= dt.timedelta(0):
            raise UsageError("the expiry must be in the future")
        if expires_in > dt.timedelta(days=self.max_days):
            raise UsageError(f"a share link may last at most {self.max_days:g} days "
                             "(dav.share_max_days); give a shorter --expires")
        token = secrets.token_urlsafe(32)
        now = self.now()
        with self._changing() as links:
            taken = {s.id for s in links}
            link_id = secrets.token_hex(5)
            while link_id in taken:
                link_id = secrets.token_hex(5)
            link = ShareLink(link_id, token_hash(token), kind, str(target), creator,
                             now, now + expires_in)
            links.append(link)
        return link, token

    def revoke(self, key: str) -> ShareLink:
        """Revoke the link named by id, token or URL (already ended: unchanged)."""
        link = self.get(key)
        if link.revoked is not None:
            return link
        revoked = replace(link, revoked=self.now())
        with self._changing() as links:
            links[:] = [revoked if s.id == link.id else s for s in links]
        return revoked

    @contextlib.contextmanager
    def _changing(self) -> Iterator[list[ShareLink]]:
        """The links to change in place, under the lock; written when the block ends.
        Links ended more than KEEP_ENDED ago are dropped on the way."""
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            links = self._read()
            cutoff = self.now() - KEEP_ENDED
            links = [s for s in links if (s.revoked or s.expires) > cutoff]
            yield links
            lines = ",\n".join(json.dumps(link_record(s), ensure_ascii=False) for s in links)
            atomic_write_text(self.path, '{"shares": [\n' + lines + '\n]}\n')
            os.chmod(self.path, 0o600)


def link_record(link: ShareLink) -> dict[str, Any]:
    return {"id": link.id, "token_sha256": link.token_sha256, "kind": link.kind,
            "target": link.target, "creator": link.creator,
            "created": link.created.isoformat(), "expires": link.expires.isoformat(),
            "revoked": link.revoked.isoformat() if link.revoked else None}


def _time(value: Any) -> dt.datetime:
    when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def public_base(config: Any) -> str:
    """Where users reach the server: dav.public_url, else http(s)://dav.host:dav.port
    (a wildcard address names this machine)."""
    dav = config.dav
    if dav.public_url:
        return dav.public_url.rstrip("/")
    host = dav.host
    if host in ("0.0.0.0", "::", ""):
        import socket

        host = socket.getfqdn()
    if ":" in host:
        host = f"[{host}]"
    scheme = "https" if dav.tls_cert else "http"
    return f"{scheme}://{host}:{dav.port}"


def share_store(root: Any, config: Any, **kwargs: Any) -> ShareStore:
    """The store of a data root (a DataRoot) with its configuration's limits."""
    return ShareStore(root.root, root.state, max_days=config.dav.share_max_days, **kwargs)
