"""The work queue on disk: one folder per claimed input under .paperfs/work/.

Claiming is a rename, so a file is always in exactly one place: still in the
inbox, or in its job folder. The job record (job.yml) is written before the
input is moved in; a job folder without its input is an interrupted claim and
is discarded (the file is still in the inbox). Every later decision the
writer makes (for each document the input yields, its id and archive path;
or the failed name) is recorded in job.yml before it acts on it, so a restart
after a crash repeats the same decisions.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import yaml

from paperfs.archive.atomic import atomic_move, atomic_write_text, fsync_dir
from paperfs.archive.storage import storage_errors

log = logging.getLogger(__name__)

JOB_FILE = "job.yml"
INPUT_NAME = "input"


@dataclass(frozen=True)
class Part:
    """The writer's decisions for one document of a job, recorded before it files it."""

    doc_id: int | None = None
    archive_path: str | None = None


@dataclass(frozen=True)
class Job:
    job_id: str
    folder: Path
    #: the file's name as the user gave it
    filename: str
    #: where it came from, relative to the data root (or an absolute path for CLI input)
    source: str
    claimed_at: dt.datetime
    #: the input's mtime, the fallback for the created date
    file_mtime: float
    tags: tuple[str, ...] = ()
    owner: str | None = None
    #: decisions recorded by the writer: one Part per document the input yields
    #: (all of them recorded with the first), or the name under failed/
    parts: tuple[Part, ...] = ()
    failed_name: str | None = None
    #: the folder rule files' settings in force when it was claimed (consume/folder_rules.py)
    settings: dict | None = None
    #: a double-sided first pass waiting for its second, since then (ISO time; collation.py)
    waiting_since: str | None = None
    #: a second pass: the job of the first pass it is collated with
    collate_with: str | None = None

    @property
    def input(self) -> Path:
        return self.folder / (INPUT_NAME + Path(self.filename).suffix.lower()[:16])

    @property
    def scratch(self) -> Path:
        """Where the worker writes its output (emptied before each attempt)."""
        return self.folder / "scratch"

    def record(self, **changes: object) -> "Job":
        job = dataclasses.replace(self, **changes)
        job.save()
        return job

    def with_part(self, number: int, part: Part) -> "Job":
        """This job with part *number* (0-based) decided (not yet recorded)."""
        return dataclasses.replace(
            self, parts=self.parts[:number] + (part,) + self.parts[number + 1:])

    @property
    def decided(self) -> bool:
        """Whether the writer gave a document of this job an id, or failed it."""
        return self.failed_name is not None or any(p.doc_id is not None for p in self.parts)

    def save(self) -> None:
        data = dataclasses.asdict(self)
        data.pop("folder")
        data["tags"] = list(self.tags)
        data["parts"] = [dataclasses.asdict(part) for part in self.parts]
        atomic_write_text(self.folder / JOB_FILE,
                          yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=False,
                                    allow_unicode=True))

    @classmethod
    def load(cls, folder: Path) -> "Job":
        data = yaml.load((folder / JOB_FILE).read_text("utf-8"), Loader=yaml.CSafeLoader)
        data["tags"] = tuple(data.get("tags") or ())
        parts = tuple(Part(**part) for part in data.get("parts") or ())
        # job.yml of a version before parts: one document, its decisions at the top
        doc_id, path = data.pop("doc_id", None), data.pop("archive_path", None)
        if not parts and (doc_id is not None or path is not None):
            parts = (Part(doc_id=doc_id, archive_path=path),)
        data["parts"] = parts
        return cls(folder=folder, **data)


class WorkQueue:
    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        with storage_errors():
            work_dir.mkdir(parents=True, exist_ok=True)

    def claim(self, path: Path, *, source: str, tags: tuple[str, ...] = (),
              owner: str | None = None, copy: bool = False,
              settings: dict | None = None) -> Job:
        """Take a file into the queue; move it (inbox) or copy it (CLI input)."""
        stat = path.lstat()  # never follow a link out of the inbox
        job_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
        folder = self.work_dir / job_id
        folder.mkdir()
        job = Job(job_id=job_id, folder=folder, filename=path.name, source=source,
                  claimed_at=dt.datetime.now(dt.timezone.utc), file_mtime=stat.st_mtime,
                  tags=tags, owner=owner, settings=settings)
        try:
            # No room for job.yml (disk full): no folder may stay behind without it.
            job.save()
            if copy:
                shutil.copy2(path, job.input)
                with open(job.input, "rb") as f:
                    os.fsync(f.fileno())
                fsync_dir(folder)
            else:
                atomic_move(path, job.input)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        log.info("claimed %s as job %s", source, job_id)
        return job

    def pending(self) -> Iterator[Job]:
        """Jobs left by an earlier run, oldest first; interrupted claims are dropped."""
        for folder in sorted(p for p in self.work_dir.iterdir() if p.is_dir()):
            try:
                job = Job.load(folder)
            except FileNotFoundError:
                # mkdir happened, job.yml never did: nothing was claimed.
                shutil.rmtree(folder, ignore_errors=True)
                continue
            except Exception as exc:  # noqa: BLE001 - a damaged record must not stop start-up
                log.error("job record %s is damaged (%s); leaving it for inspection",
                          folder / JOB_FILE, exc)
                continue
            if not os.path.lexists(job.input):
                if not job.decided:
                    log.info("dropping interrupted claim %s (%s stays in the inbox)",
                             job.job_id, job.source)
                    shutil.rmtree(folder, ignore_errors=True)
                    continue
            yield job

    def finish(self, job: Job) -> None:
        shutil.rmtree(job.folder)
        fsync_dir(self.work_dir)

    def count(self) -> int:
        return sum(1 for p in self.work_dir.iterdir() if p.is_dir())
