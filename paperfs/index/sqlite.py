"""Embedded index: SQLite (WAL, one writer, concurrent readers) with FTS5."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from typing import Iterable, Iterator

from paperfs.index.base import FiledRef, Index, IndexEntry

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    correspondent TEXT,
    document_type TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    asn INTEGER,
    owner TEXT,
    view_users TEXT NOT NULL DEFAULT '[]',
    view_groups TEXT NOT NULL DEFAULT '[]',
    change_users TEXT NOT NULL DEFAULT '[]',
    change_groups TEXT NOT NULL DEFAULT '[]',
    created TEXT NOT NULL,
    added TEXT NOT NULL,
    modified TEXT NOT NULL,
    original_sha256 TEXT NOT NULL,
    archive_sha256 TEXT NOT NULL,
    pages INTEGER NOT NULL,
    mime_type TEXT NOT NULL,
    notes TEXT NOT NULL DEFAULT '',
    mtime_ns INTEGER NOT NULL,
    size INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_original_sha ON documents(original_sha256);
CREATE INDEX IF NOT EXISTS documents_archive_sha ON documents(archive_sha256);
CREATE TABLE IF NOT EXISTS document_tags (
    doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (doc_id, tag)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS document_tags_tag ON document_tags(tag COLLATE NOCASE);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(
    title, content, tags, correspondent, document_type, notes,
    tokenize = 'unicode61 remove_diacritics 2'
);
"""

_REF_COLUMNS = "id, path, original_sha256, archive_sha256, mtime_ns, size"


def _ref(row: sqlite3.Row | tuple) -> FiledRef:
    return FiledRef(*row)


class SqliteIndex(Index):
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None,
                                  check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(_SCHEMA)
        self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                        (str(SCHEMA_VERSION),))

    # ------------------------------------------------------------ writing

    def upsert(self, entries: Iterable[IndexEntry]) -> None:
        cur = self.db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            for entry in entries:
                self._upsert_one(cur, entry)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    def _upsert_one(self, cur: sqlite3.Cursor, entry: IndexEntry) -> None:
        doc = entry.doc
        perms = doc.permissions
        cur.execute("DELETE FROM documents WHERE id = ? OR path = ?", (doc.id, entry.path))
        cur.execute("DELETE FROM fts WHERE rowid = ?", (doc.id,))
        cur.execute(
            "INSERT INTO documents (id, path, title, correspondent, document_type, tags, asn,"
            " owner, view_users, view_groups, change_users, change_groups, created, added,"
            " modified, original_sha256, archive_sha256, pages, mime_type, notes, mtime_ns, size)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (doc.id, entry.path, doc.title, doc.correspondent, doc.document_type,
             json.dumps(list(doc.tags)), doc.asn, doc.owner,
             json.dumps(list(perms.view.users)), json.dumps(list(perms.view.groups)),
             json.dumps(list(perms.change.users)), json.dumps(list(perms.change.groups)),
             doc.created.isoformat(), doc.added.isoformat(), doc.modified.isoformat(),
             doc.original.sha256, doc.archive.sha256, doc.archive.pages,
             doc.original.mime_type, "\n".join(doc.notes), entry.mtime_ns, entry.size))
        cur.executemany("INSERT OR IGNORE INTO document_tags VALUES (?, ?)",
                        [(doc.id, tag) for tag in doc.tags])
        cur.execute(
            "INSERT INTO fts (rowid, title, content, tags, correspondent, document_type, notes)"
            " VALUES (?,?,?,?,?,?,?)",
            (doc.id, doc.title, doc.content, " ".join(doc.tags), doc.correspondent or "",
             doc.document_type or "", "\n".join(doc.notes)))

    def delete(self, ids: Iterable[int]) -> None:
        cur = self.db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            for doc_id in ids:
                cur.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
                cur.execute("DELETE FROM fts WHERE rowid = ?", (doc_id,))
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    def clear(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute("DELETE FROM documents")
        self.db.execute("DELETE FROM fts")
        self.db.execute("COMMIT")

    # ------------------------------------------------------------ reading

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

    def close(self) -> None:
        self.db.close()
