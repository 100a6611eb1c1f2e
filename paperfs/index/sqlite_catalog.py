"""The embedded index as the catalog: exact lookups, and listings streamed from SQL.

What the writer looks up on every filing (``FiledLookups``), and what
WebDAV needs about documents (``Catalog``): single entries with owner and
permissions, batches of them, the streamed listing of a query node for one
user (one statement, the same matching and permission filter as a search,
read with a cursor), and whether an archive folder holds anything a user
may see.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Iterator

from paperfs.access.permissions import can_view
from paperfs.archive.document import Grants, Permissions
from paperfs.index.base import FiledRef, Keep
from paperfs.index.catalog import CatalogEntry
from paperfs.index.model import Hit, User
from paperfs.index.sqlite_connection import SqliteConnection
from paperfs.index.sqlite_query import matches_sql
from paperfs.index.sqlitelib import sqlite3
from paperfs.search.tree import Node

_REF_COLUMNS = "id, path, original_sha256, archive_sha256, mtime_ns, size"
#: a CatalogEntry with owner and permissions
_ENTRY_COLUMNS = ("id, title, created, added, path, correspondent, document_type, asn,"
                  " archive_sha256, mtime_ns, owner, view_users, view_groups, change_users,"
                  " change_groups")
#: the largest page ``first`` asks for
_FIRST_PAGE_MAX = 1000


def _ref(row: sqlite3.Row | tuple) -> FiledRef:
    return FiledRef(*row)


def _permissions(vu: str, vg: str, cu: str, cg: str) -> Permissions:
    return Permissions(view=Grants(tuple(json.loads(vu)), tuple(json.loads(vg))),
                       change=Grants(tuple(json.loads(cu)), tuple(json.loads(cg))))


def _entry(row: tuple) -> CatalogEntry:
    return CatalogEntry(id=row[0], title=row[1], created=dt.date.fromisoformat(row[2]),
                        added=dt.datetime.fromisoformat(row[3]), path=row[4],
                        correspondent=row[5], document_type=row[6], asn=row[7],
                        sha256=row[8], mtime=row[9] / 1e9, owner=row[10],
                        permissions=_permissions(row[11], row[12], row[13], row[14]))


class SqliteCatalogReads(SqliteConnection):
    """The exact lookups of ``SqliteIndex`` (``FiledLookups`` and ``Catalog``)."""

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

    def find_asn(self, asn: int) -> FiledRef | None:
        row = self.db.execute(f"SELECT {_REF_COLUMNS} FROM documents WHERE asn = ? LIMIT 1",
                              (asn,)).fetchone()
        return _ref(row) if row else None

    def refs(self) -> Iterator[FiledRef]:
        cur = self.db.execute(f"SELECT {_REF_COLUMNS} FROM documents ORDER BY id")
        while rows := cur.fetchmany(1000):
            yield from (_ref(r) for r in rows)

    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM documents").fetchone()[0]

    def max_id(self) -> int:
        return self.db.execute("SELECT coalesce(max(id), 0) FROM documents").fetchone()[0]


    # ------------------------------------------------------------ WebDAV's lookups

    def entry(self, doc_id: int) -> CatalogEntry | None:
        row = self.db.execute(f"SELECT {_ENTRY_COLUMNS} FROM documents WHERE id = ?",
                              (doc_id,)).fetchone()
        return _entry(row) if row else None

    def entry_by_path(self, path: str) -> CatalogEntry | None:
        row = self.db.execute(f"SELECT {_ENTRY_COLUMNS} FROM documents WHERE path = ?",
                              (path,)).fetchone()
        return _entry(row) if row else None

    def entries(self, ids: list[int]) -> dict[int, CatalogEntry]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        return {row[0]: _entry(row) for row in self.db.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM documents WHERE id IN ({marks})", ids)}

    def stream(self, node: Node, user: User,
               keep: Keep | None = None) -> Iterator[CatalogEntry]:
        """One SQL statement read with a cursor: the same matches and permission filter
        as ``search`` (its compiler), without counting or paging."""
        compiled = self.compile(node)
        if compiled.never:
            return
        source, where, params = matches_sql(compiled, user)
        cursor = self.db.execute(
            "SELECT d.id, d.title, d.created, d.added, d.path, d.correspondent,"
            " d.document_type, d.asn, d.archive_sha256, d.mtime_ns"
            f" FROM {source} WHERE {where} ORDER BY d.created ASC, d.id ASC", params)
        date, stamp = dt.date.fromisoformat, dt.datetime.fromisoformat
        while rows := cursor.fetchmany(500):
            for r in rows:
                entry = CatalogEntry(r[0], r[1], date(r[2]), stamp(r[3]), r[4], r[5], r[6],
                                     r[7], r[8], r[9] / 1e9)
                if keep is None or keep(entry):
                    yield entry

    def listing(self, node: Node, user: User,
                keep: Keep | None = None) -> Iterator[CatalogEntry]:
        """The embedded index lists what its catalog has (exact)."""
        return self.stream(node, user, keep)

    def first(self, node: Node, user: User, keep: Keep | None = None) -> Hit | None:
        offset, page = 0, 20
        while True:
            hits = self.search(node, user=user, sort="id",  # type: ignore[attr-defined]
                               limit=page, offset=offset, highlight=False).hits
            for hit in hits:
                if keep is None or keep(hit):
                    return hit
            if len(hits) < page:
                return None
            offset += len(hits)
            page = min(_FIRST_PAGE_MAX, page * 4)

    def any_visible_under(self, folder: str, user: User) -> bool:
        lo, hi = folder.rstrip("/") + "/", folder.rstrip("/") + "0"  # '0' follows '/'
        if user.superuser:
            return self.db.execute(
                "SELECT 1 FROM documents WHERE path >= ? AND path < ? LIMIT 1",
                (lo, hi)).fetchone() is not None
        if self.db.execute(
                "SELECT 1 FROM documents WHERE path >= ? AND path < ?"
                " AND (owner IS NULL OR owner = ?) LIMIT 1",
                (lo, hi, user.name)).fetchone() is not None:
            return True
        cur = self.db.execute(
            "SELECT owner, view_users, view_groups, change_users, change_groups"
            " FROM documents WHERE path >= ? AND path < ? AND (view_users != '[]'"
            " OR view_groups != '[]' OR change_users != '[]' OR change_groups != '[]')",
            (lo, hi))
        while rows := cur.fetchmany(256):
            for owner, vu, vg, cu, cg in rows:
                if can_view(user, owner, _permissions(vu, vg, cu, cg)):
                    return True
        return False
