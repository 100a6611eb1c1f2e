"""WebDAV locks shared through Redis: two `paperfs dav` replicas agree on a LOCK.

wsgidav ships a Redis lock storage (``LockStorageRedis``); it names its keys
``wsgidav-…`` and connects by host and port. This subclass puts every key
under the tenant's prefix (``paperfs:TENANT:dav:lock:<token>``,
``paperfs:TENANT:dav:URL2TOKEN:<path>``) and connects through
``redis_client`` (the ``queue`` URL: password, TLS, database). A lock's key
expires with the lock, so a replica that dies leaves nothing behind for
longer than the lock's timeout. Only the split deployment imports this
module (paperfs/dav/server.py: ``lock_storage``).

With Redis unreachable, reading requests (GET, PROPFIND, …) are answered as
if nothing were locked — lockdiscovery is only information, and a replica
keeps serving what its catalog knows — while every request that changes
something, LOCK and UNLOCK get 503 with Retry-After: a change must never
pass a lock this replica cannot see (``LockRequests`` tells the storage
which kind of request its thread serves).
"""

from __future__ import annotations

import logging
import pickle
import re
import threading
from typing import TYPE_CHECKING, Any, Callable, Iterable

import redis
from wsgidav.dav_error import DAVError
from wsgidav.lock_man.lock_manager import normalize_lock_root
from wsgidav.lock_man.lock_storage_redis import LockStorageRedis

from paperfs.cluster.redis_keys import key, redis_client

if TYPE_CHECKING:
    from paperfs.config import Config

log = logging.getLogger(__name__)

READING = frozenset({"GET", "HEAD", "PROPFIND", "OPTIONS"})
RETRY_AFTER = "10"
#: what SCAN's MATCH pattern would read as a wildcard in a path
_GLOB = re.compile(r"[*?\[\]\\]")


class LocksUnavailable(DAVError):
    """503: the lock storage (Redis) cannot be reached; a change must wait."""

    def __init__(self) -> None:
        super().__init__(503, "WebDAV locks are unavailable (Redis unreachable); try again",
                         add_headers=[("Retry-After", RETRY_AFTER)])


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
        #: the method of the request this thread serves (set by LockRequests)
        self.request = threading.local()
        self._warned = False

    def __repr__(self) -> str:
        return f"TenantLockStorage({self._redis_prefix.format('*')})"

    def open(self) -> None:
        self._redis = redis_client(self.config)

    def _unreachable(self, exc: redis.RedisError, reading_answer: Any) -> Any:
        if not self._warned:
            log.warning("WebDAV locks: Redis unreachable (%s); changes get 503 until it is back",
                        exc)
            self._warned = True
        if getattr(self.request, "method", None) in READING:
            return reading_answer
        raise LocksUnavailable() from None

    def _guarded(self, call: Callable[[], Any], reading_answer: Any = None) -> Any:
        try:
            answer = call()
        except redis.RedisError as exc:
            return self._unreachable(exc, reading_answer)
        self._warned = False
        return answer

    def get(self, token):  # noqa: ANN001, ANN201 - wsgidav's signature
        return self._guarded(lambda: super(TenantLockStorage, self).get(token))

    def create(self, path, lock):  # noqa: ANN001, ANN201
        return self._guarded(lambda: super(TenantLockStorage, self).create(path, lock))

    def refresh(self, token, *, timeout):  # noqa: ANN001, ANN201
        return self._guarded(lambda: super(TenantLockStorage, self).refresh(
            token, timeout=timeout))

    def delete(self, token):  # noqa: ANN001, ANN201
        return self._guarded(lambda: super(TenantLockStorage, self).delete(token), False)

    def get_lock_list(self, path, *, include_root, include_children,  # noqa: ANN001, ANN201
                      token_only):
        return self._guarded(lambda: self._lock_list(
            path, include_root=include_root, include_children=include_children,
            token_only=token_only), [])

    def _lock_list(self, path: str, *, include_root: bool, include_children: bool,
                   token_only: bool) -> list:
        """wsgidav's ``get_lock_list`` with SCAN instead of KEYS for the children (KEYS
        blocks a Redis that every tenant shares) and the path's glob characters escaped."""
        root_key = self._redis_url2token_prefix.format(normalize_lock_root(path))
        keys = [root_key] if include_root else []
        if include_children:
            pattern = _GLOB.sub(r"\\\g<0>", root_key.rstrip("/")) + "/*"
            keys += [k.decode() for k in self._redis.scan_iter(match=pattern, count=1000)]
        locks = []
        for list_key in keys:
            for token in self._redis.lrange(list_key, 0, -1):
                stored = self._redis.get(self._redis_lock_prefix.format(token.decode()))
                if stored:
                    lock = pickle.loads(stored)  # noqa: S301 - written by this storage only
                    locks.append(lock["token"] if token_only else lock)
        return locks


class LockRequests:
    """WSGI middleware: tells the lock storage which method this thread serves."""

    def __init__(self, app: Callable, storage: TenantLockStorage) -> None:
        self.app = app
        self.storage = storage

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        self.storage.request.method = environ.get("REQUEST_METHOD")
        return self.app(environ, start_response)
