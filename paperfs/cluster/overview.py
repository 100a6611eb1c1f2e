"""The cluster as `paperfs status` and the metrics see it: services, the active
scheduler, the queue; or what keeps Redis from answering.

Queue depth and in-flight jobs are read from the broker's own keys (kombu's
Redis transport under the tenant's ``global_keyprefix``): the queue list (and
its priority lists) holds the jobs no worker took yet, the ``unacked`` hash
those a worker took and has not acknowledged (late acknowledgement: until it
ends), on whatever host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from paperfs.cluster.celery_app import queue_name
from paperfs.cluster.leadership import current_holder
from paperfs.cluster.redis_keys import prefix, redacted_url, redis_client
from paperfs.cluster.services import list_services

if TYPE_CHECKING:
    import redis

    from paperfs.config import Config

#: kombu's Redis transport: a queue with priorities is one list per step; these are its
#: default steps, the list of step 0 being the queue's name itself
PRIORITY_STEPS = (0, 3, 6, 9)
#: kombu's separator between a queue's name and its priority step
PRIORITY_SEPARATOR = "\x06\x16"


def queue_counts(client: "redis.Redis", config: Config) -> dict[str, int]:
    """Jobs waiting for a worker and jobs a worker holds, across every host."""
    base = prefix(config) + queue_name(config)
    lists = [base] + [f"{base}{PRIORITY_SEPARATOR}{step}" for step in PRIORITY_STEPS[1:]]
    with client.pipeline() as pipe:
        for name in lists:
            pipe.llen(name)
        pipe.hlen(prefix(config) + "unacked")
        *depths, unacked = pipe.execute()
    return {"depth": sum(depths), "in_flight": unacked}


def cluster_status(config: Config, client: "redis.Redis | None" = None) -> dict[str, Any]:
    """Everything Redis knows of the deployment, or ``problem`` saying why it cannot tell."""
    import redis

    where = redacted_url(config.queue)
    try:
        client = client or redis_client(config)
        holder = current_holder(client, config)
        return {"redis": where, "problem": None,
                "leader": holder.__dict__ if holder else None,
                "services": [s.as_dict() for s in list_services(client, config)],
                "queue": queue_counts(client, config)}
    except redis.RedisError as exc:
        return {"redis": where, "problem": f"Redis unreachable at {where}: {exc}",
                "leader": None, "services": [], "queue": None}


def describe(cluster: dict[str, Any]) -> list[str]:
    """``cluster_status`` as the lines of `paperfs status`."""
    lines = [f"redis:       {cluster['redis']}"]
    if cluster["problem"]:
        return lines + [f"  PROBLEM: {cluster['problem']}; the services keep their work on "
                        "disk and go on when it is back"]
    leader = cluster["leader"]
    lines.append("scheduler:   " + (f"active on {leader['host']} pid {leader['pid']} since "
                                    f"{leader['since']}" if leader else "NONE ACTIVE"))
    queue = cluster["queue"]
    lines.append(f"queue:       {queue['depth']} job(s) waiting for a worker, "
                 f"{queue['in_flight']} held by workers")
    lines.append(f"services:    {len(cluster['services'])}")
    for service in cluster["services"]:
        stale = f"  STALE: no heartbeat for {service['age']:.0f} s" if service["stale"] else ""
        detail = f" ({service['detail']})" if service["detail"] else ""
        lines.append(f"  {service['role']:<9} {service['host']} pid {service['pid']}: "
                     f"{service['state']}{detail}, last heartbeat {service['heartbeat']}{stale}")
    return lines
