"""The SQLite library every part of paperfs uses.

``pysqlite3`` (the standard ``sqlite3`` module built against a current
SQLite, from the pysqlite3-binary wheel) where that wheel exists, else
Python's own ``sqlite3`` with the system's SQLite. Why: FTS5's ranking is
about 1.5× faster in SQLite 3.51 than in Debian 12's 3.40 (measured on the
100k benchmark index, docs/performance.md); the API is the same.

Everything that opens a database goes through this module, so one process
never holds two copies of SQLite: two copies opening the same file would
not see each other's POSIX locks (https://sqlite.org/howtocorrupt.html 2.2).
"""

try:
    from pysqlite3 import dbapi2 as sqlite3
except ImportError:  # no wheel for this platform: the system's SQLite
    import sqlite3  # type: ignore[no-redef]

__all__ = ["sqlite3"]
