"""Run records: what ran, when, on which document, and how it ended.

Two records, for two purposes (docs/architecture.md, decision "workflow runs"):

* **the sidecar** keeps, for scheduled workflows only, when each last ran on
  that document: ``workflow_runs: {NAME: 2025-03-01T10:00:00+00:00}``, written
  by the writer together with the run's own changes. It decides whether a
  scheduled workflow is due, so it lives in the tree, which is the truth:
  deleting ``.paperfs/`` never makes a non-recurring workflow run twice.
* **the run log** ``.paperfs/workflow-runs.jsonl``: one JSON line per run and
  per outside action (webhook, e-mail, script) with its outcome, for
  ``paperfs workflow list`` and for people reading what happened. History
  only: it may be deleted, and it is cut to its newer half past 4 MiB.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from pathlib import Path
from typing import Any, Mapping

from paperfs.archive.atomic import atomic_write_text

log = logging.getLogger(__name__)

#: the sidecar key of the scheduled runs (bookkeeping, kept by the writer)
RUNS_KEY = "workflow_runs"
MAX_LOG_BYTES = 4 * 1024 * 1024


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def last_run(doc: Any, workflow: str) -> dt.datetime | None:
    """When *workflow* last ran on the document as scheduled, from its sidecar."""
    runs = (doc.extra or {}).get(RUNS_KEY)
    if not isinstance(runs, Mapping) or runs.get(workflow) is None:
        return None
    value = runs[workflow]
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    return None


def with_run(doc: Any, workflow: str, when: dt.datetime) -> Any:
    """The document with *workflow*'s scheduled run at *when* recorded."""
    runs = dict((doc.extra or {}).get(RUNS_KEY) or {})
    runs[workflow] = when
    return doc.replace(extra={**doc.extra, RUNS_KEY: runs})


class RunLog:
    """The append-only log of runs (thread-safe: outside actions end in worker threads)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()

    def record(self, workflow: str, trigger: str, document: int | str | None, outcome: str,
               detail: str = "") -> None:
        entry = {"time": now().isoformat(), "workflow": workflow, "trigger": trigger,
                 "document": document, "outcome": outcome}
        if detail:
            entry["detail"] = detail
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self.lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with open(self.path, "a", encoding="utf-8") as f:
                    f.write(line)
                    size = f.tell()
                if size > MAX_LOG_BYTES:
                    self._cut()
            except OSError as exc:  # the log is history: a full disk must not stop a run
                log.warning("cannot record the workflow run in %s: %s", self.path, exc)

    def _cut(self) -> None:
        lines = self.path.read_text("utf-8").splitlines(keepends=True)
        atomic_write_text(self.path, "".join(lines[len(lines) // 2:]))

    def entries(self) -> list[dict[str, Any]]:
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return []
        out = []
        for line in text.splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a line torn by a crash
        return out

    def last_runs(self) -> dict[str, dict[str, Any]]:
        """Each workflow's latest entry."""
        return {entry.get("workflow", ""): entry for entry in self.entries()}
