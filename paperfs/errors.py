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


class SearchBackendError(PaperfsError):
    """The search backend (Solr) cannot answer: unreachable, misconfigured or failing.

    The WebDAV server answers such a request with 503 and this one line."""

    exit_code = 9


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
    exit_code = 7


class MissingDependencyError(PaperfsError):
    """A program paperfs needs (tesseract, ghostscript…) is not installed."""

    exit_code = 8
