"""The runtime of a data root, the writer interface and the pool protocol."""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import inspect
from pathlib import Path

import pytest

from paperfs.archive.writer import DocumentWriter, HandOffWriter, LocalWriter, Writer
from paperfs.consume.pool import SerialPool, WorkerPool
from paperfs.daemon.pool_protocol import Pool
from paperfs.errors import DataRootError
from paperfs.runtime import Runtime

from tests.dav_support import add_doc, init_root

PACKAGE = Path(__file__).resolve().parents[1] / "paperfs"


def _double(x: int) -> int:
    return 2 * x


# ---------------------------------------------------------------- one place


def _data_roots_built(path: Path) -> list[int]:
    """Lines where ``DataRoot(...)`` is called with something taken from a config."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "DataRoot":
            argument = ast.unparse(node.args[0]) if node.args else ""
            if "config" in argument or "data_root" in argument:
                lines.append(node.lineno)
    return lines


def test_only_the_runtime_builds_a_data_root_from_the_config():
    found = {str(path.relative_to(PACKAGE.parent)): lines
             for path in sorted(PACKAGE.rglob("*.py"))
             if path.name != "runtime.py" and (lines := _data_roots_built(path))}
    assert found == {}, "take the DataRoot from the Runtime (paperfs/runtime.py) instead"


def test_entry_points_take_a_runtime_or_a_config(tmp_path):
    _root, config = init_root(tmp_path)
    runtime = Runtime(config)
    assert Runtime.of(runtime) is runtime
    assert Runtime.of(config).root == runtime.root


def test_a_folder_that_is_no_data_root_is_refused(tmp_path):
    _root, config = init_root(tmp_path)
    (tmp_path / "empty").mkdir()
    runtime = Runtime(dataclasses.replace(config, data_root=tmp_path / "empty"))
    with pytest.raises(DataRootError):
        runtime.initialised()
    with pytest.raises(DataRootError):
        runtime.open_archive()
    assert not runtime.lock.held


# ---------------------------------------------------------------- the pool


@pytest.mark.parametrize("pool_class", [WorkerPool, SerialPool])
def test_both_pools_implement_the_pool_protocol(pool_class):
    pool = pool_class(_double, workers=1, timeout=10, idle_seconds=1)
    try:
        assert isinstance(pool, Pool)
        for name in ("submit", "poll", "retire_idle", "shutdown"):
            expected = inspect.signature(getattr(Pool, name))
            actual = inspect.signature(getattr(pool_class, name))
            assert list(actual.parameters) == list(expected.parameters), name
    finally:
        pool.shutdown(kill=True)


def test_the_pool_is_built_once_on_first_use_and_starts_no_process(tmp_path):
    _root, config = init_root(tmp_path)
    runtime = Runtime(config)
    pool = runtime.worker_pool(_double)
    try:
        assert isinstance(pool, WorkerPool)
        assert runtime.worker_pool(_double) is pool
        assert pool.processes == 0  # workers start when there is work
    finally:
        runtime.close()


def test_a_serial_pool_runs_in_this_process(tmp_path):
    _root, config = init_root(tmp_path)
    runtime = Runtime(config)
    pool = runtime.worker_pool(_double, serial=True)
    pool.submit("x", 21)
    [outcome] = pool.poll(0)
    assert (outcome.key, outcome.result) == ("x", 42)
    runtime.close()


# ---------------------------------------------------------------- the writer


def test_both_writers_implement_the_interface():
    for writer_class, interface in ((LocalWriter, Writer), (HandOffWriter, DocumentWriter)):
        assert issubclass(writer_class, interface)
        assert not inspect.isabstract(writer_class), writer_class


def test_an_edit_is_applied_here_without_a_daemon_and_handed_off_beside_one(tmp_path):
    root, config = init_root(tmp_path)
    runtime = Runtime(config)
    with runtime.archive() as archive:
        add_doc(archive, 1, "Letter", dt.date(2024, 5, 1))

    with runtime.document_writer() as writer:
        assert isinstance(writer, LocalWriter)
        edited = writer.update(1, lambda d: d.replace(correspondent="ACME"))
    assert edited.applied and edited.path.startswith("ACME/")
    assert (root.archive / (edited.path + ".pdf")).exists()

    daemon = Runtime(config)  # another process's writer, as far as the lock goes
    daemon.lock.acquire()
    try:
        with runtime.document_writer() as writer:
            assert isinstance(writer, HandOffWriter)
            handed = writer.update(1, lambda d: d.replace(title="Renamed"))
    finally:
        daemon.lock.release()
    assert not handed.applied and handed.path == edited.path  # the daemon moves it
    sidecar = root.archive / (edited.path + ".yml")
    assert "Renamed" in sidecar.read_text()


def test_unchanged_metadata_writes_nothing(tmp_path):
    root, config = init_root(tmp_path)
    runtime = Runtime(config)
    with runtime.archive() as archive:
        doc = add_doc(archive, 1, "Letter", dt.date(2024, 5, 1))
        rel = archive.index.ref(1).path
    sidecar = root.archive / (rel + ".yml")
    before = sidecar.stat().st_mtime_ns
    with runtime.document_writer() as writer:
        edited = writer.update(1, lambda d: d)
    assert edited.doc.modified == doc.modified
    assert sidecar.stat().st_mtime_ns == before


def test_the_hand_off_opens_no_index_for_what_needs_none(tmp_path):
    """``paperfs dav`` starts (and completes trash moves) before any index exists."""
    root, _config = init_root(tmp_path)

    def no_index():
        raise AssertionError("the index was opened")

    assert HandOffWriter(root, no_index).recover_trash() == 0
