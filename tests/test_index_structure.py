"""Rules of the index's structure (issue 12): what stays inside paperfs/index/.

* A backend is imported only when the configuration names it: with
  ``index.backend: sqlite`` no process imports pysolr or kazoo.
* No SQL outside paperfs/index/: no SQL text, no sqlite3 module.
* No code outside paperfs/index/ touches a private member of an index or
  duck-types one (``getattr(index, "catalog")``, ``hasattr(index, "remote")``).

(That no module is over 600 lines, here as everywhere: tests/test_module_size.py.)
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import init_root

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "paperfs"
INDEX = PACKAGE / "index"

#: outside paperfs/index/, the modules that may import the SQLite library, and why
SQLITE_IMPORT_ALLOWED = {
    # recognises SQLite's "database or disk is full" among exceptions (no SQL)
    "paperfs/archive/storage.py",
}
#: SQL as it is written in paperfs (upper-case keywords)
SQL = re.compile(r"\b(SELECT\b.*\bFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET"
                 r"|DELETE\s+FROM|CREATE\s+(TABLE|INDEX|VIRTUAL)|PRAGMA\s+\w+)\b", re.S)
#: names under which code outside paperfs/index/ holds an index, a catalog or a search
INDEX_NAMES = re.compile(r"index|catalog|search|readers|mirror|remote", re.I)


def _outside_index() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if INDEX not in p.parents)


def _rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def _trees() -> list[tuple[str, ast.AST]]:
    return [(_rel(p), ast.parse(p.read_text("utf-8"), str(p))) for p in _outside_index()]


def _holder(node: ast.expr) -> str | None:
    """The name an attribute is read from: ``index`` in ``index.x``, ``catalog`` in
    ``self.catalog.x``, ``index`` in ``ctx.index().x``."""
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def test_sqlite_backend_imports_no_solr(tmp_path: Path) -> None:
    """With ``index.backend: sqlite`` (the default) neither pysolr nor kazoo is
    imported: not by the factory, the CLI, the daemon, WebDAV or a search."""
    root = init_root(tmp_path).root
    script = f"""
import json, sys
from pathlib import Path
from paperfs.config import load_config
from paperfs.index.factory import index_status, open_catalog, open_index, open_readers
from paperfs.index.model import LOCAL_ADMIN
from paperfs.search.parser import parse
import paperfs.cli, paperfs.dav.server, paperfs.daemon.status

root = Path({str(root)!r})
config = load_config(root / "paperfs.yml")
index = open_index(config, root)
index.search("anything", user=LOCAL_ADMIN)
index.close()
readers = open_readers(config, root)
list(readers.search.listing(parse("*"), LOCAL_ADMIN))
readers.search.facets("*", user=LOCAL_ADMIN)
readers.close()
catalog = open_catalog(root, readonly=True)
catalog.count()
catalog.close()
index_status(config, root)
print(json.dumps(sorted(m for m in sys.modules
                        if m.split(".")[0] in ("pysolr", "kazoo")
                        or m.startswith(("paperfs.index.solr", "paperfs.index.mirrored")))))
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_no_sql_outside_the_index() -> None:
    problems = []
    for rel, tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and SQL.search(node.value):
                problems.append(f"{rel}:{node.lineno}: SQL {node.value[:60]!r}")
            if isinstance(node, (ast.Import, ast.ImportFrom)) and rel not in SQLITE_IMPORT_ALLOWED:
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""])
                for name in names:
                    if name.split(".")[0] in ("sqlite3", "pysqlite3") \
                            or name == "paperfs.index.sqlitelib":
                        problems.append(f"{rel}:{node.lineno}: imports {name}")
    assert problems == []


def test_no_private_index_members_outside_the_index() -> None:
    problems = []
    for rel, tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "paperfs.index"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                if private:
                    problems.append(f"{rel}:{node.lineno}: imports {private} from "
                                    f"{node.module}")
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                    and not node.attr.startswith("__"):
                holder = _holder(node.value)
                if holder is not None and holder != "self" and INDEX_NAMES.search(holder):
                    problems.append(f"{rel}:{node.lineno}: {holder}.{node.attr}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id in ("getattr", "hasattr") and node.args:
                holder = _holder(node.args[0])
                if holder is not None and INDEX_NAMES.search(holder):
                    problems.append(f"{rel}:{node.lineno}: {node.func.id}({holder}, ...)")
    assert problems == []
