"""Two users at once: a household has two users with upload areas on day one.

Each user's /inbox is a folder of its own (``<inbox>/.webdav/<user>/``); the
hand-over of finished uploads walks all of them. These tests have two users upload at
the same time, and one user's upload fail, against a real server.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from types import SimpleNamespace

from paperfs.archive.document import read_sidecar
from paperfs.archive.trash import Trash

from tests.daemon import Daemon
from tests.dav_support import Dav, add_users, init_root, running, trashed_long_ago, wait_for


def upload_note(dav: Dav, user: str, n: int) -> None:
    body = f"{user} note {n}\nfiled for {user}, number {n}\nDate: 0{n}.04.2024\n"
    r = dav.request("PUT", f"/inbox/{user} note {n}.txt", user, body=body)
    assert r.status == 201, (user, n, r.status, r.body[:200])


def test_two_users_upload_at_once_and_each_upload_is_filed(tmp_path):
    """`paperfs run`, alice and bob: both list their folders and upload, interleaved."""
    root, config = init_root(tmp_path, "  inbox_idle_seconds: 0.3\n")
    add_users(root)
    daemon = Daemon(root, tmp_path / "daemon.log").start()
    dav = Dav(root, config, SimpleNamespace(port=config.dav.port))
    try:
        assert wait_for(lambda: dav.answers(), 30), daemon.log()
        # both open their folders first, as a file manager does (this creates both areas)
        assert dav.names("/", "bob")[0] == "inbox"
        assert dav.names("/inbox/", "bob") == []
        assert dav.names("/inbox/", "alice") == []

        def uploads(user: str) -> None:
            for n in range(1, 4):
                upload_note(dav, user, n)
                dav.names("/inbox/", user)  # listing while the other uploads
                time.sleep(0.05)

        threads = [threading.Thread(target=uploads, args=(u,)) for u in ("alice", "bob")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        daemon.wait_settled(90)

        owners = {}
        for sidecar in root.archive.rglob("*.yml"):
            doc = read_sidecar(sidecar)
            owners[doc.title] = doc.owner
        assert owners == {f"{u} note {n}": u for u in ("alice", "bob") for n in (1, 2, 3)}
        # each sees their own three, nothing is left in either upload area
        for user in ("alice", "bob"):
            assert len(dav.names("/search/note/", user)) == 3
            assert dav.names("/inbox/", user) == []
            assert os.listdir(root.inbox / ".webdav" / user) == []
        assert "housekeeping" not in daemon.log() and "Traceback" not in daemon.log()
    finally:
        assert daemon.stop() == 0


def test_one_users_failing_upload_stops_neither_the_others_nor_trash_expiry(tmp_path, caplog):
    """A failing upload in a pass of the scheduled jobs is logged; the rest of the pass
    (the other uploads, trash expiry) still runs."""
    staged = {}

    def prepare(archive) -> None:
        trashed_long_ago(archive)
        inbox = archive.root.inbox
        for user, rel in (("alice", "first.txt"), ("alice", "Taxes/stuck.txt"),
                          ("alice", "zlast.txt"), ("bob", "bobs.txt")):
            path = inbox / ".webdav" / user / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{user} {rel}\n")
            old = time.time() - 60
            os.utime(path, (old, old))
            staged[f"{user}/{rel}"] = path
        # alice's Taxes/ cannot be made in her consumer inbox: a file is in the way
        (inbox / "alice").mkdir(parents=True, exist_ok=True)
        (inbox / "alice" / "Taxes").write_text("in the way\n")

    caplog.set_level(logging.INFO)
    with running(tmp_path, prepare, extra="  trash_days: 1\n") as dav:
        inbox = dav.root.inbox
        assert wait_for(lambda: (inbox / "bob" / "bobs.txt").exists()), caplog.text
        assert wait_for(lambda: (inbox / "alice" / "first.txt").exists()), caplog.text
        assert wait_for(lambda: (inbox / "alice" / "zlast.txt").exists()), caplog.text
        # the trash was emptied of what expired in the same passes
        assert wait_for(lambda: list(Trash(dav.root).entries()) == []), caplog.text
        # the stuck upload stays in alice's /inbox, and the log says why, once
        time.sleep(1.5)
        assert staged["alice/Taxes/stuck.txt"].exists()
        assert dav.names("/inbox/Taxes/") == ["stuck.txt"]
        reports = [r for r in caplog.records if "stuck.txt" in r.getMessage()
                   and r.levelno >= logging.WARNING]
        assert len(reports) == 1, [r.getMessage() for r in reports]
        assert "Traceback" not in reports[0].getMessage()
        # once the way is clear it goes too
        (inbox / "alice" / "Taxes").unlink()
        assert wait_for(lambda: (inbox / "alice" / "Taxes" / "stuck.txt").exists())
