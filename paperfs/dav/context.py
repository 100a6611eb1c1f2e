"""What every request handler can reach: the server's services and the asking user."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import yaml
from wsgidav import util
from wsgidav.dav_error import HTTP_FORBIDDEN, HTTP_NOT_FOUND, DAVError

from paperfs.archive.atomic import atomic_write_text
from paperfs.archive.custom_fields import fields_of
from paperfs.archive.writer import DocumentWriter, HandOffWriter
from paperfs.errors import NotFoundError, DataRootError, SearchBackendError
from paperfs.index.base import Index
from paperfs.index.model import User
from paperfs.search.saved import SavedSearches
from paperfs.archive.trash import Trash
from paperfs.access.users import UserStore, users_path
from paperfs.sharing.store import share_store

if TYPE_CHECKING:
    from paperfs.index.factory import Readers
    from paperfs.runtime import Runtime

log = logging.getLogger(__name__)

HTTP_SERVICE_UNAVAILABLE = 503


#: seconds a client is asked to wait after a 503 of the search backend
RETRY_AFTER = "30"
_last_unavailable: list[str] = [""]


def search_unavailable(exc: SearchBackendError) -> DAVError:
    """503 with the one-line reason (Solr unreachable, misconfigured, failing): what a
    request that needs the search backend answers instead of a stack trace. Logged
    once per reason (the access log has each request)."""
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if _last_unavailable[0] != reason:
        _last_unavailable[0] = reason
        log.warning("WebDAV: answering 503: %s", reason)
    return DAVError(HTTP_SERVICE_UNAVAILABLE, reason,
                    add_headers=[("Retry-After", RETRY_AFTER)])


def lock_key(doc_id: int) -> str:
    """The key of a document's locks under every address of it, its sidecar included
    (and of the dead properties of its PDF): one document, one lock."""
    return f"/by-id/{doc_id}.pdf"


def forbidden(message: str) -> DAVError:
    return DAVError(HTTP_FORBIDDEN, message)


def not_found(path: str) -> DAVError:
    return DAVError(HTTP_NOT_FOUND, path)


class FolderRegistry:
    """Empty folders users made with MKCOL under /tags, /correspondents, /types.

    A tag exists only as a value in sidecars; an empty folder gives it a place
    to MOVE documents into. Kept per user in ``.paperfs/dav-folders.yml``
    (losing it loses nothing but empty folders).
    """

    KINDS = ("tags", "correspondents", "types")

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, list[str]]] | None = None

    def _load(self) -> dict[str, dict[str, list[str]]]:
        if self._data is None:
            try:
                self._data = yaml.load(self.path.read_text("utf-8"),
                                       Loader=yaml.CSafeLoader) or {}
            except (FileNotFoundError, yaml.YAMLError):
                self._data = {}
        return self._data

    def names(self, user: str, kind: str) -> list[str]:
        with self._lock:
            return list(self._load().get(user, {}).get(kind, []))

    def has(self, user: str, kind: str, name: str) -> str | None:
        key = name.casefold()
        for existing in self.names(user, kind):
            if existing.casefold() == key:
                return existing
        return None

    def add(self, user: str, kind: str, name: str) -> None:
        with self._lock:
            data = self._load()
            names = data.setdefault(user, {}).setdefault(kind, [])
            if name not in names:
                names.append(name)
                self._save(data)

    def remove(self, user: str, kind: str, name: str) -> None:
        with self._lock:
            data = self._load()
            names = data.get(user, {}).get(kind, [])
            keep = [n for n in names if n.casefold() != name.casefold()]
            if keep != names:
                data[user][kind] = keep
                self._save(data)

    def _save(self, data: dict) -> None:
        atomic_write_text(self.path, yaml.dump(data, Dumper=yaml.CSafeDumper,
                                               allow_unicode=True, sort_keys=True))


class Services:
    """Shared by all request threads of one server."""

    def __init__(self, runtime: "Runtime", writer: DocumentWriter | None,
                 index_factory: Callable[[], "Readers"]) -> None:
        """``writer``: None beside a running daemon: changes are handed to it."""
        from paperfs.dav.editor import Editor
        from paperfs.dav.inbox import Uploads

        config = self.config = runtime.config
        self.root = runtime.root
        #: every change goes through it (the daemon's, or a hand-off to the daemon)
        self.writer = writer or self._hand_off()
        self.users = UserStore(users_path(self.root.root))
        #: the declared custom fields: queries in /search and /saved may name them
        self.fields = fields_of(self.root.fields_file)
        self.saved = SavedSearches(self.root.root, config.dav.saved, self.fields.types)
        #: for listing /trash (changes go through the writer)
        self.trash = Trash(self.root)
        self.folders = FolderRegistry(self.root.state / "dav-folders.yml")
        #: labels.yml: its labels are folders under /tags etc.; superusers edit it at /labels.yml
        self.labels = runtime.labels
        #: share links (paperfs/sharing/): one store per server, for /s/, /_share and the page
        self.shares = share_store(self.root, config)
        self.editor = Editor(self.writer)
        inbox = self.root.root / config.inbox.folders[0]
        self.uploads = Uploads(inbox, config.inbox.ignore, config.dav.inbox_idle_seconds)
        self.max_name_bytes = config.archive.max_name_bytes
        self._index_factory = index_factory
        self._local = threading.local()
        self._readers: list[Readers] = []
        self._readers_lock = threading.Lock()
        #: set by the server: wsgidav's lock and property managers
        self.lock_manager: Any = None
        self.prop_manager: Any = None

    def _hand_off(self) -> DocumentWriter:
        """The writer beside a running daemon: changes go to the files, and it applies
        them. In the split deployment it may be on another host: told through Redis."""
        catalog = lambda: self.readers().catalog  # noqa: E731 - this thread's, when called
        if self.config.queue:
            from paperfs.cluster.handoff import RedisHandOffWriter

            return RedisHandOffWriter(self.root, catalog, self.config)
        return HandOffWriter(self.root, catalog)

    def readers(self) -> "Readers":
        """This thread's catalog and search side (opened on first use)."""
        readers = getattr(self._local, "readers", None)
        if readers is None:
            try:
                readers = self._index_factory()
            except (NotFoundError, DataRootError) as exc:
                raise DAVError(HTTP_SERVICE_UNAVAILABLE,
                               f"the index is not ready: {exc}") from None
            self._local.readers = readers
            with self._readers_lock:
                self._readers.append(readers)
        return readers

    def index(self) -> Index:
        """This thread's read connection to the index (the search side, with the lookups)."""
        return self.readers().search

    def close(self) -> None:
        with self._readers_lock:
            for readers in self._readers:
                try:
                    readers.close()
                except Exception:  # noqa: BLE001 - closing on shutdown
                    pass
            self._readers.clear()


class Ctx:
    """One request: who asks, and lazily the catalog on this thread's index."""

    def __init__(self, services: Services, user: User, environ: dict) -> None:
        self.services = services
        self.user = user
        self.environ = environ
        self._catalog = None

    @property
    def catalog(self):  # -> Catalog
        if self._catalog is None:
            from paperfs.dav.catalog import Catalog
            self._catalog = Catalog(self.services.readers(), self.services.root)
        return self._catalog

    @property
    def index(self) -> Index:
        return self.services.index()

    def check_unlocked(self, doc_id: int) -> None:
        """423 Locked unless no one holds a lock on the document, or this request
        submits the token of the asking user's lock (If header).

        wsgidav checks the lock of the resource a request names, but not of the
        documents a request changes through another resource (DELETE of a file
        checks only its folder; COPY into a tag folder, a folder's DELETE or
        MOVE change every document in it), so every change to a document checks
        here too.
        """
        lock_manager = self.services.lock_manager
        if lock_manager is None:
            return
        if "wsgidav.ifLockTokenList" not in self.environ:
            util.parse_if_header_dict(self.environ)
        lock_manager.check_write_permission(
            url=lock_key(doc_id), depth="0", token_list=self.environ["wsgidav.ifLockTokenList"],
            principal=self.user.name)


def ctx_of(environ: dict) -> Ctx:
    return environ["paperfs.ctx"]
