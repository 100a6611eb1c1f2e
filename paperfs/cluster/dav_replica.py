"""`paperfs dav` in the split deployment: one of any number of replicas behind a load balancer.

What differs from `paperfs dav` beside a daemon (paperfs/daemon/service.py):

* its catalog is a local copy that follows the writer (replica_catalog.py);
* its WebDAV locks are in Redis (dav_locks.py), shared with every replica;
* its changes reach the writer on whatever host through Redis (handoff.py);
* it answers /healthz, /readyz and /metrics before authentication
  (health.py) and records itself in the service registry (services.py).

Uploads to /inbox land in the shared inbox as always (the staging folder is
per replica's user and upload, on the shared tree) and are handed over by the
replica that received them; the scheduler's inbox watcher polls, since it
cannot see another host's writes.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import TYPE_CHECKING

from paperfs.cluster.dav_locks import LockRequests, LocksUnavailable
from paperfs.cluster.health import endpoints_app
from paperfs.cluster.replica_catalog import ReplicaCatalog
from paperfs.cluster.services import register
from paperfs.daemon.intake import webdav_uploads
from paperfs.daemon.scheduler import ScheduledJob, Scheduler

if TYPE_CHECKING:
    from paperfs.dav.server import DavServer
    from paperfs.runtime import Runtime

log = logging.getLogger(__name__)


def _uploads_job(server: "DavServer") -> ScheduledJob:
    """The hand-over of finished uploads, which waits quietly while Redis (the locks
    it must check) is unreachable: dav_locks has said so once."""
    job = webdav_uploads(server)

    def hand_over() -> None:
        try:
            job.run()
        except LocksUnavailable:
            pass

    return dataclasses.replace(job, run=hand_over)


def serve_replica(runtime: "Runtime", stopping: threading.Event, *, host: str | None = None,
                  port: int | None = None) -> None:
    """Serve WebDAV until ``stopping`` is set."""
    from paperfs.dav.server import DavServer

    config = runtime.config
    catalog = ReplicaCatalog(runtime)
    catalog.start()  # a clear error first if the configuration cannot serve a replica
    server = None
    registration = None
    scheduler = Scheduler([])
    try:
        server = DavServer(runtime, None, catalog.readers, host=host, port=port)

        def own_readiness() -> tuple[list[str], str]:
            problem = catalog.problem
            if problem:
                return [f"the local catalog may be behind the writer: {problem}"], "behind"
            return [], "following the writer"

        storage = server.dav_app.lock_manager.storage  # dav_locks.TenantLockStorage
        server.mount_in_front(lambda app: endpoints_app(
            config, own_readiness, fallback=LockRequests(app, storage)))
        server.start()
        scheduler = Scheduler([_uploads_job(server)])
        scheduler.start()
        registration = register(config, "dav", detail=server.url)
        while not stopping.wait(1.0):
            pass
    finally:
        if registration is not None:
            registration.close()
        scheduler.stop()
        if server is not None:
            server.stop()
        catalog.close()
