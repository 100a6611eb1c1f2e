"""After a stop or a crash: complete what was interrupted, then bring the index in step.

Every multi-step change of the writer is ordered so that a crash at any
instant leaves a state this completes (paperfs/archive/store.py): temp files
of unfinished writes are removed, journaled pair moves are finished, and the
index is brought in step with the tree (sidecars edited, moved or deleted
while no writer ran).
"""

from __future__ import annotations

import logging

from paperfs.archive.atomic import remove_stale_temps
from paperfs.archive.store import Archive
from paperfs.archive.treesync import sync
from paperfs.archive.versions import finish_interrupted_edits

log = logging.getLogger(__name__)


def finish_interrupted(archive: Archive) -> int:
    """Remove temp files of unfinished writes, finish interrupted pair moves and
    complete or roll back interrupted page edits; returns how many were finished."""
    for folder in (archive.root.archive, archive.root.originals, archive.root.failed,
                   archive.root.versions):
        if folder.is_dir():
            remove_stale_temps(folder)
    return archive.replay_journal() + finish_interrupted_edits(archive)


def recover(archive: Archive) -> None:
    """Bring the tree and the index to a consistent state after a stop or a crash."""
    moved = finish_interrupted(archive)
    if moved:
        log.info("completed %d interrupted move(s)", moved)
    report = sync(archive)
    if report.indexed or report.removed:
        log.info("archive changed while stopped: %d indexed, %d removed",
                 report.indexed, report.removed)
