"""The daemon's scheduled upkeep of a data root, through its writer.

* index maintenance (SqliteIndex: the champion lists are rebuilt once the
  archive has grown by a tenth), while nothing waits to be consumed;
* trash expiry: documents trashed more than ``dav.trash_days`` ago are
  deleted for good, with their original.

Next here: classifier training, sanity checks (``paperfs check --quick``).
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from paperfs.archive.writer import Writer
from paperfs.daemon.scheduler import ScheduledJob
from paperfs.errors import StorageError

log = logging.getLogger(__name__)

#: how often (seconds) the idle daemon asks the index whether it needs housekeeping
MAINTAIN_SECONDS = 60.0
#: how often (seconds) the trash is checked for expired documents
TRASH_SECONDS = 600.0


def index_maintenance(writer: Writer, when: Callable[[], bool]) -> ScheduledJob:
    def maintain() -> None:
        started = time.monotonic()
        try:
            writer.maintain_index()
        except StorageError as problem:
            log.warning("index housekeeping skipped: %s", problem)
        except Exception:  # noqa: BLE001 - searches still work without it
            log.exception("index housekeeping failed; searches stay correct, maybe slower")
        took = time.monotonic() - started
        if took >= 1.0:
            log.info("index housekeeping took %.1f s", took)

    return ScheduledJob("maintaining the index", MAINTAIN_SECONDS, maintain, when)


def trash_expiry(writer: Writer, days: float) -> ScheduledJob:
    def expire() -> None:
        expired = writer.expire_trash(days)
        if expired:
            log.info("trash: deleted %d expired document(s) for good", expired)

    return ScheduledJob("expiring the trash", TRASH_SECONDS, expire)
