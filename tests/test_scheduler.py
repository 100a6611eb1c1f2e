"""The scheduled jobs: when a job runs, and which process runs which job.

``paperfs run`` (the daemon) expires the trash and hands WebDAV uploads over;
``paperfs dav`` alone hands its own uploads over and expires nothing.
"""

from __future__ import annotations

import threading
import time

import pytest

from paperfs.archive.trash import Trash
from paperfs.daemon.scheduler import ScheduledJob, Scheduler
from paperfs.daemon.service import Daemon, serve_webdav
from paperfs.runtime import Runtime

from tests.dav_support import Dav, add_users, init_root, trashed_long_ago, wait_for


# ---------------------------------------------------------------- the scheduler


def test_a_job_runs_on_the_first_pass_then_every_so_often(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    runs = {"often": 0, "rarely": 0}
    scheduler = Scheduler([
        ScheduledJob("often", 1.0, lambda: runs.__setitem__("often", runs["often"] + 1)),
        ScheduledJob("rarely", 600.0, lambda: runs.__setitem__("rarely", runs["rarely"] + 1)),
    ])
    scheduler.run_due()
    assert runs == {"often": 1, "rarely": 1}
    clock[0] += 0.5
    scheduler.run_due()
    assert runs == {"often": 1, "rarely": 1}
    clock[0] += 0.5
    scheduler.run_due()
    assert runs == {"often": 2, "rarely": 1}
    clock[0] += 600
    scheduler.run_due()
    assert runs == {"often": 3, "rarely": 2}


def test_a_job_waits_while_it_may_not_run():
    allowed = [False]
    runs = []
    scheduler = Scheduler([ScheduledJob("upkeep", 60.0, lambda: runs.append(1),
                                        when=lambda: allowed[0])])
    scheduler.run_due()
    assert runs == []
    allowed[0] = True
    scheduler.run_due()  # still due: it did not run
    assert runs == [1]


def test_a_failing_job_is_logged_and_the_others_still_run(caplog):
    runs = []

    def broken() -> None:
        raise RuntimeError("no luck")

    scheduler = Scheduler([ScheduledJob("first", 1.0, broken),
                           ScheduledJob("second", 1.0, lambda: runs.append("second"))])
    scheduler.run_due()
    assert runs == ["second"]
    assert "scheduled job: first failed" in caplog.text and "no luck" in caplog.text


def test_the_background_passes_stop_with_the_scheduler():
    ran = threading.Event()
    scheduler = Scheduler([ScheduledJob("tick", 0.05, ran.set)])
    scheduler.start()
    try:
        assert ran.wait(5)
    finally:
        scheduler.stop()
    ran.clear()
    time.sleep(0.2)
    assert not ran.is_set()


# ---------------------------------------------------------------- who runs what


@pytest.fixture
def expired_trash(tmp_path):
    """A data root with users and one document in the trash, long expired."""
    root, config = init_root(tmp_path)
    add_users(root)
    runtime = Runtime(config)
    with runtime.archive() as archive:
        trashed_long_ago(archive)
    assert [e.id for e in Trash(root).entries()] == [1]
    return root, config


def test_webdav_alone_hands_uploads_over_and_expires_no_trash(expired_trash):
    root, config = expired_trash
    stopping = threading.Event()
    runtime = Runtime(config)
    server = threading.Thread(target=serve_webdav, args=(runtime, stopping), daemon=True)
    server.start()
    try:
        dav = Dav(root, config, type("Bound", (), {"port": config.dav.port})())
        assert wait_for(lambda: dav.answers()), "the server did not start"
        assert dav.request("PUT", "/inbox/note.txt", body="a note\n").status == 201
        assert wait_for(lambda: (root.inbox / "alice" / "note.txt").exists())
        # several passes of its jobs later, the trash is as it was
        time.sleep(1.5)
        assert [e.id for e in Trash(root).entries()] == [1]
    finally:
        stopping.set()
        server.join(30)
    assert not server.is_alive()


def test_the_daemon_expires_the_trash(expired_trash):
    root, config = expired_trash
    daemon = Daemon(Runtime(config), serial=True)
    ready = threading.Event()
    loop = threading.Thread(target=daemon.run, daemon=True,
                            kwargs={"notify": lambda s: s == "READY=1" and ready.set()})
    loop.start()
    try:
        assert ready.wait(60), "the daemon did not get ready"
        assert wait_for(lambda: list(Trash(root).entries()) == [])
    finally:
        daemon.stop()
        loop.join(30)
    assert not loop.is_alive()

