"""WebDAV locks shared through Redis: two `paperfs dav` replicas agree on a LOCK.

wsgidav ships a Redis lock storage (``LockStorageRedis``); it names its keys
``wsgidav-…`` and connects by host and port. This subclass puts every key
under the tenant's prefix (``paperfs:TENANT:dav:lock:<token>``,
``paperfs:TENANT:dav:URL2TOKEN:<path>``) and connects through
``redis_client`` (the ``queue`` URL: password, TLS, database). A lock's key
expires with the lock, so a replica that dies leaves nothing behind for
longer than the lock's timeout. Only the split deployment imports this
module (paperfs/dav/server.py: ``lock_storage``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wsgidav.lock_man.lock_storage_redis import LockStorageRedis

from paperfs.cluster.redis_keys import key, redis_client

if TYPE_CHECKING:
    from paperfs.config import Config


class TenantLockStorage(LockStorageRedis):
    """wsgidav's Redis lock storage under the tenant's key prefix."""

    def __init__(self, config: "Config") -> None:
        super().__init__()
        self.config = config
        # wsgidav formats these with the token or path; the prefix has no braces
        # (a tenant name is letters, digits, '-' and '_')
        self._redis_prefix = key(config, "dav", "{}")
        self._redis_lock_prefix = self._redis_prefix.format("lock:{}")
        self._redis_url2token_prefix = self._redis_prefix.format("URL2TOKEN:{}")

    def __repr__(self) -> str:
        return f"TenantLockStorage({self._redis_prefix.format('*')})"

    def open(self) -> None:
        self._redis = redis_client(self.config)
