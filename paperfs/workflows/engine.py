"""Running workflows: which ones a trigger selects, their filters, their actions in order.

The daemon owns one ``WorkflowEngine`` (daemon/workflow_triggers.py calls it
where things happen). Assignments are gathered and written through the writer
in one change (the pair moves as its path rules say); before an outside
action (webhook, e-mail, script) or the trash, what was gathered is written
first, so the outside world sees the document as the workflow left it. Outside
actions run in a small thread pool, never in the daemon's loop or a WebDAV
request. Changes made by a workflow's own actions do not trigger
document_updated again (a thread-local flag), so workflows cannot loop.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from paperfs.archive.custom_fields import fields_of
from paperfs.archive.document import Document
from paperfs.workflows.actions import assign
from paperfs.workflows.definitions import WorkflowsFile
from paperfs.workflows.model import Action, Workflow
from paperfs.workflows.effects import Effects
from paperfs.workflows.filters import Subject, passes
from paperfs.workflows.mailer import send_email
from paperfs.workflows.runs import RunLog, now, with_run
from paperfs.workflows.scheduled import Schedule
from paperfs.workflows.script import run_script, script_environment
from paperfs.workflows.templates import TemplateError, variables
from paperfs.workflows.webhook import WebhookFailed, send_webhook

if TYPE_CHECKING:
    from paperfs.archive.layout import DataRoot
    from paperfs.archive.writer import LocalWriter
    from paperfs.config import Config
    from paperfs.consume.jobs import Job
    from paperfs.consume.messages import ProposedDocument
    from paperfs.index.catalog import Catalog

log = logging.getLogger(__name__)

#: threads for webhooks, e-mails and scripts
EFFECT_THREADS = 2
#: how long a stopping daemon lets outside actions under way finish
EFFECT_GRACE_SECONDS = 10.0


class WorkflowEngine:
    def __init__(self, config: "Config", root: "DataRoot", writer: "LocalWriter") -> None:
        self.config = config
        self.data_root = root.root
        self.writer = writer
        self.file = WorkflowsFile(root.workflows_file)
        self.runs = RunLog(root.workflow_log)
        #: custom field declarations: a workflow's values are checked and normalised
        self.fields = fields_of(root.fields_file)
        self.effects = Effects(EFFECT_THREADS, self._dropped)
        self._acting = threading.local()
        self.schedule = Schedule()

    def close(self, grace: float = EFFECT_GRACE_SECONDS) -> None:
        """Stop taking outside actions; those under way get *grace* seconds to finish."""
        self.effects.close(grace)

    def _dropped(self, what: tuple[str, str, int, str]) -> None:
        workflow, trigger, doc_id, kind = what
        log.warning("workflow %r: %s on document %d not done: paperfs stopped first",
                    workflow, kind, doc_id)
        self.runs.record(workflow, trigger, doc_id, f"{kind} not done", "paperfs stopped first")

    def _pause(self, seconds: float) -> None:
        """Between webhook tries; a stopping daemon does not wait for the next one."""
        if not self.effects.pause(seconds):
            raise WebhookFailed("paperfs stopped before the next try")

    # ------------------------------------------------------------ consumption started

    def consumption_started(self, job: "Job",
                            proposals: Sequence["ProposedDocument"]) -> tuple["ProposedDocument", ...]:
        """The proposals of a job with the assignments of every consumption_started
        workflow that takes it (chosen by source, file name and path) applied."""
        workflows = self.file.current().for_trigger("consumption_started")
        if not workflows or not proposals:
            return tuple(proposals)
        first = proposals[0]
        subject = Subject(source=str(first.source.get("kind") or "inbox"),
                          source_path=str(first.source.get("path") or job.source),
                          filename=job.filename)
        out = list(proposals)
        for workflow in workflows:
            if not passes(workflow.filters, subject):
                continue
            notes: list[str] = []
            out = [self._assigned(workflow.actions, p, notes) for p in out]
            self._record(workflow, "consumption_started", job.source, notes)
        return tuple(out)

    # ------------------------------------------------------------ document added / updated

    def document_added(self, doc: Document) -> None:
        self._on_documents("document_added", [doc])

    def document_updated(self, doc_ids: Iterable[int]) -> None:
        """The writer's listener: changes a workflow made itself are not news."""
        if getattr(self._acting, "on", False) or not self.file.current().for_trigger("document_updated"):
            return
        docs = []
        for doc_id in dict.fromkeys(doc_ids):
            try:
                docs.append(self.writer.archive.load(doc_id)[0])
            except Exception as exc:  # noqa: BLE001 - moved to the trash meanwhile, say
                log.info("document_updated: document %d is gone (%s)", doc_id, exc)
        self._on_documents("document_updated", docs)

    def _on_documents(self, trigger: str, docs: list[Document]) -> None:
        workflows = self.file.current().for_trigger(trigger)
        for doc in docs:
            for workflow in workflows:
                if passes(workflow.filters, Subject.of_document(doc)):
                    self.run(workflow, trigger, doc.id)

    # ------------------------------------------------------------ scheduled

    def scheduled_pass(self, catalog: "Catalog") -> int:
        """Run every scheduled workflow that is due on a document; returns how many runs."""
        moment, count = now(), 0
        for workflow, doc_id in list(self.schedule.due(self.file.current(), catalog, moment,
                                                        self._read)):
            self.run(workflow, "scheduled", doc_id, scheduled_at=moment)
            count += 1
        return count

    def _read(self, rel: str) -> Document | None:
        from paperfs.archive.document import read_sidecar
        from paperfs.errors import SidecarError

        try:
            return read_sidecar(self.data_root / "archive" / (rel + ".yml"))
        except (OSError, SidecarError):
            return None

    # ------------------------------------------------------------ one run

    def run(self, workflow: Workflow, trigger: str, doc_id: int,
            scheduled_at: dt.datetime | None = None) -> None:
        """The workflow's actions on one filed document, in order."""
        notes: list[str] = []
        pending: list[Action] = []
        self._acting.on = True
        try:
            for action in workflow.actions:
                if action.assigns:
                    pending.append(action)
                    continue
                doc, rel = self._write(doc_id, pending, notes, workflow, scheduled_at)
                pending, scheduled_at = [], None
                if action.kind == "trash":
                    self.writer.trash(doc_id, f"workflow {workflow.name}", lambda _doc: None)
                    notes.append("moved to the trash")
                    break
                self._effect(action, workflow, trigger, doc, rel)
            else:
                self._write(doc_id, pending, notes, workflow, scheduled_at)
        except Exception as exc:  # noqa: BLE001 - one workflow must not stop the daemon
            log.exception("workflow %r on document %d failed", workflow.name, doc_id)
            notes.append(f"failed: {exc}")
        finally:
            self._acting.on = False
        self._record(workflow, trigger, doc_id, notes)

    def _write(self, doc_id: int, actions: list[Action], notes: list[str], workflow: Workflow,
               scheduled_at: dt.datetime | None) -> tuple[Document, str]:
        """The gathered assignments (and a scheduled run's record) in one writer change."""

        def change(doc: Document) -> Document:
            new = self._assigned(actions, doc, notes)
            return with_run(new, workflow.name, scheduled_at) if scheduled_at else new

        edited = self.writer.update(doc_id, change)
        return edited.doc, edited.path

    def _assigned(self, actions: Iterable[Action], doc: Any, notes: list[str]) -> Any:
        for action in actions:
            if action.kind == "custom_fields":  # typed as fields.yml declares them
                values, problems = self.fields.current().validate(action.settings["values"])
                if problems:
                    notes.append(f"line {action.line}: custom_fields not applied: "
                                 + "; ".join(problems))
                    continue
                action = dataclasses.replace(action, settings={"values": values})
            try:
                doc = assign(action, doc, variables)
            except TemplateError as exc:
                notes.append(f"line {action.line}: {action.kind} not applied: {exc}")
        return doc

    def _effect(self, action: Action, workflow: Workflow, trigger: str, doc: Document,
                rel: str) -> None:
        fields = variables(doc, path=rel)
        pdf = self.data_root / "archive" / (rel + ".pdf")
        if action.kind == "webhook":
            task: Callable[[], str] = lambda: send_webhook(action.settings, fields,
                                                           sleep=self._pause)
        elif action.kind == "email":
            task = lambda: send_email(action.settings, fields, self.config.smtp, pdf)
        else:
            env = script_environment(doc, rel, self.data_root, workflow.name, trigger)
            task = lambda: run_script(action.settings, env, self.data_root)

        def outside() -> None:
            try:
                outcome = task()
            except Exception as exc:  # noqa: BLE001 - recorded, the daemon goes on
                log.warning("workflow %r: %s on document %d failed: %s", workflow.name,
                            action.kind, doc.id, exc)
                self.runs.record(workflow.name, trigger, doc.id, f"{action.kind} failed", str(exc))
            else:
                log.info("workflow %r: %s on document %d: %s", workflow.name, action.kind,
                         doc.id, outcome)
                self.runs.record(workflow.name, trigger, doc.id, f"{action.kind} done", outcome)

        self.effects.submit((workflow.name, trigger, doc.id, action.kind), outside)

    def _record(self, workflow: Workflow, trigger: str, document: int | str,
                notes: list[str]) -> None:
        failed = any(note.startswith("failed") or " not applied" in note for note in notes)
        outcome = "failed" if failed else "done"
        log.info("workflow %r (%s) ran on %s: %s%s", workflow.name, trigger,
                 f"document {document}" if isinstance(document, int) else document, outcome,
                 f" ({'; '.join(notes)})" if notes else "")
        self.runs.record(workflow.name, trigger, document, outcome, "; ".join(notes))
