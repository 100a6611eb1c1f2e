"""Which documents a scheduled workflow is due on.

A scheduled trigger is due when the document's date (created, added,
modified, or a custom date field) plus the offset has come, and the workflow
has not run on it yet — or, recurring, not for ``recurring`` since its last
run (``runs.last_run``, from the sidecar).

Each pass streams the catalog (id, created, added, sidecar mtime): a document
that is not due by its created/added date is never read. The sidecar of one
that may be is read once and then again only when its mtime changes; what is
kept of it is small (its dates, custom date values, last runs and which
workflows' filters take it), not its text, so an archive of 100,000 due
documents costs a few tens of MiB, not its contents. At most ``reads_per_pass``
sidecars are read per pass; the rest waits for the next pass, so a first pass
over a large archive never holds up the daemon's loop for long.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from paperfs.workflows.filters import Subject, passes
from paperfs.workflows.model import Trigger, Workflow, WorkflowSet
from paperfs.workflows.runs import last_run

if TYPE_CHECKING:
    from paperfs.archive.document import Document
    from paperfs.index.catalog import Catalog

#: sidecars read per pass at most (the rest waits for the next pass)
READS_PER_PASS = 2000
_NEVER = dt.datetime.max.replace(tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class _Known:
    """What a pass keeps of one document's sidecar, valid while its mtime is the same."""

    mtime: float
    #: workflow name -> when it is due (None: never, no such date)
    due: Mapping[str, dt.datetime | None]
    #: workflow name -> when it last ran as scheduled
    runs: Mapping[str, dt.datetime | None]
    #: the workflows whose filters take the document
    taken: frozenset[str]


class Schedule:
    """The scheduled workflows of one workflows.yml version, and what is known of documents."""

    def __init__(self, reads_per_pass: int = READS_PER_PASS) -> None:
        self.reads_per_pass = reads_per_pass
        self._known: dict[int, _Known] = {}
        self._for: WorkflowSet | None = None

    def due(self, workflow_set: WorkflowSet, catalog: "Catalog", moment: dt.datetime,
            read: Callable[[str], "Document | None"]) -> Iterator[tuple[Workflow, int]]:
        """(workflow, document id) for every run that is due at *moment*."""
        from paperfs.index.model import LOCAL_ADMIN
        from paperfs.search.tree import MatchAll

        if workflow_set is not self._for:  # another file: what was known may not hold
            self._known, self._for = {}, workflow_set
        workflows = workflow_set.for_trigger("scheduled")
        if not workflows:
            return
        reads = 0
        for entry in catalog.stream(MatchAll(), LOCAL_ADMIN):
            dates = {"created": midnight(entry.created), "added": entry.added}
            maybe = [w for w in workflows if _maybe_due(_trigger(w), dates, moment)]
            if not maybe:
                continue
            known = self._known.get(entry.id)
            if known is None or known.mtime != entry.mtime:
                if reads >= self.reads_per_pass:
                    continue  # the next pass goes on
                reads += 1
                doc = read(entry.path)
                if doc is None:
                    continue  # moved or being edited: the next pass sees it
                known = self._known[entry.id] = _learn(workflows, doc, entry.mtime)
            for workflow in maybe:
                if _is_due(workflow, known, moment):
                    yield workflow, entry.id


def _trigger(workflow: Workflow) -> Trigger:
    trigger = workflow.trigger("scheduled")
    assert trigger is not None
    return trigger


def _maybe_due(trigger: Trigger, dates: Mapping[str, dt.datetime], moment: dt.datetime) -> bool:
    """From the catalog alone: False only when created/added say it is not due yet."""
    base = dates.get(trigger.date_from)
    return base is None or base + trigger.offset <= moment


def _learn(workflows: list[Workflow], doc: "Document", mtime: float) -> _Known:
    dates = {"created": midnight(doc.created), "added": doc.added, "modified": doc.modified}
    subject = Subject.of_document(doc)
    return _Known(mtime=mtime,
                  due={w.name: due_at(_trigger(w), dates, doc.custom_fields) for w in workflows},
                  runs={w.name: last_run(doc, w.name) for w in workflows},
                  taken=frozenset(w.name for w in workflows if passes(w.filters, subject)))


def _is_due(workflow: Workflow, known: _Known, moment: dt.datetime) -> bool:
    due = known.due.get(workflow.name)
    if due is None or due > moment or workflow.name not in known.taken:
        return False
    last, every = known.runs.get(workflow.name), _trigger(workflow).recurring
    return last is None or (every is not None and last + every <= moment)


def due_at(trigger: Trigger, dates: Mapping[str, dt.datetime],
           custom_fields: Mapping[str, Any]) -> dt.datetime | None:
    """When the trigger is due for a document with these dates; None: never (the
    document has no such date)."""
    if trigger.date_from == "custom_field":
        base = as_datetime(custom_fields.get(trigger.custom_field or ""))
    else:
        base = dates.get(trigger.date_from)
    if base is None:
        return None
    try:
        return base + trigger.offset
    except OverflowError:
        return _NEVER


def midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)


def as_datetime(value: Any) -> dt.datetime | None:
    """A custom field's date (a date, a timestamp, or text starting 2025-06-30)."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, dt.date):
        return midnight(value)
    if isinstance(value, str):
        try:
            return midnight(dt.date.fromisoformat(value.strip()[:10]))
        except ValueError:
            return None
    return None
