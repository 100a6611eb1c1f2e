"""One error hierarchy; each class carries the CLI exit code (as OCRmyPDF does).

Only stage boundaries (a worker's job, the writer's commit, a CLI command)
catch everything; everything else raises one of these with a message that
names the file and, where there is one, the fix.
"""

from __future__ import annotations


class PaperfsError(Exception):
    """Base class: a problem paperfs can explain in one line."""

    exit_code = 1


class ConfigError(PaperfsError):
    """The configuration file or a PAPERFS_* override is invalid."""

    exit_code = 2


class UsageError(PaperfsError):
    """A command was called with arguments that cannot work."""

    exit_code = 2


class NotFoundError(PaperfsError):
    """A document, file or data root does not exist."""

    exit_code = 3


class DataRootError(PaperfsError):
    """The data root is missing, not initialised, or locked by another process."""

    exit_code = 4


class WriterLockedError(DataRootError):
    """Another process (the daemon, usually) holds the data root's writer lock."""


class SearchBackendError(PaperfsError):
    """The search backend (Solr) cannot answer: unreachable, misconfigured or failing.

    The WebDAV server answers such a request with 503 and this one line."""

    exit_code = 9


class StorageError(PaperfsError):
    """The filesystem under the data root refuses a write: full, over quota, read-only.

    Not the document's fault and nothing is lost: the daemon waits and carries
    on by itself (storage.RoomWait), a command stops with this one line."""

    exit_code = 10
    #: what `paperfs status` and the log call it
    problem = "storage"
    #: what to do about it
    advice = ""

    def __init__(self, path: object, detail: str, note: str = "") -> None:
        self.path = str(path)
        self.detail = detail
        self.note = note
        super().__init__(f"{self.problem}: cannot write {self.path} ({detail}); {self.advice}"
                         + (f"; {note}" if note else ""))

    def with_note(self, note: str) -> "StorageError":
        """The same problem, with what it means for the command that met it."""
        return type(self)(self.path, self.detail, note)

    def __reduce__(self) -> tuple:
        return type(self), (self.path, self.detail, self.note)


class DiskFullError(StorageError):
    problem = "disk full"
    advice = "free space on that filesystem"


class ReadOnlyStorageError(StorageError):
    problem = "read-only"
    advice = "remount it read-write (status, search and show work on a read-only data root)"


class SidecarError(PaperfsError):
    """A sidecar does not parse or does not follow the schema."""

    exit_code = 5


# --- errors that make one input fail (it goes to failed/ with the reason) ---


class ConsumeError(PaperfsError):
    """One input cannot be consumed; the file goes to failed/."""

    exit_code = 6
    #: short machine-readable reason written into the .error.yml
    reason = "error"


class UnsupportedFileError(ConsumeError):
    reason = "unsupported"


class EmptyFileError(ConsumeError):
    reason = "empty"


class BrokenFileError(ConsumeError):
    reason = "broken"


class EncryptedFileError(ConsumeError):
    reason = "encrypted"


class OcrError(ConsumeError):
    reason = "ocr-failed"


class DocumentTimeoutError(ConsumeError):
    reason = "timeout"


class WorkerCrashedError(ConsumeError):
    reason = "worker-crashed"


class DuplicateError(ConsumeError):
    reason = "duplicate"


class AsnInUseError(ConsumeError):
    reason = "asn-in-use"


class CollationError(ConsumeError):
    """The two passes of a double-sided scan do not fit together."""

    reason = "double-sided"
    exit_code = 7


class MissingDependencyError(PaperfsError):
    """A program paperfs needs (tesseract, ghostscript…) is not installed."""

    exit_code = 8
