"""What a workflow is: its triggers, filters and actions, as definitions.py reads
them from workflows.yml (settings checked, templates compiled)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Mapping

from paperfs.classify.matching import Rule

TRIGGERS = ("consumption_started", "document_added", "document_updated", "scheduled")
SOURCES = ("inbox", "webdav", "mail", "cli")
SCHEDULE_FROM = ("created", "added", "modified")
FIELD_OPS = ("exists", "missing", "=", "!=", ">", ">=", "<", "<=", "contains")
#: actions that set metadata; the only ones a consumption_started workflow may have
ASSIGNMENTS = ("title", "tags", "correspondent", "document_type", "owner", "permissions",
               "custom_fields", "remove")
ACTIONS = ASSIGNMENTS + ("trash", "webhook", "email", "script")
REMOVABLE = ("tags", "correspondent", "document_type", "owner", "permissions",
             "custom_fields", "all")
_DURATION = re.compile(r"^\s*([+-]?\d+)\s*(s|m|h|d|w)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, None: 86400}


@dataclass(frozen=True)
class Trigger:
    kind: str
    #: scheduled: the date it counts from (created, added, modified) or a custom field
    date_from: str = "created"
    custom_field: str | None = None
    offset: dt.timedelta = dt.timedelta(0)
    #: scheduled: run again this long after the last run (None: once per document)
    recurring: dt.timedelta | None = None


@dataclass(frozen=True)
class FieldCondition:
    field: str
    op: str
    value: Any = None


@dataclass(frozen=True)
class Filters:
    sources: tuple[str, ...] = ()
    filename: str | None = None
    path: str | None = None
    content: Rule | None = None
    tags_any: tuple[str, ...] = ()
    tags_all: tuple[str, ...] = ()
    tags_none: tuple[str, ...] = ()
    correspondent_in: tuple[str, ...] = ()
    correspondent_not_in: tuple[str, ...] = ()
    type_in: tuple[str, ...] = ()
    type_not_in: tuple[str, ...] = ()
    custom_fields: tuple[FieldCondition, ...] = ()

    def document_only(self) -> list[str]:
        """The filters that need a filed document (not known when consumption starts)."""
        names = {"content": self.content is not None,
                 "tags": bool(self.tags_any or self.tags_all or self.tags_none),
                 "correspondent": bool(self.correspondent_in or self.correspondent_not_in),
                 "document_type": bool(self.type_in or self.type_not_in),
                 "custom_fields": bool(self.custom_fields)}
        return [name for name, used in names.items() if used]


@dataclass(frozen=True)
class Action:
    kind: str
    #: the action's settings, checked; templates compiled (Template objects)
    settings: Mapping[str, Any]
    line: int

    @property
    def assigns(self) -> bool:
        return self.kind in ASSIGNMENTS


@dataclass(frozen=True)
class Workflow:
    name: str
    triggers: tuple[Trigger, ...]
    filters: Filters
    actions: tuple[Action, ...]
    line: int
    enabled: bool = True

    def trigger(self, kind: str) -> Trigger | None:
        return next((t for t in self.triggers if t.kind == kind), None)


@dataclass(frozen=True)
class WorkflowSet:
    workflows: tuple[Workflow, ...] = ()
    #: where it was read from (for messages)
    source: str = ""

    def for_trigger(self, kind: str) -> list[Workflow]:
        """The enabled workflows with this trigger, in the file's order."""
        return [w for w in self.workflows if w.enabled and w.trigger(kind) is not None]

    def __len__(self) -> int:
        return len(self.workflows)


# ---------------------------------------------------------------- reading


def parse_duration(text: Any) -> dt.timedelta | None:
    """``30d``, ``-7d``, ``12h``, ``2w``, ``90`` (days); None if it is none of these."""
    if isinstance(text, bool):
        return None
    found = _DURATION.match(str(text))
    if not found:
        return None
    return dt.timedelta(seconds=int(found.group(1)) * _UNITS[found.group(2)])
