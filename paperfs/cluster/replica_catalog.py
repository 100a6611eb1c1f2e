"""A dav replica's catalog: a local copy, built from the tree, kept in step by the change stream.

`paperfs dav` in a split deployment never opens ``.paperfs/index.sqlite3``
(the writer's, on the shared filesystem: SQLite over NFS is not safe). It
keeps its own catalog in ``dav.cache_dir`` on the local disk:

1. on start, the stream's position is taken and the catalog is brought in
   step with ``archive/`` (the daemon's start-up rule, paperfs/archive/treesync.py:
   only sidecars whose path, mtime or size differ are read, so a restart
   with a warm cache is quick);
2. then a thread follows the change stream (paperfs/cluster/change_stream.py)
   from that position and applies each entry by reading the named
   document's sidecar from the shared tree.

Request threads open readers on the same file (``readers()``); searches and
folder listings go to Solr as with a single process, completed from this
catalog. The replica writes nothing in the data root's index.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from paperfs.archive.document import read_sidecar
from paperfs.archive.store import Archive
from paperfs.archive.treesync import sync
from paperfs.cluster.change_stream import DELETE, Change, ChangeFollower
from paperfs.errors import ConfigError, SidecarError
from paperfs.index.base import IndexEntry
from paperfs.index.factory import Readers, open_catalog, open_readers

if TYPE_CHECKING:
    from paperfs.config import Config
    from paperfs.runtime import Runtime

log = logging.getLogger(__name__)

CATALOG_FILE = "catalog.sqlite3"


def default_cache_dir() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg) / "paperfs"
    if os.geteuid() == 0:
        return Path("/var/cache/paperfs")
    return Path.home() / ".cache" / "paperfs"


def cache_folder(config: "Config") -> Path:
    """This deployment's folder in the cache: one per tenant and data root."""
    base = (config.dav.cache_dir or default_cache_dir()).expanduser()
    digest = hashlib.sha256(str(config.data_root).encode()).hexdigest()[:10]
    return base.resolve() / f"{config.tenant or 'default'}-{digest}"


def check_replica_config(config: "Config") -> None:
    """What a dav replica needs: Solr for searches (the catalog here is a copy)."""
    if config.index.backend != "solr":
        raise ConfigError("paperfs dav with queue needs index.backend: solr (a replica's "
                          "searches and listings come from Solr; its catalog is a local copy)")


class ReplicaCatalog:
    """The local catalog file, its writer connection and the change follower."""

    def __init__(self, runtime: "Runtime") -> None:
        self.runtime = runtime
        self.config = runtime.config
        self.folder = cache_folder(self.config)
        self.file = self.folder / CATALOG_FILE
        self._catalog = None
        self._lock = threading.Lock()
        self.follower: ChangeFollower | None = None

    def start(self) -> None:
        """Build from the tree (at the stream's position), then follow the stream."""
        check_replica_config(self.config)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"dav.cache_dir: cannot create {self.folder}: {exc}") from None
        self._catalog = open_catalog(self.runtime.root, file=self.file)
        self.follower = ChangeFollower(self.config, self.apply, self.resync)
        try:
            self.follower.catch_up()
        except Exception as exc:  # noqa: BLE001 - Redis away: serve the tree as it is now
            log.warning("change stream: Redis unreachable at start (%s); the local catalog is "
                        "built from the tree and follows the writer once Redis answers", exc)
            self.follower.problem = str(exc)
            self.resync()
        self.follower.start()
        log.info("local catalog %s: %d document(s), following the writer's changes",
                 self.file, self._catalog.count())

    def readers(self) -> Readers:
        """A request thread's catalog (this copy) and search side (Solr)."""
        return open_readers(self.config, self.runtime.root, catalog_file=self.file)

    @property
    def problem(self) -> str | None:
        """Why the copy may be behind the writer (Redis unreachable), or None."""
        return None if self.follower is None else self.follower.problem

    def apply(self, change: Change) -> None:
        with self._lock:
            if change.op == DELETE:
                self._catalog.delete([doc_id for doc_id, _path in change.items])
                return
            entries = [entry for entry in map(self._entry, change.items) if entry is not None]
            if entries:
                self._catalog.upsert(entries)

    def _entry(self, item: tuple[int, str]) -> IndexEntry | None:
        doc_id, rel = item
        sidecar = self.runtime.root.archive / (rel + ".yml")
        try:
            stat = sidecar.stat()
            doc = read_sidecar(sidecar)
        except (OSError, SidecarError):
            return None  # moved or gone again since: a later entry says where
        if doc.id != doc_id:
            return None
        return IndexEntry(doc=doc, path=rel, mtime_ns=stat.st_mtime_ns, size=stat.st_size)

    def resync(self) -> None:
        """Bring the copy in step with archive/ (sidecars are read, never written)."""
        with self._lock:
            archive = Archive(self.runtime.root, self.config, self._catalog, self.runtime.rules)
            report = sync(archive, apply_edits=False)
        log.info("local catalog: in step with the tree (%d scanned, %d indexed, %d removed)",
                 report.scanned, report.indexed, report.removed)

    def close(self) -> None:
        if self.follower is not None:
            self.follower.stop()
        if self._catalog is not None:
            self._catalog.close()
