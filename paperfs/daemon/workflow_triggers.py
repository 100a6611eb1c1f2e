"""Where the daemon's events meet the workflows (paperfs/workflows/).

* consumption started: ``Consumer._commit`` passes a job's proposals through
  ``consumption_started`` before the writer files them (its assignments
  override what classification proposed); a finished WebDAV upload, which
  ``Daemon`` reports (``from_webdav``), is recorded as ``source.kind: webdav``;
* document added: ``Consumer._commit``, after the writer filed the document;
* document updated: the writer's listener (``LocalWriter.listeners``), told of
  every change of metadata through it — WebDAV, ``paperfs edit`` (handed to
  the daemon), hand-edited sidecars;
* scheduled: a ``ScheduledJob`` every ``classify.workflow_check_seconds``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

from paperfs.daemon.scheduler import ScheduledJob
from paperfs.workflows.engine import WorkflowEngine

if TYPE_CHECKING:
    from paperfs.archive.document import Document
    from paperfs.archive.writer import DocumentWriter, LocalWriter
    from paperfs.consume.jobs import Job
    from paperfs.consume.messages import ProposedDocument
    from paperfs.runtime import Runtime

log = logging.getLogger(__name__)


class WorkflowTriggers:
    def __init__(self, runtime: "Runtime", writer: "LocalWriter") -> None:
        self.runtime = runtime
        self.engine = WorkflowEngine(runtime.config, runtime.root, writer)
        writer.listeners.append(self.engine.document_updated)
        #: inbox files (relative to the data root) that WebDAV uploads were handed over as
        self._webdav: set[str] = set()
        workflows = self.engine.file.current()
        if len(workflows):
            log.info("workflows: %d in %s", len(workflows), runtime.root.workflows_file)

    def from_webdav(self, paths: Iterable[Path]) -> None:
        """These inbox files are finished WebDAV uploads (daemon/service.py hands them over)."""
        root = self.runtime.root.root
        self._webdav.update(p.relative_to(root).as_posix() for p in paths if root in p.parents)

    def consumption_started(self, job: "Job",
                            proposals: Sequence["ProposedDocument"]) -> tuple["ProposedDocument", ...]:
        if job.source in self._webdav:  # known while this daemon runs; after a restart: inbox
            self._webdav.discard(job.source)
            proposals = [dataclasses.replace(p, source={**p.source, "kind": "webdav"})
                         for p in proposals]
        try:
            return self.engine.consumption_started(job, proposals)
        except Exception:  # noqa: BLE001 - a workflow must never keep a document from being filed
            log.exception("consumption_started workflows failed for %s; filed without them",
                          job.source)
            return tuple(proposals)

    def document_added(self, doc: "Document") -> None:
        self.engine.document_added(doc)

    def scheduled(self) -> ScheduledJob:
        def check() -> None:
            catalog = self.runtime.open_catalog()
            try:
                count = self.engine.scheduled_pass(catalog)
            finally:
                catalog.close()
            if count:
                log.info("scheduled workflows: %d run(s)", count)

        return ScheduledJob("running scheduled workflows",
                            self.runtime.config.classify.workflow_check_seconds, check)

    def problems(self) -> list[str]:
        return self.engine.file.problems()

    def close(self) -> None:
        self.engine.close()


@contextlib.contextmanager
def workflows_of_edits(runtime: "Runtime", writer: "DocumentWriter") -> Iterator[None]:
    """A command that changes documents itself (``paperfs edit`` with no daemon
    running: a LocalWriter) runs their document_updated workflows, and waits for
    their outside actions before it returns. Beside a daemon (a hand-off) the
    daemon applies the change and runs them."""
    from paperfs.archive.writer import LocalWriter

    if not isinstance(writer, LocalWriter):
        yield
        return
    engine = WorkflowEngine(runtime.config, runtime.root, writer)
    writer.listeners.append(engine.document_updated)
    try:
        yield
    finally:
        writer.listeners.remove(engine.document_updated)
        engine.close()
