"""Filters, templates (and their sandbox) and the assignment actions, on documents in memory."""

from __future__ import annotations

import datetime as dt

import pytest

from paperfs.archive.document import ArchiveInfo, Document, Grants, OriginalInfo, Permissions
from paperfs.workflows.actions import assign
from paperfs.workflows.definitions import parse_workflows
from paperfs.workflows.filters import Subject, field_passes, passes
from paperfs.workflows.model import FieldCondition
from paperfs.workflows.templates import TemplateError, compile_template, variables

STAMP = dt.datetime(2025, 3, 1, 10, 0, tzinfo=dt.timezone.utc)


def document(**changes) -> Document:
    doc = Document(id=7, title="Scan", created=dt.date(2025, 2, 14), added=STAMP, modified=STAMP,
                   original=OriginalInfo("Invoice 12.PDF", "application/pdf", "0" * 64,
                                         "originals/0000/0000007.pdf"),
                   archive=ArchiveInfo("1" * 64, 1), correspondent="ACME",
                   document_type="Invoice", tags=("inbox", "Paid"),
                   custom_fields={"amount": "120.50", "due": "2025-04-01", "refs": [3, 4]},
                   source={"kind": "inbox", "path": "inbox/scanner/office/Invoice 12.PDF"},
                   content="Invoice for C++ training, total 120.50 EUR")
    return doc.replace(**changes)


def workflow_filters(text: str):
    yml = f"W:\n  triggers: [document_added]\n  filters:\n{text}  actions: [trash]\n"
    return parse_workflows(yml).workflows[0].filters


@pytest.mark.parametrize("filters, expected", [
    ("    source: [inbox]\n", True),
    ("    source: [webdav, mail]\n", False),
    ("    filename: '*.pdf'\n", True),  # globs ignore case, as in paperless
    ("    filename: 'receipt*'\n", False),
    ("    path: 'scanner/*'\n", True),  # the inbox sub-path
    ("    path: 'inbox/scanner/*'\n", True),  # or the whole source path
    ("    path: 'camera/*'\n", False),
    ("    content: {algorithm: any, match: 'C++ Java'}\n", True),  # paperless misses C++
    ("    content: {algorithm: all, match: 'invoice dinner'}\n", False),
    ("    content: {algorithm: regex, match: 'total \\d+'}\n", True),
    ("    tags: {any: [paid, x]}\n", True),  # names compare without case
    ("    tags: {all: [inbox, paid]}\n", True),
    ("    tags: {all: [inbox, unpaid]}\n", False),
    ("    tags: {none: [PAID]}\n", False),
    ("    correspondent: [acme]\n", True),
    ("    correspondent: {not_in: [ACME]}\n", False),
    ("    document_type: {in: [Letter]}\n", False),
    ("    document_type: {not_in: [Letter]}\n", True),
    ("    custom_fields: [{field: amount, op: '>', value: 100}]\n", True),
    ("    custom_fields: [{field: amount, op: '<=', value: 100}]\n", False),
])
def test_each_filter(filters, expected):
    assert passes(workflow_filters(filters), Subject.of_document(document())) is expected


def test_no_filters_take_every_document():
    assert passes(workflow_filters("    {}\n"), Subject.of_document(document(tags=())))


@pytest.mark.parametrize("op, value, expected", [
    ("exists", None, True), ("missing", None, False),
    ("=", "120.5", True),  # numbers compare as numbers
    ("!=", 120.5, False),
    (">=", "2025-04-01", False),  # amount is a number, the value a date: no answer
    ("contains", "20.5", True),
])
def test_custom_field_conditions(op, value, expected):
    assert field_passes(FieldCondition("amount", op, value), document().custom_fields) is expected


def test_custom_field_dates_lists_money_and_absent_fields():
    values = {**document().custom_fields, "fee": "EUR120.50"}
    assert field_passes(FieldCondition("fee", ">", 100), values)  # fields.yml's monetary notation
    assert field_passes(FieldCondition("fee", "=", "EUR120.5"), values)
    assert field_passes(FieldCondition("due", "<", "2025-05-01"), values)
    assert field_passes(FieldCondition("refs", "contains", 4), values)
    assert not field_passes(FieldCondition("refs", "contains", 5), values)
    assert field_passes(FieldCondition("paid", "missing"), values)
    assert not field_passes(FieldCondition("paid", "=", True), values)
    assert field_passes(FieldCondition("paid", "!=", True), values)


# ---------------------------------------------------------------- templates


def test_templates_see_the_documents_fields():
    doc = document()
    text = compile_template("{{ correspondent }} {{ document_type }} {{ created_year }}-"
                            "{{ created_month }} [{{ tags|join(',') }}] {{ custom_fields.amount }} "
                            "#{{ id }} {{ original_filename }} {{ archive_path }}")
    assert text.render(variables(doc, path="ACME/2025/Scan")) == \
        ("ACME Invoice 2025-02 [inbox,Paid] 120.50 #7 Invoice 12.PDF archive/ACME/2025/Scan.pdf")


def test_a_missing_field_renders_as_nothing():
    assert compile_template("[{{ nothing }}][{{ nothing.deeper }}]").render({}) == "[][]"


@pytest.mark.parametrize("source", [
    "{{ ''.__class__ }}",
    "{{ title.__class__.__mro__ }}",
    "{{ tags.__class__.__subclasses__() }}",
    "{{ custom_fields.__init__.__globals__ }}",
])
def test_the_sandbox_refuses_python_internals(source):
    with pytest.raises(TemplateError, match="refused by the sandbox"):
        compile_template(source).render(variables(document()))


def test_a_failing_template_is_a_clear_error():
    with pytest.raises(TemplateError, match="failed"):
        compile_template("{{ 1 / 0 }}").render({})


# ---------------------------------------------------------------- assignments


def actions(text: str):
    yml = f"W:\n  triggers: [document_added]\n  actions:\n{text}"
    return parse_workflows(yml).workflows[0].actions


def apply_all(text: str, doc: Document) -> Document:
    for action in actions(text):
        doc = assign(action, doc, variables)
    return doc


def test_assignments_in_order():
    doc = apply_all("    - correspondent: Globex\n"
                    "    - title: '{{ correspondent }}: {{ title }}'\n"
                    "    - tags: [invoice, PAID]\n"  # Paid is there already
                    "    - document_type: Bill\n"
                    "    - owner: alice\n"
                    "    - permissions: {view: {users: [bob]}, change: {groups: [family]}}\n"
                    "    - custom_fields: {paid: true}\n", document())
    assert doc.title == "Globex: Scan"
    assert doc.tags == ("inbox", "Paid", "invoice")
    assert (doc.correspondent, doc.document_type, doc.owner) == ("Globex", "Bill", "alice")
    assert doc.permissions == Permissions(view=Grants(users=("bob",)),
                                          change=Grants(groups=("family",)))
    assert doc.custom_fields["paid"] is True and doc.custom_fields["amount"] == "120.50"


def test_removals():
    doc = document(owner="alice", permissions=Permissions(view=Grants(users=("bob",))))
    some = apply_all("    - remove: {tags: [INBOX], correspondent: [acme], document_type: [Letter],"
                     " custom_fields: [due], owner: true, permissions: true}\n", doc)
    assert some.tags == ("Paid",) and some.correspondent is None
    assert some.document_type == "Invoice"  # not one of those named
    assert "due" not in some.custom_fields and "amount" in some.custom_fields
    assert some.owner is None and some.permissions == Permissions()
    everything = apply_all("    - remove: all\n", doc)
    assert (everything.tags, everything.correspondent, everything.document_type,
            everything.owner, dict(everything.custom_fields)) == ((), None, None, None, {})
