"""Mail in a running daemon: one thread per account, the hand-over on the consumer's thread.

Each account polls on a thread of its own, so a slow or unreachable server
never holds up the consumer's loop or another account. Between polls it
waits with IMAP IDLE on its first rule's folder where the server offers it
(a new mail starts a poll within seconds), else sleeps. The consumer's
scheduler (daemon/scheduler.py) owns the timing: its "polling mail" job
wakes every account each ``mail.poll_seconds``; its hand-over job claims the
mails in the hand-off folder (paperfs/mail/handoff.py) and settles the
outcomes of earlier ones (paperfs/mail/outcome.py) on the consumer's thread.
``paperfs run`` and the active ``paperfs scheduler`` both run it
(daemon/service.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from paperfs.config import MailAccount
from paperfs.daemon.scheduler import ScheduledJob
from paperfs.mail.accounts import MailAccountError, connect, describe
from paperfs.mail.handoff import MAIL_SOURCE, Handoff
from paperfs.mail.outcome import Outcomes
from paperfs.mail.poll import AccountPoller
from paperfs.mail.records import RECORDS_NAME, MailRecords
from paperfs.mail.rules import RULES_NAME, MailRulesFile

if TYPE_CHECKING:
    from imap_tools.mailbox import BaseMailBox

    from paperfs.daemon.consumer import Consumer
    from paperfs.runtime import Runtime

log = logging.getLogger(__name__)

#: how often the consumer claims handed-over mails and settles outcomes (seconds)
HANDOVER_SECONDS = 1.0
#: after an error the account is tried again this soon at the latest (seconds)
RECONNECT_SECONDS = 60.0
#: IMAP IDLE is renewed well within RFC 2177's 29 minutes
IDLE_MAX_SECONDS = 25 * 60.0
#: at a stop, how long all the accounts together get to end their poll or IDLE; a thread
#: still waiting for a silent server then ends with the process (its mail is safe: a poll
#: cut anywhere is finished by the next start, as after a crash)
STOP_GRACE_SECONDS = 5.0


class AccountThread:
    """Polls one account until stopped; its state is one line for status and the log."""

    def __init__(self, service: "MailService", account: MailAccount) -> None:
        self.service = service
        self.account = account
        self.poller = AccountPoller(account, service.records, service.handoff)
        self.wake = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"paperfs-mail-{account.name}",
                                       daemon=True)
        self.problem: str | None = None
        self.last_poll: float | None = None
        self.handed = 0
        self.idling = False

    def _run(self) -> None:
        box: "BaseMailBox | None" = None
        stopping = self.service.stopping
        while not stopping.is_set():
            try:
                if box is None:
                    box = connect(self.account)
                rules = self.service.rules.current().of(self.account.name)
                report = self.poller.poll(box, rules)
                self.handed += report.count
                self.last_poll = time.time()
                self._set_problem("; ".join(report.problems) or None)
                folders = [r.folder for r in rules if r.folder not in report.missing_folders]
                if self.service.config.idle and folders and "IDLE" in box.client.capabilities:
                    self._idle(box, folders[0])
                    continue
                wait = self.service.config.poll_seconds
            except MailAccountError as exc:
                self._set_problem(str(exc))
                box, wait = None, min(self.service.config.poll_seconds, RECONNECT_SECONDS)
            except Exception as exc:  # noqa: BLE001 - a lost connection, a server error
                self._set_problem(f"mail account {self.account.name}: {exc.__class__.__name__}: "
                                  f"{exc}")
                box, wait = _close(box), min(self.service.config.poll_seconds, RECONNECT_SECONDS)
            self.wake.wait(wait)
            self.wake.clear()
        _close(box)

    def _idle(self, box: "BaseMailBox", folder: str) -> None:
        """Wait for new mail in *folder* (or a wake, a stop, the poll interval)."""
        box.folder.set(folder, readonly=True)
        deadline = time.monotonic() + min(self.service.config.poll_seconds, IDLE_MAX_SECONDS)
        box.idle.start()
        self.idling = True
        try:
            while (not self.service.stopping.is_set() and not self.wake.is_set()
                   and time.monotonic() < deadline):
                if any(b"EXISTS" in line for line in box.idle.poll(timeout=1.0)):
                    log.debug("mail account %s: new mail in %s", self.account.name, folder)
                    return
        finally:
            self.idling = False
            box.idle.stop()
            self.wake.clear()

    def _set_problem(self, problem: str | None) -> None:
        if problem != self.problem:
            if problem:
                log.error("%s (the other accounts go on; tried again at the next poll)",
                          problem)
            elif self.problem:
                log.info("mail account %s: working again", self.account.name)
        self.problem = problem

    def status(self) -> dict[str, Any]:
        return {"account": describe(self.account),
                "state": "error" if self.problem else ("ok" if self.last_poll else "starting"),
                "problem": self.problem,
                "last_poll": _iso(self.last_poll), "handed_since_start": self.handed,
                "idle": self.idling}


class MailService:
    """Every mail account of a data root, in a daemon whose consumer claims their mails."""

    def __init__(self, runtime: "Runtime", consumer: "Consumer") -> None:
        self.runtime = runtime
        self.consumer = consumer
        self.config = runtime.config.mail
        root = runtime.root
        self.records = MailRecords(root.root / RECORDS_NAME)
        self.handoff = Handoff(root)
        self.rules = MailRulesFile(root.root / RULES_NAME,
                                   [a.name for a in self.config.accounts])
        self.outcomes = Outcomes(root, self.config, self.records, self.handoff,
                                 lambda: consumer.index)
        self.stopping = threading.Event()
        self.accounts = [AccountThread(self, account) for account in self.config.accounts]

    def start(self) -> None:
        self.records.compact_if_due()  # before any thread appends
        # what a crash left between the record and the hand-off
        self.handoff.recover(lambda key: self.records.get(key) is not None)
        self.outcomes.drop_stale()
        self.rules.current()  # an invalid mail.yml is logged at start
        scheduler = self.consumer.scheduler
        scheduler.add(ScheduledJob("polling mail", self.config.poll_seconds, self.wake_all))
        scheduler.add(ScheduledJob("handing over mail", HANDOVER_SECONDS, self.hand_over))
        self.consumer.status_parts["mail"] = self.status
        for account in self.accounts:
            account.thread.start()
        log.info("mail: %d account(s), polled every %g s%s", len(self.accounts),
                 self.config.poll_seconds, " and with IDLE" if self.config.idle else "")

    def wake_all(self) -> None:
        for account in self.accounts:
            account.wake.set()

    def hand_over(self) -> None:
        """On the consumer's thread: claim handed-over mails, settle earlier ones."""
        claimed = self.handoff.claim_all(
            lambda eml, settings: self.consumer.claim_handed(eml, source=MAIL_SOURCE,
                                                             settings=settings))
        if claimed:
            self.consumer.wake.set()
        self.outcomes.settle()

    def status(self) -> dict[str, Any]:
        return {"accounts": {a.account.name: a.status() for a in self.accounts},
                "rules_problem": self.rules.problem}

    def stop(self) -> None:
        self.stopping.set()
        self.wake_all()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for account in self.accounts:
            if account.thread.is_alive():
                account.thread.join(max(0.0, deadline - time.monotonic()))
            if account.thread.is_alive():
                log.warning("mail account %s: its server has not answered; not waited for "
                            "at the stop", account.account.name)


def _close(box: "BaseMailBox | None") -> None:
    if box is not None:
        try:
            box.logout()
        except Exception:  # noqa: BLE001 - the connection may be gone already
            pass
    return None


def _iso(stamp: float | None) -> str | None:
    return None if stamp is None else dt.datetime.fromtimestamp(
        stamp, dt.timezone.utc).isoformat(timespec="seconds")
