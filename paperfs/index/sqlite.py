"""Embedded index: SQLite (WAL, one writer, concurrent readers) with FTS5.

Tables: ``documents`` (one row per document: metadata, folded copies for
case-insensitive matching, timestamps for ranges), ``document_tags`` and
``document_grants`` (view/change users and groups, for permission
filtering), ``fts`` (FTS5, rowid = document id; unicode61 with diacritics
removed, optionally the porter stemmer; no prefix index: it doubled the
cost of every insert and saved under 10 % on prefix queries, docs/performance.md)
and the vocabulary views ``fts_vocab`` / ``fts_vocab_col``.

The query compiler is paperfs/index/sqlite_query.py. Every write method is
one transaction (one commit per call); a reader on another connection sees
a document as soon as ``upsert`` returns.

The index is derived from archive/: an index of another schema version is
dropped and recreated empty by the writer (the daemon's start-up sync then
indexes every sidecar again); ``paperfs reindex`` builds a new file aside and
renames it over the old one (``rebuilding``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import math
import os
import re
from collections import Counter, deque
from itertools import chain, repeat
from pathlib import Path
from typing import Callable, Iterable, Iterator

from paperfs.archive.atomic import fsync_dir
from paperfs.errors import DataRootError, NotFoundError, UsageError
from paperfs.index import sqlite_champions
from paperfs.index.base import FiledRef, Index, IndexEntry, check_page
from paperfs.index.model import (FALLBACK_SNIPPET_CHARS, MARK_END, MARK_START, FacetCount,
                                 Facets, Hit, SearchResult, StoredDocument, Suggestion, User,
                                 fallback_snippet, snippet_text)
from paperfs.index.sqlite_champions import ChampionLists
from paperfs.index.sqlite_query import BM25, TOP, Compiled, Compiler, fts_string
from paperfs.index.sqlite_split import RangeSplit
from paperfs.search.match import fold
from paperfs.search.query import And, Node, Not, NumberRange, Or, Term, parse
from paperfs.index.sqlitelib import sqlite3

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3
#: stemming choices: the FTS5 tokenizer each one uses
TOKENIZERS = {
    "none": "unicode61 remove_diacritics 2",
    "porter": "porter unicode61 remove_diacritics 2",
}
MAX_LIMIT = 1000
#: Facets: with no valid in-memory facet codes (the index changed since they were
#: loaded), match sets smaller than this are counted in SQL instead of reloading them.
FACET_CODES_FROM = 5000
SNIPPET_TOKENS = 24
#: Ranked searches run split over id ranges in parallel (sqlite_split.py) in an
#: index of at least SPLIT_DOCUMENTS documents (below, one thread ranks in a few ms).
SPLIT_DOCUMENTS = 20_000

_SCHEMA = """
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
CREATE VIRTUAL TABLE fts USING fts5(
    title, content, tags, correspondent, document_type, notes, path,
    tokenize = '{tokenizer}'
);
CREATE VIRTUAL TABLE fts_vocab USING fts5vocab(fts, 'row');
CREATE VIRTUAL TABLE fts_vocab_col USING fts5vocab(fts, 'col');
"""

#: Secondary indexes: created with the tables, or after the bulk load of a rebuild
#: (building them once at the end is faster than keeping them up to date).
_INDEXES = """
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
"""

_REF_COLUMNS = "id, path, original_sha256, archive_sha256, mtime_ns, size"
_HIT_COLUMNS = "id, title, correspondent, document_type, created, added, tags, asn, path"
_ORDER = {
    "created": "d.created ASC, d.id ASC",
    "-created": "d.created DESC, d.id DESC",
    "added": "d.added_ts ASC, d.id ASC",
    "-added": "d.added_ts DESC, d.id DESC",
    "modified": "d.modified_ts ASC, d.id ASC",
    "-modified": "d.modified_ts DESC, d.id DESC",
    "title": "d.title_sort ASC, d.id ASC",
    "-title": "d.title_sort DESC, d.id DESC",
    "id": "d.id ASC",
    "-id": "d.id DESC",
}
_SORT_COLUMNS = {
    "created": ("d.created", False), "-created": ("d.created", True),
    "added": ("d.added_ts", False), "-added": ("d.added_ts", True),
    "modified": ("d.modified_ts", False), "-modified": ("d.modified_ts", True),
    "title": ("d.title_sort", False), "-title": ("d.title_sort", True),
    "id": ("d.id", False), "-id": ("d.id", True),
}
#: relevance when the query has no words to rank by: newest first
_NO_RANK_ORDER = _ORDER["-created"]
_FIELD_SUGGEST = {"tag", "correspondent", "type", "owner"}
_WORD_SUGGEST = {None: None, "title": "title", "content": "content", "note": "notes",
                 "path": "path"}
_STOPWORDS = frozenset(
    "the and for that this with from are was were have has had not but you your our "
    "his her its they them their there here what which who will would can could "
    "shall should may might must all any per via than then also into onto over under "
    "der die das und ist nicht mit den dem des ein eine einer eines von zu zur zum "
    "auf aus bei für fur sie wir ihr sich als auch oder wie noch nur nach bis "
    "les des une est pour dans par sur pas qui que".split())
_WORD = re.compile(r"\w+")


def _fold(text: str) -> str:
    """match.fold, with a fast path for ASCII (most text): same result."""
    return text.lower() if text.isascii() else fold(text)


def _ref(row: sqlite3.Row | tuple) -> FiledRef:
    return FiledRef(*row)


def _clean(text: str) -> str:
    # The highlight markers are control characters: never let them into the index.
    return text.replace(MARK_START, "").replace(MARK_END, "")


def _quote_value(value: str) -> str:
    if re.fullmatch(r"[\w.\-]+", value) and value not in ("AND", "OR", "NOT"):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


#: one document's rows: documents, document_tags, document_grants, fts
IndexRows = tuple[tuple, list[tuple], list[tuple], tuple]


def index_rows(entry: IndexEntry) -> IndexRows:
    """The rows that index one document (plain tuples: cheap to send between
    processes)."""
    doc = entry.doc
    perms = doc.permissions
    notes = _clean("\n".join(doc.notes))
    content = _clean(doc.content)
    document = (
        doc.id, entry.path, doc.title, _fold(doc.title), doc.correspondent,
        _fold(doc.correspondent) if doc.correspondent else None,
        doc.document_type, _fold(doc.document_type) if doc.document_type else None,
        json.dumps(list(doc.tags), ensure_ascii=False), doc.asn, doc.owner,
        _fold(doc.owner) if doc.owner else None,
        json.dumps(list(perms.view.users)), json.dumps(list(perms.view.groups)),
        json.dumps(list(perms.change.users)), json.dumps(list(perms.change.groups)),
        doc.created.isoformat(), doc.added.isoformat(), doc.modified.isoformat(),
        doc.added.timestamp(), doc.modified.timestamp(),
        doc.original.sha256, doc.archive.sha256, doc.archive.pages,
        doc.original.mime_type, notes, len(content.strip()), entry.mtime_ns, entry.size)
    tags = [(doc.id, tag, _fold(tag)) for tag in doc.tags]
    granted = {("u", u) for u in perms.view.users + perms.change.users}
    granted |= {("g", g) for g in perms.view.groups + perms.change.groups}
    grants = [(doc.id, kind, name) for kind, name in sorted(granted)]
    text = (doc.id, _clean(doc.title), content, _clean(" ".join(doc.tags)),
            doc.correspondent or "", doc.document_type or "", notes, entry.path)
    return document, tags, grants, text


def _connect_read_only(path: Path) -> sqlite3.Connection:
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


class SqliteIndex(Index):
    """The embedded index.

    ``stemming`` ("none" or "porter") applies when the file is created; an
    existing index keeps the choice it was built with (``paperfs reindex
    --stemming`` changes it). ``create=False`` is for readers: no file, or
    one of another schema version, is an error instead of a new empty index.
    """

    def __init__(self, path: Path, *, stemming: str | None = None, create: bool = True,
                 _bulk: bool = False) -> None:
        if stemming is not None and stemming not in TOKENIZERS:
            raise UsageError(f"stemming must be one of {', '.join(TOKENIZERS)}, "
                             f"not {stemming!r}")
        self.path = path
        self._requested_stemming = stemming
        self._create = create
        self._bulk = _bulk
        #: ids and paths already in a file being built aside (``_bulk``)
        self._bulk_seen: tuple[set[int], set[str]] = (set(), set())
        self.stemming = stemming or "none"
        #: facet counts by (query, user), valid while the index does not change
        #: (``facets`` of everything is what every WebDAV folder listing asks)
        self.facet_cache_size = 64
        self._facet_cache: dict[tuple, tuple[tuple[int, int], Facets]] = {}
        self._codes: _FacetCodes | None = None
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
            self.db = _connect_read_only(path)
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
        self.db.execute("PRAGMA cache_size=-32768")
        self._ensure_schema()
        if self._create and not self.read_only:  # the writer (an index of an older paperfs gains the tables)
            for statement in sqlite_champions.SCHEMA.split(";"):
                if statement.strip():
                    self.db.execute(statement)

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
            _remove_db_files(self.path)
            if self._requested_stemming is None and meta.get("stemming") in TOKENIZERS:
                self._requested_stemming = meta["stemming"]  # the old file's choice stays
            self._connect()
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.stemming = self._requested_stemming or meta.get("stemming", "none")
            if self.stemming not in TOKENIZERS:
                self.stemming = "none"
            script = _SCHEMA.format(tokenizer=TOKENIZERS[self.stemming])
            if not self._bulk:
                script += _INDEXES
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

    # ------------------------------------------------------------ writing

    def upsert(self, entries: Iterable[IndexEntry]) -> None:
        self.upsert_rows([index_rows(entry) for entry in entries])

    #: what a rebuild's parser processes call per sidecar (``reindex.rebuild_into``):
    #: the rows are built there, in parallel, and only inserted here
    prepare = staticmethod(index_rows)

    def upsert_rows(self, batch: list[IndexRows]) -> None:
        """``upsert`` for rows made by ``index_rows`` (in another process)."""
        # In id order: FTS5 writes a new segment whenever a rowid is lower than
        # the previous one, which makes unordered batches twice as slow.
        ordered = sorted(batch, key=lambda rows: rows[0][0])
        cur = self.db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            if self._bulk and self._all_new(ordered):
                self._insert(cur, ordered)
            else:
                replaced = []
                #: the full-text rows of the documents this batch leaves in the index
                current: dict[int, tuple] = {}
                for rows in ordered:
                    # The same id, or another document at the same path, is replaced.
                    for (old_id,) in cur.execute(
                            "SELECT id FROM documents WHERE id = ? OR path = ?",
                            rows[0][:2]).fetchall():
                        cur.execute("DELETE FROM documents WHERE id = ?", (old_id,))
                        cur.execute("DELETE FROM fts WHERE rowid = ?", (old_id,))
                        replaced.append(old_id)
                        current.pop(old_id, None)
                    self._insert(cur, (rows,))
                    current[rows[0][0]] = rows[3]
                listed = self._lists().listed()
                if listed:
                    self._lists().remove(replaced)
                    self._lists().add(list(current.values()), listed)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    def _all_new(self, batch: list[IndexRows]) -> bool:
        """A file being built aside (rebuild): True when no entry replaces another,
        so the batch can be inserted without looking anything up first."""
        ids, paths = self._bulk_seen
        batch_ids = {rows[0][0] for rows in batch}
        batch_paths = {rows[0][1] for rows in batch}
        if (len(batch_ids) < len(batch) or len(batch_paths) < len(batch)
                or not ids.isdisjoint(batch_ids) or not paths.isdisjoint(batch_paths)):
            return False
        ids |= batch_ids
        paths |= batch_paths
        return True

    @staticmethod
    def _insert(cur: sqlite3.Cursor, batch: Iterable[IndexRows]) -> None:
        """Insert the rows of new documents: one ``executemany`` per table."""
        batch = list(batch)
        cur.executemany(
            "INSERT INTO documents (id, path, title, title_sort, correspondent,"
            " correspondent_fold, document_type, type_fold, tags, asn, owner, owner_fold,"
            " view_users, view_groups, change_users, change_groups, created, added, modified,"
            " added_ts, modified_ts, original_sha256, archive_sha256, pages, mime_type, notes,"
            " content_chars, mtime_ns, size)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [rows[0] for rows in batch])
        cur.executemany("INSERT OR IGNORE INTO document_tags VALUES (?, ?, ?)",
                        chain.from_iterable(rows[1] for rows in batch))
        cur.executemany("INSERT INTO document_grants VALUES (?, ?, ?)",
                        chain.from_iterable(rows[2] for rows in batch))
        cur.executemany(
            "INSERT INTO fts (rowid, title, content, tags, correspondent, document_type, notes,"
            " path) VALUES (?,?,?,?,?,?,?,?)", [rows[3] for rows in batch])

    def delete(self, ids: Iterable[int]) -> None:
        cur = self.db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            ids = list(ids)
            for doc_id in ids:
                cur.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
                cur.execute("DELETE FROM fts WHERE rowid = ?", (doc_id,))
            self._lists().remove(ids)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    def clear(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("DELETE FROM document_tags")
            self.db.execute("DELETE FROM document_grants")
            self.db.execute("DELETE FROM documents")
            self.db.execute("DELETE FROM fts")
            self.db.execute("DELETE FROM champions")
            self.db.execute("DELETE FROM champion_terms")
            self.db.execute("DELETE FROM meta WHERE key = 'champions_documents'")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def optimize(self, *, merge: bool = False) -> None:
        """Create missing indexes and update statistics; with ``merge``, also merge
        the full-text segments into one (FTS5 'optimize': a few percent faster
        queries, but it rewrites the whole full-text index)."""
        for statement in _INDEXES.split(";"):
            if statement.strip():
                self.db.execute(statement)
        if merge:
            self.db.execute("INSERT INTO fts(fts) VALUES ('optimize')")
        self.db.execute("PRAGMA optimize")

    def maintain(self, on_start: Callable[[], None] | None = None) -> None:
        """Build the champion lists when there are none (a new or rebuilt index)
        or the index has grown or shrunk by a tenth since they were built (new
        frequent words get lists; the bounds that let a search use them stay
        tight). Seconds at 100,000 documents; searches are right meanwhile."""
        if self._lists().stale(self.champion_min_df):
            if on_start is not None:
                on_start()
            self.build_champions()

    def build_champions(self) -> int:
        """Build every champion list anew; the number of words listed."""
        return self._lists().build(self.path, min_df=self.champion_min_df,
                                   size=self.champion_size, threads=self.search_threads)

    @contextlib.contextmanager
    def rebuilding(self) -> Iterator["SqliteIndex"]:
        """Build a new index file beside this one; rename it over this one at the end.

        A rebuild that is interrupted (exception, SIGKILL, power loss) leaves
        the current index as it was; the half-built file is removed by the
        next rebuild.
        """
        with self._building(self.stemming) as new:
            yield new

    @contextlib.contextmanager
    def _building(self, stemming: str) -> Iterator["SqliteIndex"]:
        tmp = self.path.with_name(self.path.name + ".rebuild")
        _remove_db_files(tmp)
        new = SqliteIndex(tmp, stemming=stemming, _bulk=True)
        try:
            yield new
            new.optimize()
            new.db.execute("PRAGMA journal_mode=WAL")
            new.close()
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except BaseException:
            new.close()
            _remove_db_files(tmp)
            raise
        # Fold the old write-ahead log into the old file and drop it, so the new
        # file never meets a log that belongs to the old one.
        with contextlib.suppress(sqlite3.Error):
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.db.close()
        for suffix in ("-wal", "-shm"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(str(tmp) + suffix).unlink(missing_ok=True)
        os.replace(tmp, self.path)
        fsync_dir(self.path.parent)
        self._requested_stemming = stemming
        self._connect()

    def rebuild_with(self, stemming: str) -> contextlib.AbstractContextManager["SqliteIndex"]:
        """Like ``rebuilding`` with another stemming choice for the new file."""
        if stemming not in TOKENIZERS:
            raise UsageError(f"stemming must be one of {', '.join(TOKENIZERS)}, "
                             f"not {stemming!r}")
        return self._building(stemming)

    # ------------------------------------------------------------ bookkeeping reads

    def ref(self, doc_id: int) -> FiledRef | None:
        row = self.db.execute(f"SELECT {_REF_COLUMNS} FROM documents WHERE id = ?",
                              (doc_id,)).fetchone()
        return _ref(row) if row else None

    def ref_by_path(self, path: str) -> FiledRef | None:
        row = self.db.execute(f"SELECT {_REF_COLUMNS} FROM documents WHERE path = ?",
                              (path,)).fetchone()
        return _ref(row) if row else None

    def find_checksum(self, sha256: str) -> FiledRef | None:
        row = self.db.execute(
            f"SELECT {_REF_COLUMNS} FROM documents WHERE original_sha256 = ?"
            f" UNION ALL SELECT {_REF_COLUMNS} FROM documents WHERE archive_sha256 = ? LIMIT 1",
            (sha256, sha256)).fetchone()
        return _ref(row) if row else None

    def refs(self) -> Iterator[FiledRef]:
        cur = self.db.execute(f"SELECT {_REF_COLUMNS} FROM documents ORDER BY id")
        while rows := cur.fetchmany(1000):
            yield from (_ref(r) for r in rows)

    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM documents").fetchone()[0]

    def max_id(self) -> int:
        return self.db.execute("SELECT coalesce(max(id), 0) FROM documents").fetchone()[0]

    # ------------------------------------------------------------ query helpers

    def _parse(self, query: str | Node, now: dt.datetime | None) -> Node:
        if isinstance(query, str):
            return parse(query, now=now)
        return query

    def _expand(self, glob: str, head: str, limit: int) -> list[str]:
        sql = "SELECT term FROM fts_vocab WHERE term GLOB ?"
        params: tuple = (glob,)
        if head:
            sql += " AND term >= ? AND term < ?"
            params += (head, head + TOP)
        return [r[0] for r in self.db.execute(sql + " LIMIT ?", params + (limit,))]

    def compile(self, node: Node) -> Compiled:
        return Compiler(self._expand).compile(node)

    @staticmethod
    def _permission(user: User) -> tuple[str, tuple]:
        if user.superuser:
            return "", ()
        sql = ("(d.owner IS NULL OR d.owner = ? OR d.id IN (SELECT doc_id FROM document_grants"
               " WHERE kind = 'u' AND name = ?")
        params: tuple = (user.name, user.name)
        if user.groups:
            marks = ",".join("?" * len(user.groups))
            sql += (" UNION SELECT doc_id FROM document_grants WHERE kind = 'g'"
                    f" AND name IN ({marks})")
            params += tuple(user.groups)
        return sql + "))", params

    def _filtered(self, c: Compiled, user: User) -> tuple[str, str, tuple]:
        """(FROM clause, WHERE clause, params) for the matches the user may view."""
        perm, perm_params = self._permission(user)
        conds: list[str] = []
        params: tuple = ()
        if c.match is not None:
            # CROSS JOIN: the full-text part always drives. SQLite's planner may
            # otherwise start from a selective-looking filter (a tag's ids) and
            # evaluate the MATCH once per row, recounting BM25's statistics each
            # time (SQLite 3.51 did: 1 s instead of 50 ms for word + tag + dates).
            source = "fts CROSS JOIN documents d ON d.id = fts.rowid"
            conds.append("fts MATCH ?")
            params += (c.match,)
        else:
            source = "documents d"
        if c.has_where:
            conds.append(f"({c.where})")
            params += c.params
        if perm:
            conds.append(perm)
            params += perm_params
        where = " AND ".join(conds) or "1"
        if c.match is not None:
            # Id-list conditions (tags, grants, other words) on the full-text row
            # itself: tested before the documents row is looked up, so only rows
            # that pass pay for it. The unary + keeps SQLite from using them to
            # look FTS5 up by rowid (once per id: the per-row MATCH again).
            where = where.replace("d.id IN (", "+fts.rowid IN (").replace(
                "d.id NOT IN (", "+fts.rowid NOT IN (")
        return source, where, params

    def _visibility(self, c: Compiled, user: User) -> dict:
        """For champion lists: which of some ids ``user`` may view, and how many
        matches of ``c`` they may view."""
        perm, perm_params = self._permission(user)

        def visible(ids: list[int]) -> set[int]:
            return {r[0] for r in self.db.execute(
                "SELECT d.id FROM documents d WHERE d.id IN (SELECT value FROM json_each(?))"
                f" AND {perm}", (json.dumps(ids),) + perm_params)}

        def count_visible() -> int:
            # A join per match: the cost of such a search, so split when a core is idle.
            source, where, params = self._filtered(c, user)
            split = self._splitter()
            parts = split and split.run(
                self.db, f"SELECT count(*) FROM {source} WHERE fts.rowid BETWEEN ? AND ?"
                f" AND {where}", params)
            if parts is not None:
                return sum(rows[0][0] for rows in parts)
            return self.db.execute(f"SELECT count(*) FROM {source} WHERE {where}",
                                   params).fetchone()[0]

        return {"visible": visible, "count_visible": count_visible}

    # ------------------------------------------------------------ search

    def search(self, query: str | Node, *, user: User, sort: str = "relevance",
               limit: int = 25, offset: int = 0, highlight: bool = True,
               now: dt.datetime | None = None) -> SearchResult:
        check_page(sort, limit, offset, MAX_LIMIT)
        node = self._parse(query, now)
        c = self.compile(node)
        if c.never:
            return SearchResult(0, offset, limit, sort, ())
        rows, total = self._page(c, user, sort, limit, offset)
        hits = self._hits(rows, c, highlight)
        return SearchResult(total, offset, limit, sort, tuple(hits))

    def _page(self, c: Compiled, user: User, sort: str, limit: int,
              offset: int) -> tuple[list[tuple[int, float]], int]:
        db = self.db
        bare = c.match is not None and not c.has_where and user.superuser
        if (c.word is not None and not c.has_where and sort == "relevance" and limit
                and 0 < self.champion_min_df and offset + limit <= self.champion_size):
            # One word: its champion list, when that settles the page.
            top = self._lists().top(c.match, c.word, offset + limit,
                                    **({} if user.superuser else self._visibility(c, user)))
            if top is not None:
                return top[0][offset:], top[1]
        if bare:
            # Only words: FTS5 alone, no join (the common, fastest case).
            split = self._splitter() if sort == "relevance" and limit else None
            parts = split and split.run(
                db,
                # Each id range counts its matches and ranks them (?1, ?2: the range).
                f"SELECT rowid, -{BM25} AS s, (SELECT count(*) FROM fts WHERE rowid"
                " BETWEEN ?1 AND ?2 AND fts MATCH ?3) FROM fts WHERE rowid BETWEEN ?1 AND ?2"
                " AND fts MATCH ?3 ORDER BY s DESC, rowid LIMIT ?4",
                (c.match, offset + limit))
            if parts is not None:
                merged = sorted(chain.from_iterable(parts), key=lambda r: (-r[1], r[0]))
                total = sum(rows[0][2] for rows in parts if rows)
                return [(r[0], r[1]) for r in merged[offset:offset + limit]], total
            total = db.execute("SELECT count(*) FROM fts WHERE fts MATCH ?",
                               (c.match,)).fetchone()[0]
            if sort == "relevance":
                rows = db.execute(f"SELECT rowid, -{BM25} AS s FROM fts WHERE fts MATCH ?"
                                  " ORDER BY s DESC, rowid LIMIT ? OFFSET ?",
                                  (c.match, limit, offset)).fetchall()
                return rows, total
        source, where, params = self._filtered(c, user)
        if c.match is not None and not bare:
            return self._page_once(c, source, where, params, sort, limit, offset)
        if source == "documents d" and where == "1":
            total = db.execute("SELECT count(*) FROM documents").fetchone()[0]
        elif not bare:
            total = db.execute(f"SELECT count(*) FROM {source} WHERE {where}",
                               params).fetchone()[0]
        if total == 0 or limit == 0:
            return [], total
        if sort == "relevance" and c.match is not None:
            sql = (f"SELECT d.id, -{BM25} AS s FROM {source} WHERE {where}"
                   " ORDER BY s DESC, d.id LIMIT ? OFFSET ?")
        elif sort == "relevance" and c.highlight is not None:
            # Words only in some OR branches: rank by them where they occur. The
            # ranked words are MATERIALIZED once; as a joined subquery, SQLite 3.51
            # ran their MATCH once per document (seconds instead of milliseconds).
            sql = (f"WITH r(rid, s) AS MATERIALIZED (SELECT rowid, -{BM25} FROM fts"
                   f" WHERE fts MATCH ?) SELECT d.id, coalesce(r.s, 0.0) AS s FROM {source}"
                   " LEFT JOIN r ON r.rid = d.id"
                   f" WHERE {where} ORDER BY s DESC, d.id LIMIT ? OFFSET ?")
            params = (c.highlight,) + params
        else:
            order = _NO_RANK_ORDER if sort == "relevance" else _ORDER[sort]
            sql = (f"SELECT d.id, 0.0 FROM {source} WHERE {where}"
                   f" ORDER BY {order} LIMIT ? OFFSET ?")
        rows = db.execute(sql, params + (limit, offset)).fetchall()
        return rows, total

    def _page_once(self, c: Compiled, source: str, where: str, params: tuple, sort: str,
                   limit: int, offset: int) -> tuple[list[tuple[int, float]], int]:
        """Words plus other conditions: the matches are found once (the full-text
        part drives, every other condition filters) and both counted and ordered
        from that one result, instead of a count query and a page query."""
        if sort == "relevance":
            select = f"SELECT d.id AS id, -{BM25} AS s, 0 AS k FROM {source} WHERE"
            order = "s DESC, id"
            descending = False
        else:
            column, descending = _SORT_COLUMNS[sort]
            select = f"SELECT d.id AS id, 0.0 AS s, {column} AS k FROM {source} WHERE"
            way = "DESC" if descending else "ASC"
            order = f"k {way}, id {way}"
        inner = f"{select} {where}"
        # Split only words filtered by permissions alone, where most matches pass
        # and ranking them is the cost. With field conditions few rows are ranked,
        # and every range would pay BM25's full statistics again (measured: the
        # word + tag + dates benchmark 16 ms as one statement, 20 ms split).
        split = self._splitter() if limit and not c.has_where else None
        parts = split and split.run(
            self.db,
            f"WITH r AS MATERIALIZED ({select} fts.rowid BETWEEN ? AND ? AND {where})"
            f" SELECT id, s, k, (SELECT count(*) FROM r) FROM r ORDER BY {order} LIMIT ?",
            params + (offset + limit,))
        if parts is not None:
            # Merge in the statement's order: score down, or the sort key, then id.
            if sort == "relevance":
                merged = sorted(chain.from_iterable(parts), key=lambda r: (-r[1], r[0]))
            else:
                merged = sorted(chain.from_iterable(parts), key=lambda r: (r[2], r[0]),
                                reverse=descending)
            total = sum(rows[0][3] for rows in parts if rows)
            return [(r[0], r[1]) for r in merged[offset:offset + limit]], total
        rows = self.db.execute(
            f"WITH r AS MATERIALIZED ({inner}) SELECT id, s, (SELECT count(*) FROM r) FROM r"
            f" ORDER BY {order} LIMIT ? OFFSET ?", params + (limit, offset)).fetchall()
        if rows:
            return [(r[0], r[1]) for r in rows], rows[0][2]
        total = self.db.execute(f"SELECT count(*) FROM {source} WHERE {where}",
                                params).fetchone()[0]
        return [], total

    def _hits(self, rows: list[tuple[int, float]], c: Compiled, highlight: bool) -> list[Hit]:
        if not rows:
            return []
        ids = [r[0] for r in rows]
        marks = ",".join("?" * len(ids))
        docs = {r[0]: r for r in self.db.execute(
            f"SELECT {_HIT_COLUMNS} FROM documents WHERE id IN ({marks})", ids)}
        snippets: dict[int, str] = {}
        if highlight:
            if c.highlight is not None:
                for doc_id in ids:
                    row = self.db.execute(
                        f"SELECT snippet(fts, 1, ?, ?, '…', {SNIPPET_TOKENS}) FROM fts"
                        " WHERE fts MATCH ? AND rowid = ?",
                        (MARK_START, MARK_END, c.highlight, doc_id)).fetchone()
                    if row and MARK_START in row[0]:
                        snippets[doc_id] = snippet_text(row[0])
            rest = [i for i in ids if i not in snippets]
            if rest:
                marks = ",".join("?" * len(rest))
                for doc_id, text in self.db.execute(
                        f"SELECT rowid, substr(content, 1, {FALLBACK_SNIPPET_CHARS * 2})"
                        f" FROM fts WHERE rowid IN ({marks})", rest):
                    snippets[doc_id] = fallback_snippet(text)
        hits = []
        for doc_id, score in rows:
            d = docs.get(doc_id)
            if d is None:  # deleted between the two reads
                continue
            hits.append(Hit(id=d[0], title=d[1], correspondent=d[2], document_type=d[3],
                            created=dt.date.fromisoformat(d[4]),
                            added=dt.datetime.fromisoformat(d[5]),
                            tags=tuple(json.loads(d[6])), asn=d[7], path=d[8],
                            score=float(score or 0.0), snippet=snippets.get(doc_id, "")))
        return hits

    # ------------------------------------------------------------ facets

    def _version(self) -> tuple[int, int]:
        """Changes by other connections (data_version) and by this one (total_changes)."""
        return self.db.execute("PRAGMA data_version").fetchone()[0], self.db.total_changes

    def facets(self, query: str | Node, *, user: User,
               now: dt.datetime | None = None) -> Facets:
        c = self.compile(self._parse(query, now))
        if c.never:
            return Facets(0)
        if self.facet_cache_size <= 0:
            return self._facets(c, user)
        key = (c.match, c.where, c.params, user)
        version = self._version()
        cached = self._facet_cache.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        result = self._facets(c, user)
        if len(self._facet_cache) >= self.facet_cache_size:
            self._facet_cache.pop(next(iter(self._facet_cache)))
        self._facet_cache[key] = (version, result)
        return result

    def _facets(self, c: Compiled, user: User) -> Facets:
        """Facet counts from the per-document facet codes held in memory (loaded
        from SQLite when first needed and again after the index changed): the
        matching ids come from SQLite as one string (no Python object per row)
        and are counted in C: per match (``Counter`` over ``map``) for a few,
        with one bitset per facet value for many (``_FacetCodes``).
        Counting the same in SQL means sorting every matching row to group it."""
        db = self.db
        began = not db.in_transaction
        if began:
            db.execute("BEGIN")  # one snapshot: the codes, the version and the matches agree
        try:
            version = self._version()
            codes = self._codes
            if codes is not None and codes.version != version:
                codes = self._codes = None
            ids = self._match_ids(c, user)
            if codes is None:
                # Stale codes: reloading them (about 0.6 s at 100,000 documents) pays
                # off only for large match sets; "everything" has cheap SQL (indexes).
                if ids is None or len(ids) < FACET_CODES_FROM:
                    return self._facets_sql(c, user)
                codes = self._codes = _FacetCodes.load(db, version)
            try:
                return codes.count(ids)
            except IndexError:  # an id the codes do not know: cannot happen in one snapshot
                self._codes = None
                return self._facets_sql(c, user)
        finally:
            if began and db.in_transaction:
                db.execute("COMMIT")

    def _match_ids(self, c: Compiled, user: User) -> list[int] | None:
        """The ids of the matches the user may view (None: every document)."""
        source, where, params = self._filtered(c, user)
        if source == "documents d" and where == "1":
            return None
        if c.match is not None and not c.has_where and user.superuser:
            sql = "SELECT group_concat(rowid) FROM fts WHERE fts MATCH ?"
            params = (c.match,)
        else:
            sql = f"SELECT group_concat(d.id) FROM {source} WHERE {where}"
        return _ids_from_list(self.db.execute(sql, params).fetchone()[0])

    def _facets_sql(self, c: Compiled, user: User) -> Facets:
        """Facet counts in SQL alone (small match sets while the codes are stale)."""
        source, where, params = self._filtered(c, user)
        if source == "documents d" and where == "1":
            sql = ("SELECT 'd', correspondent, document_type, substr(created, 1, 4), count(*)"
                   " FROM documents GROUP BY 2, 3, 4"
                   " UNION ALL SELECT 't', min(tag), NULL, NULL, count(*) FROM document_tags"
                   " GROUP BY tag_fold")
            params = ()
        else:
            if c.match is not None and not c.has_where and user.superuser:
                matches = "SELECT rowid AS id FROM fts WHERE fts MATCH ?"
                params = (c.match,)
            else:
                matches = f"SELECT d.id AS id FROM {source} WHERE {where}"
            sql = (f"WITH m(id) AS MATERIALIZED ({matches})"
                   " SELECT 'd', d.correspondent, d.document_type, substr(d.created, 1, 4),"
                   " count(*) FROM m JOIN documents d ON d.id = m.id GROUP BY 2, 3, 4"
                   " UNION ALL SELECT 't', min(t.tag), NULL, NULL, count(*)"
                   " FROM m JOIN document_tags t ON t.doc_id = m.id GROUP BY t.tag_fold")
        total = 0
        corr: Counter[str] = Counter()
        types: Counter[str] = Counter()
        years: Counter[str] = Counter()
        tags: Counter[str] = Counter()
        for kind, a, b, year, n in self.db.execute(sql, params):
            if kind == "t":
                tags[a] += n
                continue
            total += n
            if a is not None:
                corr[a] += n
            if b is not None:
                types[b] += n
            years[year] += n

        return _facets_of(total, corr, types, years, tags)

    # ------------------------------------------------------------ single documents

    def _visible(self, doc_id: int, user: User) -> bool:
        perm, params = self._permission(user)
        sql = "SELECT 1 FROM documents d WHERE d.id = ?" + (f" AND {perm}" if perm else "")
        return self.db.execute(sql, (doc_id,) + params).fetchone() is not None

    def get(self, doc_id: int, user: User) -> StoredDocument | None:
        if not self._visible(doc_id, user):
            return None
        row = self.db.execute(
            "SELECT d.id, d.title, d.correspondent, d.document_type, d.created, d.added,"
            " d.modified, d.tags, d.asn, d.owner, d.path, d.notes, f.content"
            " FROM documents d JOIN fts f ON f.rowid = d.id WHERE d.id = ?",
            (doc_id,)).fetchone()
        if row is None:
            return None
        return StoredDocument(
            id=row[0], title=row[1], correspondent=row[2], document_type=row[3],
            created=dt.date.fromisoformat(row[4]), added=dt.datetime.fromisoformat(row[5]),
            modified=dt.datetime.fromisoformat(row[6]), tags=tuple(json.loads(row[7])),
            asn=row[8], owner=row[9], path=row[10],
            notes=tuple(n for n in row[11].split("\n") if n) if row[11] else (),
            content=row[12])

    def more_like_this(self, doc_id: int, user: User, limit: int = 10) -> SearchResult:
        doc = self.get(doc_id, user)
        if doc is None:
            return SearchResult(0, 0, limit, "relevance", ())
        words = self._characteristic_words(doc)
        if not words:
            return SearchResult(0, 0, limit, "relevance", ())
        node = And((Or(tuple(Term(None, w) for w in words)) if len(words) > 1
                    else Term(None, words[0]),
                    Not(NumberRange("id", doc_id, doc_id))))
        return self.search(node, user=user, limit=limit)

    def _characteristic_words(self, doc: StoredDocument, keep: int = 12) -> list[str]:
        text = f"{doc.title} {doc.title} {doc.content[:50_000]}"
        tf = Counter(w for w in _WORD.findall(fold(text))
                     if len(w) >= 3 and not w.isdigit() and w not in _STOPWORDS)
        total = max(self.count(), 1)
        scored = []
        for word, n in tf.most_common(60):
            row = self.db.execute("SELECT doc FROM fts_vocab WHERE term = ?", (word,)).fetchone()
            if row is None:  # a stemmed index: ask the index itself
                row = self.db.execute("SELECT count(*) FROM fts WHERE fts MATCH ?",
                                      (fts_string(word),)).fetchone()
            df = row[0] if row else 0
            if df < 2:  # only in this document: says nothing about others
                continue
            scored.append(((1 + math.log(n)) * math.log(total / df), word))
        scored.sort(key=lambda item: (-item[0], item[1]))
        return [w for s, w in scored[:keep] if s > 0]

    # ------------------------------------------------------------ suggestions

    def suggest(self, prefix: str, field: str | None = None, limit: int = 10, *,
                user: User) -> list[Suggestion]:
        if field is not None and field not in _FIELD_SUGGEST and field not in _WORD_SUGGEST:
            raise UsageError(f"no suggestions for field {field!r}")
        head = fold(prefix.strip())
        if not head or limit <= 0:
            return []
        perm, perm_params = self._permission(user)
        out: list[Suggestion] = []
        bounds = (head, head + TOP)
        value_fields = ({"tag", "correspondent", "type"} if field is None
                        else {field} & _FIELD_SUGGEST)
        for name in sorted(value_fields):
            if name == "tag":
                sql = ("SELECT min(t.tag), count(*) FROM document_tags t"
                       " JOIN documents d ON d.id = t.doc_id"
                       " WHERE t.tag_fold >= ? AND t.tag_fold < ?")
                group = "t.tag_fold"
            else:
                column = {"correspondent": "correspondent", "type": "document_type",
                          "owner": "owner"}[name]
                fcolumn = {"correspondent": "correspondent_fold", "type": "type_fold",
                           "owner": "owner_fold"}[name]
                sql = (f"SELECT min(d.{column}), count(*) FROM documents d"
                       f" WHERE d.{fcolumn} >= ? AND d.{fcolumn} < ?")
                group = f"d.{fcolumn}"
            if perm:
                sql += f" AND {perm}"
            sql += f" GROUP BY {group} ORDER BY 2 DESC, 1 LIMIT ?"
            for value, n in self.db.execute(sql, bounds + perm_params + (limit,)):
                out.append(Suggestion(value, name, n, f"{name}:{_quote_value(value)}"))
        if field in _WORD_SUGGEST:
            out.extend(self._suggest_words(head, _WORD_SUGGEST[field], limit, user))
        out.sort(key=lambda s: (-s.count, s.text.casefold(), s.field or ""))
        return out[:limit]

    def _suggest_words(self, head: str, column: str | None, limit: int,
                       user: User) -> list[Suggestion]:
        bounds = (head, head + TOP)
        if column is None:
            sql = "SELECT term, doc FROM fts_vocab WHERE term >= ? AND term < ?"
            params: tuple = bounds
        else:
            sql = "SELECT term, doc FROM fts_vocab_col WHERE col = ? AND term >= ? AND term < ?"
            params = (column,) + bounds
        want = limit if user.superuser else limit * 3
        rows = self.db.execute(sql + " ORDER BY doc DESC, term LIMIT ?",
                               params + (want,)).fetchall()
        if user.superuser:
            return [Suggestion(t, None, n, t) for t, n in rows]
        perm, perm_params = self._permission(user)
        cols = "{" + (column or "title content tags correspondent document_type notes") + "}"
        out = []
        for term, _ in rows:
            n = self.db.execute(
                "SELECT count(*) FROM fts CROSS JOIN documents d ON d.id = fts.rowid"
                f" WHERE fts MATCH ? AND {perm}",
                (f"{cols} : {fts_string(term)}",) + perm_params).fetchone()[0]
            if n:
                out.append(Suggestion(term, None, n, term))
        return out


def _ids_from_list(text: str | None) -> list[int]:
    """``group_concat(id)`` ("3,17,42") -> [3, 17, 42] (json.loads parses in C:
    faster than fetching one row per id, or than split() and int())."""
    return json.loads("[" + text + "]") if text else []


def _repeat_int(pattern: bytes, size: int) -> int:
    return int.from_bytes(pattern * (size // len(pattern)), "little")


class _FacetCodes:
    """The facet values of every document of one index version, held in memory.

    ``combo[id]`` numbers the document's (correspondent, type, year), -1 for no
    document; ``tags[id]`` is a tuple of tag numbers (tags folded). For large
    match sets, one bitset (a Python int, bit ``id`` set) per facet value:
    counting is then one AND and one popcount per value, whatever the number of
    matches (about 10 µs per value at 100,000 documents)."""

    #: below this many matches, counting per match is cheaper than the bitsets
    BITSETS_FROM = 1000
    #: no bitsets when they would take more memory than this (bytes)
    BITSETS_MAX_BYTES = 64 << 20

    def __init__(self, version: tuple[int, int], combo: list[int],
                 combos: list[tuple[str | None, str | None, str]], tags: list[tuple[int, ...]],
                 tag_names: list[str]) -> None:
        self.version = version
        self.combo = combo
        self.combos = combos
        self.tags = tags
        self.tag_names = tag_names
        # byte-per-document masks are built in whole 64-document words
        self.mask_bytes = -(-len(combo) // 64) * 64
        self.bitsets: list[tuple[int, str, int]] | None = None  # (facet kind, value, bits)
        self._all = 0

    @classmethod
    def load(cls, db: sqlite3.Connection, version: tuple[int, int]) -> "_FacetCodes":
        size = db.execute("SELECT coalesce(max(id), 0) FROM documents").fetchone()[0] + 1
        combo = [-1] * size
        numbers: dict[tuple, int] = {}
        setdefault = numbers.setdefault
        cur = db.execute("SELECT id, correspondent, document_type, substr(created, 1, 4)"
                         " FROM documents")
        while rows := cur.fetchmany(4096):
            for doc_id, corr, dtype, year in rows:
                combo[doc_id] = setdefault((corr, dtype, year), len(numbers))
        tags: list[tuple[int, ...]] = [()] * size
        tag_numbers: dict[str, int] = {}
        tag_names: list[str] = []
        current, acc = -1, []
        cur = db.execute("SELECT doc_id, tag, tag_fold FROM document_tags ORDER BY doc_id")
        while rows := cur.fetchmany(4096):
            for doc_id, tag, tag_fold in rows:
                n = tag_numbers.get(tag_fold)
                if n is None:
                    n = tag_numbers[tag_fold] = len(tag_names)
                    tag_names.append(tag)
                elif tag < tag_names[n]:
                    tag_names[n] = tag  # the name SQL's min(tag) gives
                if doc_id != current:
                    if acc:
                        tags[current] = tuple(acc)
                    current, acc = doc_id, []
                acc.append(n)
        if acc:
            tags[current] = tuple(acc)
        codes = cls(version, combo, list(numbers), tags, tag_names)
        codes._build_bitsets()
        return codes

    # ------------------------------------------------------------ bitsets

    def _bits(self, ids: Iterable[int]) -> int:
        """The set of ``ids`` as a bitset: a byte per document set in C
        (``map(bytearray.__setitem__)``), then squeezed eight to one with
        big-integer shifts and masks."""
        size = self.mask_bytes
        mask = bytearray(size)
        deque(map(mask.__setitem__, ids, repeat(1)), 0)
        x = int.from_bytes(mask, "little")  # bit 8i for document i
        m1, m2, m3 = self._squeeze
        x = (x | (x >> 7)) & m1    # 2 bits in every 16
        x = (x | (x >> 14)) & m2   # 4 bits in every 32
        x = (x | (x >> 28)) & m3   # 8 bits in every 64
        return int.from_bytes(x.to_bytes(size, "little")[::8], "little")

    def _build_bitsets(self) -> None:
        size = self.mask_bytes
        values = len(self.tag_names) + sum(len(set(column)) for column in zip(*self.combos))
        if values * size // 8 > self.BITSETS_MAX_BYTES:
            return
        self._squeeze = (_repeat_int(b"\x03\x00", size), _repeat_int(b"\x0f\x00\x00\x00", size),
                         _repeat_int(b"\xff" + b"\x00" * 7, size))
        groups: list[dict[str, list[int]]] = [{}, {}, {}, {}]  # corr, type, year, tag
        combos = self.combos
        everyone: list[int] = []
        for doc_id, code in enumerate(self.combo):
            if code < 0:
                continue
            everyone.append(doc_id)
            corr, dtype, year = combos[code]
            if corr is not None:
                groups[0].setdefault(corr, []).append(doc_id)
            if dtype is not None:
                groups[1].setdefault(dtype, []).append(doc_id)
            groups[2].setdefault(year, []).append(doc_id)
        names = self.tag_names
        by_tag: list[list[int]] = [[] for _ in names]
        for doc_id, numbers in enumerate(self.tags):
            for n in numbers:
                by_tag[n].append(doc_id)
        for n, ids in enumerate(by_tag):
            groups[3][names[n]] = ids
        bitsets: list[tuple[int, str, int]] = []
        for kind, group in enumerate(groups):
            bitsets.extend((kind, value, self._bits(ids)) for value, ids in group.items())
        self.bitsets = bitsets
        self._all = self._bits(everyone)

    # ------------------------------------------------------------ counting

    def count(self, ids: list[int] | None) -> Facets:
        """Facets of the documents ``ids`` (None: every document)."""
        if self.bitsets is not None and (ids is None or len(ids) >= self.BITSETS_FROM):
            return self._count_bits(ids)
        if ids is None:
            by_combo = Counter(self.combo)
            by_tag = Counter(chain.from_iterable(self.tags))
        else:
            combo, tags = self.combo, self.tags
            by_combo = Counter(map(combo.__getitem__, ids))
            by_tag = Counter(chain.from_iterable(map(tags.__getitem__, ids)))
        by_combo.pop(-1, None)
        total = 0
        counters: tuple[Counter[str], ...] = (Counter(), Counter(), Counter())
        combos = self.combos
        for code, n in by_combo.items():
            a, b, year = combos[code]
            total += n
            if a is not None:
                counters[0][a] += n
            if b is not None:
                counters[1][b] += n
            counters[2][year] += n
        names = self.tag_names
        tag_counts: Counter[str] = Counter()
        for t, n in by_tag.items():
            tag_counts[names[t]] += n
        return _facets_of(total, *counters, tag_counts)

    def _count_bits(self, ids: list[int] | None) -> Facets:
        counters: tuple[Counter[str], ...] = (Counter(), Counter(), Counter(), Counter())
        if ids is None:
            total = self._all.bit_count()
            for kind, value, bits in self.bitsets:  # type: ignore[union-attr]
                counters[kind][value] = bits.bit_count()
        else:
            matches = self._bits(ids) & self._all
            total = matches.bit_count()
            for kind, value, bits in self.bitsets:  # type: ignore[union-attr]
                n = (bits & matches).bit_count()
                if n:
                    counters[kind][value] = n
        return _facets_of(total, *counters)


def _facets_of(total: int, corr: Counter[str], types: Counter[str], years: Counter[str],
               tags: Counter[str]) -> Facets:
    def ordered(counter: Counter[str]) -> tuple[FacetCount, ...]:
        return tuple(FacetCount(v, n) for v, n in
                     sorted(counter.items(), key=lambda item: (-item[1], item[0])))

    return Facets(total=total, tags=ordered(tags), correspondents=ordered(corr),
                  types=ordered(types),
                  years=tuple(FacetCount(y, n) for y, n in sorted(years.items(), reverse=True)))


def _remove_db_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


__all__ = ["SqliteIndex", "SCHEMA_VERSION", "TOKENIZERS"]
