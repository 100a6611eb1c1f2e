"""Atomic file operations: a crash leaves either the old file or the new one.

Every write goes to a temporary file in the destination folder (same
filesystem, so the final rename is atomic), is fsynced, renamed over the
target, and the folder is fsynced so the rename itself survives power loss.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

TMP_PREFIX = ".paperfs-tmp-"


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_beside(target: Path) -> tuple[int, Path]:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=".part", dir=target.parent)
    return fd, Path(name)


def _write_atomically(target: Path, fill: Callable[[BinaryIO], None]) -> None:
    """Write a temp file beside target with fill(), fsync it, rename it over target."""
    fd, tmp = _temp_beside(target)
    try:
        with os.fdopen(fd, "wb") as f:
            fill(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename in (None, str(tmp)):
            exc.filename = str(target)  # "disk full" names the file, not our temp name
        raise
    fsync_dir(target.parent)


def atomic_write_bytes(target: Path, data: bytes) -> None:
    _write_atomically(target, lambda f: f.write(data))


def atomic_write_text(target: Path, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))


def atomic_copy(src: Path, target: Path) -> None:
    """Copy src's content to target atomically."""
    with open(src, "rb") as fin:
        _write_atomically(target, lambda fout: shutil.copyfileobj(fin, fout, 1024 * 1024))


def overwrite_in_place(target: Path, data: bytes, pad: bytes = b" ") -> bool:
    """Rewrite an existing file's bytes where they are, filling the rest with pad.

    Not atomic: for a status file on a full disk, where a temp file cannot be
    made but the file's own blocks can be reused. False when data is longer
    than the file (that would need room)."""
    fd = os.open(target, os.O_WRONLY)
    try:
        size = os.fstat(fd).st_size
        if len(data) > size:
            return False
        os.pwrite(fd, data + pad * (size - len(data)), 0)
        return True
    finally:
        os.close(fd)


def unused_path(folder: Path, name: str, *, also: tuple[str, ...] = ()) -> Path:
    """folder/name, or 'stem (2).ext', 'stem (3).ext'… if that exists (or name+suffix
    for any suffix in also: the .error.yml beside a failed file)."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    candidate, n = name, 1
    while any(os.path.lexists(folder / (candidate + extra)) for extra in ("", *also)):
        n += 1
        candidate = f"{stem} ({n}).{ext}" if ext else f"{stem} ({n})"
    return folder / candidate


def atomic_move(src: Path, target: Path, *, overwrite: bool = False) -> None:
    """Rename src to target (same filesystem), never silently replacing a file.

    Falls back to copy + unlink across filesystems (e.g. an inbox on another
    mount); the copy is atomic at the target, the unlink follows it.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    if not overwrite and os.path.lexists(target):
        raise FileExistsError(target)
    try:
        os.rename(src, target)
    except OSError as exc:
        if exc.errno != 18:  # EXDEV: cross-device link
            raise
        atomic_copy(src, target)
        os.unlink(src)
        fsync_dir(src.parent)
    fsync_dir(target.parent)
    if src.parent != target.parent:
        fsync_dir(src.parent)


def remove_stale_temps(folder: Path) -> int:
    """Remove temporary files an interrupted atomic write left behind."""
    removed = 0
    for tmp in folder.rglob(TMP_PREFIX + "*"):
        tmp.unlink(missing_ok=True)
        removed += 1
    return removed


def prune_empty_dirs(start: Path, stop: Path) -> None:
    """Remove start and its parents while they are empty, up to (not incl.) stop."""
    current = start
    stop = stop.resolve()
    while current.resolve() != stop and stop in current.resolve().parents:
        try:
            current.rmdir()
        except OSError:
            return
        current = current.parent
