"""Intake sources besides the watched inbox folders (consume/watcher.py).

* ``paperfs consume`` beside a running daemon hands its files over: a copy
  into the inbox, which the daemon's watcher takes like any other file.
* WebDAV uploads wait in per-user upload areas until they are finished
  (paperfs/dav/inbox.py); the hand-over that moves them into the inbox is a
  job of the process that serves WebDAV, since only it knows the uploads in
  progress and the locks held.
* mail: IMAP accounts hand each mail over as one .eml with its rule's settings
  (paperfs/mail/: polled on threads of their own, claimed on the consumer's thread).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from paperfs.archive.atomic import atomic_copy, unused_path
from paperfs.archive.layout import DataRoot
from paperfs.archive.storage import storage_errors
from paperfs.daemon.scheduler import ScheduledJob

if TYPE_CHECKING:
    from paperfs.dav.server import DavServer

#: how often finished WebDAV uploads are handed over (seconds)
UPLOADS_SECONDS = 1.0


def hand_off_to_inbox(root: DataRoot, files: Iterable[Path]) -> list[Path]:
    """Give files to a running daemon: copy each into the inbox atomically.

    The copy is made under an ignored temporary name and renamed, so the
    watcher never sees a half-written file.
    """
    out = []
    for path in files:
        target = unused_path(root.inbox, path.name)
        with storage_errors():
            atomic_copy(path, target)
        out.append(target)
    return out


def webdav_uploads(server: "DavServer") -> ScheduledJob:
    """The hand-over of finished /inbox uploads of ``server`` to the consumer."""
    return ScheduledJob("handing over /inbox uploads", UPLOADS_SECONDS,
                        server.release_uploads)
