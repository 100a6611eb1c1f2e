"""WebDAV locks in a real Redis under the tenant's prefix; what happens while Redis is away."""

from __future__ import annotations

import pytest
from wsgidav.lock_man.lock_manager import LockManager

from paperfs.cluster.dav_locks import LocksUnavailable, TenantLockStorage
from paperfs.config import load_config
from tests.redis_server import redis_server  # noqa: F401 (fixture)


def lock_on(manager: LockManager, url: str, depth: str = "infinity") -> str:
    lock = manager.acquire(url=url, lock_type="write", lock_scope="exclusive", lock_depth=depth,
                           lock_owner=b"", timeout=60, principal="alice", token_list=[])
    return lock["token"]


def test_locks_are_prefixed_found_under_odd_names_and_fail_closed_for_changes(
        tmp_path, redis_server):  # noqa: F811 - the fixture
    config = load_config(None, environ={"PAPERFS_QUEUE": redis_server.url,
                                        "PAPERFS_TENANT": "lk", "PAPERFS_DATA_ROOT": str(tmp_path)})
    storage = TenantLockStorage(config)
    manager = LockManager(storage)
    odd = lock_on(manager, "/inbox/a[1]*.pdf", depth="0")
    plain = lock_on(manager, "/inbox/b.pdf", depth="0")
    assert all(k.startswith("paperfs:lk:dav:") for k in redis_server.keys())
    below = storage.get_lock_list("/inbox", include_root=False, include_children=True,
                                  token_only=True)
    assert sorted(below) == sorted([odd, plain])
    assert storage.get_lock_list("/inbox/a[1]*.pdf", include_root=True, include_children=False,
                                 token_only=True) == [odd]
    # a glob character in a name matches only itself
    assert storage.get_lock_list("/inbox/a[1]", include_root=False, include_children=True,
                                 token_only=True) == []

    redis_server.stop()
    storage.request.method = "PROPFIND"  # reading: as if nothing were locked
    assert manager.get_url_lock_list("/inbox/b.pdf") == []
    storage.request.method = "DELETE"  # a change must not pass a lock it cannot see
    with pytest.raises(LocksUnavailable):
        manager.check_write_permission(url="/inbox/b.pdf", depth="0", token_list=[],
                                       principal="bob")
