"""Page-edit requests carried out by the data root's writer.

A request (paperfs/archive/versions.py) waits in ``.paperfs/edits/``; its text
is made in a worker process (``pages.make_text``: only changed pages are
OCRed), then the writer switches the document to the new version. The daemon
runs a pass every second as a scheduled job; ``paperfs pages`` with no daemon
running runs passes itself until its own request is done. A request that
cannot be done (a broken upload, a document changed meanwhile) leaves its PDF
in failed/ with the reason, like an input that cannot be consumed.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from paperfs.archive.atomic import atomic_copy, unused_path
from paperfs.archive.store import FAILED_INFO_SUFFIX, write_failure_info
from paperfs.archive.versions import EditRequest, pending_requests
from paperfs.config import Config
from paperfs.daemon.scheduler import ScheduledJob
from paperfs.errors import ConsumeError

if TYPE_CHECKING:
    from paperfs.archive.writer import Writer
    from paperfs.daemon.pool_protocol import Pool

log = logging.getLogger(__name__)

#: the worker's entry point, named so that this process never imports the OCR stack
MAKE_TEXT = "paperfs.archive.pages:make_text"
EDITS_SECONDS = 1.0


class PageEdits:
    def __init__(self, config: Config, writer: "Writer", *, serial: bool = False) -> None:
        self.config = config
        self.writer = writer
        self.serial = serial
        self.pool: Pool | None = None
        #: requests under way by folder name, and the texts made so far per output
        self.requests: dict[str, EditRequest] = {}
        self.texts: dict[str, dict[int, Any]] = {}
        self.waiting: list[tuple[str, int]] = []
        #: told the name and outcome (the document, or the error) of each finished request
        self.on_done: Callable[[str, Any], None] | None = None

    def _pool(self) -> "Pool":
        if self.pool is None:
            from paperfs.consume.pool import SerialPool, WorkerPool

            consume = self.config.consume
            pool_class = SerialPool if self.serial else WorkerPool
            self.pool = pool_class(MAKE_TEXT, workers=1, timeout=consume.timeout_seconds,
                                   idle_seconds=consume.worker_idle_seconds)
        return self.pool

    def run_pass(self, timeout: float = 0.0) -> int:
        """Take new requests, hand out texts to make, commit what is ready; returns how
        many requests finished."""
        root = self.writer.root  # type: ignore[attr-defined]
        for request in pending_requests(root, known=self.requests):  # new ones only
            name = request.folder.name
            self.requests[name] = request
            self.texts[name] = {}
            self.waiting.extend((name, number) for number in range(len(request.outputs)))
        pool = self._pool()
        while self.waiting and pool.free > 0:
            name, number = self.waiting.pop(0)
            pool.submit((name, number), self._task(self.requests[name], number))
        finished = 0
        for outcome in pool.poll(timeout if self.requests else 0.0):
            name, number = outcome.key
            if name not in self.requests:
                continue  # its request failed already
            if outcome.error is not None:
                self._finish(name, error=outcome.error)
                finished += 1
                continue
            self.texts[name][number] = outcome.result
            request = self.requests[name]
            if len(self.texts[name]) == len(request.outputs):
                texts = [self.texts[name][i] for i in range(len(request.outputs))]
                try:
                    doc = self.writer.commit_edit(request, texts)
                except ConsumeError as exc:
                    self._finish(name, error=exc)
                except Exception:
                    # A full disk, say: forgotten here, the request is taken again from
                    # disk at a later pass (the scheduler logs the error).
                    self.requests.pop(name)
                    self.texts.pop(name)
                    raise
                else:
                    self._finish(name, doc=doc)
                finished += 1
        return finished

    def busy(self) -> bool:
        return bool(self.requests)

    def _task(self, request: EditRequest, number: int) -> Any:
        from paperfs.archive.pages import TextTask

        output = request.outputs[number]
        return TextTask(request.folder / output.file, output.redo, self.config.ocr,
                        request.folder / f"scratch-{number}")

    def _finish(self, name: str, *, doc: Any = None, error: ConsumeError | None = None) -> None:
        request = self.requests.pop(name)
        self.texts.pop(name, None)
        self.waiting = [(n, i) for n, i in self.waiting if n != name]
        if error is not None:
            self._fail(request, error)
        if self.on_done is not None:
            self.on_done(name, error if error is not None else doc)

    def _fail(self, request: EditRequest, error: ConsumeError) -> Path:
        """The request's new PDF to failed/ with the reason; the document is unchanged."""
        root = self.writer.root  # type: ignore[attr-defined]
        name = f"document {request.doc_id} {request.operation}.pdf".replace("/", "-")
        target = unused_path(root.failed, name, also=(FAILED_INFO_SUFFIX,))
        atomic_copy(request.folder / request.outputs[0].file, target)
        info = {"file": target.name, "source": f"page edit of document {request.doc_id}",
                "request": request.folder.name, "reason": error.reason, "message": str(error),
                "failed_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
                "retry": "the document was not changed; make the edit again"}
        write_failure_info(target, info)
        shutil.rmtree(request.folder, ignore_errors=True)
        log.warning("doc %d: page edit (%s) not done (%s): %s -> failed/%s", request.doc_id,
                    request.operation, error.reason, error, target.name)
        return target

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(kill=True)
            self.pool = None


def page_edits_job(edits: PageEdits) -> ScheduledJob:
    """The daemon's pass over page-edit requests (the WebDAV uploads of new versions,
    ``paperfs pages`` beside the daemon)."""
    return ScheduledJob("page edits", EDITS_SECONDS, lambda: edits.run_pass())
