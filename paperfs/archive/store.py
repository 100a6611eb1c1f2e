"""The writer: the only code that changes archive/, originals/, failed/ and the index.

It runs in one thread of one process (guarded by the writer lock), so two
documents never race for a path. Every multi-step change is ordered so that
a crash at any instant leaves a state the next start-up completes:
- filing: id and path are recorded in the job first; original, then PDF, then
  the sidecar (the commit point), then the index, then the job is removed;
- moving a pair: the intent is journaled, the PDF then the sidecar are
  renamed, the journal entry is removed; start-up replays what is left.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path, PurePosixPath
from typing import Callable

import yaml

from paperfs.archive.atomic import (atomic_copy, atomic_move, atomic_write_text, fsync_dir,
                            prune_empty_dirs, unused_path)
from paperfs.config import Config
from paperfs.archive.document import (ArchiveInfo, Document, OriginalInfo, read_sidecar,
                              write_sidecar)
from paperfs.errors import ConsumeError, DuplicateError, NotFoundError, SidecarError
from paperfs.index.base import FiledRef, Index, IndexEntry
from paperfs.consume.jobs import Job
from paperfs.archive.layout import DataRoot
from paperfs.archive.naming import PathRules, clean_component, with_collision_suffix
from paperfs.consume.pipeline import Processed, sha256_file

log = logging.getLogger(__name__)

PDF, YML = ".pdf", ".yml"
#: written beside a sidecar whose hand edit was rejected; removed once it is valid
EDIT_ERROR_SUFFIX = ".paperfs-error.txt"
FAILED_INFO_SUFFIX = ".error.yml"


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


class Archive:
    def __init__(self, root: DataRoot, config: Config, index: Index, rules: PathRules) -> None:
        self.root = root
        self.config = config
        self.index = index
        self.rules = rules

    # ------------------------------------------------------------ paths

    def pdf_path(self, rel: str) -> Path:
        return self.root.archive / (rel + PDF)

    def sidecar_path(self, rel: str) -> Path:
        return self.root.archive / (rel + YML)

    def rel_of(self, path: Path) -> str:
        """archive/ACME/2024/x.yml -> 'ACME/2024/x'."""
        relative = path.relative_to(self.root.archive)
        return relative.with_suffix("").as_posix()

    def _taken_by_other(self, rel: str, doc_id: int) -> bool:
        ref = self.index.ref_by_path(rel)
        if ref is not None:
            return ref.id != doc_id
        # Files the index does not know, or names that differ only in case (they
        # collide on Windows/macOS clients): taken unless the sidecar is ours.
        parent = self.pdf_path(rel).parent
        name = PurePosixPath(rel).name.casefold()
        try:
            entries = os.listdir(parent)
        except FileNotFoundError:
            return False
        for entry in entries:
            stem, _, suffix = entry.rpartition(".")
            if stem.casefold() == name and suffix.lower() in ("pdf", "yml"):
                if not self._sidecar_has_id(parent / (stem + YML), doc_id):
                    return True
        return False

    def _sidecar_has_id(self, sidecar: Path, doc_id: int) -> bool:
        try:
            return read_sidecar(sidecar).id == doc_id
        except (OSError, SidecarError):
            return False

    def choose_path(self, doc: Document, current: str | None = None) -> str:
        base = self.rules.destination(doc)
        candidates = [base, with_collision_suffix(base, doc.id)]
        for candidate in candidates:
            rel = candidate.as_posix()
            if rel == current or not self._taken_by_other(rel, doc.id):
                return rel
        n = 2
        while True:  # only reached when someone hand-made a "name [id]" file
            rel = base.with_name(f"{base.name} [{doc.id}-{n}]").as_posix()
            if rel == current or not self._taken_by_other(rel, doc.id):
                return rel
            n += 1

    # ------------------------------------------------------------ ids

    def next_id(self) -> int:
        """Ids are never reused: the counter only grows, and never below the tree's."""
        try:
            counter = int(self.root.id_counter.read_text().strip() or 0)
        except FileNotFoundError:
            counter = 0
        doc_id = max(counter, self.index.max_id() + 1, 1)
        atomic_write_text(self.root.id_counter, f"{doc_id + 1}\n")
        return doc_id

    # ------------------------------------------------------------ filing

    def filed(self, job: Job) -> Document | None:
        """The job's document if its sidecar (the commit point) is written, else None."""
        if job.doc_id is None or job.archive_path is None:
            return None
        sidecar = self.sidecar_path(job.archive_path)
        if not self._sidecar_has_id(sidecar, job.doc_id):
            return None
        return read_sidecar(sidecar)

    def resume(self, job: Job) -> bool:
        """Finish a job whose sidecar was already written before a crash."""
        if job.failed_name is not None:
            self._finish_failure(job)
            return True
        doc = self.filed(job)
        if doc is None:
            return False
        assert job.archive_path is not None
        self._index(doc, job.archive_path)
        log.info("doc %d: resumed filing of %s at archive/%s", doc.id, job.source,
                 job.archive_path)
        return True

    def commit(self, job: Job, done: Processed) -> tuple[Job, Document]:
        """File a processed input; returns the updated job and the new document.

        Repeatable with the job as job.yml records it: an attempt that stopped
        (disk full) is completed from the decisions and files already made."""
        earlier = self.filed(job)
        if earlier is not None:
            assert job.archive_path is not None
            self._index(earlier, job.archive_path)
            return job, earlier
        existing = self.index.find_checksum(done.original_sha256)
        if existing is not None and existing.id != job.doc_id:
            raise DuplicateError(
                f"{job.filename} is already in the archive as document {existing.id}: "
                f"archive/{existing.path}{PDF}")
        if job.doc_id is None:
            job = job.record(doc_id=self.next_id())
        assert job.doc_id is not None
        stamp = now()
        suffix = Path(job.filename).suffix.lower()[:16] or ".bin"
        original_path = self.root.original_path(job.doc_id, suffix)
        doc = Document(
            id=job.doc_id,
            title=done.title,
            created=done.created,
            added=stamp,
            modified=stamp,
            original=OriginalInfo(filename=job.filename, mime_type=done.mime_type,
                                  sha256=done.original_sha256,
                                  path=original_path.relative_to(self.root.root).as_posix()),
            archive=ArchiveInfo(sha256=done.archive_sha256, pages=done.pages, pdfa=done.pdfa,
                                ocr=done.ocr_performed),
            tags=job.tags,
            owner=job.owner,
            source={"kind": "inbox" if not os.path.isabs(job.source) else "cli",
                    "path": job.source},
            language=self.config.ocr.languages,
            content=done.content,
        )
        if job.archive_path is None:
            job = job.record(archive_path=self.choose_path(doc))
        rel = job.archive_path
        assert rel is not None
        # The original is immutable: copied once, never overwritten with other bytes.
        if not original_path.exists():
            atomic_copy(job.input, original_path)
        if not self._placed_earlier(done, self.pdf_path(rel)):
            atomic_move(done.archive_pdf, self.pdf_path(rel), overwrite=True)
        write_sidecar(self.sidecar_path(rel), doc)
        self._index(doc, rel)
        log.info("doc %d: filed %s as archive/%s%s", doc.id, job.source, rel, PDF)
        return job, doc

    @staticmethod
    def _placed_earlier(done: Processed, target: Path) -> bool:
        """Whether an earlier attempt of this commit moved the PDF into place already."""
        return (not done.archive_pdf.exists() and target.exists()
                and sha256_file(target) == done.archive_sha256)

    def _index(self, doc: Document, rel: str) -> None:
        stat = self.sidecar_path(rel).stat()
        self.index.upsert([IndexEntry(doc=doc, path=rel, mtime_ns=stat.st_mtime_ns,
                                      size=stat.st_size)])

    def fail(self, job: Job, error: ConsumeError) -> Path:
        """Move the input to failed/ with a readable .error.yml beside it."""
        if job.failed_name is None:
            target = unused_path(self.root.failed, clean_component(job.filename, 200),
                                 also=(FAILED_INFO_SUFFIX,))
            job = job.record(failed_name=target.name)
        assert job.failed_name is not None
        info = {
            "file": job.filename,
            "source": job.source,
            "reason": error.reason,
            "message": str(error),
            "failed_at": now().isoformat(),
            "retry": "fix the cause, then run 'paperfs retry' or move the file back "
                     "into the inbox",
        }
        target = self.root.failed / job.failed_name
        atomic_write_text(target.with_name(target.name + FAILED_INFO_SUFFIX),
                          yaml.dump(info, Dumper=yaml.CSafeDumper, sort_keys=False,
                                    allow_unicode=True, width=100))
        self._finish_failure(job)
        log.warning("%s failed (%s): %s -> failed/%s", job.source, error.reason, error,
                    job.failed_name)
        return target

    def _finish_failure(self, job: Job) -> None:
        assert job.failed_name is not None
        if os.path.lexists(job.input):  # lexists: a dangling symlink is moved too
            atomic_move(job.input, self.root.failed / job.failed_name, overwrite=True)

    # ------------------------------------------------------------ changing documents

    def load(self, doc_id: int) -> tuple[Document, str]:
        ref = self.index.ref(doc_id)
        if ref is None:
            raise NotFoundError(f"no document with id {doc_id}; "
                                "if the archive was changed by hand, run 'paperfs reindex'")
        return read_sidecar(self.sidecar_path(ref.path)), ref.path

    def update(self, doc_id: int, change: Callable[[Document], Document]) -> Document:
        doc, rel = self.load(doc_id)
        new = change(doc)
        if new.metadata_equals(doc):
            return doc
        return self.apply(new.replace(modified=now()), rel)

    def apply(self, doc: Document, rel: str) -> Document:
        """Write doc's sidecar, moving the pair first if its template path changed."""
        target = self.choose_path(doc, current=rel)
        if target != rel:
            self.move_pair(doc.id, rel, target)
        write_sidecar(self.sidecar_path(target), doc)
        self._index(doc, target)
        return doc

    def move_pair(self, doc_id: int, old: str, new: str) -> None:
        record = self.root.journal / f"move-{doc_id}.yml"
        atomic_write_text(record, yaml.dump({"id": doc_id, "from": old, "to": new},
                                            Dumper=yaml.CSafeDumper, allow_unicode=True))
        self._complete_move(old, new)
        record.unlink()
        fsync_dir(self.root.journal)
        log.info("doc %d: moved archive/%s -> archive/%s", doc_id, old, new)

    def _complete_move(self, old: str, new: str) -> None:
        for suffix in (PDF, YML):
            src = self.root.archive / (old + suffix)
            if src.exists():
                atomic_move(src, self.root.archive / (new + suffix), overwrite=True)
        for suffix in (EDIT_ERROR_SUFFIX,):
            (self.root.archive / (old + suffix)).unlink(missing_ok=True)
        prune_empty_dirs((self.root.archive / old).parent, self.root.archive)

    def replay_journal(self) -> int:
        """Complete pair moves a crash interrupted."""
        count = 0
        for record in sorted(self.root.journal.glob("move-*.yml")):
            data = yaml.load(record.read_text("utf-8"), Loader=yaml.CSafeLoader)
            self._complete_move(data["from"], data["to"])
            doc = read_sidecar(self.sidecar_path(data["to"]))
            self._index(doc, data["to"])
            record.unlink()
            count += 1
        return count

    # ------------------------------------------------------------ hand edits

    def sidecar_changed(self, sidecar: Path) -> str:
        """Apply a sidecar that changed on disk; returns what happened (for logs/tests)."""
        rel = self.rel_of(sidecar)
        note = self.root.archive / (rel + EDIT_ERROR_SUFFIX)
        if not sidecar.exists():
            ref = self.index.ref_by_path(rel)
            if ref is not None:
                self.index.delete([ref.id])
                log.info("doc %d: sidecar archive/%s%s was deleted; removed from the index",
                         ref.id, rel, YML)
                return "deleted"
            return "unknown"
        stat = sidecar.stat()
        ref = self.index.ref_by_path(rel)
        if ref is not None and (ref.mtime_ns, ref.size) == (stat.st_mtime_ns, stat.st_size):
            return "unchanged"  # our own write
        try:
            doc = read_sidecar(sidecar)
            known = self.index.ref(doc.id)
            self._check_bookkeeping(doc, known, rel)
        except SidecarError as exc:
            atomic_write_text(note, f"This sidecar edit was not applied:\n{exc}\n\n"
                                    "Fix the sidecar and save it again; this note then "
                                    "disappears.\n")
            log.error("invalid sidecar edit, not applied: %s", exc)
            return "invalid"
        note.unlink(missing_ok=True)
        if known is not None and known.path != rel:
            if self.sidecar_path(known.path).exists():
                atomic_write_text(note, f"Document id {doc.id} is already at "
                                        f"archive/{known.path}{YML}; a copied sidecar "
                                        "needs no id of its own. Remove this copy.\n")
                log.error("archive/%s%s duplicates id %d of archive/%s%s", rel, YML, doc.id,
                          known.path, YML)
                return "invalid"
            # Moved by hand in a file manager: respect where the person put it.
            self._index(doc, rel)
            log.info("doc %d: moved by hand to archive/%s", doc.id, rel)
            return "moved"
        self.apply(doc.replace(modified=now()), rel)
        log.info("doc %d: applied hand edit of archive/%s%s", doc.id, rel, YML)
        return "applied"

    def _check_bookkeeping(self, doc: Document, known: FiledRef | None, rel: str) -> None:
        if not self.pdf_path(rel).exists():
            raise SidecarError(f"{self.sidecar_path(rel)}: the PDF {rel}{PDF} beside it is "
                               "missing; keep the .pdf and .yml together")
        if known is None:
            return
        if doc.original.sha256 != known.original_sha256 or doc.archive.sha256 != known.archive_sha256:
            raise SidecarError(f"{self.sidecar_path(rel)}: original/archive are maintained "
                               "by paperfs; undo the change to these fields")


def remove_failed_info(failed_file: Path) -> None:
    failed_file.with_name(failed_file.name + FAILED_INFO_SUFFIX).unlink(missing_ok=True)


def retry_failed(root: DataRoot) -> list[Path]:
    """Move every failed input back into the inbox (its .error.yml goes away)."""
    moved = []
    for path in sorted(root.failed.iterdir()):
        if path.name.endswith(FAILED_INFO_SUFFIX) or not path.is_file():
            continue
        target = unused_path(root.inbox, path.name)
        atomic_move(path, target)
        remove_failed_info(path)
        moved.append(target)
    return moved

