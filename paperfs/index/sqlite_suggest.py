"""Suggestions in the embedded index: completions of field values and words.

Field values from ``documents`` / ``document_tags`` (folded prefix ranges),
words from the FTS5 vocabulary (``fts_vocab`` / ``fts_vocab_col``); for a
user who is not a superuser each word is counted again among the documents
he may view.
"""

from __future__ import annotations

from paperfs.index.base import suggestion_query
from paperfs.index.model import Suggestion, User
from paperfs.index.sqlite_connection import SqliteConnection
from paperfs.index.sqlite_query import TOP, fts_string, permission_sql

#: the FTS5 column of each word field (None: every column)
_WORD_COLUMNS = {None: None, "title": "title", "content": "content", "note": "notes",
                 "path": "path"}
#: the column holding each value field, and its folded copy
_VALUE_COLUMNS = {"correspondent": ("correspondent", "correspondent_fold"),
                  "type": ("document_type", "type_fold"), "owner": ("owner", "owner_fold")}


class SqliteSuggest(SqliteConnection):
    """The suggestions of ``SqliteIndex``."""

    def _suggest_values(self, head: str, fields: list[str], limit: int,
                        user: User) -> list[Suggestion]:
        perm, perm_params = permission_sql(user)
        bounds = (head, head + TOP)
        out: list[Suggestion] = []
        for name in fields:
            if name == "tag":
                sql = ("SELECT min(t.tag), count(*) FROM document_tags t"
                       " JOIN documents d ON d.id = t.doc_id"
                       " WHERE t.tag_fold >= ? AND t.tag_fold < ?")
                group = "t.tag_fold"
            else:
                column, fcolumn = _VALUE_COLUMNS[name]
                sql = (f"SELECT min(d.{column}), count(*) FROM documents d"
                       f" WHERE d.{fcolumn} >= ? AND d.{fcolumn} < ?")
                group = f"d.{fcolumn}"
            if perm:
                sql += f" AND {perm}"
            sql += f" GROUP BY {group} ORDER BY 2 DESC, 1 LIMIT ?"
            for value, n in self.db.execute(sql, bounds + perm_params + (limit,)):
                out.append(Suggestion(value, name, n, suggestion_query(name, value)))
        return out

    def _suggest_words(self, head: str, field: str | None, limit: int,
                       user: User) -> list[Suggestion]:
        column = _WORD_COLUMNS[field]
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
        perm, perm_params = permission_sql(user)
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
