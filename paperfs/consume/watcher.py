"""Watching the inbox and the archive: which files are ready, which sidecars changed.

watchdog threads only record paths; all decisions happen in the daemon's main
loop. Scanners upload over FTP/SMB and an aborted upload also ends with a
close event, so an inbox file is ready only when its size and mtime have not
changed for ``inbox.stable_seconds`` and, for a PDF, its last %%EOF ends the
file and it opens. Whether a file is a PDF comes from its bytes, like every
type (a phone names its photo ``.pdf``); the name decides only when the
bytes name no format (an upload cut before its header). A file that stays
incomplete for ``inbox.incomplete_seconds`` is given up on and failed (a
truncated PDF and an aborted upload look the same).
"""

from __future__ import annotations

import fnmatch
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from paperfs.consume.folder_rules import NOTE_FILE, RULE_FILE
from paperfs.consume.stages import detect
from paperfs.config import InboxConfig

log = logging.getLogger(__name__)


def is_ignored(relative: PurePosixPath, patterns: tuple[str, ...]) -> bool:
    """True if any component of the inbox-relative path matches an ignore pattern."""
    return any(fnmatch.fnmatchcase(part, pattern)
               for part in relative.parts for pattern in patterns)


class _Collector(FileSystemEventHandler):
    """Records touched paths; thread-safe; the main loop drains it."""

    def __init__(self, wake: threading.Event) -> None:
        self._lock = threading.Lock()
        self._paths: set[str] = set()
        self._wake = wake

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        with self._lock:
            self._paths.add(os.fsdecode(event.src_path))
            dest = getattr(event, "dest_path", "")
            if dest:
                self._paths.add(os.fsdecode(dest))
        self._wake.set()

    def drain(self) -> set[str]:
        with self._lock:
            paths, self._paths = self._paths, set()
        return paths


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float  # monotonic time the size/mtime were first seen like this
    first_seen: float


@dataclass(frozen=True)
class Ready:
    path: Path
    inbox: Path
    #: why the file is handed over although it is not a complete document, or ""
    incomplete: str = ""


def pdf_looks_complete(path: Path) -> bool:
    """A PDF upload is complete when its last %%EOF ends the file and it opens."""
    import pikepdf  # here, not at the top: only PDFs need it

    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - detect.PDF_TAIL_SIZE))
            if detect.pdf_truncation(f.read()) is not None:
                return False
        # qpdf may rebuild a damaged cross-reference table here: such a file
        # is complete, and the text stage repairs or refuses it with a reason.
        with pikepdf.open(path):
            return True
    except pikepdf.PasswordError:
        return True  # complete, but encrypted: the pipeline explains that
    except Exception:  # noqa: BLE001 - any parse failure means "not yet"
        return False


def is_pdf(path: Path) -> bool:
    """True when the PDF completeness rules apply: the bytes say PDF, or they
    name no format and the file is called .pdf."""
    try:
        with open(path, "rb") as f:
            magic = detect.magic_type(f.read(detect.HEAD_SIZE))
    except OSError:
        magic = None  # unreadable: the text stage will say why
    return magic == detect.PDF if magic is not None else path.suffix.lower() == ".pdf"


def zip_looks_complete(path: Path) -> bool:
    """A ZIP upload (.docx, .odt, …) is whole once its central directory, at the
    end, can be read; anything else is not a ZIP and passes."""
    import zipfile

    try:
        with open(path, "rb") as f:
            if f.read(4) != b"PK\x03\x04":
                return True
    except OSError:
        return True  # unreadable: the pipeline will say why
    return zipfile.is_zipfile(path)


def looks_complete(path: Path, size: int) -> bool:
    """Whether a file whose size has settled is a whole document."""
    return size > 0 and (not is_pdf(path) or pdf_looks_complete(path)) \
        and zip_looks_complete(path)


class InboxWatcher:
    def __init__(self, inboxes: list[Path], config: InboxConfig, wake: threading.Event,
                 *, incomplete_seconds: float, polling: bool = False) -> None:
        """``polling``: stat the inbox every ``inbox.poll_seconds`` instead of inotify,
        which does not see files another host writes on a shared filesystem (the
        split deployment: uploads through a dav replica, a scanner on another machine)."""
        self.inboxes = [p.resolve() for p in inboxes]
        self.config = config
        self.incomplete_seconds = incomplete_seconds
        self._collector = _Collector(wake)
        self._observer = (PollingObserver(timeout=max(config.poll_seconds, 0.1)) if polling
                          else Observer())
        self._seen: dict[Path, _Seen] = {}

    def start(self) -> None:
        for inbox in self.inboxes:
            inbox.mkdir(parents=True, exist_ok=True)
            self._observer.schedule(self._collector, str(inbox), recursive=True)
        self._observer.start()
        self.rescan()

    def stop(self) -> None:
        self._observer.stop()
        self._observer.join(5)

    def rescan(self) -> None:
        """Pick up everything already in the inboxes (start-up, or a missed event)."""
        for inbox in self.inboxes:
            for dirpath, dirnames, filenames in os.walk(inbox):
                rel_dir = PurePosixPath(Path(dirpath).relative_to(inbox).as_posix())
                dirnames[:] = [d for d in dirnames
                               if not is_ignored(rel_dir / d, self.config.ignore)]
                for name in filenames:
                    self._note(Path(dirpath) / name)

    def _inbox_of(self, path: Path) -> Path | None:
        for inbox in self.inboxes:
            if inbox == path or inbox in path.parents:
                return inbox
        return None

    def _note(self, path: Path) -> None:
        inbox = self._inbox_of(path)
        if inbox is None or path == inbox:
            return
        if is_ignored(PurePosixPath(path.relative_to(inbox).as_posix()), self.config.ignore):
            return
        if path.name in (RULE_FILE, NOTE_FILE):  # a folder's settings, never an input
            return
        if path not in self._seen and (path.is_symlink() or path.is_file()):
            now = time.monotonic()
            self._seen[path] = _Seen(-1, -1, now, now)

    def pending(self) -> int:
        return len(self._seen)

    def ready(self) -> list[Ready]:
        """Files that are complete now (or given up on), oldest first."""
        for raw in self._collector.drain():
            path = Path(raw)
            if path.is_dir() and not path.is_symlink():
                # A folder moved in at once brings files without events of their own.
                for dirpath, _dirs, files in os.walk(path):
                    for name in files:
                        self._note(Path(dirpath) / name)
            else:
                self._note(path)
        out: list[Ready] = []
        now = time.monotonic()
        for path, seen in list(self._seen.items()):
            inbox = self._inbox_of(path)
            try:
                st = path.lstat()
            except FileNotFoundError:
                del self._seen[path]
                continue
            if path.is_symlink():
                del self._seen[path]
                out.append(Ready(path, inbox, incomplete="symlink"))
                continue
            if (st.st_size, st.st_mtime_ns) != (seen.size, seen.mtime_ns):
                seen.size, seen.mtime_ns, seen.since = st.st_size, st.st_mtime_ns, now
                continue
            if now - seen.since < self.config.stable_seconds:
                continue
            if looks_complete(path, st.st_size):
                del self._seen[path]
                out.append(Ready(path, inbox))
            elif now - seen.since >= self.incomplete_seconds:
                del self._seen[path]
                out.append(Ready(path, inbox, incomplete="empty" if st.st_size == 0
                                 else "incomplete"))
        out.sort(key=lambda r: str(r.path))
        return out


class SidecarWatcher:
    """Notices .yml files in archive/ changed by hand (editor, file manager, WebDAV)."""

    def __init__(self, archive: Path, wake: threading.Event, *, settle_seconds: float = 0.5) -> None:
        self.archive = archive.resolve()
        self.settle_seconds = settle_seconds
        self._collector = _Collector(wake)
        self._observer = Observer()
        self._touched: dict[Path, float] = {}

    def start(self) -> None:
        self.archive.mkdir(parents=True, exist_ok=True)
        self._observer.schedule(self._collector, str(self.archive), recursive=True)
        self._observer.start()

    def stop(self) -> None:
        self._observer.stop()
        self._observer.join(5)

    def changed(self) -> list[Path]:
        """Sidecars touched and then quiet for settle_seconds (editors save in steps)."""
        now = time.monotonic()
        for raw in self._collector.drain():
            path = Path(raw)
            if path.suffix == ".yml" and not path.name.startswith("."):
                self._touched[path] = now
        ready = [p for p, t in self._touched.items() if now - t >= self.settle_seconds]
        for path in ready:
            del self._touched[path]
        return sorted(ready)
