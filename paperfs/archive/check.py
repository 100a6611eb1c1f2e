"""``paperfs check``: is the archive sound, and is the index in step with it?

Checks, for every sidecar in archive/:
- it parses and follows the schema (``invalid-sidecar``);
- its PDF is beside it (``missing-pdf``) and its original is in originals/
  (``missing-original``);
- unless ``quick``: both files still have the SHA-256 the sidecar records
  (``archive-checksum``, ``original-checksum``) — bit rot, or a file replaced
  by hand;
- no other sidecar has the same id (``duplicate-id``);
- the index has it, at this path, as it is now (``index-missing``,
  ``index-stale``); the index has nothing else (``index-extra``).
And for the rest of the tree:
- a PDF without a sidecar (``orphan-pdf``); ``*.paperfs-error.txt`` notes
  and hidden files are ignored;
- an original that no sidecar refers to (``orphan-original``, a warning).
And labels.yml: it loads (``invalid-labels``: its message names the line
and the problem; the daemon keeps the last valid version in force), and the
rules that failed on the daemon's recent documents (``rule-problem``, a
warning: a regex that timed out).

``fix`` repairs what is safe to repair and never deletes or overwrites a
user's file: index problems are fixed by the start-up sync (what
``paperfs reindex --changed`` does; it needs the writer lock, so not while
the daemon runs — the daemon keeps its index in step itself); an orphan PDF
is *adopted*: a copy goes into the inbox to be consumed as a new document
(the orphan stays where it is; once the copy is filed the orphan is reported
as a copy of that document, to be removed by hand if unwanted). Everything
else is reported with what to do.

Hashing every file is the slow part (it reads the whole archive); it is the
default, with a progress bar, because finding damaged files is what a check
is for. ``quick`` skips it.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from paperfs.archive.store import EDIT_ERROR_SUFFIX
from paperfs.archive.atomic import atomic_copy
from paperfs.config import Config
from paperfs.archive.document import Document, read_sidecar, sha256_file
from paperfs.archive.trash import Trash
from paperfs.archive.versions import version_folders, version_problems
from paperfs.classify.labels import LabelsError, load_labels
from paperfs.errors import DataRootError, NotFoundError, SidecarError
from paperfs.runtime import Runtime

log = logging.getLogger(__name__)

ERROR = "error"
WARNING = "warning"


@dataclass
class Problem:
    kind: str
    #: the file concerned, relative to the data root
    path: str
    message: str
    fix: str
    severity: str = ERROR
    fixable: bool = False
    fixed: bool = False

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class CheckReport:
    documents: int = 0
    checksums: bool = True
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def left(self) -> list[Problem]:
        """Errors not repaired (warnings do not count)."""
        return [p for p in self.problems if not p.fixed and p.severity == ERROR]

    @property
    def ok(self) -> bool:
        return not self.left

    def to_json(self) -> dict:
        return {"documents": self.documents, "checksums_verified": self.checksums,
                "ok": self.ok, "problems": [p.to_json() for p in self.problems],
                "left": len(self.left), "notes": self.notes}


@dataclass
class _Tree:
    sidecars: list[Path] = field(default_factory=list)
    pdfs: list[Path] = field(default_factory=list)


def _walk(archive: Path) -> _Tree:
    tree = _Tree()
    for folder, dirs, files in os.walk(archive):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith(".") or name.endswith(EDIT_ERROR_SUFFIX):
                continue
            lower = name.lower()
            if lower.endswith(".yml"):
                tree.sidecars.append(Path(folder) / name)
            elif lower.endswith(".pdf"):
                tree.pdfs.append(Path(folder) / name)
    return tree


class Checker:
    def __init__(self, runtime: Runtime | Config, *, quick: bool = False,
                 progress: Callable[[int], None] | None = None,
                 on_total: Callable[[int], None] | None = None) -> None:
        self.runtime = Runtime.of(runtime)
        self.root = self.runtime.root
        self.quick = quick
        self.progress = progress
        self.on_total = on_total

    def rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root.root).as_posix()
        except ValueError:
            return str(path)

    # ------------------------------------------------------------ checking

    def check(self) -> CheckReport:
        root = self.root
        root.check_initialised()
        report = CheckReport(checksums=not self.quick)
        tree = _walk(root.archive)
        if self.on_total:
            self.on_total(len(tree.sidecars))
        add = report.problems.append
        by_id: dict[int, str] = {}
        docs: dict[str, tuple[Document, os.stat_result]] = {}  # archive-relative stem -> doc
        referenced: set[str] = set()
        stems = set()
        invalid: set[str] = set()
        for sidecar in tree.sidecars:
            if self.progress:
                self.progress(1)
            stem = sidecar.relative_to(root.archive).with_suffix("").as_posix()
            stems.add(stem)
            try:
                st = sidecar.stat()
                doc = read_sidecar(sidecar)
            except (SidecarError, OSError) as exc:
                invalid.add(stem)
                add(Problem("invalid-sidecar", self.rel(sidecar), str(exc),
                            "correct the sidecar by hand; paperfs applies it once it is "
                            "valid (the running daemon leaves a .paperfs-error.txt note "
                            "beside it explaining the problem)"))
                continue
            referenced.add(doc.original.path)
            if doc.id in by_id:
                add(Problem("duplicate-id", self.rel(sidecar),
                            f"id {doc.id} is also used by archive/{by_id[doc.id]}.yml",
                            "ids must be unique: if this is a copy, remove the copy (both "
                            ".pdf and .yml); the index keeps the first one"))
                continue
            by_id[doc.id] = stem
            docs[stem] = (doc, st)
            for kind, path, message in version_problems(root, doc, not self.quick):
                add(Problem(kind, self.rel(path), message,
                            "restore it from a backup; the current version is unaffected "
                            "(docs/paper.md, page edits and versions)"))
            report.documents += 1
            pdf = sidecar.with_suffix(".pdf")
            if not pdf.exists():
                add(Problem("missing-pdf", self.rel(pdf),
                            f"document {doc.id}: the PDF beside {sidecar.name} is missing",
                            "restore the PDF from a backup, or move it back beside its "
                            "sidecar (a .pdf and its .yml always travel together)"))
            elif not self.quick and sha256_file(pdf) != doc.archive.sha256:
                add(Problem("archive-checksum", self.rel(pdf),
                            f"document {doc.id}: the PDF's SHA-256 differs from the one in "
                            "its sidecar (damaged, or replaced by another file)",
                            "restore the PDF from a backup; the untouched original is "
                            f"{doc.original.path}"))
            original = root.root / doc.original.path
            if not original.exists():
                add(Problem("missing-original", doc.original.path,
                            f"document {doc.id}: its original is missing",
                            "restore it from a backup (originals are never changed, so any "
                            "backup copy is good)"))
            elif not self.quick and sha256_file(original) != doc.original.sha256:
                add(Problem("original-checksum", doc.original.path,
                            f"document {doc.id}: the original's SHA-256 differs from the one "
                            "in the sidecar (damaged, or replaced)",
                            "restore the original from a backup"))
        for pdf in tree.pdfs:
            stem = pdf.relative_to(root.archive).with_suffix("").as_posix()
            if stem not in stems and not pdf.with_suffix(".yml").exists():
                add(Problem("orphan-pdf", self.rel(pdf), "a PDF without a sidecar",
                            "'paperfs check --fix' adopts it: a copy goes into the inbox and "
                            "is filed as a new document; or move it back beside its sidecar",
                            fixable=True))
        # A trashed document keeps its original until the trash expires.
        for entry in Trash(self.root).entries():
            try:
                referenced.add(read_sidecar(entry.sidecar).original.path)
            except SidecarError as exc:  # reported with the rest, not the end of the check
                add(Problem("invalid-sidecar", self.rel(entry.sidecar), f"in the trash: {exc}",
                            "repair it from a backup (until then its original counts as "
                            "an orphan)"))
        self._check_originals(report, referenced)
        self._check_versions(report, set(by_id))
        self._check_index(report, docs, invalid)
        self._check_labels(report)
        return report

    def _check_labels(self, report: CheckReport) -> None:
        """The user's files load (labels.yml, fields.yml, workflows.yml: the message
        names the line), and the rules that failed in the daemon."""
        from paperfs.archive.custom_fields import FieldsError, load_fields
        from paperfs.workflows.definitions import WorkflowsError, load_workflows

        kept = "until then the last valid version stays in force"
        files: list[tuple[Path, Callable[[Path], object], type[Exception], str]] = [
            (self.root.labels_file, load_labels, LabelsError,
             f"correct labels.yml by hand or with 'paperfs label edit'; {kept}"),
            (self.root.fields_file, load_fields, FieldsError,
             f"correct fields.yml by hand or with 'paperfs field'; {kept}"),
            (self.root.workflows_file, load_workflows, WorkflowsError,
             f"correct workflows.yml ('paperfs workflow check' checks it); {kept}"),
        ]
        for path, load, error, fix in files:
            try:
                load(path)
            except error as exc:
                report.problems.append(Problem(f"invalid-{path.stem}", self.rel(path), str(exc), fix))
        labels = self.rel(self.root.labels_file)
        try:
            recent = json.loads(self.root.status_file.read_text()).get("classify_problems")
        except (OSError, ValueError, AttributeError):
            recent = None
        for problem in recent or ():
            report.problems.append(Problem(
                "rule-problem", labels, f"the daemon reported: {problem}",
                "simplify the pattern (a regex must finish within "
                "classify.regex_timeout_seconds), or raise that limit", severity=WARNING))

    def _check_versions(self, report: CheckReport, filed: set[int]) -> None:
        """Kept versions of documents that are neither filed nor in the trash."""
        for doc_id, folder in version_folders(self.root).items():
            if doc_id not in filed and not (self.root.trash / f"{doc_id:07d}").exists():
                report.problems.append(Problem(
                    "orphan-versions", self.rel(folder),
                    f"earlier versions of document {doc_id}, which no longer exists",
                    "if it was deleted on purpose, remove the folder to free the space",
                    severity=WARNING))

    def _check_originals(self, report: CheckReport, referenced: set[str]) -> None:
        originals = self.root.originals
        for folder, dirs, files in os.walk(originals):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if name.startswith("."):
                    continue
                rel = self.rel(Path(folder) / name)
                if rel not in referenced:
                    report.problems.append(Problem(
                        "orphan-original", rel, "an original no sidecar refers to",
                        "if its document was deleted on purpose, nothing to do (remove the "
                        "file to free the space); to file it again, copy it into the inbox",
                        severity=WARNING))

    def _check_index(self, report: CheckReport,
                     docs: dict[str, tuple[Document, os.stat_result]],
                     invalid: set[str]) -> None:
        fix = ("run 'paperfs check --fix' or 'paperfs reindex --changed' (with the daemon "
               "stopped; a running daemon catches up by itself)")
        try:
            index = self.runtime.open_catalog()
        except (NotFoundError, DataRootError) as exc:
            report.problems.append(Problem("index-missing", self.rel(self.root.index_db),
                                           str(exc), "run 'paperfs reindex'", fixable=True))
            return
        try:
            indexed = {ref.path: ref for ref in index.refs()}
        finally:
            index.close()
        for stem, (doc, st) in docs.items():
            ref = indexed.get(stem)
            sidecar = f"archive/{stem}.yml"
            if ref is None:
                report.problems.append(Problem(
                    "index-missing", sidecar, f"document {doc.id} is not in the index", fix,
                    fixable=True))
            elif ref.id != doc.id or (ref.mtime_ns, ref.size) != (st.st_mtime_ns, st.st_size):
                report.problems.append(Problem(
                    "index-stale", sidecar,
                    f"document {doc.id}: the sidecar changed since it was indexed "
                    "(an edit not yet applied)", fix, fixable=True))
        for path, ref in indexed.items():
            # An invalid edit keeps the last valid version in the index (as the
            # daemon does); the invalid-sidecar problem already says what to do.
            if path not in docs and path not in invalid:
                report.problems.append(Problem(
                    "index-extra", f"archive/{path}.yml",
                    f"the index lists document {ref.id} here, but there is no valid sidecar",
                    fix, fixable=True))

    # ------------------------------------------------------------ fixing

    def fix(self, report: CheckReport) -> CheckReport:
        """Repair what is safe; returns a fresh report with ``fixed`` marked."""
        adopted = self._adopt_orphans(report)
        index_kinds = {"index-missing", "index-stale", "index-extra"}
        if any(p.kind in index_kinds for p in report.problems):
            from paperfs.archive.reindex import reindex

            try:
                reindex(self.runtime, changed=self.root.index_db.exists())
            except DataRootError as exc:
                report.notes.append(f"index not repaired: {exc}")
        quick, self.quick = self.quick, True  # checksums cannot change by fixing
        try:
            after = self.check()
        finally:
            self.quick = quick
        still = {(p.kind, p.path) for p in after.problems}
        for problem in report.problems:
            if problem.fixable and (problem.kind, problem.path) not in still:
                problem.fixed = True
        for problem in report.problems:
            if problem.kind == "orphan-pdf" and problem.path in adopted:
                problem.fixed = True
                problem.message += f"; adopted: copied to {adopted[problem.path]}"
        # Problems that are new after the fix (e.g. an edit applied by the sync
        # moved a pair) are reported too.
        known = {(p.kind, p.path) for p in report.problems}
        report.problems.extend(p for p in after.problems if (p.kind, p.path) not in known)
        report.documents = after.documents
        return report

    def _adopt_orphans(self, report: CheckReport) -> dict[str, str]:
        adopted: dict[str, str] = {}
        orphans = [p for p in report.problems if p.kind == "orphan-pdf"]
        if not orphans:
            return adopted
        index = None
        try:
            index = self.runtime.open_catalog()
        except (NotFoundError, DataRootError):
            pass
        inbox_sums = self._inbox_checksums()
        try:
            for problem in orphans:
                path = self.root.root / problem.path
                digest = sha256_file(path)
                ref = index.find_checksum(digest) if index is not None else None
                if ref is not None:
                    problem.fixable = False
                    problem.message = (f"a PDF without a sidecar; it is a copy of document "
                                       f"{ref.id} (archive/{ref.path}.pdf)")
                    problem.fix = ("nothing is lost: remove this copy by hand if you do not "
                                   "need it (paperfs never deletes your files)")
                    continue
                if digest in inbox_sums:
                    adopted[problem.path] = inbox_sums[digest]
                    continue
                target = self._free_inbox_name(path.name)
                atomic_copy(path, target)
                inbox_sums[digest] = self.rel(target)
                adopted[problem.path] = self.rel(target)
                log.info("adopted %s: copied to %s", problem.path, self.rel(target))
        finally:
            if index is not None:
                index.close()
        return adopted

    def _inbox_checksums(self) -> dict[str, str]:
        sums: dict[str, str] = {}
        inbox = self.root.inbox
        if inbox.is_dir():
            for path in sorted(inbox.iterdir()):
                if path.is_file() and path.suffix.lower() == ".pdf":
                    sums[sha256_file(path)] = self.rel(path)
        return sums

    def _free_inbox_name(self, name: str) -> Path:
        self.root.inbox.mkdir(parents=True, exist_ok=True)
        target = self.root.inbox / name
        stem, suffix = os.path.splitext(name)
        n = 1
        while target.exists():
            n += 1
            target = self.root.inbox / f"{stem} ({n}){suffix}"
        return target


def check(runtime: Runtime | Config, *, fix: bool = False, quick: bool = False,
          progress: Callable[[int], None] | None = None,
          on_total: Callable[[int], None] | None = None) -> CheckReport:
    checker = Checker(runtime, quick=quick, progress=progress, on_total=on_total)
    report = checker.check()
    if fix and any(p.fixable for p in report.problems):
        checker.progress = None  # the second pass is not shown
        report = checker.fix(report)
    return report
