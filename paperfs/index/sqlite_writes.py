"""Writing the embedded index: upserts, deletes, rebuilds, housekeeping.

Every write method is one transaction (one commit per call); a reader on
another connection sees a document as soon as ``upsert`` returns. A rebuild
(``rebuilding``, ``rebuild_with``) fills a new file aside, without a journal,
and renames it over the current one at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from paperfs.archive.atomic import fsync_dir
from paperfs.archive.custom_fields import indexed_names
from paperfs.errors import UsageError
from paperfs.index.base import IndexEntry
from paperfs.index.model import MARK_END, MARK_START
from paperfs.index.sqlite_connection import (INDEXES, TOKENIZERS, SqliteConnection,
                                             remove_db_files)
from paperfs.index.sqlitelib import sqlite3
from paperfs.search.match import fold

if TYPE_CHECKING:
    from paperfs.index.sqlite import SqliteIndex


def _fold(text: str) -> str:
    """match.fold, with a fast path for ASCII (most text): same result."""
    return text.lower() if text.isascii() else fold(text)


def _clean(text: str) -> str:
    # The highlight markers are control characters: never let them into the index.
    return text.replace(MARK_START, "").replace(MARK_END, "")


#: one document's rows: documents, document_tags, document_grants, fts, document_fields
IndexRows = tuple[tuple, list[tuple], list[tuple], tuple, list[tuple]]


def index_rows(entry: IndexEntry) -> IndexRows:
    """The rows that index one document (plain tuples: cheap to send between
    processes)."""
    doc = entry.doc
    perms = doc.permissions
    notes = _clean("\n".join(note.text for note in doc.notes))
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
    fields = [(doc.id, name, _fold(r.text), r.number, r.day)
              for name, found in indexed_names(doc.custom_fields) for r in found]
    return document, tags, grants, text, fields


class SqliteWrites(SqliteConnection):
    """The writes of ``SqliteIndex``."""

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
        cur.executemany("INSERT INTO document_fields VALUES (?, ?, ?, ?, ?)",
                        chain.from_iterable(rows[4] for rows in batch))
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
            self.db.execute("DELETE FROM document_fields")
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
        for statement in INDEXES.split(";"):
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
        remove_db_files(tmp)
        new = type(self)(tmp, stemming=stemming, _bulk=True)  # type: ignore[call-arg]
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
            remove_db_files(tmp)
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
