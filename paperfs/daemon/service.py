"""What runs in a paperfs process that serves: the daemon, or WebDAV alone.

``paperfs run`` (``Daemon``): the consumer, whose loop runs the inbox watcher,
the writer and the scheduled jobs (index maintenance and trash expiry,
paperfs/daemon/housekeeping.py), and the WebDAV server when ``dav.enabled``,
whose finished uploads the loop hands over too (paperfs/daemon/intake.py).
``paperfs scheduler`` runs the same Daemon without WebDAV, once it is the
active one (paperfs/cluster/scheduler_service.py).

``paperfs dav`` (``serve_webdav``): the WebDAV server beside a daemon that
applies its changes. It runs one job, the hand-over of its own uploads (only
this process knows the uploads in progress and the locks held); the trash is
expired and the index maintained by the daemon, as every other change.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Callable

from paperfs.daemon.consumer import Consumer, Result
from paperfs.daemon.intake import UPLOADS_SECONDS, webdav_uploads
from paperfs.daemon.scheduler import ScheduledJob, Scheduler
from paperfs.runtime import Runtime

if TYPE_CHECKING:
    from paperfs.dav.server import DavServer

log = logging.getLogger(__name__)


class Daemon:
    """``paperfs run`` on one data root, until ``stop()`` (SIGTERM/SIGINT)."""

    def __init__(self, runtime: Runtime, *, serial: bool = False, webdav: bool = True,
                 on_result: Callable[[Result], None] | None = None) -> None:
        self.runtime = runtime
        self.consumer = Consumer(runtime, serial=serial, on_result=on_result)
        #: False for `paperfs scheduler`: WebDAV is `paperfs dav`'s there
        self.webdav = webdav
        self.dav: DavServer | None = None
        #: the IMAP accounts (paperfs/mail/service.py), when paperfs.yml names any
        self.mail: Any = None

    def run(self, notify: Callable[[str], None] = lambda s: None) -> None:
        """Open, serve until stop(), close."""
        self.consumer.open()
        try:
            if self.webdav and self.runtime.config.dav.enabled:
                from paperfs.dav.server import DavServer

                self.dav = DavServer(self.runtime, self.runtime.writer)
                self.dav.start()  # binds now: a busy port or bad TLS files is one clear error
                self.consumer.scheduler.add(self._uploads_job(self.dav))
            if self.runtime.config.queue:
                # dav replicas on other hosts name the sidecars they changed in Redis
                from paperfs.cluster.handoff import handoff_job

                assert self.runtime.writer is not None
                self.consumer.scheduler.add(handoff_job(
                    self.runtime.config, self.runtime.writer, self.runtime.root.archive))
            if self.runtime.config.mail.accounts:
                from paperfs.mail.service import MailService

                self.mail = MailService(self.runtime, self.consumer)
                self.mail.start()
            self.consumer.run(notify=notify)
        finally:
            if self.mail is not None:
                self.mail.stop()
            if self.dav is not None:
                self.dav.stop()
            self.consumer.close()

    def _uploads_job(self, server: "DavServer") -> ScheduledJob:
        """The hand-over of finished /inbox uploads (intake.webdav_uploads), whose files
        are remembered: their documents are recorded as from WebDAV (``source.kind``),
        which workflows filter on."""
        services = server.services

        def hand_over() -> None:
            moved = services.uploads.release(services.lock_manager, services.prop_manager)
            if moved and self.consumer.workflows is not None:
                self.consumer.workflows.from_webdav(moved)

        return ScheduledJob("handing over /inbox uploads", UPLOADS_SECONDS, hand_over)

    def stop(self) -> None:
        self.consumer.stop()


def serve_webdav(runtime: Runtime, stopping: threading.Event, *, host: str | None = None,
                 port: int | None = None) -> None:
    """``paperfs dav``: WebDAV alone, until ``stopping`` is set."""
    from paperfs.dav.server import DavServer

    if runtime.config.queue:  # a replica of the split deployment
        from paperfs.cluster.dav_replica import serve_replica

        serve_replica(runtime, stopping, host=host, port=port)
        return
    server = DavServer(runtime, None, host=host, port=port)
    scheduler = Scheduler([webdav_uploads(server)])
    try:
        server.start()
        scheduler.start()
        while not stopping.wait(1.0):
            pass
    finally:
        scheduler.stop()
        server.stop()
