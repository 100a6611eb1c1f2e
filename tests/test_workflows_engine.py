"""The engine on a real archive: scheduled triggers (offsets, custom date fields,
recurring), run records in the sidecar; the outside-action threads at a stop."""

from __future__ import annotations

import datetime as dt
import threading
import time

from click.testing import CliRunner

from paperfs.archive.document import read_sidecar
from paperfs.cli import cli
from paperfs.runtime import Runtime
from paperfs.workflows import engine as engine_module
from paperfs.workflows.effects import Effects
from paperfs.workflows.engine import WorkflowEngine
from paperfs.workflows.runs import RUNS_KEY
from tests.helpers import config_for, init_root
from tests.samples import make_text_pdf

WORKFLOWS = """\
Due soon:
  triggers:
    - scheduled: {field: due, offset: -7d}
  actions: [{tags: [due-soon]}]
Monthly:
  triggers:
    - scheduled: {from: created, offset: 1d, recurring: 30d}
  filters: {tags: {none: [archived]}}
  actions: [{custom_fields: {reviewed: checked}}]
"""


def _archive_with_one_document(tmp_path):
    root = init_root(tmp_path)
    (root.root / "workflows.yml").write_text(WORKFLOWS)
    pdf = make_text_pdf(tmp_path / "contract.pdf", ["A contract"])
    out = CliRunner().invoke(cli, ["--root", str(root.root), "consume", str(pdf)])
    assert out.exit_code == 0, out.output
    return root


def test_scheduled_offsets_fields_and_recurrence(tmp_path, monkeypatch):
    root = _archive_with_one_document(tmp_path)
    runtime = Runtime(config_for(root))
    writer = runtime.open_writer()
    engine = WorkflowEngine(runtime.config, root, writer)
    catalog = runtime.open_catalog()
    try:
        (sidecar,) = root.archive.rglob("*.yml")
        doc = read_sidecar(sidecar)
        created = dt.datetime.combine(doc.created, dt.time(), dt.timezone.utc)
        writer.update(doc.id, lambda d: d.replace(custom_fields={"due": "2030-01-10"}))

        def at(moment: dt.datetime) -> int:
            monkeypatch.setattr(engine_module, "now", lambda: moment)
            return engine.scheduled_pass(catalog)

        def current():
            (path,) = root.archive.rglob("*.yml")
            return read_sidecar(path)

        assert at(created) == 0  # neither is due: Monthly one day after created
        assert at(created + dt.timedelta(days=1)) == 1  # Monthly, once
        first = current()
        assert first.custom_fields["reviewed"] == "checked"
        assert at(created + dt.timedelta(days=2)) == 0
        assert at(created + dt.timedelta(days=31)) == 1  # recurring: 30 days after its run
        again = current()
        # nothing to change this time: only the run's record, no new 'modified', no move
        assert again.modified == first.modified and again.title == first.title
        assert again.extra[RUNS_KEY]["Monthly"] > first.extra[RUNS_KEY]["Monthly"]
        assert at(dt.datetime(2030, 1, 2, tzinfo=dt.timezone.utc)) == 1  # Monthly again
        assert "due-soon" not in current().tags  # due 2030-01-10, seven days before: 01-03
        assert at(dt.datetime(2030, 1, 3, tzinfo=dt.timezone.utc)) == 1
        assert current().tags == ("due-soon",)
        assert at(dt.datetime(2030, 1, 20, tzinfo=dt.timezone.utc)) == 0  # not recurring
        runs = current().extra[RUNS_KEY]
        assert set(runs) == {"Due soon", "Monthly"}
        writer.update(doc.id, lambda d: d.replace(tags=("archived",)))
        assert at(dt.datetime(2031, 1, 1, tzinfo=dt.timezone.utc)) == 0  # filtered out now
    finally:
        catalog.close()
        engine.close()
        runtime.close()


def test_a_stop_does_not_wait_for_a_stuck_action():
    dropped: list[str] = []
    effects = Effects(1, dropped.append)
    release = threading.Event()
    done: list[str] = []
    effects.submit("stuck", lambda: release.wait(30))
    effects.submit("queued", lambda: done.append("queued"))
    time.sleep(0.2)
    started = time.monotonic()
    effects.close(0.3)
    assert time.monotonic() - started < 2
    assert sorted(dropped) == ["queued", "stuck"] and done == []
    assert not effects.pause(5)  # retries give up at once after a stop
    effects.submit("late", lambda: done.append("late"))
    assert dropped[-1] == "late" and done == []
    release.set()


def test_actions_under_way_finish_within_the_grace():
    dropped: list[str] = []
    done: list[str] = []
    effects = Effects(2, dropped.append)
    for n in range(4):
        effects.submit(f"task {n}", lambda n=n: (time.sleep(0.1), done.append(n)))
    effects.close(5)
    assert sorted(done) == [0, 1, 2, 3] and dropped == []


class _Catalog:
    """Stands in for the catalog's stream: id, created, added, path, mtime."""

    def __init__(self, entries):
        self.entries = entries

    def stream(self, node, user):
        return iter(self.entries)


def test_a_pass_reads_only_what_may_be_due_and_only_once(tmp_path):
    from paperfs.index.catalog import CatalogEntry
    from paperfs.workflows.definitions import parse_workflows
    from paperfs.workflows.scheduled import Schedule
    from tests.test_workflows_filters import document

    workflows = parse_workflows(
        "Old:\n  triggers: [{scheduled: {from: created, offset: 30d}}]\n  actions: [{tags: [x]}]\n"
        "Due:\n  triggers: [{scheduled: {field: due}}]\n  actions: [{tags: [y]}]\n")
    stamp = dt.datetime(2025, 3, 1, tzinfo=dt.timezone.utc)

    def entry(doc_id, created, mtime=1.0):
        return CatalogEntry(doc_id, "t", created, stamp, f"p{doc_id}", None, None, None, "0", mtime)

    reads: list[str] = []

    def read(rel):
        reads.append(rel)
        return document(id=int(rel[1:]), created=dt.date(2025, 1, 1),
                        custom_fields={"due": "2025-03-10"} if rel == "p1" else {})

    entries = [entry(n, dt.date(2025, 1, 1)) for n in range(1, 6)]
    schedule = Schedule(reads_per_pass=3)
    moment = dt.datetime(2025, 2, 1, tzinfo=dt.timezone.utc)  # Old due (Jan 31), Due not yet
    first = list(schedule.due(workflows, _Catalog(entries), moment, read))
    assert reads == ["p1", "p2", "p3"]  # three a pass; the rest waits
    assert [(w.name, n) for w, n in first] == [("Old", 1), ("Old", 2), ("Old", 3)]
    second = list(schedule.due(workflows, _Catalog(entries), moment, read))
    assert reads[3:] == ["p4", "p5"]  # the first three are known (same mtime): not read again
    assert [(w.name, n) for w, n in second] == [("Old", 1), ("Old", 2), ("Old", 3), ("Old", 4),
                                                ("Old", 5)]  # (no run recorded in between)
    later = dt.datetime(2025, 3, 10, tzinfo=dt.timezone.utc)
    assert ("Due", 1) in [(w.name, n) for w, n in schedule.due(workflows, _Catalog(entries), later, read)]
    entries[0] = entry(1, dt.date(2025, 1, 1), mtime=2.0)  # its sidecar changed: read again
    list(schedule.due(workflows, _Catalog(entries), later, read))
    assert reads[5:] == ["p1"]
    young = [entry(9, dt.date(2025, 1, 31))]  # created a day ago: Old not due; Due needs the file
    list(schedule.due(parse_workflows("Old:\n  triggers: [{scheduled: {from: created, offset: 30d}}]\n"
                                      "  actions: [{tags: [x]}]\n"), _Catalog(young), moment, read))
    assert reads[-1] == "p1"  # not read: the catalog's created date says it is not due


def test_custom_field_values_are_typed_as_fields_yml_declares(tmp_path):
    from paperfs.workflows.runs import RunLog

    root = _archive_with_one_document(tmp_path)
    (root.root / "fields.yml").write_text("due: {type: date}\nsigned: {type: boolean}\n")
    (root.root / "workflows.yml").write_text(
        "Wrong:\n  triggers: [document_added]\n  actions:\n    - custom_fields: {due: soon}\n"
        "    - tags: [still-tagged]\n"
        "Right:\n  triggers: [document_added]\n  actions:\n"
        "    - custom_fields: {due: '2025-06-30', signed: 'yes', free: anything}\n")
    runtime = Runtime(config_for(root))
    writer = runtime.open_writer()
    engine = WorkflowEngine(runtime.config, root, writer)
    try:
        (sidecar,) = root.archive.rglob("*.yml")
        doc_id = read_sidecar(sidecar).id
        for workflow in engine.file.current().workflows:
            engine.run(workflow, "document_added", doc_id)
        (sidecar,) = root.archive.rglob("*.yml")
        doc = read_sidecar(sidecar)
        assert doc.tags == ("still-tagged",)  # the rest of the workflow ran
        assert doc.custom_fields == {"due": dt.date(2025, 6, 30), "signed": True,
                                     "free": "anything"}
        wrong = [e for e in RunLog(root.workflow_log).entries() if e["workflow"] == "Wrong"]
        assert wrong[0]["outcome"] == "failed"
        assert "line 4: custom_fields not applied: due:" in wrong[0]["detail"]
    finally:
        engine.close()
        runtime.close()
