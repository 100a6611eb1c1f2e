"""The consumer: inbox → claimed job → worker → writer, as a daemon or one-shot.

One Consumer owns the data root while it runs (it is the runtime's writer).
Its main loop is single-threaded: watchdog threads only collect paths and
workers run in other processes, so every change the daemon makes happens
here, in order — the scheduled jobs too (index maintenance, trash expiry,
the WebDAV upload hand-over: paperfs/daemon/scheduler.py). WebDAV's request
threads change documents through the same writer, one change at a time.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import logging
import os
import shutil
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable

from paperfs.archive.store import Archive
from paperfs.archive.atomic import atomic_write_bytes, overwrite_in_place, prune_empty_dirs
from paperfs.config import Config
from paperfs.archive.document import Document
from paperfs.errors import (ConsumeError, EmptyFileError, StorageError,
                            UnsupportedFileError, BrokenFileError)
from paperfs.index.base import Index
from paperfs.classify.classifier import ClassifySettings
from paperfs.consume.collation import Collator, collates
from paperfs.consume.folder_rules import FolderRules, RuleFileError
from paperfs.consume.jobs import Job, WorkQueue
from paperfs.consume.messages import PREPARE, PrepareTask, ProposedDocument
from paperfs.archive.storage import MIN_ROOM, RoomWait, storage_errors, worker_lacked_room
from paperfs.access.users import owner_from_inbox
from paperfs.consume.watcher import InboxWatcher, SidecarWatcher
from paperfs.archive.writer import Writer
from paperfs.daemon.housekeeping import index_maintenance, trash_expiry
from paperfs.daemon.pool_protocol import Pool, PoolUnavailable
from paperfs.daemon.page_edits import PageEdits, page_edits_job
from paperfs.daemon.scheduler import Scheduler
from paperfs.daemon.workflow_triggers import WorkflowTriggers
from paperfs.daemon.training import classifier_training
from paperfs.runtime import Runtime

log = logging.getLogger(__name__)

#: status.json is padded to whole blocks of this size, so that on a full disk it can
#: be rewritten in the blocks it has
STATUS_BLOCK = 4096
#: what a one-shot command that met a full disk leaves behind
LEFT_QUEUED = ("what was not filed waits in .paperfs/work and is filed by the next "
               "'paperfs run' or 'paperfs consume'")

@dataclass(frozen=True)
class Result:
    """How one input ended."""

    source: str
    doc: Document | None = None
    path: str | None = None  # archive path (filed) or failed/ path
    error: ConsumeError | None = None


class Consumer:
    def __init__(self, runtime: Runtime | Config, *, serial: bool = False,
                 on_result: Callable[[Result], None] | None = None,
                 on_input_done: Callable[[str], None] | None = None) -> None:
        self.runtime = Runtime.of(runtime)
        self.config = self.runtime.config
        self.root = self.runtime.root
        self.serial = serial
        self.on_result = on_result
        # Once per input, however many documents it gave (0, 1 or more): for progress.
        self.on_input_done = on_input_done
        self.lock = self.runtime.lock
        self.queue = WorkQueue(self.root.work)
        #: inbox folders' rule files, and double-sided first passes waiting for their second
        self.folder_rules = FolderRules()
        self.collator = Collator(self.config.double_sided, self.queue)
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.jobs: collections.deque[Job] = collections.deque()
        self.active: dict[str, Job] = {}
        self.results: list[Result] = []
        self.started = time.time()
        self.index: Index | None = None
        self.archive: Archive | None = None
        self.pool: Pool | None = None
        self.writer: Writer | None = None
        #: workflows.yml at work (open() makes it)
        self.workflows: WorkflowTriggers | None = None
        #: page-edit requests (new versions) waiting for their text and the writer
        self.page_edits: PageEdits | None = None
        self.inbox_watcher: InboxWatcher | None = None
        self.sidecar_watcher: SidecarWatcher | None = None
        #: work that found its filesystem full, and the pause it causes
        self.room = RoomWait()
        #: the latest rules that could not be applied (a regex that timed out), for status
        self.classify_problems: collections.deque[str] = collections.deque(maxlen=20)
        #: the daemon's upkeep (open() adds it) and polling intake sources, run by run()
        self.scheduler = Scheduler(())
        #: more of status.json, by key (mail: its accounts' state), added by the services
        self.status_parts: dict[str, Callable[[], object]] = {}

    # ------------------------------------------------------------ lifecycle

    def open(self) -> None:
        writer = self.writer = self.runtime.open_writer(recover=False)
        self.archive = writer.archive
        self.index = writer.archive.index
        # On a full disk the start-up checks wait for room like any other write.
        self._attempt("the start-up check of the archive", writer.recover)
        self._recover_jobs()
        self.scheduler.add(index_maintenance(writer, when=self.at_rest))
        self.scheduler.add(trash_expiry(writer, self.config.dav.trash_days))
        self.workflows = WorkflowTriggers(self.runtime, writer)
        self.scheduler.add(self.workflows.scheduled())
        self.scheduler.add(classifier_training(self.runtime, when=self.at_rest))
        self.page_edits = PageEdits(self.config, writer, serial=self.serial)
        self.scheduler.add(page_edits_job(self.page_edits))
        self.pool = self.runtime.worker_pool(PREPARE, serial=self.serial)

    def _recover_jobs(self) -> None:
        for job in self.collator.restore(self.queue.pending()):
            self._attempt(job.source, lambda job=job: self._recover_job(job),
                          self._room_for(job))

    def _recover_job(self, job: Job) -> None:
        if self._writer.resume(job):
            first_pass = self.collator.first_pass(job)
            if first_pass is not None:  # filed with its second pass before the crash
                self.queue.finish(first_pass)
            self.queue.finish(job)
        else:
            log.info("resuming job %s (%s)", job.job_id, job.source)
            self.jobs.append(job)

    def close(self) -> None:
        for watcher in (self.inbox_watcher, self.sidecar_watcher):
            if watcher is not None:
                watcher.stop()
        if self.workflows is not None:
            self.workflows.close()  # webhooks, e-mails, scripts under way finish first
        if self.page_edits is not None:
            self.page_edits.close()
        self.runtime.close()  # the workers, the writer and its index, the lock

    # ------------------------------------------------------------ intake

    def inboxes(self) -> list[Path]:
        return [self.root.root / folder for folder in self.config.inbox.folders]

    def _tags_for(self, path: Path, inbox: Path) -> tuple[str, ...]:
        if not self.config.inbox.subfolders_as_tags:
            return ()
        parts = PurePosixPath(path.parent.relative_to(inbox).as_posix()).parts
        collating = self.config.double_sided.folder if self.config.double_sided.enabled else ""
        return tuple(p for p in parts if p not in (".", "", collating))

    def claim_ready(self) -> None:
        assert self.inbox_watcher is not None
        if self.folder_rules.resumed():
            self.inbox_watcher.rescan()  # a fixed rule file: its folder's files are taken
        for ready in self.inbox_watcher.ready():
            if self.room.paused:
                continue  # it stays in the inbox, scanned again once there is room
            try:
                settings = self.folder_rules.settings_for(ready.path, ready.inbox)
            except RuleFileError:
                continue  # its folder is stopped: the file waits (a note, status, the log)
            source = ready.path.relative_to(self.root.root).as_posix() \
                if self.root.root in ready.path.parents else str(ready.path)
            # inbox/<user>/… belongs to that user; their folder is not a tag.
            owner = owner_from_inbox(ready.path, ready.inbox, self.root.root)
            tags = self._tags_for(ready.path, ready.inbox)[1 if owner else 0:]
            if settings:  # a rule's owner only where the inbox folder names none
                owner = owner or settings.get("owner")
                tags += tuple(t for t in settings.get("tags") or () if t not in tags)
            try:
                with storage_errors():
                    job = self.queue.claim(ready.path, source=source, owner=owner, tags=tags,
                                           settings=settings)
            except StorageError as problem:
                self.room.hold(problem, source, lambda: None,
                               self._room_for_file(ready.path))
                continue
            except OSError as exc:
                log.error("cannot claim %s: %s", ready.path, exc)
                continue
            collating = collates(PurePosixPath(ready.path.relative_to(ready.inbox).as_posix()),
                                 self.config.double_sided, settings)
            if ready.path.parent != ready.inbox and not collating:  # a scanner's target stays
                prune_empty_dirs(ready.path.parent, ready.inbox)
            if ready.incomplete:
                self._finish(job, error=_incomplete_error(ready.incomplete, job.filename,
                                                          self.config.inbox.incomplete_seconds))
            elif not collating:
                self.jobs.append(job)
            elif (second := self.collator.offer(job)) is not None:
                self.jobs.append(second)

    def claim_files(self, paths: Iterable[Path]) -> int:
        """One-shot intake of files named on the command line (copied, never moved)."""
        count = 0
        for path in paths:
            path = Path(path)
            if path.is_symlink() or not path.is_file():
                self._report(Result(source=str(path), error=UnsupportedFileError(
                    f"{path}: not a regular file")))
                self._input_done(str(path))
                continue
            try:
                with storage_errors():
                    self.jobs.append(self.queue.claim(path, source=str(path.resolve()),
                                                      copy=True))
            except StorageError as problem:
                raise problem.with_note(LEFT_QUEUED) from None
            count += 1
        return count

    def claim_handed(self, path: Path, *, source: str, settings: dict) -> bool:
        """A file another intake source hands over with its job settings (mail:
        paperfs/mail/handoff.py), claimed on this thread; False: it waits (no room)."""
        if self.room.paused:
            return False
        try:
            with storage_errors():
                job = self.queue.claim(path, source=source, owner=settings.get("owner"),
                                       tags=tuple(settings.get("tags") or ()),
                                       settings=settings)
        except (StorageError, OSError) as exc:
            log.error("cannot claim %s: %s", path, exc)
            return False
        self.jobs.append(job)
        return True

    # ------------------------------------------------------------ the loop

    def _task(self, job: Job) -> PrepareTask:
        return PrepareTask.for_job(job, ocr=self.config.ocr, dates=self.config.consume,
                                   classify=ClassifySettings.of(self.runtime),
                                   barcodes=self.config.barcodes,
                                   first_pass=self.collator.first_pass(job))

    def dispatch(self) -> None:
        while (self.jobs and self.pool.free > 0 and not self.stopping.is_set()
               and not self.room.paused):
            job = self.jobs.popleft()
            try:
                self.pool.submit(job.job_id, self._task(job))
            except PoolUnavailable:  # the queue is down (the pool logs it): tried again later
                self.jobs.appendleft(job)
                return
            self.active[job.job_id] = job

    def collect(self, timeout: float) -> int:
        outcomes = self.pool.poll(timeout)
        for outcome in outcomes:
            job = self.active.pop(outcome.key)
            if outcome.error is not None:
                self._worker_failed(job, outcome.error)
            else:
                proposals = outcome.result
                # A retry reads the job again: job.yml holds what the failed attempt decided.
                self._attempt(job.source,
                              lambda job=job, proposals=proposals:
                              self._commit(Job.load(job.folder), proposals),
                              self._room_for(job))
        return len(outcomes)

    def _commit(self, job: Job, proposals: tuple[ProposedDocument, ...]) -> None:
        if self.workflows is not None:
            proposals = self.workflows.consumption_started(job, proposals)
        try:
            job, filed = self._writer.file(job, proposals)
        except ConsumeError as exc:
            self._fail(job, exc)
            return
        first_pass = self.collator.first_pass(job)
        if first_pass is not None:  # collated into what was filed: gone before its second
            self.queue.finish(first_pass)
        self.queue.finish(job)
        for proposal in proposals:
            self.classify_problems.extend(proposal.classify_problems)
        for doc, path in filed:  # none, when the input held nothing to file
            self._report(Result(source=job.source, doc=doc, path=path))
            if self.workflows is not None:
                self.workflows.document_added(doc)
        self._input_done(job.source)

    def _worker_failed(self, job: Job, error: ConsumeError) -> None:
        """A worker's failure fails the document, unless its filesystem had no room."""
        problem = worker_lacked_room(str(error), job.scratch, self._room_for(job))
        if problem is None:
            self._finish(job, error=error)
            return
        shutil.rmtree(job.scratch, ignore_errors=True)  # its partial output takes room too
        self.room.hold(problem, job.source, lambda: self.jobs.append(job), self._room_for(job))

    def _finish(self, job: Job, *, error: ConsumeError) -> None:
        self._attempt(job.source, lambda: self._fail(Job.load(job.folder), error),
                      self._room_for(job))

    def _fail(self, job: Job, error: ConsumeError) -> None:
        first_pass = self.collator.first_pass(job)
        if first_pass is not None:  # a double-sided pair fails together, first pass first
            self._writer.fail(first_pass, error)
            self.queue.finish(first_pass)
        path = self._writer.fail(job, error)
        self.queue.finish(job)
        self._report(Result(source=job.source, path=str(path), error=error))
        self._input_done(job.source)

    # ------------------------------------------------------------ a full disk

    @property
    def _writer(self) -> Writer:
        """The writer (open() made it); a full or read-only filesystem raises StorageError."""
        assert self.writer is not None
        return self.writer

    def _attempt(self, what: str, operation: Callable[[], None], need: int = MIN_ROOM) -> None:
        """Do operation; if its filesystem has no room, it waits and the daemon pauses."""
        try:
            operation()
        except StorageError as problem:
            self.room.hold(problem, what, operation, need)

    def _room_for(self, job: Job) -> int:
        """Free bytes worth waiting for before a job is tried again: its original and
        its archive PDF (about the input's size each), and some room to spare."""
        return self._room_for_file(job.input)

    @staticmethod
    def _room_for_file(path: Path) -> int:
        try:
            size = path.lstat().st_size
        except OSError:
            size = 0
        return 2 * size + MIN_ROOM

    def _room_again(self) -> None:
        """After a pause: files whose claim found no room are in the inbox still."""
        if self.inbox_watcher is not None:
            self.inbox_watcher.rescan()
        self.wake.set()

    def _report(self, result: Result) -> None:
        self.results.append(result)
        if self.on_result:
            self.on_result(result)

    def _input_done(self, source: str) -> None:
        if self.on_input_done:
            self.on_input_done(source)

    def idle(self) -> bool:
        return not self.jobs and not self.active

    def at_rest(self) -> bool:
        """Nothing to consume and no wait for room: time for housekeeping."""
        return self.idle() and not self.room.paused

    def step(self, timeout: float) -> None:
        self.dispatch()
        if self.active:
            self.collect(timeout)
        else:
            self.wake.wait(timeout)
            self.wake.clear()
            self.pool.retire_idle()

    def consume_now(self) -> list[Result]:
        """Run queued jobs to completion (one-shot mode); a full disk ends it (StorageError)."""
        while not self.idle() and not self.stopping.is_set() and not self.room.paused:
            self.step(0.2)
        if self.room.problem is not None:
            raise self.room.problem.with_note(LEFT_QUEUED)
        return self.results

    def run(self, notify: Callable[[str], None] = lambda s: None) -> None:
        """The daemon loop, until stop() (SIGTERM/SIGINT)."""
        assert self.archive is not None
        self.inbox_watcher = InboxWatcher(self.inboxes(), self.config.inbox, self.wake,
                                          incomplete_seconds=self.config.inbox.incomplete_seconds,
                                          polling=bool(self.config.queue))
        self.sidecar_watcher = SidecarWatcher(self.root.archive, self.wake)
        self.folder_rules.check_all(self.inboxes())
        self.inbox_watcher.start()
        self.sidecar_watcher.start()
        self.room.announce()
        notify("READY=1")
        log.info("paperfs consumer ready: watching %s with %d worker(s)",
                 ", ".join(str(p) for p in self.inboxes()), self.pool.size)
        last_status = 0.0
        poll = self.config.inbox.poll_seconds
        while not self.stopping.is_set():
            if self.room.retry():
                self._room_again()
            if not self.room.paused:  # what is not claimed waits in the inbox
                self.claim_ready()
            self.jobs.extend(self.collator.expired())
            for sidecar in self.sidecar_watcher.changed():
                self._attempt(str(sidecar), lambda sidecar=sidecar: self._apply_edit(sidecar))
            self.step(poll)
            self.scheduler.run_due()
            now = time.monotonic()
            if now - last_status >= 1.0:
                last_status = now
                self.write_status()
                notify(f"WATCHDOG=1\nSTATUS={self.status_line()}")
        notify("STOPPING=1")
        self._drain()
        self.write_status(running=False)

    def _apply_edit(self, sidecar: Path) -> None:
        try:
            self._writer.sidecar_changed(sidecar)
        except StorageError:
            raise  # it waits for room (the edit is in the sidecar on disk meanwhile)
        except Exception:  # noqa: BLE001 - one bad edit must not stop the daemon
            log.exception("could not apply the change to %s", sidecar)

    def _drain(self) -> None:
        """On shutdown: let in-flight documents finish for a while, then return them."""
        grace = min(30.0, self.config.consume.timeout_seconds)
        deadline = time.monotonic() + grace
        if self.active:
            log.info("stopping: waiting up to %.0fs for %d document(s) in progress",
                     grace, len(self.active))
        while self.active and time.monotonic() < deadline:
            self.collect(0.2)
        if self.active:
            log.info("stopping: %d document(s) go back to the queue", len(self.active))
        # Claimed but unfinished jobs stay in .paperfs/work and resume at the next start.

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()

    # ------------------------------------------------------------ status

    def status(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "host": socket.gethostname(),  # `paperfs scheduler` may run on another host
            "running": True,
            "started": dt.datetime.fromtimestamp(self.started, dt.timezone.utc).isoformat(),
            "updated": dt.datetime.now(dt.timezone.utc).isoformat(),
            "waiting_in_inbox": self.inbox_watcher.pending() if self.inbox_watcher else 0,
            "queued": len(self.jobs),
            "in_flight": sorted(job.source for job in self.active.values()),
            "workers": self.pool.size if self.pool else 0,
            "worker_processes": self.pool.processes if self.pool else 0,
            "filed_since_start": sum(1 for r in self.results if r.error is None),
            "failed_since_start": sum(1 for r in self.results if r.error is not None),
            "storage": self.room.status(),
            "double_sided_waiting": self.collator.status(),
            "stopped_folders": {str(rule.parent): problem
                                for rule, problem in self.folder_rules.stopped.items()},
            "labels_problems": self.runtime.labels.problems(),
            "classify_problems": list(self.classify_problems),
            "workflows_problems": self.workflows.problems() if self.workflows else [],
            **{key: part() for key, part in self.status_parts.items()},
        }

    def status_line(self) -> str:
        s = self.status()
        paused = f"waiting: {self.room.problem}; " if self.room.problem else ""
        return (f"{paused}{s['queued']} queued, {len(s['in_flight'])} in progress, "
                f"{s['filed_since_start']} filed, {s['failed_since_start']} failed")

    def write_status(self, running: bool = True) -> None:
        data = self.status()
        data["running"] = running
        text = json.dumps(data, indent=1) + "\n"
        padded = text.ljust(-(-len(text) // STATUS_BLOCK) * STATUS_BLOCK).encode()
        try:
            with storage_errors():
                atomic_write_bytes(self.root.status_file, padded)
        except StorageError:
            # No room for a temp file: rewrite the old one in its own blocks (not atomic;
            # a reader retries a torn read), so `paperfs status` still says what is wrong.
            try:
                rewritten = overwrite_in_place(self.root.status_file, padded)
            except OSError:
                rewritten = False
            if not rewritten:
                log.debug("no room to update %s", self.root.status_file)


def _incomplete_error(kind: str, filename: str, seconds: float) -> ConsumeError:
    if kind == "symlink":
        return UnsupportedFileError(f"{filename} is a symbolic link; paperfs does not follow "
                                    "links out of the inbox. Copy the file itself in.")
    if kind == "empty":
        return EmptyFileError(f"{filename} is empty (0 bytes) and stayed so for "
                              f"{seconds:g}s; the upload probably failed. Upload it again.")
    return BrokenFileError(f"{filename} is not a complete PDF (it does not end with its "
                           f"end-of-file marker %%EOF, or does not parse) and did not change for {seconds:g}s: a truncated "
                           "file or an aborted upload. Upload it again.")
