"""/inbox: each user's upload folder, and the hand-over of finished uploads.

WebDAV clients do not upload a file in one step: Finder and Explorer create
an empty file, LOCK it, PUT the content (sometimes to a temp name), set
properties, rename, UNLOCK; litmus creates and deletes files within
milliseconds. So ``/inbox`` is not the watched inbox itself but a per-user
upload area inside it, ``<inbox>/.webdav/<user>/``, which the consumer never
looks at (``.*`` is in ``inbox.ignore``). A file there is handed over — moved
atomically into ``<inbox>/<user>/``, where the consumer takes it with the
user as its owner — only when

* it is not empty and no upload to it is in progress,
* it is not locked (directly or by a locked folder above it),
* nothing in its folder was written, locked, moved or deleted over WebDAV,
  and the file itself did not change, for ``dav.inbox_idle_seconds``,
* its name (or a folder above it) is not one of ``inbox.ignore`` (client
  temp files such as ``~$x.docx``, ``.DS_Store``, ``x.part`` are never taken).

Until then the user sees it in ``/inbox`` and can still change or delete it.
Subfolders are kept (``inbox.subfolders_as_tags`` turns them into tags).
An upload is written to a hidden temp file and renamed into place only when
it arrived whole (``body.UploadBody``: as long as its Content-Length, or a
chunked body up to its last chunk); a cut upload is discarded, so it never
leaves a truncated or empty file behind, nor replaces the file it was meant
to overwrite.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import threading
import time
from pathlib import Path, PurePosixPath
from stat import S_ISREG
from typing import Any, Iterator
from urllib.parse import quote

from wsgidav import util
from wsgidav.dav_provider import DAVCollection

from paperfs.archive.atomic import fsync_dir
from paperfs.dav.base import BLOCK, FileOnDisk, Props
from paperfs.dav.context import forbidden
from paperfs.errors import ConfigError
from paperfs.consume.watcher import is_ignored

log = logging.getLogger(__name__)

STAGING = ".webdav"
UPLOAD_TMP = ".paperfs-upload-"
#: lock and property keys of /inbox resources are per user (two users' /inbox/x differ)
USER_REF = "/.u/"


def user_ref(user: str, path: str) -> str:
    return quote(f"{USER_REF}{user}{path}")


class Uploads:
    """The upload areas behind /inbox and when their files are handed to the consumer."""

    def __init__(self, inbox: Path, ignore: tuple[str, ...], idle_seconds: float) -> None:
        self.inbox = inbox
        self.staging = inbox / STAGING
        self.ignore = ignore
        self.idle_seconds = idle_seconds
        self._lock = threading.Lock()
        self._activity: dict[str, float] = {}
        self._writing: dict[str, int] = {}
        #: path -> the problem last logged for it (used by the housekeeping thread only)
        self._reported: dict[str, str] = {}

    def check(self) -> None:
        """The consumer must never see the upload areas."""
        if not is_ignored(PurePosixPath(STAGING), self.ignore):
            raise ConfigError(f"inbox.ignore must ignore {STAGING!r} (the WebDAV upload "
                              "area in the inbox); keep the pattern '.*' in the list")

    def home(self, user: str) -> Path:
        home = self.staging / user
        home.mkdir(parents=True, exist_ok=True)
        return home

    # ------------------------------------------------------------ activity

    def touch(self, path: Path | str) -> None:
        """Something happened to path (a file or folder) over WebDAV."""
        now = time.monotonic()
        path = os.path.normpath(str(path))
        with self._lock:
            self._activity[path] = now
            self._activity[os.path.dirname(path)] = now
            if len(self._activity) > 100_000:
                cutoff = now - self.idle_seconds
                self._activity = {k: t for k, t in self._activity.items() if t >= cutoff}

    def begin(self, path: str) -> None:
        with self._lock:
            self._writing[path] = self._writing.get(path, 0) + 1

    def end(self, path: str) -> None:
        with self._lock:
            left = self._writing.get(path, 1) - 1
            if left <= 0:
                self._writing.pop(path, None)
            else:
                self._writing[path] = left
        self.touch(path)

    def _quiet(self, path: str, now: float) -> bool:
        with self._lock:
            if path in self._writing:
                return False
            for key in (path, os.path.dirname(path)):
                if now - self._activity.get(key, -1e18) < self.idle_seconds:
                    return False
        return True

    # ------------------------------------------------------------ hand-over

    def ready(self, lock_manager: Any) -> Iterator[tuple[str, str, Path]]:
        """(user, path relative to his /inbox, file) for every file ready to hand over.

        A user's area that cannot be read is reported and skipped: the other
        users' uploads are not held up by it.
        """
        try:
            users = sorted(e.name for e in os.scandir(self.staging)
                           if e.is_dir(follow_symlinks=False))
        except FileNotFoundError:
            return
        for user in users:
            try:
                yield from self._ready_of(user, lock_manager)
            except OSError as exc:
                self._report(str(self.staging / user), f"cannot be read: {exc}")

    def _ready_of(self, user: str, lock_manager: Any) -> Iterator[tuple[str, str, Path]]:
        now_mono, now_wall = time.monotonic(), time.time()
        home = self.staging / user

        def walk_error(exc: OSError) -> None:
            self._report(exc.filename or str(home), f"cannot be read: {exc.strerror or exc}")

        for dirpath, dirnames, filenames in os.walk(home, onerror=walk_error):
            rel_dir = PurePosixPath(Path(dirpath).relative_to(home).as_posix())
            dirnames[:] = [d for d in dirnames if not is_ignored(rel_dir / d, self.ignore)]
            for name in filenames:
                rel = rel_dir / name
                if name.startswith(UPLOAD_TMP) or is_ignored(rel, self.ignore):
                    continue
                path = os.path.join(dirpath, name)
                try:
                    st = os.lstat(path)
                except FileNotFoundError:
                    continue
                if not S_ISREG(st.st_mode) or st.st_size == 0:
                    continue
                if now_wall - st.st_mtime < self.idle_seconds:
                    continue
                if not self._quiet(os.path.normpath(path), now_mono):
                    continue
                rel_text = rel.as_posix()
                if lock_manager is not None and lock_manager.get_indirect_url_lock_list(
                        user_ref(user, "/inbox/" + rel_text)):
                    continue
                yield user, rel_text, Path(path)

    def release(self, lock_manager: Any, prop_manager: Any = None) -> list[Path]:
        """Move every ready upload into ``<inbox>/<user>/``; returns the new paths.

        An upload that cannot be moved stays in its user's /inbox and is
        reported once; every other upload is still handed over.
        """
        moved = []
        for user, rel, path in list(self.ready(lock_manager)):
            try:
                target = self._hand_over(user, rel, path)
            except OSError as exc:
                self._report(str(path), f"cannot be handed to the consumer: "
                                        f"{exc.strerror or exc} ({exc.filename or path})")
                continue
            if target is None:
                continue  # deleted meanwhile
            if prop_manager is not None:
                prop_manager.remove_properties(user_ref(user, "/inbox/" + rel), None)
            log.info("WebDAV upload %s/%s handed to the consumer as %s", user, rel, target)
            moved.append(target)
        # forget problems of files that are gone (handed over, deleted, renamed)
        self._reported = {p: why for p, why in self._reported.items() if os.path.lexists(p)}
        return moved

    def _hand_over(self, user: str, rel: str, path: Path) -> Path | None:
        target = self.inbox / user / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        stem, suffix, n = target.stem, target.suffix, 1
        while target.exists():
            n += 1
            target = target.with_name(f"{stem} ({n}){suffix}")
        try:
            os.rename(path, target)
        except FileNotFoundError:
            if path.exists():
                raise
            return None
        fsync_dir(target.parent)
        return target

    def _report(self, path: str, problem: str) -> None:
        """Log a problem with an upload once (housekeeping retries every second)."""
        if self._reported.get(path) == problem:
            return
        self._reported[path] = problem
        log.warning("WebDAV upload %s %s; it stays in /inbox until this is fixed", path,
                    problem)


# ---------------------------------------------------------------- resources


class _InboxNode(Props):
    fs_path: str
    user: str

    @property
    def uploads(self) -> Uploads:
        return self.ctx.services.uploads

    def get_ref_url(self) -> str:
        return user_ref(self.user, self.get_preferred_path())  # type: ignore[attr-defined]

    def _dest_fs(self, dest_path: str) -> str:
        if not (dest_path == "/inbox" or dest_path.startswith("/inbox/")):
            raise forbidden("files in /inbox can only be moved or copied within /inbox")
        return self.provider.inbox_fs_path(dest_path, self.environ)

    def handle_move(self, dest_path: str) -> bool:
        self._dest_fs(dest_path)
        self.uploads.touch(self.fs_path)
        return False  # wsgidav does it (move_recursive / copy_move_single)

    def handle_copy(self, dest_path: str, *, depth_infinity: bool) -> bool:
        self._dest_fs(dest_path)
        return False

    def _props_follow(self, dest_path: str, *, move: bool, children: bool) -> None:
        pm = self.provider.prop_manager
        if pm is None:
            return
        dest_ref = user_ref(self.user, dest_path if not self.is_collection  # type: ignore[attr-defined]
                            else dest_path.rstrip("/") + "/")
        if move:
            pm.move_properties(self.get_ref_url(), dest_ref, with_children=children,
                               environ=self.environ)
        else:
            pm.copy_properties(self.get_ref_url(), dest_ref, self.environ)

    def support_recursive_move(self, dest_path: str) -> bool:
        return True

    def move_recursive(self, dest_path: str) -> None:
        dest = self._dest_fs(dest_path)
        if os.path.exists(dest):
            raise forbidden(f"{dest_path} exists")
        shutil.move(self.fs_path, dest)
        self.uploads.touch(dest)
        self._props_follow(dest_path, move=True, children=True)


class InboxFolder(_InboxNode, DAVCollection):
    def __init__(self, path: str, environ: dict, fs_path: str, user: str) -> None:
        super().__init__(path, environ)
        self.fs_path = fs_path
        self.user = user
        self.name = "inbox" if path.rstrip("/") == "/inbox" else posixpath_name(path)
        self.stat = os.stat(fs_path)

    def get_display_name(self) -> str:
        return self.name

    def get_creation_date(self) -> float:
        return self.stat.st_ctime

    def get_last_modified(self) -> float:
        return self.stat.st_mtime

    def get_etag(self) -> None:
        return None

    def get_member_names(self) -> list[str]:
        out = []
        for entry in sorted(os.scandir(self.fs_path), key=lambda e: e.name):
            if entry.name.startswith(UPLOAD_TMP) or entry.is_symlink():
                continue
            if entry.is_dir() or entry.is_file():
                out.append(entry.name)
        return out

    def iter_members(self) -> Iterator[Any]:
        for name in self.get_member_names():
            member = self.get_member(name)
            if member is not None:
                yield member

    def get_member_list(self) -> list:
        return list(self.iter_members())

    def get_member(self, name: str) -> Any:
        return self.provider.get_resource_inst(util.join_uri(self.path, name), self.environ)

    def create_empty_resource(self, name: str) -> Any:
        path = util.join_uri(self.path, name)
        fs = self.provider.inbox_fs_path(path, self.environ)
        self.uploads.touch(fs)
        if self.environ.get("REQUEST_METHOD") == "PUT":
            # Nothing on disk until the upload is complete (end_write): a cut
            # upload of a new file leaves no empty file behind.
            return InboxFile(path, self.environ, fs, self.user, exists=False)
        with open(fs, "wb"):  # LOCK of a new name: an empty file holds the place
            pass
        return self.provider.get_resource_inst(path, self.environ)

    def create_collection(self, name: str) -> None:
        path = util.join_uri(self.path, name)
        fs = self.provider.inbox_fs_path(path, self.environ)
        os.mkdir(fs)
        self.uploads.touch(fs)

    def delete(self) -> None:
        if self.path.rstrip("/") == "/inbox":
            raise forbidden("/inbox itself cannot be deleted")
        shutil.rmtree(self.fs_path)
        self.uploads.touch(self.fs_path)
        self.remove_all_properties(recursive=True)
        self.remove_all_locks(recursive=True)

    def copy_move_single(self, dest_path: str, *, is_move: bool) -> None:
        dest = self._dest_fs(dest_path)
        if not os.path.exists(dest):
            os.mkdir(dest)
        self.uploads.touch(dest)
        self._props_follow(dest_path, move=is_move, children=False)

    def handle_move(self, dest_path: str) -> bool:
        if self.path.rstrip("/") == "/inbox":
            raise forbidden("/inbox itself cannot be moved")
        return super().handle_move(dest_path)


class InboxFile(_InboxNode, FileOnDisk):
    def __init__(self, path: str, environ: dict, fs_path: str, user: str, *,
                 exists: bool = True) -> None:
        # not ``exists``: a new file whose first upload is not complete yet (no stat)
        super().__init__(path, environ, posixpath_name(path), fs_path, exists=exists)
        self.user = user
        self._tmp: str | None = None

    def get_content_type(self) -> str:
        return util.guess_mime_type(self.path, self.environ["wsgidav.config"])

    def get_etag(self) -> str | None:
        if self._stat is None:
            return None
        return f"{self._stat.st_ino:x}-{self._stat.st_mtime_ns:x}-{self._stat.st_size:x}"

    def begin_write(self, *, content_type: str | None = None) -> Any:
        folder = os.path.dirname(self.fs_path)
        self._tmp = os.path.join(folder, UPLOAD_TMP + secrets.token_hex(8))
        self.uploads.begin(self.fs_path)
        return open(self._tmp, "wb", buffering=BLOCK)

    def end_write(self, *, with_errors: bool) -> None:
        tmp, self._tmp = self._tmp, None
        try:
            if tmp is None:
                return
            if with_errors:
                Path(tmp).unlink(missing_ok=True)
                return
            os.replace(tmp, self.fs_path)
            self._stat = os.stat(self.fs_path)
        finally:
            self.uploads.end(self.fs_path)

    def delete(self) -> None:
        os.unlink(self.fs_path)
        self.uploads.touch(self.fs_path)
        self.remove_all_properties(recursive=True)
        self.remove_all_locks(recursive=True)

    def copy_move_single(self, dest_path: str, *, is_move: bool) -> None:
        dest = self._dest_fs(dest_path)
        shutil.copy2(self.fs_path, dest)
        self.uploads.touch(dest)
        self._props_follow(dest_path, move=is_move, children=False)


def posixpath_name(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def resolve(ctx: Any, parts: list[str], environ: dict) -> Any:
    """/inbox/<parts…> for the asking user, or None."""
    provider = environ["wsgidav.provider"]
    path = "/inbox" + "".join("/" + p for p in parts)
    fs = provider.inbox_fs_path(path, environ)
    if any(p.startswith(UPLOAD_TMP) for p in parts):
        return None
    if os.path.islink(fs) or not os.path.exists(fs):
        return None
    if os.path.isdir(fs):
        return InboxFolder(path, environ, fs, ctx.user.name)
    if os.path.isfile(fs):
        return InboxFile(path, environ, fs, ctx.user.name)
    return None
