"""The embedded index's file: its schema, opening it, and compiling queries against it.

Tables: ``documents`` (one row per document: metadata, folded copies for
case-insensitive matching, timestamps for ranges), ``document_tags`` and
``document_grants`` (view/change users and groups, for permission
filtering), ``document_fields`` (custom field values, one row per value: its
folded text and the number and day it reads as; archive/custom_fields.py), ``fts`` (FTS5, rowid = document id; unicode61 with diacritics
removed, optionally the porter stemmer; no prefix index: it doubled the
cost of every insert and saved under 10 % on prefix queries, docs/performance.md)
and the vocabulary views ``fts_vocab`` / ``fts_vocab_col``; the champion
lists' tables (paperfs/index/sqlite_champions.py).

The index is derived from archive/: an index of another schema version is
dropped and recreated empty by the writer (the daemon's start-up sync then
indexes every sidecar again); ``paperfs reindex`` builds a new file aside and
renames it over the old one (paperfs/index/sqlite_writes.py).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from paperfs.errors import DataRootError, NotFoundError
from paperfs.index import sqlite_champions, sqlite_visibility
from paperfs.index.sqlite_champions import ChampionLists
from paperfs.index.sqlite_query import TOP, Compiled, Compiler
from paperfs.index.sqlite_split import RangeSplit
from paperfs.index.sqlitelib import sqlite3
from paperfs.search.tree import Node

log = logging.getLogger(__name__)

SCHEMA_VERSION = 4
#: stemming choices: the FTS5 tokenizer each one uses
TOKENIZERS = {
    "none": "unicode61 remove_diacritics 2",
    "porter": "porter unicode61 remove_diacritics 2",
}
#: page cache of the writer's connection (KiB), and of a reader's: many readers are
#: open at once (one per WebDAV thread), each with its own cache
WRITER_CACHE_KIB = 32768
READER_CACHE_KIB = 8192

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE documents (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    title_sort TEXT NOT NULL,
    correspondent TEXT,
    correspondent_fold TEXT,
    document_type TEXT,
    type_fold TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    asn INTEGER,
    owner TEXT,
    owner_fold TEXT,
    view_users TEXT NOT NULL DEFAULT '[]',
    view_groups TEXT NOT NULL DEFAULT '[]',
    change_users TEXT NOT NULL DEFAULT '[]',
    change_groups TEXT NOT NULL DEFAULT '[]',
    created TEXT NOT NULL,
    added TEXT NOT NULL,
    modified TEXT NOT NULL,
    added_ts REAL NOT NULL,
    modified_ts REAL NOT NULL,
    original_sha256 TEXT NOT NULL,
    archive_sha256 TEXT NOT NULL,
    pages INTEGER NOT NULL,
    mime_type TEXT NOT NULL,
    notes TEXT NOT NULL DEFAULT '',
    content_chars INTEGER NOT NULL DEFAULT 0,
    mtime_ns INTEGER NOT NULL,
    size INTEGER NOT NULL
);
CREATE TABLE document_tags (
    doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    tag_fold TEXT NOT NULL,
    PRIMARY KEY (doc_id, tag)
) WITHOUT ROWID;
CREATE TABLE document_grants (
    doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,  -- 'u' user, 'g' group (view or change: change implies view)
    name TEXT NOT NULL,
    PRIMARY KEY (doc_id, kind, name)
) WITHOUT ROWID;
CREATE TABLE document_fields (
    doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value_fold TEXT NOT NULL,
    number REAL,
    day TEXT
);
CREATE VIRTUAL TABLE fts USING fts5(
    title, content, tags, correspondent, document_type, notes, path,
    tokenize = '{tokenizer}'
);
CREATE VIRTUAL TABLE fts_vocab USING fts5vocab(fts, 'row');
CREATE VIRTUAL TABLE fts_vocab_col USING fts5vocab(fts, 'col');
"""

#: Secondary indexes: created with the tables, or after the bulk load of a rebuild
#: (building them once at the end is faster than keeping them up to date).
INDEXES = """
CREATE INDEX IF NOT EXISTS documents_original_sha ON documents(original_sha256);
CREATE INDEX IF NOT EXISTS documents_archive_sha ON documents(archive_sha256);
CREATE INDEX IF NOT EXISTS documents_created ON documents(created, id);
CREATE INDEX IF NOT EXISTS documents_added ON documents(added_ts, id);
CREATE INDEX IF NOT EXISTS documents_modified ON documents(modified_ts, id);
CREATE INDEX IF NOT EXISTS documents_title ON documents(title_sort, id);
CREATE INDEX IF NOT EXISTS documents_asn ON documents(asn);
CREATE INDEX IF NOT EXISTS documents_owner ON documents(owner_fold);
CREATE INDEX IF NOT EXISTS documents_facets ON documents(correspondent, document_type, created);
CREATE INDEX IF NOT EXISTS documents_correspondent ON documents(correspondent_fold);
CREATE INDEX IF NOT EXISTS documents_type ON documents(type_fold);
CREATE INDEX IF NOT EXISTS document_tags_fold ON document_tags(tag_fold);
CREATE INDEX IF NOT EXISTS document_grants_name ON document_grants(kind, name);
CREATE INDEX IF NOT EXISTS document_fields_doc ON document_fields(doc_id);
-- covering (doc_id last): a condition's ids come from the index alone, 2-3x faster
CREATE INDEX IF NOT EXISTS document_fields_text ON document_fields(name, value_fold, doc_id);
CREATE INDEX IF NOT EXISTS document_fields_number ON document_fields(name, number, doc_id)
    WHERE number IS NOT NULL;
CREATE INDEX IF NOT EXISTS document_fields_day ON document_fields(name, day, doc_id)
    WHERE day IS NOT NULL;
"""


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection to an index in a folder this process cannot write (a read-only
    data root): SQLite cannot create the -shm file a WAL reader normally needs.

    With a write-ahead log left beside the file (a daemon was killed), mode=ro
    reads through it; without one the file is complete and immutable=1 needs
    no -shm file at all."""
    uri = path.resolve().as_uri()
    if path.with_name(path.name + "-wal").exists():
        db = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=30, isolation_level=None,
                             check_same_thread=False)
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return db
        except sqlite3.OperationalError:  # no readable -shm: the file alone, then
            db.close()
    return sqlite3.connect(f"{uri}?immutable=1", uri=True, timeout=30, isolation_level=None,
                           check_same_thread=False)


def remove_db_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


class SqliteConnection:
    """The connection to one index file (the base of every part of ``SqliteIndex``).

    ``SqliteIndex.__init__`` (paperfs/index/sqlite.py) sets these attributes.
    """

    path: Path
    db: sqlite3.Connection
    stemming: str
    read_only: bool
    _requested_stemming: str | None
    _create: bool
    _bulk: bool
    _reader: bool
    _facet_cache: dict
    _codes: object | None
    search_threads: int
    split_documents: int
    split_under_load: bool
    _split: RangeSplit | None
    champion_min_df: int
    champion_size: int
    _champions: ChampionLists | None

    # ------------------------------------------------------------ connection

    def _connect(self) -> None:
        path = self.path
        if not self._create and not path.exists():
            raise NotFoundError(f"no index at {path}: start the daemon ('paperfs run') or "
                                "build it with 'paperfs reindex'")
        if self._split is not None:  # its readers belong to the file being replaced
            self._split.close()
            self._split = None
        self.read_only = path.exists() and not os.access(path.parent, os.W_OK)
        if self.read_only:
            self.db = connect_read_only(path)
            self.search_threads = 1  # the range readers would open it read-write
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, timeout=30, isolation_level=None,
                                      check_same_thread=False)
        self._facet_cache = {}
        self._codes = None
        self._champions = None
        if self._bulk:
            # A file being built aside: nothing to protect until it is renamed in.
            self.db.execute("PRAGMA journal_mode=OFF")
            self.db.execute("PRAGMA synchronous=OFF")
        elif not self.read_only:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA temp_store=MEMORY")
        cache_kib = READER_CACHE_KIB if self._reader else WRITER_CACHE_KIB
        self.db.execute(f"PRAGMA cache_size=-{cache_kib}")
        self._ensure_schema()
        if self._create and not self.read_only:  # the writer (an index of an older paperfs gains the tables)
            for statement in sqlite_champions.SCHEMA.split(";"):
                if statement.strip():
                    self.db.execute(statement)
            if not self._bulk:  # a file built aside gains them when its writer reopens it
                sqlite_visibility.install(self.db)
        if self._reader:
            self.db.execute("PRAGMA query_only=1")  # a reader never writes

    def _meta(self) -> dict[str, str]:
        try:
            return dict(self.db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.OperationalError:
            return {}

    def _ensure_schema(self) -> None:
        meta = self._meta()
        if meta.get("schema_version") == str(SCHEMA_VERSION):
            self.stemming = meta.get("stemming", "none")
            return
        if not self._create:
            raise DataRootError(f"{self.path} is an index of another paperfs version "
                                "(or not an index); rebuild it with 'paperfs reindex'")
        if meta or self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            log.warning("index %s has schema version %s, this paperfs uses %d: starting a "
                        "new, empty index (it is filled again from archive/)",
                        self.path, meta.get("schema_version"), SCHEMA_VERSION)
            # A new file rather than DROP TABLE: dropping a large index rewrites
            # (and logs) every page of it; the index holds nothing the tree does not.
            self.db.close()
            remove_db_files(self.path)
            if self._requested_stemming is None and meta.get("stemming") in TOKENIZERS:
                self._requested_stemming = meta["stemming"]  # the old file's choice stays
            self._connect()
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.stemming = self._requested_stemming or meta.get("stemming", "none")
            if self.stemming not in TOKENIZERS:
                self.stemming = "none"
            script = SCHEMA.format(tokenizer=TOKENIZERS[self.stemming])
            if not self._bulk:
                script += INDEXES
            for statement in script.split(";"):
                if statement.strip():
                    self.db.execute(statement)
            self.db.executemany("INSERT INTO meta VALUES (?, ?)",
                                [("schema_version", str(SCHEMA_VERSION)),
                                 ("stemming", self.stemming)])
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        if self._split is not None:
            self._split.close()
            self._split = None
        self.db.close()

    def _lists(self) -> ChampionLists:
        if self._champions is None:
            self._champions = ChampionLists(self.db, TOKENIZERS[self.stemming])
        return self._champions

    def _splitter(self) -> RangeSplit | None:
        if self.search_threads < 2 or self._bulk:
            return None
        if self._split is None:
            self._split = RangeSplit(self.path, self.search_threads, self.split_documents,
                                     under_load=self.split_under_load)
        return self._split

    # ------------------------------------------------------------ compiling queries

    def _expand(self, glob: str, head: str, limit: int) -> list[str]:
        sql = "SELECT term FROM fts_vocab WHERE term GLOB ?"
        params: tuple = (glob,)
        if head:
            sql += " AND term >= ? AND term < ?"
            params += (head, head + TOP)
        return [r[0] for r in self.db.execute(sql + " LIMIT ?", params + (limit,))]

    def compile(self, node: Node) -> Compiled:
        return Compiler(self._expand).compile(node)

    def _version(self) -> tuple[int, int]:
        """Changes by other connections (data_version) and by this one (total_changes)."""
        return self.db.execute("PRAGMA data_version").fetchone()[0], self.db.total_changes
