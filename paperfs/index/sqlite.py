"""Embedded index: SQLite (WAL, one writer, concurrent readers) with FTS5.

``SqliteIndex`` is the writer's index when ``index.backend`` is sqlite, the
catalog always, and the search side with the embedded backend. One object
per connection, assembled from one part per responsibility, each in its
own module:

* sqlite_connection.py: the schema, opening the file (writer, reader, a
  read-only data root), compiling queries against its vocabulary;
* sqlite_writes.py: upserts, deletes, rebuilding aside, housekeeping;
* sqlite_catalog.py: the exact lookups (``FiledLookups``, ``Catalog``);
* sqlite_ranking.py: ranked search, single documents, more like this;
* sqlite_facets.py: facet counts; sqlite_suggest.py: suggestions;
* beside them: sqlite_query.py (the query compiler and the permission
  filter), sqlite_champions.py (champion lists), sqlite_split.py (ranking
  split over id ranges) and sqlitelib.py (which SQLite library).
"""

from __future__ import annotations

import os
from pathlib import Path

from paperfs.errors import UsageError
from paperfs.index import sqlite_champions
from paperfs.index.base import Index
from paperfs.index.catalog import Catalog
from paperfs.index.model import Facets
from paperfs.index.sqlite_catalog import SqliteCatalogReads
from paperfs.index.sqlite_champions import ChampionLists
from paperfs.index.sqlite_connection import SCHEMA_VERSION, TOKENIZERS
from paperfs.index.sqlite_facets import FacetCodes, SqliteFacets
from paperfs.index.sqlite_ranking import SPLIT_DOCUMENTS, SqliteRanking
from paperfs.index.sqlite_split import RangeSplit
from paperfs.index.sqlite_suggest import SqliteSuggest
from paperfs.index.sqlite_writes import SqliteWrites


class SqliteIndex(SqliteWrites, SqliteCatalogReads, SqliteRanking, SqliteFacets,
                  SqliteSuggest, Index, Catalog):
    """The embedded index.

    ``stemming`` ("none" or "porter") applies when the file is created; an
    existing index keeps the choice it was built with (``paperfs reindex
    --stemming`` changes it). ``create=False`` is for readers: no file, or
    one of another schema version, is an error instead of a new empty index.
    ``reader``: never writes (SQLite refuses it) and keeps a small page cache,
    since many readers are open at once (one per WebDAV thread).
    """

    def __init__(self, path: Path, *, stemming: str | None = None, create: bool = True,
                 reader: bool = False, _bulk: bool = False) -> None:
        if stemming is not None and stemming not in TOKENIZERS:
            raise UsageError(f"stemming must be one of {', '.join(TOKENIZERS)}, "
                             f"not {stemming!r}")
        self.path = path
        self._requested_stemming = stemming
        self._create = create
        self._reader = reader
        self._bulk = _bulk
        #: ids and paths already in a file being built aside (``_bulk``)
        self._bulk_seen: tuple[set[int], set[str]] = (set(), set())
        self.stemming = stemming or "none"
        #: facet counts by (query, user), valid while the index does not change
        #: (``facets`` of everything is what every WebDAV folder listing asks)
        self.facet_cache_size = 64
        self._facet_cache: dict[tuple, tuple[tuple[int, int], Facets]] = {}
        self._codes: FacetCodes | None = None
        #: threads one ranked search may use (1: no splitting), and from what size on
        self.search_threads = min(os.cpu_count() or 1, 4)
        self.split_documents = SPLIT_DOCUMENTS
        self.split_under_load = False
        self._split: RangeSplit | None = None
        #: champion lists (sqlite_champions.py): for words in at least this many
        #: documents (0: none), this many documents each
        self.champion_min_df = sqlite_champions.MIN_DF
        self.champion_size = sqlite_champions.SIZE
        self._champions: ChampionLists | None = None
        self._connect()


__all__ = ["SqliteIndex", "SCHEMA_VERSION", "TOKENIZERS"]
