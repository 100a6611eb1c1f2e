"""The mail intake in the real daemon (`paperfs run`) against a real dovecot.

The hand-off at the job level (source "mail", the rule's settings, the
record) and what the daemon makes of it: each mail filed once; the retry
test makes every job fail the same way (a timeout no mail can meet). What
the documents of a mail look like: tests/test_mail_e2e.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import yaml

from paperfs.archive.document import read_sidecar
from paperfs.mail.records import RECORDS_NAME, MailRecords
from tests.daemon import Daemon
from tests.dovecot_server import dovecot  # noqa: F401 (fixture)
from tests.redis_server import redis_server  # noqa: F401 (fixture)
from tests.mail_support import TINY_PDF, Parts, mail_root, message

WRONG = "wrong-password-never-shown"


def records(root) -> MailRecords:
    return MailRecords(root.root / RECORDS_NAME)


def cli(root, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "paperfs", "--root", str(root.root), *args],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "BROKEN_IMAP_PASSWORD": WRONG})


def outcome_of_jobs(root) -> list[tuple[str, str]]:
    """(where, source kind or failed source) of every document and failure of the root."""
    out = []
    for sidecar in root.archive.rglob("*.yml"):
        doc = read_sidecar(sidecar)
        out.append(("filed", (doc.source or {}).get("kind")))
    for info in root.failed.glob("*.error.yml"):
        data = yaml.safe_load(info.read_text())
        out.append(("failed", data["source"]))
    return out


def test_mail_to_intake_with_idle_and_a_broken_account(tmp_path, dovecot):
    dovecot.append([message("Invoice 1", attachment=TINY_PDF)])
    root = mail_root(tmp_path, dovecot, """
work:
  - {name: invoices, subject: Invoice, tags: [invoice], action: mark_read}
broken:
  - {name: all}
""", more_accounts=(f"    - {{name: broken, host: 127.0.0.1, port: {dovecot.port}, "
                        "security: none, user: alice, password_env: BROKEN_IMAP_PASSWORD}\n"))
    os.environ["BROKEN_IMAP_PASSWORD"] = WRONG
    daemon = Daemon(root, tmp_path / "daemon.log").start()
    try:
        daemon.wait_for(lambda: any(r.outcome for r in records(root)), 60,
                        "the first mail's outcome")
        [record] = records(root).select(account="work")
        # the mail document and its attachment, nothing failed
        assert outcome_of_jobs(root) == [("filed", "mail"), ("filed", "mail")]
        assert record.outcome == "done" and record.state == "filed"
        assert len(record.documents) == 2
        with dovecot.mailbox() as box:
            box.folder.set("INBOX")
            assert [set(m.flags) for m in box.fetch(mark_seen=False)] == [{"\\Seen"}]
        # IDLE: a new mail is handed over within seconds (the poll interval is 300 s)
        daemon.wait_for(lambda: (daemon.status().get("mail") or {}).get("accounts", {})
                        .get("work", {}).get("idle"), 30, "the account to wait with IDLE")
        sent = time.monotonic()
        dovecot.append([message("Invoice 2", attachment=TINY_PDF)])
        daemon.wait_for(lambda: len(records(root).select(account="work")) == 2, 15,
                        "the new mail to be handed over")
        assert time.monotonic() - sent < 8  # the poll interval is 300 s
        # the broken account: one clear line in status and the log, the password nowhere
        daemon.wait_for(lambda: daemon.status()["mail"]["accounts"]["broken"]["problem"], 30,
                        "the broken account's problem")
        status = cli(root, "status")
        assert status.returncode == 0, status.stderr
        [line] = [l for l in status.stdout.splitlines() if "broken (" in l]
        assert line == (f"mail:        broken (alice@127.0.0.1:{dovecot.port}, none): ERROR: "
                        f"mail account broken: login as alice at 127.0.0.1:{dovecot.port} "
                        "refused: wrong user or password (the server said: authentication "
                        "failed)"), line
        assert "work (alice@" in status.stdout and ": ok, last poll" in status.stdout
        [logged] = [l for l in daemon.log().splitlines() if "mail account broken" in l]
        assert " ERROR paperfs.mail.service: mail account broken: login as alice" in logged
        status_json = cli(root, "status", "--json").stdout
        for text in (status.stdout, status_json, daemon.log(),
                     (root.root / RECORDS_NAME).read_text()):
            assert WRONG not in text and "alice-secret" not in text
    finally:
        assert daemon.stop() == 0
        os.environ.pop("BROKEN_IMAP_PASSWORD", None)


def test_failed_mail_is_retried_then_listed_and_retried_by_hand(tmp_path, dovecot):
    dovecot.append([message("Invoice 1")])
    root = mail_root(tmp_path, dovecot, "work:\n  - {name: all, action: flag}\n",
                     extra="  retries: 1\n  retry_seconds: 1\n  idle: false\n")
    config = (root.root / "paperfs.yml").read_text().replace(
        "  timeout_seconds: 120\n", "  timeout_seconds: 0.001\n")  # every job fails: timeout
    (root.root / "paperfs.yml").write_text(config)
    daemon = Daemon(root, tmp_path / "daemon.log").start()
    try:
        daemon.wait_for(lambda: cli(root, "mail", "failed", "--json").stdout.strip() not in
                        ("", "[]"), 90, "the mail to fail twice")
        [row] = json.loads(cli(root, "mail", "failed", "--json").stdout)
        assert row["failures"] == 2 and row["reason"] == "timeout", row
        assert row["message"] == ("processing took longer than consume.timeout_seconds=0.001; "
                                  "raise the limit for very large scans"), row
        assert row["file"] == "failed/Invoice 1.eml" and (root.failed / "Invoice 1.eml").is_file()
        status = cli(root, "status").stdout
        assert f"failed mail {row['record']}: {row['reason']}:" in status, status
        out = cli(root, "mail", "retry")
        assert out.stdout == f"handed over again: {row['record']}\n", out.stdout + out.stderr
        daemon.wait_for(lambda: records(root).get(row["record"]).failures == 1
                        and records(root).get(row["record"]).outcome == "failed", 60,
                        "the retried mail to fail again")
        assert len(records(root).select(account="work")) == 1  # one mail, one record
    finally:
        assert daemon.stop() == 0
    # the server was acted on once
    with dovecot.mailbox() as box:
        box.folder.set("INBOX")
        assert [set(m.flags) for m in box.fetch(mark_seen=False)] == [{"\\Flagged"}]


#: the real daemon (`paperfs run`), killed with SIGKILL (itself and its workers) at the
#: instant its first mail was handed over and recorded, before the action on the server
KILLED_AT_ACTION = """
import os, signal, sys
import paperfs.mail.poll
paperfs.mail.poll.AccountPoller.act = lambda *a: os.killpg(0, signal.SIGKILL)
from paperfs.cli import main
sys.argv = ["paperfs", "--root", {root!r}, "run"]
main()
"""


def test_kill_9_between_handoff_and_action(tmp_path, dovecot):
    """The daemon killed after the hand-off, before the action: the next start does the
    action, and the mail is consumed once."""
    dovecot.append([message("Invoice 1"), message("Invoice 2")])
    root = mail_root(tmp_path, dovecot, "work:\n  - {name: all, action: move, "
                                        "move_to: Done}\n", extra="  idle: false\n")
    killed = subprocess.run([sys.executable, "-c", KILLED_AT_ACTION.format(root=str(root.root))],
                            capture_output=True, text=True, timeout=60, start_new_session=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    [record] = records(root)
    assert not record.acted
    # handed over: still in the hand-off folder, or claimed into the work queue
    assert [h.key for h in Parts(root).handoff.ready()] in ([record.key], [])
    daemon = Daemon(root, tmp_path / "daemon.log").start()
    try:
        daemon.wait_for(lambda: all(r.outcome for r in records(root))
                        and len(list(records(root))) == 2, 60, "both mails consumed")
    finally:
        assert daemon.stop() == 0
    handed = list(records(root))
    assert len(handed) == 2 and all(r.acted for r in handed)
    # each mail once: its mail document (it has no attachment)
    assert outcome_of_jobs(root) == [("filed", "mail"), ("filed", "mail")]
    assert [r.state for r in handed] == ["filed", "filed"]
    with dovecot.mailbox() as box:
        box.folder.set("INBOX")
        assert box.uids() == []
        box.folder.set("Done")
        assert sorted(m.subject for m in box.fetch(mark_seen=False)) == ["Invoice 1", "Invoice 2"]


def test_split_deployment_only_the_active_scheduler_takes_mail(tmp_path, dovecot, redis_server):
    """Two `paperfs scheduler`s: the active one polls and hands the mail to the queue's
    intake (a job in the work queue; no worker runs), the standby never polls."""
    from tests.cluster_services import start, wait_for

    dovecot.append([message("Invoice 1")])
    root = mail_root(tmp_path, dovecot, "work:\n  - {name: all, action: mark_read}\n",
                     extra="  idle: false\n")
    with open(root.root / "paperfs.yml", "a") as config:
        config.write(f"queue: {redis_server.url}\ntenant: mail\n"
                     "cluster:\n  leader_lease_seconds: 3\n")
    schedulers = [start(root, f"scheduler{i}", "scheduler") for i in range(2)]
    try:
        wait_for(lambda: records(root).select(account="work"), 60, "the mail handed over",
                 schedulers)
        wait_for(lambda: [f for f in root.work.iterdir() if (f / "job.yml").exists()
                          and any(f.glob("input*"))], 30, "the mail claimed", schedulers)
        [job] = [yaml.safe_load((folder / "job.yml").read_text())
                 for folder in root.work.iterdir()]
        [record] = records(root)
        assert job["source"] == "mail" and job["filename"] == "Invoice 1.eml"
        assert job["settings"]["mail"]["record"] == record.key
        polling = [s for s in schedulers if "mail: 1 account(s)" in s.log()]
        assert len(polling) == 1, [s.log()[-2000:] for s in schedulers]
    finally:
        for scheduler in schedulers:
            scheduler.kill()


def test_the_daemon_stops_at_once_with_idle_and_a_hung_server(tmp_path, dovecot):
    """One account waits with IDLE, two others are stuck on servers that accepted the
    connection and never answer (timeout_seconds: 60): the working account is not held
    up, and SIGTERM stops `paperfs run` within seconds, not after the timeouts."""
    import socket
    import threading

    listeners = [socket.create_server(("127.0.0.1", 0)) for _ in range(2)]
    held: list[socket.socket] = []
    for listener in listeners:
        threading.Thread(target=lambda l=listener: held.append(l.accept()[0]),
                         daemon=True).start()
    stuck = "".join(
        f"    - {{name: stuck{i}, host: 127.0.0.1, port: {l.getsockname()[1]}, "
        f"security: none, user: alice, password_file: {tmp_path / 'imap-password'}, "
        "timeout_seconds: 60}\n" for i, l in enumerate(listeners))
    root = mail_root(tmp_path, dovecot, "work:\n  - {name: all}\n", more_accounts=stuck)
    daemon = Daemon(root, tmp_path / "daemon.log").start()
    try:
        daemon.wait_for(lambda: (daemon.status().get("mail") or {}).get("accounts", {})
                        .get("work", {}).get("idle"), 30, "the account to wait with IDLE")
        daemon.wait_for(lambda: len(held) == 2, 10, "both stuck connections")
        accounts = daemon.status()["mail"]["accounts"]
        assert [accounts[f"stuck{i}"]["state"] for i in range(2)] == ["starting"] * 2
        started = time.monotonic()
        assert daemon.stop() == 0
        assert time.monotonic() - started < 8, daemon.log()[-2000:]
    finally:
        if daemon.proc.poll() is None:
            daemon.kill()
        for sock in [*listeners, *held]:
            sock.close()
