"""A replica's changes reach the writer through Redis alone (no archive watcher runs here)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from paperfs.cluster.handoff import RedisHandOffWriter, handoff_job, handoff_key
from paperfs.runtime import Runtime
from tests.dav_support import add_doc, init_root
from tests.redis_server import redis_server  # noqa: F401 (fixture)


def allow(_doc) -> None:
    pass


def test_edits_and_trash_through_a_replica_are_applied_by_the_schedulers_job(
        tmp_path, redis_server):  # noqa: F811 - the fixture
    root, config = init_root(tmp_path, f"queue: {redis_server.url}\ntenant: ho\n")
    runtime = Runtime(config)
    writer = runtime.open_writer()
    catalog = runtime.open_catalog()
    try:
        add_doc(writer.archive, 1, "Invoice", dt.date(2024, 3, 1))
        add_doc(writer.archive, 2, "Letter", dt.date(2024, 3, 2))
        replica = RedisHandOffWriter(root, lambda: catalog, config)
        job = handoff_job(config, writer, root.archive)

        edited = replica.update(1, lambda doc: dataclasses.replace(doc, title="Renamed"))
        assert not edited.applied
        replica.trash(2, "alice", allow)
        assert redis_server.client().llen(handoff_key(config)) == 2
        assert handoff_key(config) == "paperfs:ho:handoff"
        # the writer has not seen either change yet: its index is as before
        assert "Invoice" in writer.archive.index.ref(1).path
        assert writer.archive.index.ref(2) is not None

        job.run()  # what the active scheduler does every half second
        assert "Renamed" in writer.archive.index.ref(1).path  # applied, the pair moved
        assert (root.archive / (writer.archive.index.ref(1).path + ".pdf")).exists()
        assert writer.archive.index.ref(2) is None  # in the trash now
        assert redis_server.client().llen(handoff_key(config)) == 0

        rel = replica.restore(2, allow)
        job.run()
        assert writer.archive.index.ref(2).path == rel
    finally:
        catalog.close()
        runtime.close()
