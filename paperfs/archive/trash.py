"""The trash: deleted documents, restorable until they expire.

A deleted document's pair moves from ``archive/`` into its own folder
``trash/<id>/`` (the file names kept), beside ``trash.yml``, a short record
(who deleted it when, where it was, and the fields a listing needs, so
listings never parse large sidecars). It is out of the index, so searches
and virtual folders no longer show it. Restoring moves the pair back (to the
path its template gives now) and indexes it again. Entries older than
``dav.trash_days`` are deleted for good, with their original.

Crash safety: ``trash.yml`` (the intent) is written first. Deleting moves the
sidecar out first (the commit point: from then on the document is deleted),
then the PDF; restoring records ``restoring: <target>`` in ``trash.yml``, moves
the PDF back, then the sidecar (the commit point). ``recover()`` completes
whichever move a crash interrupted.

With the writer in this process (``paperfs run``) the index is updated at
once; without it (``paperfs dav`` beside a daemon) only files move and the
daemon's archive watcher updates the index, as for moves made by hand.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import yaml

from paperfs.archive.atomic import atomic_move, atomic_write_text, fsync_dir, prune_empty_dirs
from paperfs.archive.document import Document, Grants, Permissions, read_sidecar
from paperfs.errors import NotFoundError
from paperfs.archive.layout import DataRoot

if TYPE_CHECKING:
    from paperfs.archive.store import Archive

log = logging.getLogger(__name__)

INFO = "trash.yml"


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
PDF, YML = ".pdf", ".yml"


@dataclass(frozen=True)
class TrashEntry:
    id: int
    title: str
    created: dt.date
    modified: dt.datetime
    owner: str | None
    permissions: Permissions
    archive_sha256: str
    deleted_at: dt.datetime
    deleted_by: str
    #: where it was, relative to archive/, without suffix
    archive_path: str
    folder: Path
    restoring: str | None = None

    @property
    def name(self) -> str:
        return Path(self.archive_path).name

    @property
    def pdf(self) -> Path:
        return self.folder / (self.name + PDF)

    @property
    def sidecar(self) -> Path:
        return self.folder / (self.name + YML)


def _grants(data: dict | None) -> Grants:
    data = data or {}
    return Grants(users=tuple(data.get("users") or ()), groups=tuple(data.get("groups") or ()))


class Trash:
    def __init__(self, root: DataRoot) -> None:
        self.root = root

    def folder(self, doc_id: int) -> Path:
        return self.root.trash / f"{doc_id:07d}"

    # ------------------------------------------------------------ reading

    def _read(self, folder: Path) -> TrashEntry | None:
        try:
            data = yaml.load((folder / INFO).read_text("utf-8"), Loader=yaml.CSafeLoader)
            perms = data.get("permissions") or {}
            return TrashEntry(
                id=int(data["id"]), title=str(data["title"]),
                created=dt.date.fromisoformat(str(data["created"])),
                modified=dt.datetime.fromisoformat(str(data["modified"])),
                owner=data.get("owner"),
                permissions=Permissions(view=_grants(perms.get("view")),
                                        change=_grants(perms.get("change"))),
                archive_sha256=str(data["archive_sha256"]),
                deleted_at=dt.datetime.fromisoformat(str(data["deleted_at"])),
                deleted_by=str(data.get("deleted_by") or ""),
                archive_path=str(data["archive_path"]), folder=folder,
                restoring=data.get("restoring"))
        except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError):
            return None

    def entries(self) -> Iterator[TrashEntry]:
        try:
            folders = sorted(p for p in self.root.trash.iterdir() if p.is_dir())
        except FileNotFoundError:
            return
        for folder in folders:
            entry = self._read(folder)
            if entry is not None and entry.sidecar.exists():
                yield entry

    def get(self, doc_id: int) -> TrashEntry | None:
        entry = self._read(self.folder(doc_id))
        if entry is None or not entry.sidecar.exists():
            return None
        return entry

    # ------------------------------------------------------------ changing

    def _write_info(self, folder: Path, doc: Document, rel: str, by: str,
                    deleted_at: dt.datetime, restoring: str | None = None) -> None:
        perms = doc.permissions
        data = {
            "id": doc.id, "title": doc.title, "created": doc.created.isoformat(),
            "modified": doc.modified.isoformat(), "owner": doc.owner,
            "permissions": {
                "view": {"users": list(perms.view.users), "groups": list(perms.view.groups)},
                "change": {"users": list(perms.change.users),
                           "groups": list(perms.change.groups)}},
            "archive_sha256": doc.archive.sha256,
            "deleted_at": deleted_at.isoformat(), "deleted_by": by, "archive_path": rel,
        }
        if restoring is not None:
            data["restoring"] = restoring
        atomic_write_text(folder / INFO, "# paperfs trash record\n" + yaml.dump(
            data, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True))

    def put(self, archive: "Archive | None", doc_id: int, rel: str, by: str) -> TrashEntry:
        """Move the document at archive/<rel> into the trash (run it in the writer)."""
        sidecar = self.root.archive / (rel + YML)
        doc = read_sidecar(sidecar)
        if doc.id != doc_id:
            raise NotFoundError(f"archive/{rel}{YML} is not document {doc_id}")
        folder = self.folder(doc_id)
        if folder.exists():  # an older trash entry of the same id (restored by hand)
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        self._write_info(folder, doc, rel, by, now())
        name = Path(rel).name
        atomic_move(sidecar, folder / (name + YML))  # commit point
        pdf = self.root.archive / (rel + PDF)
        if pdf.exists():
            atomic_move(pdf, folder / (name + PDF))
        (self.root.archive / (rel + ".paperfs-error.txt")).unlink(missing_ok=True)
        prune_empty_dirs(sidecar.parent, self.root.archive)
        if archive is not None:
            archive.index.delete([doc_id])
        log.info("doc %d: moved to the trash by %s (was archive/%s%s)", doc_id, by, rel, PDF)
        entry = self._read(folder)
        assert entry is not None
        return entry

    def _free_path(self, archive: "Archive | None", doc: Document, rel: str) -> str:
        if archive is not None:
            return archive.choose_path(doc)
        if not (self.root.archive / (rel + YML)).exists() and \
                not (self.root.archive / (rel + PDF)).exists():
            return rel
        return f"{rel} [{doc.id}]"

    def restore(self, archive: "Archive | None", doc_id: int) -> str:
        """Move a trashed document back into archive/; returns its path there."""
        entry = self.get(doc_id)
        if entry is None:
            raise NotFoundError(f"document {doc_id} is not in the trash")
        doc = read_sidecar(entry.sidecar)
        target = self._free_path(archive, doc, entry.archive_path)
        self._write_info(entry.folder, doc, entry.archive_path, entry.deleted_by,
                         entry.deleted_at, restoring=target)
        self._finish_restore(archive, entry.folder, entry.name, target)
        log.info("doc %d: restored from the trash to archive/%s%s", doc_id, target, PDF)
        return target

    def _finish_restore(self, archive: "Archive | None", folder: Path, name: str,
                        target: str) -> None:
        pdf, sidecar = folder / (name + PDF), folder / (name + YML)
        if pdf.exists():
            atomic_move(pdf, self.root.archive / (target + PDF), overwrite=True)
        if sidecar.exists():
            atomic_move(sidecar, self.root.archive / (target + YML), overwrite=True)  # commit
        shutil.rmtree(folder, ignore_errors=True)
        fsync_dir(self.root.trash)
        if archive is not None:
            doc = read_sidecar(self.root.archive / (target + YML))
            archive.apply(doc.replace(modified=now()), target)

    def purge(self, doc_id: int) -> None:
        """Delete a trashed document for good, with its original."""
        entry = self._read(self.folder(doc_id))
        if entry is None:
            raise NotFoundError(f"document {doc_id} is not in the trash")
        original = None
        try:
            doc = read_sidecar(entry.sidecar)
            original = (self.root.root / doc.original.path).resolve()
        except Exception:  # noqa: BLE001 - a damaged sidecar must not keep the entry forever
            pass
        shutil.rmtree(entry.folder, ignore_errors=True)
        if original is not None and self.root.originals.resolve() in original.parents:
            original.unlink(missing_ok=True)
        for thumbnail in self.root.thumbnails_of(doc_id):  # derived: goes with the document
            thumbnail.unlink(missing_ok=True)
        log.info("doc %d: deleted for good from the trash", doc_id)

    def expire(self, days: float, when: dt.datetime | None = None) -> int:
        """Purge entries deleted more than ``days`` ago; returns how many."""
        cutoff = (when or now()) - dt.timedelta(days=days)
        count = 0
        for entry in list(self.entries()):
            if entry.deleted_at <= cutoff:
                self.purge(entry.id)
                count += 1
        return count

    def recover(self, archive: "Archive | None") -> int:
        """Complete moves into or out of the trash that a crash interrupted."""
        count = 0
        try:
            folders = sorted(p for p in self.root.trash.iterdir() if p.is_dir())
        except FileNotFoundError:
            return 0
        for folder in folders:
            entry = self._read(folder)
            if entry is None:
                continue
            if entry.restoring:
                self._finish_restore(archive, folder, entry.name, entry.restoring)
                count += 1
                continue
            left_pdf = self.root.archive / (entry.archive_path + PDF)
            if entry.sidecar.exists() and not entry.pdf.exists() and left_pdf.exists():
                atomic_move(left_pdf, entry.pdf)
                count += 1
            elif not entry.sidecar.exists() and not entry.pdf.exists():
                shutil.rmtree(folder, ignore_errors=True)  # intent only: nothing moved
        return count
