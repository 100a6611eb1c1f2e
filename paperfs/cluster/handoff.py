"""Hand-off across hosts: a dav replica's changes reach the writer through Redis.

In one machine a ``HandOffWriter`` (paperfs/archive/writer.py) rewrites a
sidecar, or moves a pair into or out of the trash, and the daemon's archive
watcher (inotify) sees the file change and applies it. inotify does not see
what another host writes on a shared filesystem, so in the split deployment
the replica also names each sidecar it touched in the tenant's list
``<prefix>handoff``, and the active scheduler applies them
(``handoff_job``: ``Writer.sidecar_changed`` on each path, as for a hand
edit). The files on the shared tree stay the truth: a notice lost while
Redis was unreachable is applied at the scheduler's next start-up (its tree
sync compares every sidecar with the index).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from paperfs.archive.writer import Change, Check, Edited, HandOffWriter
from paperfs.cluster.redis_keys import key, redis_client
from paperfs.daemon.scheduler import ScheduledJob

if TYPE_CHECKING:
    from paperfs.archive.layout import DataRoot
    from paperfs.archive.writer import Writer
    from paperfs.config import Config
    from paperfs.index.base import FiledLookups

log = logging.getLogger(__name__)

#: how often the scheduler looks for notices (seconds)
HANDOFF_SECONDS = 0.5
#: notices applied per turn of the scheduler's loop
BATCH = 200


def handoff_key(config: "Config") -> str:
    return key(config, "handoff")


class RedisHandOffWriter(HandOffWriter):
    """A ``HandOffWriter`` that also tells the writer which sidecar it touched."""

    def __init__(self, root: "DataRoot", catalog: Callable[[], "FiledLookups"],
                 config: "Config") -> None:
        super().__init__(root, catalog)
        self.list_key = handoff_key(config)
        self.client = redis_client(config)

    def _notify(self, rel: str) -> None:
        try:
            self.client.rpush(self.list_key, rel)
        except Exception as exc:  # noqa: BLE001 - the file is written; the writer's start-up finds it
            log.warning("hand-off: cannot tell the writer about archive/%s.yml (%s); it is "
                        "applied at the scheduler's next start", rel, exc)

    def update(self, doc_id: int, change: Change) -> Edited:
        edited = super().update(doc_id, change)
        self._notify(edited.path)
        return edited

    def put_sidecar(self, rel: str, text: str, check: Check) -> str:
        outcome = super().put_sidecar(rel, text, check)
        self._notify(rel)
        return outcome

    def trash(self, doc_id: int, by: str, check: Check) -> None:
        ref = self.catalog().ref(doc_id)
        super().trash(doc_id, by, check)
        if ref is not None:
            self._notify(ref.path)

    def restore(self, doc_id: int, check: Check, change: Change | None = None) -> str:
        rel = super().restore(doc_id, check, change)
        self._notify(rel)
        return rel


def handoff_job(config: "Config", writer: "Writer", archive_dir: Path) -> ScheduledJob:
    """The scheduler's side: apply the sidecars replicas named (a hand edit each)."""
    client = redis_client(config)
    list_key = handoff_key(config)
    unreachable: list[str] = []

    def apply_notices() -> None:
        try:
            rels = client.lpop(list_key, BATCH) or []
        except Exception as exc:  # noqa: BLE001 - Redis away: the notices wait there
            if not unreachable:
                log.warning("hand-off: cannot read the replicas' notices (%s); tried again", exc)
            unreachable[:] = [str(exc)]
            return
        unreachable.clear()
        for raw in dict.fromkeys(rels):  # one sidecar named twice is applied once
            rel = raw.decode()
            try:
                outcome = writer.sidecar_changed(archive_dir / (rel + ".yml"))
            except Exception:  # noqa: BLE001 - one bad notice must not drop the others
                log.exception("hand-off: applying archive/%s.yml failed", rel)
                continue
            log.debug("hand-off: archive/%s.yml %s", rel, outcome)

    return ScheduledJob("applying changes handed over by dav replicas", HANDOFF_SECONDS,
                        apply_notices)
