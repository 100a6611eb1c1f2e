"""Open what a configuration asks for: the catalog, the search side, the writer's index.

* ``open_catalog(root, readonly=, create=)``: the **catalog** (exact lookups,
  paperfs/index/catalog.py), always the embedded index
  ``.paperfs/index.sqlite3``, whatever ``index.backend`` says;
* ``open_search(config, root, catalog=)``: the **search** side, for
  readers (search, WebDAV, status): with ``index.backend: sqlite`` the
  catalog itself, with ``solr`` a ``MirroredIndex`` (paperfs/index/mirrored.py)
  without a journal;
* ``open_readers(config, root)``: both, sharing one connection (a WebDAV
  request thread's);
* ``open_index(config, root, readonly=, create=)``: the writer's ``Index``
  (the daemon, ``paperfs reindex``, edits): the catalog, mirrored to Solr
  through the journal when the backend is solr;
* ``index_status``: what ``paperfs status`` shows about the index.

A backend is imported only when the configuration names it: with
``index.backend: sqlite`` neither pysolr nor kazoo is ever imported.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paperfs.archive.custom_fields import fields_of
from paperfs.archive.layout import DataRoot
from paperfs.config import Config
from paperfs.index.base import Index
from paperfs.index.catalog import Catalog
from paperfs.index.journal import Journal
from paperfs.index.journal import backlog as journal_backlog
from paperfs.index.sqlite import SqliteIndex

log = logging.getLogger(__name__)

JOURNAL_DIR = "index-journal"


def journal_dir(root: DataRoot) -> Path:
    return root.state / JOURNAL_DIR


def _data_root(root: DataRoot | Path) -> DataRoot:
    """``root`` (the runtime's, paperfs/runtime.py), or the data root in that folder."""
    return DataRoot(root) if isinstance(root, Path) else root


def open_catalog(root: DataRoot | Path, *, readonly: bool = False,
                 create: bool = True, file: Path | None = None) -> SqliteIndex:
    """The catalog of the data root ``root``.

    ``readonly``: a reader (status, check, WebDAV): never writes, a small page
    cache, and no index file is an error (NotFoundError) instead of a new one.
    ``create=False``: the same error for a writer. ``file``: a copy of the
    catalog elsewhere (a dav replica's, on its local disk: paperfs/cluster/replica_catalog.py).
    """
    root = _data_root(root)
    catalog = SqliteIndex(file or root.index_db, create=create and not readonly,
                          reader=readonly)
    catalog.fields = fields_of(root.fields_file)  # the custom fields queries may name
    return catalog


def open_search(config: Config, root: DataRoot | Path, *,
                catalog: SqliteIndex | None = None) -> Index:
    """The search side for a reader, on ``catalog`` (opened read-only when not given).

    Closing it closes the catalog too. Its writes are refused.
    """
    root = _data_root(root)
    if catalog is None:
        catalog = open_catalog(root, readonly=True)
    return _on_backend(config, root, catalog, readonly=True)


@dataclass
class Readers:
    """A reader's catalog and search side on one connection (one per WebDAV request
    thread). With the embedded backend they are one object."""

    catalog: Catalog
    search: Index

    def close(self) -> None:
        self.search.close()
        self.catalog.close()  # closing a closed connection again does nothing


def open_readers(config: Config, root: DataRoot | Path, *,
                 catalog_file: Path | None = None) -> Readers:
    catalog = open_catalog(root, readonly=True, file=catalog_file)
    return Readers(catalog, open_search(config, root, catalog=catalog))


def open_index(config: Config, root: DataRoot | Path, *,
               readonly: bool = False, create: bool = True) -> Index:
    """The index of a data root as ``config.index`` describes it.

    ``readonly``: for processes that only read (search, WebDAV, status): no
    journal, no sender. ``create=False``: a missing embedded index is an
    error instead of a new empty one (as ``SqliteIndex(create=False)``).
    """
    root = _data_root(root)
    catalog = SqliteIndex(root.index_db, create=create)
    catalog.fields = fields_of(root.fields_file)
    return _on_backend(config, root, catalog, readonly=readonly)


def _on_backend(config: Config, root: DataRoot, catalog: SqliteIndex, *,
                readonly: bool) -> Index:
    """``catalog`` alone (sqlite), or mirrored to Solr (solr)."""
    if config.index.backend != "solr":
        if not readonly and journal_dir(root).exists():
            # Back on the embedded index: updates no longer go to Solr, so what waits in
            # the journal would bring old states back into Solr one day.
            log.warning("index.backend is sqlite: dropping the Solr update journal %s "
                        "(going back to Solr needs 'paperfs reindex')", journal_dir(root))
            shutil.rmtree(journal_dir(root), ignore_errors=True)
        return catalog
    from paperfs.index.mirrored import MirroredIndex
    from paperfs.index.solr import SolrIndex

    # Solr ranks the searches; the catalog's ranking serves only the fallback.
    catalog.champion_min_df = 0
    try:
        remote = SolrIndex.from_config(config.index)
        remote.fields = catalog.fields
        journal = None if readonly else Journal(journal_dir(root))
    except BaseException:
        catalog.close()
        raise
    index = MirroredIndex(catalog, remote, journal, fallback=config.index.fallback)
    if config.queue and journal is not None:
        # the writer of a split deployment: every dav replica follows its writes
        from paperfs.cluster.change_stream import ChangePublisher

        index.changes = ChangePublisher(config)
    return index


def index_status(config: Config, root: DataRoot, *, probe: bool = False) -> dict[str, Any]:
    """What ``paperfs status`` shows about the index (no network unless ``probe``).

    With ``probe`` (``paperfs solr status``), Solr is asked even while the
    backend is still sqlite (e.g. before switching an archive over).
    """
    out: dict[str, Any] = {"backend": config.index.backend}
    if config.index.backend != "solr" and not (
            probe and (config.index.url or config.index.zk_hosts)):
        return out
    from paperfs.index.solr import SolrIndex, SolrIndexError

    remote = SolrIndex.from_config(config.index)
    out["where"] = remote.where
    out["backlog"] = journal_backlog(journal_dir(root))
    out["fallback"] = config.index.fallback
    if probe:
        try:
            info = remote.ping()
            out.update(reachable=True, schema=info["schema"], solr_documents=info["documents"])
        except SolrIndexError as exc:
            out.update(reachable=False, error=str(exc))
        finally:
            remote.close()
    return out


__all__ = ["open_catalog", "open_search", "open_readers", "open_index", "Readers",
           "index_status", "journal_dir"]
