"""/labels.yml: the data root's labels.yml, read and written by superusers.

For anyone else the address does not exist (404, not listed). A PUT is
checked whole with ``parse_labels`` before anything is written: an invalid
body is refused with 422 and the message naming the line and the problem,
and the file stays as it was; a valid one replaces the file atomically. The
daemon reads it again before its next document (``LabelsFile``). Saving
through a temporary file and a rename is not possible here (the root takes
no other files): clients that PUT the file itself (most editors over davfs,
Finder, Windows, cadaver, curl -T) work.
"""

from __future__ import annotations

import os

from wsgidav.dav_error import HTTP_UNPROCESSABLE_ENTITY, DAVError

from paperfs.archive.atomic import atomic_write_text
from paperfs.classify.labels import LABELS_NAME, LabelsError, parse_labels
from paperfs.dav.base import FileOnDisk
from paperfs.dav.context import forbidden
from paperfs.dav.tree import TextUpload

ADDRESS = "/" + LABELS_NAME
MAX_BYTES = 4 * 1024 * 1024


def may_see(environ: dict) -> bool:
    ctx = environ.get("paperfs.ctx")
    return ctx is not None and ctx.user.superuser


class LabelsYml(TextUpload, FileOnDisk):
    content_type = "application/yaml; charset=utf-8"
    upload_limit = MAX_BYTES
    upload_what = LABELS_NAME

    def __init__(self, environ: dict) -> None:
        path = environ["paperfs.ctx"].services.root.labels_file
        super().__init__(ADDRESS, environ, LABELS_NAME, str(path))

    def prevent_locking(self) -> bool:
        return False  # clients that lock before they save (Finder, Office) can

    def refusal(self, message: str) -> DAVError:
        return DAVError(HTTP_UNPROCESSABLE_ENTITY, f"{message}; the file was not changed")

    def received(self, text: str) -> None:
        try:
            parse_labels(text, LABELS_NAME)
        except LabelsError as exc:
            raise self.refusal(str(exc)) from None
        atomic_write_text(self.ctx.services.root.labels_file, text)
        self._stat = os.stat(self.fs_path)  # the ETag the response announces

    def handle_delete(self) -> bool:
        raise forbidden("labels.yml cannot be deleted over WebDAV; to remove every label, "
                        "save it empty")

    def handle_move(self, dest_path: str) -> bool:
        raise forbidden("labels.yml cannot be moved or renamed")

    def handle_copy(self, dest_path: str, *, depth_infinity: bool) -> bool:
        raise forbidden("labels.yml cannot be copied over WebDAV; GET it")
