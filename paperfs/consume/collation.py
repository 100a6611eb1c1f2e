"""Double-sided scans on a single-sided feeder: two passes collated into one PDF.

A file dropped into a collating folder (an inbox folder named
``double_sided.folder``, with ``double_sided.enabled``; or any folder whose
rule file says ``double_sided: true``) is the first pass, the odd pages. It
is claimed like any file but waits in its job folder (``Job.waiting_since``
in job.yml, so it survives a restart and ``paperfs status`` lists it) for
the next file in the same folder, the second pass: the even pages, last page
first, as a stack turned over comes out of the feeder. The second job
records the first (``Job.collate_with``) before it is prepared; the worker's
collate stage (``run``) interleaves the pages: 1st of the first pass, last
of the second, 2nd of the first, … The second pass may have as many pages
as the first or one fewer (a blank last back side); anything else fails
both files into failed/ with the reason.

A first pass that waits longer than ``double_sided.window_seconds`` is filed
alone, as scanned (paperless discards it instead): nothing is lost, and a
single-sided scan dropped here by mistake is filed after the wait.

The daemon side (``Collator``) holds the waiting first passes; the worker
side (``run``) is the first stage of prepare.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path, PurePosixPath
from typing import Any, Iterable

import yaml

from paperfs.archive.document import sha256_file
from paperfs.config import DoubleSidedConfig
from paperfs.consume.jobs import JOB_FILE, Job, WorkQueue
from paperfs.consume.messages import WorkItem
from paperfs.errors import CollationError, UnsupportedFileError

log = logging.getLogger(__name__)


def collates(relative: PurePosixPath, config: DoubleSidedConfig,
             settings: dict[str, Any] | None) -> bool:
    """Whether a file at *relative* (to its inbox) is one pass of a double-sided scan."""
    ruled = (settings or {}).get("double_sided")
    if ruled is not None:
        return bool(ruled)
    return config.enabled and config.folder in relative.parent.parts


class Collator:
    """The first passes waiting for their second, one per folder (the daemon's side)."""

    def __init__(self, config: DoubleSidedConfig, queue: WorkQueue) -> None:
        self.config = config
        self.queue = queue
        self.waiting: dict[str, Job] = {}

    @staticmethod
    def _folder(job: Job) -> str:
        return PurePosixPath(job.source).parent.as_posix()

    def offer(self, job: Job) -> Job | None:
        """A pass just claimed: the second pass to prepare (its first recorded in it),
        or None while it waits as a first pass."""
        first = self.waiting.pop(self._folder(job), None)
        if first is not None:
            log.info("double-sided: %s is the second pass of %s", job.source, first.source)
            return job.record(collate_with=first.job_id)
        job = job.record(waiting_since=_now().isoformat())
        self.waiting[self._folder(job)] = job
        log.info("double-sided: %s waits up to %.0fs for its second pass", job.source,
                 self.config.window_seconds)
        return None

    def first_pass(self, job: Job) -> Job | None:
        """The first pass a second pass is collated with (None: not a second pass)."""
        if job.collate_with is None:
            return None
        try:
            first = Job.load(self.queue.work_dir / job.collate_with)
        except FileNotFoundError:
            return None
        return first if first.failed_name is None else None

    def expired(self) -> list[Job]:
        """First passes that waited past the window: they are filed alone."""
        now = _now()
        out = []
        for folder, job in list(self.waiting.items()):
            assert job.waiting_since is not None
            waited = (now - dt.datetime.fromisoformat(job.waiting_since)).total_seconds()
            if waited >= self.config.window_seconds:
                del self.waiting[folder]
                log.warning("double-sided: no second pass for %s within %.0fs; it is filed "
                            "alone, as scanned", job.source, self.config.window_seconds)
                out.append(job.record(waiting_since=None))
        return out

    def restore(self, jobs: Iterable[Job]) -> list[Job]:
        """After a restart: the first passes wait again; the other jobs are returned
        (a first pass already taken by its second is carried by that job)."""
        jobs = list(jobs)
        taken = {job.collate_with for job in jobs if job.collate_with}
        out = []
        for job in jobs:
            if job.job_id in taken and job.failed_name is None:
                continue
            if job.waiting_since is not None and job.failed_name is None:
                self.waiting[self._folder(job)] = job
                continue
            out.append(job)
        return out

    def status(self) -> list[dict[str, Any]]:
        return [_waiting_entry(job, self.config) for job in self.waiting.values()]


def waiting_on_disk(work_dir: Path, config: DoubleSidedConfig) -> list[dict[str, Any]]:
    """The first passes waiting, from their job records (status without a daemon)."""
    out = []
    for record in sorted(work_dir.glob(f"*/{JOB_FILE}")) if work_dir.exists() else ():
        try:
            data = yaml.load(record.read_text("utf-8"), Loader=yaml.CSafeLoader) or {}
        except (OSError, yaml.YAMLError):
            continue
        if data.get("waiting_since") and not data.get("failed_name"):
            out.append({"source": data.get("source"), "since": data["waiting_since"],
                        "until": _until(data["waiting_since"], config)})
    return out


def _waiting_entry(job: Job, config: DoubleSidedConfig) -> dict[str, Any]:
    assert job.waiting_since is not None
    return {"source": job.source, "since": job.waiting_since,
            "until": _until(job.waiting_since, config)}


def _until(since: str, config: DoubleSidedConfig) -> str:
    start = dt.datetime.fromisoformat(since)
    return (start + dt.timedelta(seconds=config.window_seconds)).isoformat(timespec="seconds")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# ------------------------------------------------------------ the worker's side


def run(item: WorkItem) -> WorkItem:
    """The collate stage: a second pass and its first become one PDF, the original."""
    task = item.task
    if task.first_pass is None:
        return item
    import pikepdf

    first, second = task.first_pass, item.original
    names = (task.first_pass_name, item.filename)
    for path, name in zip((first, second), names):
        with open(path, "rb") as f:
            if b"%PDF-" not in f.read(1024):
                raise UnsupportedFileError(
                    f"double-sided: {name} is not a PDF; collation takes two PDF passes. "
                    "Both files are in failed/: scan to PDF, or file them separately "
                    "outside the double-sided folder.")
    collated = item.scratch / "collated.pdf"
    with pikepdf.open(first) as odd, pikepdf.open(second) as even:
        n_odd, n_even = len(odd.pages), len(even.pages)
        if not (n_even == n_odd or n_even == n_odd - 1):
            raise CollationError(
                f"double-sided: the first pass {names[0]} has {n_odd} page(s), the second "
                f"{names[1]} has {n_even}; the second pass (the back sides) must have as "
                "many pages as the first or one fewer. Both files are in failed/: scan the "
                "stack again (front sides first), or move them out of the double-sided "
                "folder to file them separately.")
        out = pikepdf.new()
        backs = list(reversed(even.pages))
        for number, page in enumerate(odd.pages):
            out.pages.append(page)
            if number < len(backs):
                out.pages.append(backs[number])
        out.save(collated, deterministic_id=True)
    log.info("double-sided: %s + %s collated into %d pages", *names, n_odd + n_even)
    passes = [{"name": name, "sha256": sha256_file(path), "pages": count}
              for name, path, count in zip(names, (first, second), (n_odd, n_even))]
    return item.but(original=collated, filename=names[0],
                    provenance={**item.provenance, "collated": passes})
