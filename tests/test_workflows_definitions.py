"""workflows.yml: what is accepted, and errors that name the file, line, workflow and problem."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from paperfs.workflows.definitions import (WorkflowsError, WorkflowsFile, load_workflows,
                                           parse_workflows)
from paperfs.workflows.model import parse_duration

EXAMPLE = """\
Invoices:
  triggers:
    - document_added
    - scheduled: {field: due, offset: -7d, recurring: 2w}
  filters:
    source: [inbox, webdav]
    filename: "*.pdf"
    path: "scanner/*"
    content: {algorithm: all, match: "invoice total"}
    tags: {any: [a], all: [b, c], none: [d]}
    correspondent: {not_in: [X]}
    document_type: [Invoice]
    custom_fields:
      - {field: amount, op: ">", value: 100}
      - {field: due}
  actions:
    - title: "{{ correspondent }} {{ created }}"
    - tags: [invoice]
    - correspondent: ACME
    - document_type: Invoice
    - owner: alice
    - permissions: {view: {users: [bob], groups: [family]}, change: {users: [carol]}}
    - custom_fields: {paid: false}
    - remove: {tags: [inbox], owner: true}
    - webhook: {url: "https://example.org/hook", json: {id: "{{ id }}"}, timeout: 5, retries: 2}
    - email: {to: [a@example.org], subject: "{{ title }}", attach: true}
    - script: {path: hooks/post.sh, timeout: 30}
    - trash
Scanner:
  enabled: false
  triggers: [consumption_started]
  filters: {source: inbox, path: "scanner/*"}
  actions: [{owner: alice}, {remove: all}]
"""


def test_a_full_example_is_read():
    workflows = parse_workflows(EXAMPLE)
    invoices, scanner = workflows.workflows
    assert invoices.name == "Invoices" and invoices.line == 1
    scheduled = invoices.trigger("scheduled")
    assert scheduled.date_from == "custom_field" and scheduled.custom_field == "due"
    assert scheduled.offset == dt.timedelta(days=-7) and scheduled.recurring == dt.timedelta(weeks=2)
    f = invoices.filters
    assert f.sources == ("inbox", "webdav") and f.tags_all == ("b", "c")
    assert f.correspondent_not_in == ("X",) and f.type_in == ("Invoice",)
    assert [(c.field, c.op, c.value) for c in f.custom_fields] == [("amount", ">", 100),
                                                                   ("due", "exists", None)]
    assert [a.kind for a in invoices.actions] == [
        "title", "tags", "correspondent", "document_type", "owner", "permissions",
        "custom_fields", "remove", "webhook", "email", "script", "trash"]
    assert invoices.actions[0].line == 17
    assert invoices.actions[8].settings["retries"] == 2
    assert not scanner.enabled
    assert workflows.for_trigger("consumption_started") == []  # disabled
    assert workflows.for_trigger("document_added") == [invoices]


@pytest.mark.parametrize("text, line, problem", [
    ("A:\n  triggers: [document_added]\n", 1, "has no actions"),
    ("A:\n  actions: [trash]\n", 1, "has no triggers"),
    ("A:\n  triggers: [documents_added]\n  actions: [trash]\n", 2, "unknown trigger 'documents_added'"),
    ("A:\n  triggers: [scheduled]\n  actions: [trash]\n", 2, "scheduled needs settings"),
    ("A:\n  triggers:\n    - scheduled: {from: due}\n  actions: [trash]\n", 3, "'field: NAME'"),
    ("A:\n  triggers:\n    - scheduled: {offset: soon}\n  actions: [trash]\n", 3, "a duration like 30d"),
    ("A:\n  triggers: [document_added]\n  filters:\n    source: [email]\n  actions: [trash]\n",
     4, "'email' is not one of inbox, webdav, mail, cli"),
    ("A:\n  triggers: [document_added]\n  filters:\n    content: {algorithm: regex, match: '('}\n"
     "  actions: [trash]\n", 4, "does not compile"),
    ("A:\n  triggers: [document_added]\n  filters: {colour: red}\n  actions: [trash]\n",
     3, "unknown key 'colour'"),
    ("A:\n  triggers: [document_added]\n  actions:\n    - tag: [x]\n", 4, "unknown action 'tag'"),
    ("A:\n  triggers: [document_added]\n  actions:\n    - title: '{{ title'\n", 4, "title: template"),
    ("A:\n  triggers: [document_added]\n  actions:\n    - webhook: {url: 'ftp://x'}\n", 4,
     "not an http:// or https:// address"),
    ("A:\n  triggers: [document_added]\n  actions:\n    - email: {to: nobody, subject: x}\n", 4,
     "'nobody' is not an address"),
    ("A:\n  triggers: [consumption_started]\n  filters: {tags: {any: [x]}}\n  actions: [trash]\n",
     3, "cannot apply to consumption_started"),
    ("A:\n  triggers: [consumption_started]\n  actions:\n    - tags: [x]\n    - script: /bin/true\n",
     5, "cannot run at consumption_started"),
    ("A:\n  triggers: [document_added]\n  actions: [trash]\nA:\n  triggers: [document_added]\n"
     "  actions: [trash]\n", 4, "'A' is given twice (first on line 1)"),
    ("A: [\n", 2, "not valid YAML"),
])
def test_errors_name_the_file_line_and_problem(text, line, problem):
    with pytest.raises(WorkflowsError) as caught:
        parse_workflows(text, "/data/workflows.yml")
    message = str(caught.value)
    assert message.startswith(f"/data/workflows.yml: line {line}"), message
    assert problem in message


def test_durations():
    assert parse_duration("30d") == dt.timedelta(days=30)
    assert parse_duration("-7d") == dt.timedelta(days=-7)
    assert parse_duration("12h") == dt.timedelta(hours=12)
    assert parse_duration(90) == dt.timedelta(days=90)
    assert parse_duration("soon") is None and parse_duration(True) is None


def test_no_file_is_no_workflows(tmp_path):
    assert len(load_workflows(tmp_path / "workflows.yml")) == 0


def test_the_last_valid_file_stays_in_force(tmp_path):
    path = tmp_path / "workflows.yml"
    path.write_text("A:\n  triggers: [document_added]\n  actions: [{tags: [x]}]\n")
    held = WorkflowsFile(path)
    assert [w.name for w in held.current().workflows] == ["A"]
    path.write_text("A:\n  triggers: [document_added]\n  actions: [{tagz: [x]}]\n")
    os.utime(path, ns=(1, 1))  # a different stamp even within one clock tick
    assert [w.name for w in held.current().workflows] == ["A"]
    assert "unknown action 'tagz'" in held.problems()[0]
    path.write_text("B:\n  triggers: [document_added]\n  actions: [trash]\n")
    assert [w.name for w in held.current().workflows] == ["B"]
    assert held.problems() == []
