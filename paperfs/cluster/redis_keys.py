"""The one place that names a tenant's Redis keys and opens its Redis connection.

Every key a deployment writes starts with ``prefix(config)`` ("paperfs:" or
"paperfs:TENANT:"), so deployments sharing one Redis never see each other's
keys, and ``redis-cli --scan --pattern 'paperfs:TENANT:*'`` lists all of one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    import redis

    from paperfs.config import Config

ROOT = "paperfs"


def prefix(config: Config) -> str:
    """"paperfs:" for the default tenant, "paperfs:TENANT:" otherwise."""
    tenant = config.tenant.strip()
    return f"{ROOT}:{tenant}:" if tenant else f"{ROOT}:"


def key(config: Config, *parts: object) -> str:
    """The tenant's key made of ``parts``: key(c, "job", "42", "deliveries") = "paperfs:T:job:42:deliveries"."""
    return prefix(config) + ":".join(str(part) for part in parts)


def redis_client(config: Config) -> redis.Redis:
    """A client of the deployment's Redis (config.queue); short timeouts so an outage is noticed, not waited out."""
    import redis  # only the split deployment needs it

    if not config.queue:
        raise ValueError("no queue configured: the split deployment needs queue: redis://HOST:PORT/DB")
    return redis.Redis.from_url(config.queue, socket_timeout=5, socket_connect_timeout=5,
                                health_check_interval=30)


def redacted_url(url: str) -> str:
    """``url`` without its password, for logs and status: redis://:secret@h:6379/0 -> redis://:***@h:6379/0."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, parts.fragment))
