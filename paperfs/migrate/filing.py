"""Prepared documents filed in bulk, through the writer's archive, crash-safe.

The consumer files one job at a time (store.Archive.commit: job.yml, three
fsynced writes, one index transaction per document). An import files
thousands of documents whose PDF, text and metadata are already made, so it
files them in batches (``BulkFiler``):

1. the batch's ids and archive paths go into ``batch.json`` (fsynced): the intent;
2. per document, original, PDF, then the sidecar (the commit point) are
   written by rename, without an fsync each;
3. one ``os.sync()`` for the whole batch, then one index transaction;
4. ``batch.json`` is removed.

After a crash (or kill -9) ``recover_batch`` looks at the batch's documents
again: one whose three files are all there and match its sidecar stays (and
is indexed); any other's files are removed, so the rerun files it afresh
under the same id. Nothing is half there, nothing twice.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from paperfs.archive.atomic import TMP_PREFIX, atomic_write_text, prune_empty_dirs
from paperfs.archive.document import Document, dumps, read_sidecar, sha256_file
from paperfs.archive.naming import with_collision_suffix
from paperfs.errors import SidecarError
from paperfs.index.base import IndexEntry

if TYPE_CHECKING:
    from paperfs.archive.store import Archive

PDF, YML = ".pdf", ".yml"


@dataclass(frozen=True)
class Prepared:
    """One document ready to be filed: its sidecar content and its two files."""

    doc: Document
    pdf: Path
    original: Path


def _place(src: Path, target: Path) -> None:
    """Copy src to target by a rename of a temp beside it (the batch's sync makes it durable)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{TMP_PREFIX}{target.name}.part")
    shutil.copyfile(src, tmp)
    os.replace(tmp, target)


def _write_text(target: Path, text: str) -> None:
    tmp = target.with_name(f"{TMP_PREFIX}{target.name}.part")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)


class BulkFiler:
    def __init__(self, archive: "Archive", journal: Path) -> None:
        self.archive = archive
        self.journal = journal  # batch.json
        self._taken: set[str] = set()
        self._listed: dict[str, set[str]] = {}

    # ------------------------------------------------------------ paths

    def _free(self, rel: str, doc_id: int) -> bool:
        key = rel.casefold()
        if key in self._taken:
            return False
        if self.archive.index.ref_by_path(rel) is not None:
            return False
        # names that differ only in case collide on Windows/macOS clients, as
        # Archive.choose_path knows; a folder is listed once per batch, not per document
        folder, _, name = rel.rpartition("/")
        return name.casefold() not in self._names_in(folder)

    def _names_in(self, folder: str) -> set[str]:
        """The casefolded names of the PDFs and sidecars in archive/<folder>."""
        names = self._listed.get(folder)
        if names is None:
            try:
                entries = os.listdir(self.archive.root.archive / folder)
            except FileNotFoundError:
                entries = []
            names = {entry[:-4].casefold() for entry in entries
                     if entry[-4:].lower() in (PDF, YML)}
            self._listed[folder] = names
        return names

    def choose_path(self, doc: Document) -> str:
        """Its template path, or the writer's choice when that is taken (checked against
        the batch too: the index learns the batch only at its end)."""
        base = self.archive.rules.destination(doc)
        for candidate in (base, with_collision_suffix(base, doc.id)):
            if self._free(candidate.as_posix(), doc.id):
                return candidate.as_posix()
        n = 2
        while True:
            rel = base.with_name(f"{base.name} [{doc.id}-{n}]").as_posix()
            if self._free(rel, doc.id):
                return rel
            n += 1

    # ------------------------------------------------------------ filing

    def file_batch(self, batch: list[Prepared]) -> list[tuple[Document, str]]:
        self._taken.clear()
        self._listed.clear()
        placed = []
        for item in batch:
            rel = self.choose_path(item.doc)
            self._taken.add(rel.casefold())
            placed.append((item, rel))
        atomic_write_text(self.journal, json.dumps(
            [{"id": item.doc.id, "path": rel, "original": item.doc.original.path}
             for item, rel in placed]))
        root = self.archive.root
        for item, rel in placed:
            _place(item.original, root.root / item.doc.original.path)
            _place(item.pdf, self.archive.pdf_path(rel))
            _write_text(self.archive.sidecar_path(rel), dumps(item.doc))  # commit point
        os.sync()  # one flush for the batch instead of six fsyncs per document
        self._index([(item.doc, rel) for item, rel in placed])
        self.journal.unlink()
        return [(item.doc, rel) for item, rel in placed]

    def _index(self, filed: list[tuple[Document, str]]) -> None:
        entries = []
        for doc, rel in filed:
            stat = self.archive.sidecar_path(rel).stat()
            entries.append(IndexEntry(doc=doc, path=rel, mtime_ns=stat.st_mtime_ns,
                                      size=stat.st_size))
        self.archive.index.upsert(entries)

    # ------------------------------------------------------------ after a crash

    def recover_batch(self) -> tuple[int, int]:
        """Complete or undo the batch a crash interrupted: (kept, undone)."""
        try:
            entries = json.loads(self.journal.read_text("utf-8"))
        except FileNotFoundError:
            return 0, 0
        except ValueError:  # the intent itself was cut: nothing of the batch was written
            self.journal.unlink()
            return 0, 0
        kept, undone = [], 0
        root = self.archive.root
        for entry in entries:
            doc = self._whole(entry)
            if doc is not None:
                kept.append((doc, entry["path"]))
                continue
            undone += 1
            for path in (self.archive.sidecar_path(entry["path"]),
                         self.archive.pdf_path(entry["path"]), root.root / entry["original"]):
                path.unlink(missing_ok=True)
            self.archive.index.delete([entry["id"]])
            prune_empty_dirs(self.archive.pdf_path(entry["path"]).parent, root.archive)
        self._index(kept)
        self.journal.unlink()
        return len(kept), undone

    def _whole(self, entry: dict) -> Document | None:
        sidecar = self.archive.sidecar_path(entry["path"])
        try:
            doc = read_sidecar(sidecar)
        except (OSError, SidecarError):
            return None
        pdf, original = self.archive.pdf_path(entry["path"]), self.archive.root.root / entry["original"]
        if doc.id != entry["id"] or not pdf.exists() or not original.exists():
            return None
        if sha256_file(pdf) != doc.archive.sha256 or sha256_file(original) != doc.original.sha256:
            return None
        return doc

