"""Mail intake benchmarks against a real dovecot on 127.0.0.1 (tests/dovecot_server.py).
Run: .venv/bin/python -m benchmarks mail [idle|new] [--mails N] [--new N] [--polls N]

idle  a folder of N already-processed mails (default 10,000) and no new one: seconds
      per poll (SEARCH, set difference in memory; no body fetched), target ≤ 2 s
new   N new mails (default 200) with a PDF attachment each: seconds until all are
      handed to the intake (fetched, recorded, hand-off files, action on the server)
      and claimed into the work queue, mails/s; target ≤ 30 s for 200

The 10,000 mails are written straight into the maildir (dovecot's maildir is plain
files; its APPEND rate is measured and printed beside it); the 200 are APPENDed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from paperfs.consume.jobs import WorkQueue
from paperfs.mail.accounts import connect
from paperfs.mail.poll import AccountPoller, uidvalidity_of
from paperfs.mail.records import RECORDS_NAME, MailRecords, record_key
from tests.dovecot_server import DovecotServer
from tests.mail_support import Parts, mail_root, message

IDLE_TARGET = 2.0
NEW_TARGET = 30.0
PDF_PAGE = (Path(__file__).resolve().parents[1] / "tests" / "corpus")


def _pdf() -> bytes:
    """A real one-page PDF of some 10-50 KB (the corpus's smallest), else a tiny one."""
    from tests.mail_support import TINY_PDF

    pdfs = sorted(PDF_PAGE.rglob("*.pdf"), key=lambda p: p.stat().st_size)
    return pdfs[len(pdfs) // 2].read_bytes() if pdfs else TINY_PDF


def bench_idle(mails: int, polls: int, tmp: Path) -> None:
    with DovecotServer() as server:
        started = time.monotonic()
        server.deliver_maildir(message(f"Statement {i}", body=f"statement number {i}")
                               for i in range(mails))
        written = time.monotonic() - started
        appended = 200
        started = time.monotonic()
        server.append([message(f"Appended {i}") for i in range(appended)], folder="Probe")
        append_rate = appended / (time.monotonic() - started)
        print(f"{mails} mails written into the maildir in {written:.1f} s "
              f"({mails / written:.0f}/s; IMAP APPEND: {append_rate:.0f}/s)")
        root = mail_root(tmp, server, "work:\n  - {name: all, action: none}\n")
        parts = Parts(root)
        box = connect(parts.account)
        try:
            started = time.monotonic()
            box.folder.set("INBOX")
            uids = box.uids("ALL")  # dovecot indexes the new maildir files here, once
            print(f"dovecot's first look at the folder: {time.monotonic() - started:.2f} s "
                  f"({len(uids)} UIDs; not part of the poll figures)")
            validity = uidvalidity_of(box, "INBOX")
            parts.records.append(
                ({"e": "handed", "key": record_key("work", "INBOX", validity, uid, "all"),
                  "account": "work", "folder": "INBOX", "uidvalidity": validity, "uid": uid,
                  "rule": "all", "message_id": f"<{uid}@bench>", "sha256": "-"}
                 for uid in uids), sync=False)
            for event in ("acted", "done"):
                parts.records.append(({"e": event, "key": record_key("work", "INBOX", validity,
                                                                       uid, "all")}
                                      for uid in uids), sync=event == "done")
            poller = AccountPoller(parts.account, parts.records, parts.handoff)
            rules = parts.rules()
            times = []
            for _ in range(polls):
                started = time.monotonic()
                report = poller.poll(box, rules)
                times.append(time.monotonic() - started)
                assert report.count == 0, "an already-processed mail was taken again"
        finally:
            box.logout()
        started = time.monotonic()
        fresh = connect(parts.account)
        records = MailRecords(root.root / RECORDS_NAME)  # as a daemon's first poll reads them
        AccountPoller(parts.account, records, parts.handoff).poll(fresh, rules)
        fresh.logout()
        with_login = time.monotonic() - started
        median = statistics.median(times)
        print(f"poll of {mails} processed mails, nothing new: median {median:.3f} s, "
              f"max {max(times):.3f} s over {polls} polls (with login and a fresh read of "
              f"the records: {with_login:.3f} s); target ≤ {IDLE_TARGET} s: "
              f"{median / IDLE_TARGET:.3f}× the target")


def bench_new(new: int, tmp: Path) -> None:
    pdf = _pdf()
    with DovecotServer() as server:
        started = time.monotonic()
        server.append([message(f"Invoice {i}", attachment=pdf, attachment_name=f"inv-{i}.pdf")
                       for i in range(new)])
        print(f"{new} mails with a {len(pdf) // 1024} KB PDF each APPENDed in "
              f"{time.monotonic() - started:.1f} s")
        root = mail_root(tmp, server, "work:\n  - {name: invoices, consume: attachments, "
                                      "include: ['*.pdf'], action: mark_read}\n")
        parts = Parts(root)
        queue = WorkQueue(root.work)
        started = time.monotonic()
        box = connect(parts.account)
        try:
            report = AccountPoller(parts.account, parts.records, parts.handoff).poll(
                box, parts.rules())
        finally:
            box.logout()
        handed = time.monotonic() - started
        claimed = parts.handoff.claim_all(lambda eml, settings: bool(queue.claim(
            eml, source="mail", settings=settings, owner=settings.get("owner"),
            tags=tuple(settings.get("tags") or ()))))
        total = time.monotonic() - started
        assert report.count == new and claimed == new, (report.count, claimed)
        print(f"{new} new mails handed to the intake in {handed:.2f} s, claimed into the "
              f"work queue after {total:.2f} s: {new / total:.1f} mails/s; target ≤ "
              f"{NEW_TARGET} s: {total / NEW_TARGET:.2f}× the target")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks mail", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("parts", nargs="*", metavar="idle|new", default=[])
    parser.add_argument("--mails", type=int, default=10_000)
    parser.add_argument("--new", type=int, default=200)
    parser.add_argument("--polls", type=int, default=5)
    args = parser.parse_args(argv)
    parts = args.parts or ["idle", "new"]
    if set(parts) - {"idle", "new"}:
        parser.error(f"unknown part(s) {', '.join(sorted(set(parts) - {'idle', 'new'}))}; "
                     "choose from idle, new")
    with tempfile.TemporaryDirectory(prefix="paperfs-bench-mail-") as tmp:
        if "idle" in parts:
            (Path(tmp) / "idle").mkdir()
            bench_idle(args.mails, args.polls, Path(tmp) / "idle")
        if "new" in parts:
            (Path(tmp) / "new").mkdir()
            bench_new(args.new, Path(tmp) / "new")
    return 0
