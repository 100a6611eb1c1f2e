"""Users and groups: ``users.yml`` in the data root, managed by ``paperfs user|group``.

The file is the truth about who may log in (it is not derived state, so it
lives beside ``paperfs.yml``, not under ``.paperfs/``)::

    users:
      alice:
        password: $argon2id$v=19$m=65536,t=3,p=4$...   # argon2id, never the password
        superuser: false
      bob:
        password: $argon2id$...
        digest_ha1: 5f4d...      # only while dav.auth allows Digest (see below)
    groups:
      family: [alice, bob]

Passwords are hashed with argon2id (argon2-cffi). HTTP Digest cannot work from
such a hash: it needs MD5(user:realm:password) (the "HA1"), which is as good
as the password for logging in over Digest and cheap to brute-force, so it is
written only while ``dav.auth`` is ``digest`` or ``both``.

Passwords are never logged; the file is written atomically with mode 0600.
:class:`UserStore` is the server-side view: it re-reads the file when it
changes (``paperfs user add`` takes effect without a restart) and caches
successful verifications for a few minutes, keyed by a keyed hash of the
password, so Basic auth (the password on every request) does not cost an
argon2 verification (~50 ms, 64 MiB) per request.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Mapping

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from paperfs.archive.atomic import fsync_dir
from paperfs.errors import ConfigError, NotFoundError, UsageError
from paperfs.index.model import User

USERS_FILE = "users.yml"
#: The HTTP authentication realm; part of the Digest HA1, so it is fixed.
REALM = "paperfs"
#: User and group names: safe as a folder name (inbox/<user>/), in a URL and
#: in HTTP Basic credentials (no ':').
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
#: How long a verified password is remembered (per user, per password).
VERIFY_CACHE_SECONDS = 300.0

_HEADER = ("# paperfs users and groups; manage with 'paperfs user' and 'paperfs group'.\n"
           "# Passwords are argon2id hashes; digest_ha1 exists only while dav.auth allows "
           "Digest.\n")

_hasher = PasswordHasher()  # stateless parameters object (RFC 9106 low-memory profile)


def check_name(name: str, what: str = "user") -> str:
    if not NAME_RE.fullmatch(name or ""):
        raise UsageError(f"{what} name {name!r}: use 1-64 letters, digits and . _ @ + - "
                         "(starting with a letter or digit)")
    return name


def hash_password(password: str) -> str:
    if not password:
        raise UsageError("the password must not be empty")
    return _hasher.hash(password)


def digest_ha1(name: str, password: str, realm: str = REALM) -> str:
    return hashlib.md5(f"{name}:{realm}:{password}".encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Account:
    name: str
    #: argon2 encoded hash; "" means the account cannot log in
    password: str = ""
    superuser: bool = False
    digest_ha1: str | None = None


@dataclass(frozen=True)
class UserTable:
    """The content of users.yml."""

    accounts: Mapping[str, Account] = field(default_factory=dict)
    #: group name -> member user names
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def groups_of(self, name: str) -> tuple[str, ...]:
        return tuple(sorted(g for g, members in self.groups.items() if name in members))

    def user(self, name: str) -> User | None:
        account = self.accounts.get(name)
        if account is None:
            return None
        return User(name=name, groups=self.groups_of(name), superuser=account.superuser)

    def names(self) -> set[str]:
        return set(self.accounts)


# ---------------------------------------------------------------- the file


def users_path(data_root: Path) -> Path:
    return data_root / USERS_FILE


def load_users(path: Path) -> UserTable:
    """Read users.yml; a missing file is an empty table."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return UserTable()
    try:
        data = yaml.load(text, Loader=yaml.CSafeLoader) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected 'users:' and 'groups:' mappings")
    accounts: dict[str, Account] = {}
    for name, entry in (data.get("users") or {}).items():
        name = str(name)
        if not NAME_RE.fullmatch(name):
            raise ConfigError(f"{path}: users: {name!r} is not a valid user name")
        entry = entry or {}
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{path}: users.{name}: expected a mapping")
        unknown = set(entry) - {"password", "superuser", "digest_ha1"}
        if unknown:
            raise ConfigError(f"{path}: users.{name}: unknown key {sorted(unknown)[0]!r}")
        superuser = entry.get("superuser", False)
        if not isinstance(superuser, bool):
            raise ConfigError(f"{path}: users.{name}.superuser: expected true or false")
        accounts[name] = Account(name=name, password=str(entry.get("password") or ""),
                                 superuser=superuser,
                                 digest_ha1=(str(entry["digest_ha1"])
                                             if entry.get("digest_ha1") else None))
    groups: dict[str, tuple[str, ...]] = {}
    for group, members in (data.get("groups") or {}).items():
        group = str(group)
        if not NAME_RE.fullmatch(group):
            raise ConfigError(f"{path}: groups: {group!r} is not a valid group name")
        if members is None:
            members = []
        if not isinstance(members, list):
            raise ConfigError(f"{path}: groups.{group}: expected a list of user names")
        groups[group] = tuple(sorted({str(m) for m in members}))
    return UserTable(accounts=accounts, groups=groups)


def save_users(path: Path, table: UserTable) -> None:
    data = {
        "users": {
            name: {k: v for k, v in (("password", a.password), ("superuser", a.superuser),
                                     ("digest_ha1", a.digest_ha1)) if v is not None}
            for name, a in sorted(table.accounts.items())
        },
        "groups": {g: list(m) for g, m in sorted(table.groups.items())},
    }
    text = _HEADER + yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=False,
                               allow_unicode=True, default_flow_style=False)
    # Like atomic_write_text, but the file is private (it holds password hashes).
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


class UserAdmin:
    """The changes ``paperfs user`` and ``paperfs group`` make (one call = one write)."""

    def __init__(self, path: Path, *, digest: bool = False) -> None:
        self.path = path
        #: keep a Digest HA1 for passwords set now (dav.auth is digest or both)
        self.digest = digest

    def table(self) -> UserTable:
        return load_users(self.path)

    def _write(self, table: UserTable) -> None:
        save_users(self.path, table)

    def add_user(self, name: str, password: str, *, superuser: bool = False,
                 groups: Iterable[str] = ()) -> Account:
        check_name(name)
        table = self.table()
        if name in table.accounts:
            raise UsageError(f"user {name!r} exists already; use 'paperfs user passwd'")
        account = Account(name=name, password=hash_password(password), superuser=superuser,
                          digest_ha1=digest_ha1(name, password) if self.digest else None)
        new_groups = dict(table.groups)
        for group in groups:
            if group not in new_groups:
                raise NotFoundError(f"no group {group!r}; create it with 'paperfs group add'")
            new_groups[group] = tuple(sorted({*new_groups[group], name}))
        self._write(UserTable({**table.accounts, name: account}, new_groups))
        return account

    def set_password(self, name: str, password: str) -> None:
        table = self.table()
        account = self._account(table, name)
        updated = replace(account, password=hash_password(password),
                          digest_ha1=digest_ha1(name, password) if self.digest else None)
        self._write(UserTable({**table.accounts, name: updated}, table.groups))

    def set_superuser(self, name: str, superuser: bool) -> None:
        table = self.table()
        updated = replace(self._account(table, name), superuser=superuser)
        self._write(UserTable({**table.accounts, name: updated}, table.groups))

    def remove_user(self, name: str) -> None:
        table = self.table()
        self._account(table, name)
        accounts = {k: v for k, v in table.accounts.items() if k != name}
        groups = {g: tuple(m for m in members if m != name) for g, members in table.groups.items()}
        self._write(UserTable(accounts, groups))

    def add_group(self, group: str, members: Iterable[str] = ()) -> None:
        check_name(group, "group")
        table = self.table()
        if group in table.groups:
            raise UsageError(f"group {group!r} exists already")
        members = tuple(sorted(set(members)))
        for member in members:
            self._account(table, member)
        self._write(UserTable(table.accounts, {**table.groups, group: members}))

    def remove_group(self, group: str) -> None:
        table = self.table()
        if group not in table.groups:
            raise NotFoundError(f"no group {group!r}")
        self._write(UserTable(table.accounts,
                              {g: m for g, m in table.groups.items() if g != group}))

    def change_members(self, group: str, add: Iterable[str] = (),
                       remove: Iterable[str] = ()) -> tuple[str, ...]:
        table = self.table()
        if group not in table.groups:
            raise NotFoundError(f"no group {group!r}")
        members = set(table.groups[group])
        for name in add:
            self._account(table, name)
            members.add(name)
        members -= set(remove)
        result = tuple(sorted(members))
        if result != table.groups[group]:
            self._write(UserTable(table.accounts, {**table.groups, group: result}))
        return result

    @staticmethod
    def _account(table: UserTable, name: str) -> Account:
        account = table.accounts.get(name)
        if account is None:
            raise NotFoundError(f"no user {name!r}")
        return account


# ---------------------------------------------------------------- the server's view


class UserStore:
    """Who may log in, for the WebDAV server: thread-safe, re-read when the file changes."""

    def __init__(self, path: Path, *, cache_seconds: float = VERIFY_CACHE_SECONDS) -> None:
        self.path = path
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._table = UserTable()
        self._key = secrets.token_bytes(32)  # for the verification cache; never leaves memory
        self._verified: dict[str, tuple[bytes, float]] = {}
        self._dummy: str | None = None  # hashed on first use: unknown users cost the same

    def table(self) -> UserTable:
        try:
            st = self.path.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                self._table = load_users(self.path) if stamp else UserTable()
                self._stamp = stamp
                self._verified.clear()  # a changed file may have changed passwords
            return self._table

    def user(self, name: str) -> User | None:
        return self.table().user(name)

    def verify(self, name: str, password: str) -> User | None:
        """The user, if the password is right; None otherwise (same time either way)."""
        table = self.table()
        account = table.accounts.get(name)
        tag = hmac.new(self._key, f"{name}\0{password}".encode("utf-8", "surrogatepass"),
                       hashlib.sha256).digest()
        now = time.monotonic()
        with self._lock:
            cached = self._verified.get(name)
        if (account is not None and cached is not None and cached[1] > now
                and hmac.compare_digest(cached[0], tag)):
            return table.user(name)
        if account is not None and account.password:
            encoded = account.password
        else:
            if self._dummy is None:
                self._dummy = _hasher.hash(secrets.token_urlsafe(16))
            encoded = self._dummy
        try:
            ok = _hasher.verify(encoded, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if not ok or account is None or not account.password:
            return None
        with self._lock:
            if len(self._verified) > 10_000:
                self._verified.clear()
            self._verified[name] = (tag, now + self.cache_seconds)
        return table.user(name)

    def digest_ha1(self, name: str) -> str | None:
        account = self.table().accounts.get(name)
        return account.digest_ha1 if account is not None else None


# ---------------------------------------------------------------- per-user inboxes


@functools.lru_cache(maxsize=8)
def _names_in(path: str, _stamp: tuple[int, int]) -> frozenset[str]:
    return frozenset(load_users(Path(path)).names())


def user_names(data_root: Path) -> frozenset[str]:
    """The user names in data_root/users.yml (cached while the file is unchanged)."""
    path = users_path(data_root)
    try:
        st = path.stat()
    except FileNotFoundError:
        return frozenset()
    return _names_in(str(path), (st.st_mtime_ns, st.st_size))


def owner_from_inbox(path: Path, inbox: Path, data_root: Path) -> str | None:
    """The owner of a file dropped into a per-user inbox, ``inbox/<user>/…``.

    A file directly in the inbox, or under a folder that is not a user's
    name, has no owner (and is visible to everyone, see permissions.py).
    """
    try:
        parts = path.relative_to(inbox).parts
    except ValueError:
        return None
    if len(parts) < 2:
        return None
    return parts[0] if parts[0] in user_names(data_root) else None
