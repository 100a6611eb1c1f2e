"""The data root: where every kind of file lives."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from paperfs.errors import DataRootError
from paperfs.archive.storage import storage_errors


@dataclass(frozen=True)
class DataRoot:
    root: Path

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def archive(self) -> Path:
        return self.root / "archive"

    @property
    def originals(self) -> Path:
        return self.root / "originals"

    @property
    def failed(self) -> Path:
        return self.root / "failed"

    @property
    def trash(self) -> Path:
        return self.root / "trash"

    @property
    def versions(self) -> Path:
        """Earlier versions of archive PDFs, by document id (archive/versions.py)."""
        return self.root / "versions"

    @property
    def state(self) -> Path:
        """Private state: index, work queue, journals, locks."""
        return self.root / ".paperfs"

    @property
    def work(self) -> Path:
        """One folder per claimed input while it is being consumed."""
        return self.state / "work"

    @property
    def journal(self) -> Path:
        """Intent records of multi-file moves, replayed after a crash."""
        return self.state / "journal"

    @property
    def edits(self) -> Path:
        """Page-edit requests waiting for the writer (archive/versions.py)."""
        return self.state / "edits"

    @property
    def index_db(self) -> Path:
        return self.state / "index.sqlite3"

    @property
    def lock_file(self) -> Path:
        return self.state / "writer.lock"

    @property
    def status_file(self) -> Path:
        return self.state / "status.json"

    @property
    def id_counter(self) -> Path:
        return self.state / "next_id"

    @property
    def labels_file(self) -> Path:
        """Tags, correspondents and document types with their matching rules (classify/labels.py)."""
        return self.root / "labels.yml"

    @property
    def classifier_model(self) -> Path:
        """The learned classifier, trained from the archive (classify/learned.py)."""
        return self.state / "classifier.pickle"

    @property
    def workflows_file(self) -> Path:
        """Workflows: triggers, filters and actions (paperfs/workflows/definitions.py)."""
        return self.root / "workflows.yml"

    @property
    def workflow_log(self) -> Path:
        """The record of workflow runs, for `paperfs workflow list` (history only)."""
        return self.state / "workflow-runs.jsonl"

    @property
    def fields_file(self) -> Path:
        """Custom field declarations (archive/custom_fields.py)."""
        return self.root / "fields.yml"

    @property
    def thumbnails(self) -> Path:
        """First-page thumbnails (WebP) of the web page, made once per document version
        (paperfs/web/thumbnails.py); derived, rebuilt by reindex when missing."""
        return self.state / "thumbnails"

    def thumbnail(self, doc_id: int, archive_sha256: str) -> Path:
        """A document version's thumbnail: by id (removed with the document) and by the
        archive PDF's checksum (a new version gets a new one)."""
        return self.thumbnails / f"{doc_id // 1000:04d}" / f"{doc_id:07d}-{archive_sha256[:16]}.webp"

    def thumbnails_of(self, doc_id: int) -> list[Path]:
        """Every thumbnail of a document (all its versions), and the ``.failed`` notes of
        versions that could not be rendered: all go with the document."""
        return sorted((self.thumbnails / f"{doc_id // 1000:04d}").glob(f"{doc_id:07d}-*"))

    def original_path(self, doc_id: int, suffix: str) -> Path:
        # Sharded by thousands so no folder grows past ~1000 entries.
        return self.originals / f"{doc_id // 1000:04d}" / f"{doc_id:07d}{suffix}"

    def create(self) -> None:
        with storage_errors():  # a read-only data root: one line, not a traceback
            for folder in (self.inbox, self.archive, self.originals, self.failed,
                           self.trash, self.work, self.journal):
                folder.mkdir(parents=True, exist_ok=True)

    def check_initialised(self) -> None:
        if not self.state.is_dir():
            raise DataRootError(
                f"{self.root} is not a paperfs data root (no .paperfs/ folder); "
                f"run 'paperfs init {self.root}' first"
            )
