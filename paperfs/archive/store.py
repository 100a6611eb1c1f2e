"""The writer: the only code that changes archive/, originals/, failed/ and the index.

It runs in one thread of one process (guarded by the writer lock), so two
documents never race for a path. Every multi-step change is ordered so that
a crash at any instant leaves a state the next start-up completes:
- filing (each document a job yields): its id and path are recorded in the
  job first; original, then PDF, then the sidecar (the commit point), then
  the index; the job is removed after the last;
- moving a pair: the intent is journaled, the PDF then the sidecar are
  renamed, the journal entry is removed; start-up replays what is left.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Sequence

import yaml

from paperfs.archive.atomic import (atomic_copy, atomic_move, atomic_write_text, fsync_dir,
                            prune_empty_dirs, unused_path)
from paperfs.config import Config
from paperfs.archive.custom_fields import fields_of
from paperfs.archive.document import Document, read_sidecar, sha256_file, write_sidecar
from paperfs.errors import (AsnInUseError, ConsumeError, DuplicateError, NotFoundError,
                            SidecarError)
from paperfs.index.base import FiledRef, Index, IndexEntry
from paperfs.consume.jobs import Job, Part
from paperfs.consume.messages import ProposedDocument
from paperfs.archive.layout import DataRoot
from paperfs.archive.naming import PathRules, clean_component, with_collision_suffix
from paperfs.mail_documents.links import ids_by_number, known_attachments, with_mail_links

log = logging.getLogger(__name__)

PDF, YML = ".pdf", ".yml"
#: written beside a sidecar whose hand edit was rejected; removed once it is valid
EDIT_ERROR_SUFFIX = ".paperfs-error.txt"
FAILED_INFO_SUFFIX = ".error.yml"


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def write_failure_info(target: Path, info: dict[str, Any]) -> None:
    """The readable NAME.error.yml beside a file in failed/ (why, and what to do)."""
    atomic_write_text(target.with_name(target.name + FAILED_INFO_SUFFIX),
                      yaml.dump(info, Dumper=yaml.CSafeDumper, sort_keys=False,
                                allow_unicode=True, width=100))


class Archive:
    def __init__(self, root: DataRoot, config: Config, index: Index, rules: PathRules) -> None:
        self.root = root
        self.config = config
        self.index = index
        self.rules = rules
        #: ids of documents whose metadata changed (update, hand edit), for the writer to
        #: hand to its listeners (workflows' document_updated); taken by LocalWriter
        self.changed: list[int] = []
        #: custom field declarations: edits of a declared field's value are checked
        self.fields = fields_of(root.fields_file)

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

    def choose_path(self, doc: Document, current: str | None = None,
                    also_taken: frozenset[str] = frozenset()) -> str:
        """*also_taken*: paths (casefolded) placed for other documents of the same job,
        whose sidecars are not written yet (a mail and its attachment titled alike)."""
        base = self.rules.destination(doc)
        candidates = [base, with_collision_suffix(base, doc.id)]
        for candidate in candidates:
            rel = candidate.as_posix()
            if rel.casefold() in also_taken and rel != current:
                continue
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

    def committed(self, part: Part) -> Document | None:
        """The part's document if its sidecar (the commit point) is written, else None."""
        if part.doc_id is None or part.archive_path is None:
            return None
        try:
            doc = read_sidecar(self.sidecar_path(part.archive_path))
        except (OSError, SidecarError):
            return None
        return doc if doc.id == part.doc_id else None

    def resume(self, job: Job) -> bool:
        """Finish a job a crash interrupted after its last document was committed, or
        a failure; False: it is prepared again and commit() files what is missing."""
        if job.failed_name is not None:
            self._finish_failure(job)
            return True
        docs = [self.committed(part) for part in job.parts]
        if not docs or None in docs:
            return False
        for part, doc in zip(job.parts, docs):
            assert doc is not None and part.archive_path is not None
            self._index(doc, part.archive_path)
            log.info("doc %d: resumed filing of %s at archive/%s", doc.id, job.source,
                     part.archive_path)
        return True

    def commit(self, job: Job,
               proposals: Sequence[ProposedDocument]) -> tuple[Job, list[tuple[Document, str]]]:
        """File the documents prepared from a job; returns the updated job and each
        document with its archive path.

        For each part, in order (pipeline.COMMIT_STAGES): place (id and path,
        recorded in job.yml with the number of parts), write (original, PDF,
        then the sidecar: the commit point), index. Repeatable with the job as
        job.yml records it: parts already committed are only indexed, a part
        that stopped halfway (a crash, a full disk) is completed."""
        # a mail's attachment the archive has already: linked to, not filed again
        known = known_attachments(proposals, self.index.find_checksum,
                                  {part.doc_id for part in job.parts})
        every = proposals
        proposals = [p for number, p in enumerate(every) if number not in known]
        job = self._sized(job, len(proposals))
        done = [self.committed(part) for part in job.parts]
        self._refuse_duplicates(job, proposals, done)
        self._refuse_asns_in_use(job, proposals, done)
        placed: dict[int, Document] = {}
        for number, proposal in enumerate(proposals):
            if done[number] is None:  # every id decided before any sidecar: links need them
                job, placed[number] = self._place(job, number, proposal)
        ids = ids_by_number(len(every), known, [part.doc_id for part in job.parts])
        filed = []
        for number, proposal in enumerate(proposals):
            doc = done[number]
            if doc is None:
                doc = with_mail_links(placed[number], proposal, ids)
                self._write(job.parts[number], proposal, doc)
            rel = job.parts[number].archive_path
            assert rel is not None
            self._index(doc, rel)
            if done[number] is None:
                log.info("doc %d: filed %s as archive/%s%s", doc.id, job.source, rel, PDF)
            filed.append((doc, rel))
        return job, filed

    def _sized(self, job: Job, count: int) -> Job:
        """The job with one part per proposed document (recorded with the first placed)."""
        if len(job.parts) == count:
            return job
        if any(self.committed(part) is not None for part in job.parts[count:]):
            # Prepared again (after a crash) into fewer documents than the first time.
            log.warning("job %s: %d document(s) now, %d before; those filed already stay",
                        job.job_id, count, len(job.parts))
        kept = job.parts[:count]
        return dataclasses.replace(job, parts=kept + (Part(),) * (count - len(kept)))

    def _refuse_duplicates(self, job: Job, proposals: Sequence[ProposedDocument],
                           done: list[Document | None]) -> None:
        """Before anything is written: an original the archive has already fails the job."""
        ours = {part.doc_id for part in job.parts}
        for proposal, doc in zip(proposals, done):
            if doc is not None:
                continue
            existing = self.index.find_checksum(proposal.original_sha256)
            if existing is not None and existing.id not in ours:
                raise DuplicateError(
                    f"{proposal.original_filename} is already in the archive as document "
                    f"{existing.id}: archive/{existing.path}{PDF}")

    def _refuse_asns_in_use(self, job: Job, proposals: Sequence[ProposedDocument],
                            done: list[Document | None]) -> None:
        """An ASN (from a barcode) that another document holds fails the job. Checked
        here, at filing, against the catalog: two parts or two jobs may race for it."""
        ours = {part.doc_id for part in job.parts}
        seen: set[int] = set()
        for proposal, doc in zip(proposals, done):
            if doc is not None or proposal.asn is None:
                continue
            if proposal.asn in seen:
                raise AsnInUseError(f"{job.filename}: ASN {proposal.asn} is on two of the "
                                    "documents cut from it; give each its own label")
            seen.add(proposal.asn)
            holder = self.index.find_asn(proposal.asn)  # Solr: from the local catalog
            if holder is not None and holder.id not in ours:
                raise AsnInUseError(
                    f"{proposal.original_filename}: ASN {proposal.asn} is already held by "
                    f"document {holder.id}: archive/{holder.path}{PDF}. Put a new label on "
                    "the paper, or remove the ASN from that document, then retry")

    def _place(self, job: Job, number: int,
               proposal: ProposedDocument) -> tuple[Job, Document]:
        """The part's id and archive path, recorded in job.yml before anything is written."""
        part = job.parts[number]
        doc_id = part.doc_id if part.doc_id is not None else self.next_id()
        original = self.root.original_path(doc_id, proposal.original_suffix)
        doc = proposal.to_document(doc_id, now(), original.relative_to(self.root.root).as_posix())
        others = frozenset(p.archive_path.casefold() for n, p in enumerate(job.parts)
                           if n != number and p.archive_path)
        placed = Part(doc_id=doc_id,
                      archive_path=part.archive_path or self.choose_path(doc, also_taken=others))
        if placed != part:
            job = job.with_part(number, placed).record()
        return job, doc

    def _write(self, part: Part, proposal: ProposedDocument, doc: Document) -> None:
        """Original, PDF, then the sidecar: the commit point."""
        assert part.archive_path is not None
        original = self.root.root / doc.original.path
        # Copied once. Other bytes there come from an attempt that stopped before its
        # sidecar (a part cut anew after a restart): nothing refers to them yet.
        if not original.exists() or sha256_file(original) != proposal.original_sha256:
            atomic_copy(proposal.original_file, original)
        target = self.pdf_path(part.archive_path)
        if not self._placed_earlier(proposal, target):
            atomic_move(proposal.archive_pdf, target, overwrite=True)
        write_sidecar(self.sidecar_path(part.archive_path), doc)

    @staticmethod
    def _placed_earlier(proposal: ProposedDocument, target: Path) -> bool:
        """Whether an earlier attempt of this commit moved the PDF into place already."""
        return (not proposal.archive_pdf.exists() and target.exists()
                and sha256_file(target) == proposal.archive.sha256)

    def index_document(self, doc: Document, rel: str) -> None:
        """The index learns *doc* at archive/<rel> as its sidecar is now on disk."""
        self._index(doc, rel)

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
        mail = (job.settings or {}).get("mail") or {}
        if mail.get("record"):  # the IMAP intake finds its mail's outcome by it
            info["mail_record"] = mail["record"]
        target = self.root.failed / job.failed_name
        write_failure_info(target, info)
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
        new = self.checked_fields(change(doc), f"document {doc_id}", before=doc)
        if new.metadata_equals(doc):
            if new.extra != doc.extra:  # bookkeeping only (workflow runs): not a change
                return self.apply(new, rel)
            return doc
        new = self.apply(new.replace(modified=now()), rel)
        self.changed.append(doc_id)
        return new

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
            doc = self.checked_fields(read_sidecar(sidecar), str(sidecar))
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
        self.changed.append(doc.id)
        log.info("doc %d: applied hand edit of archive/%s%s", doc.id, rel, YML)
        return "applied"

    def checked_fields(self, doc: Document, where: str, before: Document | None = None
                       ) -> Document:
        """*doc* with its custom field values in their sidecar notation; a value wrong
        for its declared type is a SidecarError. With *before*, only the values that
        differ from it are checked (an old value declared later does not block edits)."""
        fields = self.fields.current()
        if not fields.fields or not doc.custom_fields:
            return doc
        changed = {name: value for name, value in doc.custom_fields.items()
                   if before is None or before.custom_fields.get(name, ...) != value}
        values, problems = fields.validate(changed)
        if problems:
            raise SidecarError(f"{where}: custom_fields: " + "; ".join(problems)
                               + f" (declared in {self.root.fields_file.name})")
        if values == changed:
            return doc
        return doc.replace(custom_fields={**doc.custom_fields, **values})

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

