"""LibreOffice in headless mode: one office document → PDF (worker side only).

Each worker process has its own LibreOffice user profile
(``-env:UserInstallation``): two soffice processes on one profile block each
other or fail. The profile is made on the first conversion and kept warm
for the process's later ones. One conversion at a time per process (a lock):
soffice cannot serve two on one profile. soffice runs in a session of its
own, so a timeout kills the whole process group (oosplash, soffice.bin and
any helper), not just the shell wrapper; only that document fails. A small
guard leads that group and kills it when the worker dies (the pool kills a
worker at consume.timeout_seconds, the kernel when the daemon dies): a
session of its own would otherwise outlive the worker, converting or hung.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from paperfs.errors import BrokenFileError, DocumentTimeoutError, MissingDependencyError

log = logging.getLogger(__name__)

_one_at_a_time = threading.Lock()


_PROFILE_PREFIX = f"paperfs-libreoffice-{os.getuid()}-"
_cleaned = False


def profile_dir() -> Path:
    """This process's LibreOffice profile, made by the first conversion and kept warm.
    Removed at the interpreter's exit (atexit; a pool worker ends with os._exit, so
    there it is not); the profiles of processes that are gone, at the next first use."""
    global _cleaned
    profile = Path(tempfile.gettempdir()) / f"{_PROFILE_PREFIX}{os.getpid()}"
    if not _cleaned:
        _cleaned = True
        _remove_stale_profiles(profile.parent)
        atexit.register(shutil.rmtree, profile, ignore_errors=True)
    return profile


def _remove_stale_profiles(folder: Path) -> None:
    for old in folder.glob(_PROFILE_PREFIX + "*"):
        pid = old.name[len(_PROFILE_PREFIX):]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(old, ignore_errors=True)


#: the converter's group leader: runs the command in its group, and kills the group when
#: the worker that started it dies (PR_SET_PDEATHSIG; checked once set, for a worker that
#: died first); ends as the command ended (its status, or its signal)
_GUARD = """
import ctypes, os, signal, subprocess, sys
signal.signal(signal.SIGTERM, lambda *_: os.killpg(0, signal.SIGKILL))
ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)
if os.getppid() != int(sys.argv[1]):
    os.killpg(0, signal.SIGKILL)
code = subprocess.call(sys.argv[2:])
if code < 0:
    signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
sys.exit(code)
"""


def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        raise MissingDependencyError(
            "LibreOffice is not installed (no soffice on PATH); install Debian's "
            "libreoffice-writer, -calc and -impress (scripts/install-system-deps.sh)")
    return found


def to_pdf(src: Path, out_dir: Path, *, timeout: float, name: str | None = None) -> Path:
    """Convert *src* into a PDF in *out_dir* and return its path. *name* is the
    document's name for messages. DocumentTimeoutError after *timeout* seconds,
    BrokenFileError when LibreOffice stops or makes no PDF."""
    name = name or src.name
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [soffice(), f"-env:UserInstallation={profile_dir().as_uri()}", "--headless",
               "--norestore", "--nolockcheck", "--nodefault", "--convert-to", "pdf",
               "--outdir", str(out_dir), str(src)]
    guarded = [sys.executable, "-I", "-c", _GUARD, str(os.getpid()), *command]
    with _one_at_a_time:
        process = subprocess.Popen(guarded, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            raise DocumentTimeoutError(
                f"{name}: LibreOffice did not convert it to PDF within {timeout:g} s "
                "(ocr.office_timeout_seconds); it was stopped. Raise the limit for large "
                "documents, or export the document to PDF yourself") from None
        finally:
            _kill_group(process)  # helpers soffice left behind
    pdf = out_dir / (src.stem + ".pdf")
    if process.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
        how = (f"was killed (signal {-process.returncode})" if process.returncode < 0
               else f"ended with status {process.returncode}")
        said = output.decode("utf-8", "replace").strip().splitlines()[-1:] if output else []
        raise BrokenFileError(
            f"{name}: LibreOffice could not convert it to PDF (it {how}"
            f"{': ' + said[0] if said else ''}); the file may be damaged or protected "
            "with a password — open it in an office program and export it to PDF")
    return pdf


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()
