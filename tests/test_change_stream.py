"""The change stream on a real redis-server: entries kept while Redis is down, resync after a restart."""

from __future__ import annotations

import threading
import time

from paperfs.cluster.change_stream import (DELETE, RESYNC, UPSERT, ChangeFollower,
                                           ChangePublisher, stream_key)
from paperfs.config import load_config
from tests.redis_server import redis_server  # noqa: F401 (fixture)


class Recorder:
    """What a replica's catalog would be told."""

    def __init__(self) -> None:
        self.applied: list[tuple[str, tuple]] = []
        self.resyncs = 0
        self.lock = threading.Lock()

    def apply(self, change) -> None:
        with self.lock:
            self.applied.append((change.op, change.items))

    def resync(self) -> None:
        with self.lock:
            self.resyncs += 1


def wait(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_entries_wait_while_redis_is_down_and_a_restart_makes_followers_resync(
        tmp_path, redis_server):  # noqa: F811 - the fixture
    config = load_config(None, environ={"PAPERFS_QUEUE": redis_server.url,
                                        "PAPERFS_TENANT": "cs", "PAPERFS_DATA_ROOT": str(tmp_path)})
    assert stream_key(config) == "paperfs:cs:changes"
    publisher = ChangePublisher(config)  # its first entry: resync (a writer starts)
    seen = Recorder()
    follower = ChangeFollower(config, seen.apply, seen.resync)
    try:
        wait(lambda: redis_server.client().xlen(stream_key(config)) == 1)
        follower.catch_up()  # from the current position; the tree read once
        assert seen.resyncs == 1
        follower.start()
        publisher.changed(UPSERT, [(1, "a/one"), (2, "a/two")])
        publisher.changed(DELETE, [(2, "")])
        wait(lambda: len(seen.applied) == 2)
        assert seen.applied == [(UPSERT, ((1, "a/one"), (2, "a/two"))), (DELETE, ((2, ""),))]

        redis_server.stop()  # its data is gone with it (no persistence)
        publisher.changed(UPSERT, [(3, "b/three")])
        wait(lambda: publisher.problem is not None)
        assert publisher.backlog() == 1  # kept, in order
        wait(lambda: follower.problem is not None)
        redis_server.start()
        wait(lambda: publisher.backlog() == 0)
        # Redis lost everything the follower had not read: it resyncs from the tree
        wait(lambda: seen.resyncs == 2 and follower.problem is None)
        assert all(key.startswith("paperfs:cs:") for key in redis_server.keys())
    finally:
        follower.stop()
        publisher.close(timeout=1)


def test_a_new_writer_asks_followers_to_resync(tmp_path, redis_server):  # noqa: F811
    config = load_config(None, environ={"PAPERFS_QUEUE": redis_server.url,
                                        "PAPERFS_DATA_ROOT": str(tmp_path)})
    seen = Recorder()
    follower = ChangeFollower(config, seen.apply, seen.resync)
    follower.catch_up()
    follower.start()
    try:
        publisher = ChangePublisher(config)  # a scheduler that took over
        wait(lambda: seen.resyncs == 2)
        publisher.close()
        entries = redis_server.client().xrange("paperfs:changes")
        assert [fields[b"op"].decode() for _id, fields in entries] == [RESYNC]
    finally:
        follower.stop()
