"""Saved searches: named queries shown as live folders under ``/saved/<name>/``.

Two sources:

* ``dav.saved`` in the config: shared by every user, read-only at run time;
* ``saved.yml`` in the data root: written by ``paperfs saved add|rm`` (shared,
  or private with ``--owner``) and by WebDAV (``MKCOL /saved/<query>`` makes a
  private saved search of its owner whose query is the folder name; ``MOVE``
  renames it, keeping the query; ``DELETE`` removes it).

A user sees the shared ones and his own. Names are unique per user: a private
name may not repeat a shared one. The query text is stored as typed (relative
dates such as ``added:"last week"`` stay relative).
"""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping

import yaml

from paperfs.archive.atomic import atomic_write_text
from paperfs.config import SavedSearchConfig
from paperfs.errors import ConfigError, NotFoundError, UsageError
from paperfs.index.model import User
from paperfs.search.parser import parse
from paperfs.search.syntax_error import QuerySyntaxError

SAVED_FILE = "saved.yml"
_HEADER = ("# paperfs saved searches (manage with 'paperfs saved'; shared ones can also be\n"
           "# set in paperfs.yml under dav.saved). owner: null = every user.\n")


@dataclass(frozen=True)
class SavedSearch:
    name: str
    query: str
    #: None: every user sees it; else only this user (and the folder is his)
    owner: str | None = None
    #: "config" (dav.saved, read-only) or "file" (saved.yml)
    origin: str = "file"

    def visible_to(self, user: User) -> bool:
        return self.owner is None or self.owner == user.name

    def changeable_by(self, user: User) -> bool:
        """Rename/delete over WebDAV: own ones; shared ones from saved.yml by superusers."""
        if self.origin == "config":
            return False
        return self.owner == user.name or (self.owner is None and user.superuser)


def check_saved_name(name: str) -> str:
    name = unicodedata.normalize("NFC", name)
    if (not name.strip() or name in (".", "..") or "/" in name or "\\" in name
            or any(ord(c) < 32 for c in name) or len(name.encode("utf-8")) > 200):
        raise UsageError(f"{name!r} cannot be a folder name under /saved (no '/', '\\', "
                         "control characters; at most 200 bytes)")
    return name


def check_query(query: str, custom: Mapping[str, str] | None = None) -> str:
    """The query, if it parses; *custom*: the custom fields it may name (name → type)."""
    try:
        parse(query, custom=custom)
    except QuerySyntaxError as exc:
        raise UsageError(f"not a valid search: {exc}") from None
    return query


class SavedSearches:
    def __init__(self, data_root: Path, configured: Iterable[SavedSearchConfig] = (),
                 custom: Callable[[], Mapping[str, str]] = dict) -> None:
        self.path = data_root / SAVED_FILE
        #: the declared custom fields (fields.yml) a saved query may name
        self.custom = custom
        self.configured = tuple(SavedSearch(c.name, c.query, None, "config")
                                for c in configured)
        self._lock = threading.Lock()

    # ------------------------------------------------------------ reading

    def _load(self) -> list[SavedSearch]:
        try:
            data = yaml.load(self.path.read_text("utf-8"), Loader=yaml.CSafeLoader) or {}
        except FileNotFoundError:
            return []
        except yaml.YAMLError as exc:
            raise ConfigError(f"{self.path}: not valid YAML: {exc}") from None
        out = []
        for i, item in enumerate(data.get("saved") or []):
            if not isinstance(item, dict) or not item.get("name") or not item.get("query"):
                raise ConfigError(f"{self.path}: saved[{i}]: needs 'name' and 'query'")
            owner = item.get("owner")
            out.append(SavedSearch(str(item["name"]), str(item["query"]),
                                   str(owner) if owner else None, "file"))
        return out

    def _save(self, items: list[SavedSearch]) -> None:
        data = {"saved": [{"name": s.name, "query": s.query, "owner": s.owner} for s in items]}
        atomic_write_text(self.path, _HEADER + yaml.dump(
            data, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True, width=100))

    def all(self) -> list[SavedSearch]:
        return [*self.configured, *self._load()]

    def visible(self, user: User) -> list[SavedSearch]:
        seen: set[str] = set()
        out = []
        for item in self.all():
            if item.visible_to(user) and item.name not in seen:
                seen.add(item.name)
                out.append(item)
        return out

    def get(self, name: str, user: User) -> SavedSearch | None:
        for item in self.visible(user):
            if item.name == name:
                return item
        return None

    # ------------------------------------------------------------ changing

    def _clashes(self, items: list[SavedSearch], name: str, owner: str | None) -> bool:
        for item in [*self.configured, *items]:
            if item.name != name:
                continue
            if owner is None or item.owner is None or item.owner == owner:
                return True
        return False

    def add(self, name: str, query: str, owner: str | None = None) -> SavedSearch:
        name = check_saved_name(name)
        check_query(query, self.custom())
        with self._lock:
            items = self._load()
            if self._clashes(items, name, owner):
                raise UsageError(f"a saved search named {name!r} exists already")
            item = SavedSearch(name, query, owner, "file")
            self._save([*items, item])
        return item

    def remove(self, name: str, owner: str | None = None, *, any_owner: bool = False) -> None:
        with self._lock:
            items = self._load()
            keep = [s for s in items
                    if not (s.name == name and (any_owner or s.owner == owner))]
            if len(keep) == len(items):
                if any(c.name == name for c in self.configured):
                    raise UsageError(f"{name!r} is defined in the config (dav.saved); "
                                     "remove it there")
                raise NotFoundError(f"no saved search named {name!r}")
            self._save(keep)

    def rename(self, old: str, new: str, owner: str | None) -> SavedSearch:
        new = check_saved_name(new)
        with self._lock:
            items = self._load()
            target = next((s for s in items if s.name == old and s.owner == owner), None)
            if target is None:
                raise NotFoundError(f"no saved search named {old!r}")
            rest = [s for s in items if s is not target]
            if self._clashes(rest, new, owner):
                raise UsageError(f"a saved search named {new!r} exists already")
            renamed = SavedSearch(new, target.query, owner, "file")
            self._save([renamed if s is target else s for s in items])
        return renamed
