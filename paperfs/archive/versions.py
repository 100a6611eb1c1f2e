"""Versions of a document's archive PDF: the model, where they are kept, page-edit
requests, and the crash-safe switch to a new version.

A page edit (``paperfs pages``, a PDF uploaded over WebDAV) becomes a
*request*: a folder in ``.paperfs/edits/`` with the new PDF(s) and
``edit.yml`` (which document, the version it was made from, what was done, by
whom, which pages need new text). Whoever holds the writer commits it: the
daemon, or ``paperfs pages`` when no daemon runs (paperfs/daemon/page_edits.py).

The switch (``commit_edit``), in this order, each step atomic:

1. ``journal/edit-<id>.yml`` records the intent (the base and new checksums,
   the ids given to split-off parts);
2. the current PDF is kept as ``versions/<shard>/<id>/v<N>.pdf``;
3. split-off parts are filed as documents of their own (original, PDF,
   sidecar, index);
4. the new PDF is copied over the archive PDF;
5. the sidecar is written with the new version last in ``versions:`` — the
   commit point — and the index follows;
6. merged documents go to the trash; the request and the journal entry go.

After a crash (``finish_interrupted_edits``, at every start of a writer): an
entry whose sidecar names the new checksum is completed; any other is rolled
back — the kept PDF is put back, the parts are removed — so the previous
version is intact and current. The request stays and is tried again; one made
from a version that is no longer current is refused, so an edit never applies
twice.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import secrets
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Container, Mapping, Sequence

import yaml

from paperfs.archive.atomic import atomic_copy, atomic_write_text, fsync_dir, prune_empty_dirs
from paperfs.archive.document import (ArchiveInfo, Document, OriginalInfo, read_sidecar,
                                      sha256_file, write_sidecar)
from paperfs.archive.layout import DataRoot
from paperfs.errors import ConsumeError, SidecarError

if TYPE_CHECKING:
    from paperfs.archive.pages import TextOutcome
    from paperfs.archive.store import Archive

log = logging.getLogger(__name__)

VERSIONS_KEY = "versions"
PROVENANCE_KEY = "provenance"
REQUEST_FILE = "edit.yml"
#: tests set it to a step name: the process kills itself there (crash tests)
CRASH_ENV = "CRASH_PAPERFS_EDIT_AT"  # not PAPERFS_*: those are configuration
CRASH_STEPS = ("journal", "kept", "parts", "pdf", "sidecar", "merged")


class StaleEditError(ConsumeError):
    """An edit made from a version that is no longer current."""

    reason = "stale-edit"


def _crash_point(step: str) -> None:
    if os.environ.get(CRASH_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


# ------------------------------------------------------------------ the model


@dataclass(frozen=True)
class Version:
    version: int
    sha256: str
    pages: int
    made: dt.datetime
    by: str | None
    operation: str

    def to_yaml(self) -> dict[str, Any]:
        return {"version": self.version, "sha256": self.sha256, "pages": self.pages,
                "made": self.made, "by": self.by, "operation": self.operation}

    @classmethod
    def from_yaml(cls, data: Any, where: str) -> "Version":
        try:
            made = data["made"]
            if isinstance(made, str):
                made = dt.datetime.fromisoformat(made)
            return cls(int(data["version"]), str(data["sha256"]), int(data["pages"]), made,
                       data.get("by"), str(data.get("operation") or ""))
        except (KeyError, TypeError, ValueError) as exc:
            raise SidecarError(f"{where}: versions: each needs version, sha256, pages, made "
                               f"({exc})") from None


def history(doc: Document) -> list[Version]:
    """The document's versions, the current one last. A document never edited has
    one: the PDF it was filed with."""
    raw = doc.extra.get(VERSIONS_KEY)
    if not raw:
        return [Version(1, doc.archive.sha256, doc.archive.pages, doc.added, None, "filed")]
    if not isinstance(raw, list):
        raise SidecarError(f"document {doc.id}: versions: expected a list")
    return [Version.from_yaml(item, f"document {doc.id}") for item in raw]


def with_history(doc: Document, versions: Sequence[Version], **extra: Any) -> Document:
    return doc.replace(extra={**doc.extra, VERSIONS_KEY: [v.to_yaml() for v in versions],
                              **extra})


def version_file(root: DataRoot, doc_id: int, number: int) -> Path:
    """Where an earlier version's PDF is kept (the current one is the archive PDF)."""
    return root.versions / f"{doc_id // 1000:04d}" / f"{doc_id:07d}" / f"v{number}.pdf"


# ------------------------------------------------------------------ requests


@dataclass(frozen=True)
class Output:
    """One PDF a request makes: the first is the document's new version, any
    further one a document split off it."""

    file: str
    #: 0-based pages whose text is made again; None: the whole text stage (an upload)
    redo: tuple[int, ...] | None
    #: which pages of the base version it holds ("3-6"), for provenance
    pages_from: str = ""


@dataclass(frozen=True)
class EditRequest:
    folder: Path
    doc_id: int
    base_sha256: str
    operation: str
    by: str | None
    outputs: tuple[Output, ...]
    #: documents merged into this one: they go to the trash
    merged: tuple[int, ...] = ()

    def to_yaml(self) -> dict[str, Any]:
        return {"id": self.doc_id, "base_sha256": self.base_sha256,
                "operation": self.operation, "by": self.by,
                "outputs": [dataclasses.asdict(o) | {"redo": None if o.redo is None
                                                     else list(o.redo)}
                            for o in self.outputs],
                "merged": list(self.merged)}

    @classmethod
    def load(cls, folder: Path) -> "EditRequest":
        data = yaml.load((folder / REQUEST_FILE).read_text("utf-8"), Loader=yaml.CSafeLoader)
        outputs = tuple(Output(o["file"], None if o["redo"] is None else tuple(o["redo"]),
                               o.get("pages_from", "")) for o in data["outputs"])
        return cls(folder, int(data["id"]), data["base_sha256"], data["operation"],
                   data.get("by"), outputs, tuple(data.get("merged") or ()))


def new_request_folder(root: DataRoot) -> Path:
    """A folder to write a request's PDFs into; ``submit`` makes it visible."""
    folder = root.edits / f".tmp-{secrets.token_hex(6)}"
    folder.mkdir(parents=True)
    return folder


def submit(request: EditRequest) -> EditRequest:
    """Write edit.yml and rename the folder into the queue (oldest name first)."""
    atomic_write_text(request.folder / REQUEST_FILE,
                      yaml.dump(request.to_yaml(), Dumper=yaml.CSafeDumper, sort_keys=False,
                                allow_unicode=True))
    for output in request.outputs:
        with open(request.folder / output.file, "rb") as f:
            os.fsync(f.fileno())
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")  # sorts oldest first
    target = request.folder.with_name(f"{stamp}-{request.doc_id}-{secrets.token_hex(3)}")
    os.rename(request.folder, target)
    fsync_dir(target.parent)
    return dataclasses.replace(request, folder=target)


def pending_requests(root: DataRoot, known: Container[str] = ()) -> list[EditRequest]:
    """Submitted requests, oldest first, but those named in *known* (taken already, not
    read again); half-written ones (a crash) are removed."""
    out = []
    if not root.edits.is_dir():
        return out
    for folder in sorted(root.edits.iterdir()):
        if folder.name.startswith(".tmp-") or folder.name in known:
            continue
        try:
            out.append(EditRequest.load(folder))
        except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError) as exc:
            log.error("%s: not a readable page-edit request (%s); removed", folder, exc)
            shutil.rmtree(folder, ignore_errors=True)
    return out


def remove_unsubmitted(root: DataRoot, older_than: float = 3600.0) -> None:
    """Requests whose maker died before submitting them (an hour is far more than
    making one takes)."""
    if root.edits.is_dir():
        for folder in root.edits.glob(".tmp-*"):
            try:
                if time.time() - folder.stat().st_mtime > older_than:
                    shutil.rmtree(folder, ignore_errors=True)
            except FileNotFoundError:
                pass  # submitted meanwhile


# ------------------------------------------------------------------ the switch


def _journal(root: DataRoot, doc_id: int) -> Path:
    return root.journal / f"edit-{doc_id}.yml"


def commit_edit(archive: "Archive", request: EditRequest,
                texts: Sequence["TextOutcome"]) -> Document:
    """Make the request's first output the document's new version (see the module
    docstring for the order); returns the document as it now is."""
    root = archive.root
    doc, rel = archive.load(request.doc_id)
    if doc.archive.sha256 != request.base_sha256:
        raise StaleEditError(
            f"document {doc.id} changed after this edit ({request.operation}) was made from "
            "it; nothing was changed. Make the edit again on the current version")
    merged = [archive.load(other) for other in request.merged]
    past = history(doc)
    main = texts[0]
    new_sha = sha256_file(main.pdf)
    stamp = _now()
    parts = [_part(archive, doc, past[-1].version, output, text, stamp)
             for output, text in zip(request.outputs[1:], texts[1:])]
    kept = version_file(root, doc.id, past[-1].version)
    atomic_write_text(_journal(root, doc.id), yaml.dump(
        {"id": doc.id, "path": rel, "base_sha256": doc.archive.sha256, "new_sha256": new_sha,
         "kept": str(kept.relative_to(root.root)), "request": request.folder.name,
         "parts": [{"id": part.id, "path": part_rel} for part, part_rel, _ in parts],
         "merged": list(request.merged)},
        Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True))
    _crash_point("journal")
    if not (kept.exists() and sha256_file(kept) == doc.archive.sha256):
        atomic_copy(archive.pdf_path(rel), kept)
    _crash_point("kept")
    for part, part_rel, pdf in parts:
        atomic_copy(pdf, root.root / part.original.path)
        atomic_copy(pdf, archive.pdf_path(part_rel))
        write_sidecar(archive.sidecar_path(part_rel), part)
        archive.index_document(part, part_rel)
        log.info("doc %d: split off document %d (%s)", doc.id, part.id, part_rel)
    _crash_point("parts")
    atomic_copy(main.pdf, archive.pdf_path(rel))
    _crash_point("pdf")
    number = past[-1].version + 1
    version = Version(number, new_sha, len(main.pages), stamp, request.by, request.operation)
    extra: dict[str, Any] = {}
    if merged:
        extra[PROVENANCE_KEY] = {**(doc.extra.get(PROVENANCE_KEY) or {}), "merged_from": [
            {"id": other.id, "title": other.title, "pages": other.archive.pages}
            for other, _ in merged]}
    new = with_history(doc, past + [version], **extra).replace(
        archive=ArchiveInfo(sha256=new_sha, pages=len(main.pages), pdfa=main.pdfa,
                            ocr=doc.archive.ocr or main.ocr_pages > 0),
        content="\f".join(main.pages), modified=stamp)
    write_sidecar(archive.sidecar_path(rel), new)  # the commit point
    archive.index_document(new, rel)
    _crash_point("sidecar")
    _trash_merged(archive, doc.id, request.merged, request.by)
    _crash_point("merged")
    shutil.rmtree(request.folder, ignore_errors=True)
    _journal(root, doc.id).unlink()
    fsync_dir(root.journal)
    archive.changed.append(doc.id)
    log.info("doc %d: version %d (%s) by %s", doc.id, number, request.operation,
             request.by or "paperfs")
    return new


def _part(archive: "Archive", doc: Document, base_version: int, output: Output,
          text: "TextOutcome", stamp: dt.datetime) -> tuple[Document, str, Path]:
    """A document split off *doc*: its own id, path and original (its pages)."""
    sha = sha256_file(text.pdf)
    new_id = archive.next_id()
    original = archive.root.original_path(new_id, ".pdf")
    label = output.pages_from
    part = Document(
        id=new_id, title=f"{doc.title} (pages {label})", created=doc.created, added=stamp,
        modified=stamp,
        original=OriginalInfo(filename=f"{Path(doc.original.filename).stem} pages {label}.pdf",
                              mime_type="application/pdf", sha256=sha,
                              path=original.relative_to(archive.root.root).as_posix()),
        archive=ArchiveInfo(sha256=sha, pages=len(text.pages), pdfa=text.pdfa,
                            ocr=doc.archive.ocr),
        correspondent=doc.correspondent, document_type=doc.document_type, tags=doc.tags,
        owner=doc.owner, permissions=doc.permissions, custom_fields=dict(doc.custom_fields),
        source=dict(doc.source), language=doc.language, content="\f".join(text.pages),
        extra={PROVENANCE_KEY: {"split_from": {"id": doc.id, "version": base_version,
                                               "pages": label}}})
    return part, archive.choose_path(part), text.pdf


def _trash_merged(archive: "Archive", into: int, merged: Sequence[int], by: str | None) -> None:
    """After the commit point: the merged documents go to the trash, restorable."""
    from paperfs.archive.trash import Trash

    for other in merged:
        ref = archive.index.ref(other)
        if ref is None:
            continue  # already in the trash (a replay)
        sidecar = archive.sidecar_path(ref.path)
        doc = read_sidecar(sidecar)
        write_sidecar(sidecar, doc.replace(extra={
            **doc.extra, PROVENANCE_KEY: {**(doc.extra.get(PROVENANCE_KEY) or {}),
                                         "merged_into": into}}))
        Trash(archive.root).put(archive, other, ref.path, by or "paperfs")


def finish_interrupted_edits(archive: "Archive") -> int:
    """Complete or roll back version switches a crash interrupted; returns how many."""
    root = archive.root
    remove_unsubmitted(root)
    count = 0
    for record in sorted(root.journal.glob("edit-*.yml")):
        data = yaml.load(record.read_text("utf-8"), Loader=yaml.CSafeLoader)
        rel = data["path"]
        try:
            current = read_sidecar(archive.sidecar_path(rel))
        except (OSError, SidecarError):
            current = None
        if current is not None and current.archive.sha256 == data["new_sha256"]:
            archive.index_document(current, rel)
            _trash_merged(archive, current.id, data.get("merged") or (), None)
            shutil.rmtree(root.edits / data["request"], ignore_errors=True)
            log.info("doc %d: completed an interrupted page edit", data["id"])
        else:
            _roll_back(archive, data)
            log.warning("doc %d: a page edit was interrupted; the previous version stays "
                        "current", data["id"])
        record.unlink()
        count += 1
    if count:
        fsync_dir(root.journal)
    return count


def _roll_back(archive: "Archive", data: Mapping[str, Any]) -> None:
    root = archive.root
    kept = root.root / data["kept"]
    pdf = archive.pdf_path(data["path"])
    if kept.exists() and (not pdf.exists() or sha256_file(pdf) != data["base_sha256"]):
        if sha256_file(kept) == data["base_sha256"]:
            atomic_copy(kept, pdf)
    kept.unlink(missing_ok=True)
    prune_empty_dirs(kept.parent, root.versions)
    for part in data.get("parts") or ():
        for suffix in (".pdf", ".yml"):
            (root.archive / (part["path"] + suffix)).unlink(missing_ok=True)
        root.original_path(part["id"], ".pdf").unlink(missing_ok=True)
        prune_empty_dirs(archive.pdf_path(part["path"]).parent, root.archive)
        archive.index.delete([part["id"]])


# ------------------------------------------------------------------ paperfs check


def version_problems(root: DataRoot, doc: Document, checksums: bool) -> list[tuple[str, Path, str]]:
    """(kind, file, message) for each earlier version of *doc* that is missing or
    damaged (``paperfs check``)."""
    try:
        past = history(doc)
    except SidecarError as exc:
        return [("invalid-versions", root.versions, str(exc))]
    problems = []
    for version in past[:-1]:
        path = version_file(root, doc.id, version.version)
        if not path.exists():
            problems.append(("missing-version", path, f"document {doc.id}: version "
                             f"{version.version} ({version.operation}) is missing"))
        elif checksums and sha256_file(path) != version.sha256:
            problems.append(("version-checksum", path, f"document {doc.id}: version "
                             f"{version.version}'s SHA-256 differs from the sidecar's"))
    return problems


def version_folders(root: DataRoot) -> dict[int, Path]:
    """Every document id with kept versions, and its folder."""
    if not root.versions.is_dir():
        return {}
    return {int(folder.name): folder for shard in sorted(root.versions.iterdir())
            if shard.is_dir() for folder in sorted(shard.iterdir())
            if folder.is_dir() and folder.name.isdigit()}


def remove_versions(root: DataRoot, doc_id: int) -> None:
    """A document deleted for good takes its earlier versions along."""
    folder = version_file(root, doc_id, 1).parent
    if folder.exists():
        shutil.rmtree(folder)
        prune_empty_dirs(folder.parent, root.versions)
