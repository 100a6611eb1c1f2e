"""Typed custom fields: declarations in fields.yml, values per type, refusal of wrong
values in hand-edited sidecars (in process and through the real daemon), the CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from decimal import Decimal

import pytest

from paperfs.archive.custom_fields import (FieldDecl, FieldsError, FieldsFile, load_fields,
                                           money, normalise, parse_fields, parse_value,
                                           readings)
from paperfs.archive.document import read_sidecar
from paperfs.runtime import Runtime
from tests.daemon import Daemon
from tests.helpers import archive_state, config_for, drop, init_root
from tests.samples import make_text_pdf

EVERY_TYPE = """\
# my fields
amount: {type: monetary, currency: EUR}   # fixed currency
price: {type: monetary}
due: {type: date}
paid: {type: boolean}
pages_signed: {type: integer}
weight: number
website: {type: url}
priority: {type: select, options: [low, normal, high]}
related: {type: document_link}
remark: {type: text}
"""


def test_every_type_is_declared_with_its_line():
    fields = parse_fields(EVERY_TYPE, "fields.yml")
    assert [(d.name, d.type, d.line) for d in fields] == [
        ("amount", "monetary", 2), ("price", "monetary", 3), ("due", "date", 4),
        ("paid", "boolean", 5), ("pages_signed", "integer", 6), ("weight", "number", 7),
        ("website", "url", 8), ("priority", "select", 9), ("related", "document_link", 10),
        ("remark", "text", 11)]
    assert fields.get("amount").currency == "EUR" and fields.get("price").currency is None
    assert fields.get("priority").options == ("low", "normal", "high")
    assert fields.types()["due"] == "date"


@pytest.mark.parametrize("text, line, words", [
    ("due: {type: dat}\n", 1, ["'due'", "unknown type 'dat'", "date"]),
    ("a: text\nDue: date\n", 2, ["'Due' cannot be a field name", "lower-case"]),
    ("due: date\ndue: text\n", 2, ["'due'", "declared twice (first on line 1)"]),
    ("x: text\nprio: {type: select}\n", 2, ["'prio'", "needs 'options'"]),
    ("prio: {type: select, options: [a, A]}\n", 1, ["distinct"]),
    ("amount: {type: monetary, currency: euro}\n", 1, ["three-letter", "'euro'"]),
    ("due: {type: date, currency: EUR}\n", 1, ["a date field takes no 'currency'"]),
    ("tag: text\n", 1, ["built-in search field"]),
    ("due: [date]\n", 1, ["expected its settings"]),
    ("- due\n", 1, ["expected a mapping"]),
    ("due: {type: date\n", 2, ["not valid YAML"]),
])
def test_invalid_declarations_name_file_line_and_problem(text, line, words):
    with pytest.raises(FieldsError) as info:
        parse_fields(text, "/data/fields.yml")
    message = str(info.value)
    assert message.startswith(f"/data/fields.yml: line {line}"), message
    for word in words:
        assert word in message, message


def decl(kind: str, **settings) -> FieldDecl:
    return FieldDecl("f", kind, **settings)


@pytest.mark.parametrize("kind, settings, value, expected", [
    ("text", {}, "hello", "hello"),
    ("text", {}, 42, "42"),
    ("integer", {}, 7, 7),
    ("integer", {}, "-12", -12),
    ("number", {}, 3.25, 3.25),
    ("number", {}, "3.25", 3.25),
    ("number", {}, 4, 4),
    ("monetary", {"currency": "EUR"}, 12.5, "EUR12.50"),
    ("monetary", {"currency": "EUR"}, "12.5", "EUR12.50"),
    ("monetary", {"currency": "EUR"}, "EUR0.125", "EUR0.125"),
    ("monetary", {"currency": "EUR"}, 100, "EUR100.00"),
    ("monetary", {}, "usd 9.99", "USD9.99"),
    ("boolean", {}, True, True),
    ("boolean", {}, "no", False),
    ("date", {}, dt.date(2025, 1, 31), dt.date(2025, 1, 31)),
    ("date", {}, "2025-01-31", dt.date(2025, 1, 31)),
    ("url", {}, "https://example.com/a?b=1", "https://example.com/a?b=1"),
    ("select", {"options": ("low", "high")}, "HIGH", "high"),
    ("document_link", {}, [12, "40", 12], [12, 40]),
    ("document_link", {}, 7, [7]),
])
def test_valid_values_take_their_sidecar_notation(kind, settings, value, expected):
    assert normalise(decl(kind, **settings), value) == expected


@pytest.mark.parametrize("kind, settings, value, words", [
    ("text", {}, ["a"], "expected a text"),
    ("integer", {}, 1.5, "whole number"),
    ("integer", {}, True, "whole number"),
    ("integer", {}, 10 ** 20, "too large"),
    ("number", {}, "lots", "a number like 3.25"),
    ("number", {}, float("nan"), "a number"),
    ("monetary", {"currency": "EUR"}, "USD12.50", "in EUR"),
    ("monetary", {}, "12.50", "say which currency"),
    ("monetary", {"currency": "EUR"}, "12,50", "an amount like EUR12.50"),
    ("boolean", {}, "maybe", "true or false"),
    ("date", {}, "soon", "a date like 2025-01-31"),
    ("date", {}, "2025-02-30", "a date like"),
    ("url", {}, "example.com", "an address like"),
    ("select", {"options": ("low", "high")}, "medium", "one of low, high"),
    ("document_link", {}, [0], "document ids"),
    ("document_link", {}, ["x"], "document ids"),
])
def test_wrong_values_are_refused_per_type(kind, settings, value, words):
    with pytest.raises(ValueError) as info:
        normalise(decl(kind, **settings), value)
    assert words in str(info.value)


def test_validate_keeps_undeclared_and_empty_values_and_lists_every_problem():
    fields = parse_fields(EVERY_TYPE, "fields.yml")
    values, problems = fields.validate({"amount": 3, "legacy": {"any": "thing"}, "due": None,
                                        "paid": "perhaps", "priority": "urgent"})
    assert values == {"amount": "EUR3.00", "legacy": {"any": "thing"}, "due": None}
    assert problems == ["paid: expected true or false, got 'perhaps'",
                        "priority: expected one of low, normal, high, got 'urgent'"]


def test_money_is_exact():
    assert money("EUR0.10") == ("EUR", Decimal("0.10"))
    assert money(0.1) == (None, Decimal("0.1"))  # the float's shortest text, not 0.1000000000000000055…
    assert money("ten") is None and money(True) is None


def test_parse_value_from_the_command_line():
    assert parse_value(decl("document_link"), "12, 40 7") == [12, 40, 7]
    assert parse_value(decl("date"), "") is None


def test_readings_give_text_number_and_day():
    assert [(r.text, r.number, r.day) for r in readings("EUR12.50")] == [("EUR12.50", 12.5, None)]
    assert [(r.text, r.day) for r in readings(dt.date(2025, 1, 2))] == [("2025-01-02", "2025-01-02")]
    assert [r.number for r in readings([3, 4])] == [3.0, 4.0]
    assert [r.text for r in readings(False)] == ["false"]
    assert readings(None) == [] and readings("  ") == []


def test_fields_file_keeps_the_last_valid_declarations(tmp_path):
    path = tmp_path / "fields.yml"
    held = FieldsFile(path)
    assert held.current().fields == {} and held.problem is None
    path.write_text("due: date\n")
    assert list(held.current().fields) == ["due"]
    path.write_text("due: date\npaid: {type: bool}\n")
    os.utime(path, ns=(1, 1))  # a new stamp even within the clock's resolution
    assert list(held.current().fields) == ["due"]
    assert "line 2" in held.problem and "'paid'" in held.problem
    assert held.problems() == [held.problem]
    path.write_text("paid: boolean\n")
    assert list(held.current().fields) == ["paid"] and held.problem is None
    path.unlink()
    assert held.current().fields == {}


# ---------------------------------------------------------------- a data root


def paperfs(root, *args, check=True):
    proc = subprocess.run([sys.executable, "-m", "paperfs", "--root", str(root.root),
                           *map(str, args)], capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"paperfs {args} exited {proc.returncode}:\n{proc.stderr}")
    return proc


@pytest.fixture
def filed(tmp_path):
    """A data root with one filed document (id 1) and the declarations of EVERY_TYPE."""
    root = init_root(tmp_path)
    (root.root / "fields.yml").write_text(EVERY_TYPE)
    paperfs(root, "consume", make_text_pdf(tmp_path / "Invoice.pdf", ["Invoice 20.01.2024"]))
    return root


def test_cli_field_add_list_rm_keeps_comments(filed):
    paperfs(filed, "field", "add", "budget", "monetary", "--currency", "CHF")
    paperfs(filed, "field", "add", "colour", "select", "--option", "red", "--option", "blue")
    text = (filed.root / "fields.yml").read_text()
    assert text.startswith("# my fields\n") and "# fixed currency" in text
    assert "budget: {type: monetary, currency: CHF}" in text
    listed = paperfs(filed, "field", "list").stdout
    assert "budget\tmonetary (CHF)" in listed and "colour\tselect (red, blue)" in listed
    out = paperfs(filed, "field", "add", "due", "text", check=False)
    assert out.returncode == 2 and "already declared (date" in out.stderr
    out = paperfs(filed, "field", "add", "x", "select", check=False)
    assert out.returncode == 2 and "--option" in out.stderr
    out = paperfs(filed, "field", "add", "x", "money", check=False)
    assert out.returncode == 2 and "unknown type 'money'" in out.stderr
    paperfs(filed, "field", "rm", "budget")
    assert "budget" not in (filed.root / "fields.yml").read_text()
    assert load_fields(filed.root / "fields.yml").get("colour").options == ("red", "blue")


def test_cli_refuses_to_edit_an_invalid_fields_file(filed):
    (filed.root / "fields.yml").write_text("due: {type: soon}\n")
    out = paperfs(filed, "field", "add", "x", "text", check=False)
    assert out.returncode != 0 and "line 1" in out.stderr and "unknown type" in out.stderr
    assert (filed.root / "fields.yml").read_text() == "due: {type: soon}\n"


def test_cli_edit_sets_typed_values_and_refuses_wrong_ones(filed):
    paperfs(filed, "edit", "1", "--field", "amount=12.5", "--field", "due=2025-03-01",
            "--field", "paid=yes", "--field", "related=3,4", "--field", "priority=High")
    sidecar = read_sidecar(next(filed.archive.rglob("*.yml")))
    assert dict(sidecar.custom_fields) == {"amount": "EUR12.50", "due": dt.date(2025, 3, 1),
                                          "paid": True, "related": [3, 4], "priority": "high"}
    before = next(filed.archive.rglob("*.yml")).read_text()
    for bad, words in ((["due=tomorrow"], "a date like"), (["nope=1"], "not a declared field"),
                       (["paid=true", "priority=urgent"], "one of low, normal, high")):
        out = paperfs(filed, "edit", "1", *(a for b in bad for a in ("--field", b)), check=False)
        assert out.returncode == 2 and words in out.stderr, out.stderr
    assert next(filed.archive.rglob("*.yml")).read_text() == before, "nothing half-applied"
    paperfs(filed, "edit", "1", "--field", "-paid", "--field", "due=")
    sidecar = read_sidecar(next(filed.archive.rglob("*.yml")))
    assert "paid" not in sidecar.custom_fields and sidecar.custom_fields["due"] is None
    shown = paperfs(filed, "show", "1").stdout
    assert "field amount:" in shown and "EUR12.50" in shown


def test_cli_search_knows_the_declared_fields(filed):
    paperfs(filed, "edit", "1", "--field", "amount=120", "--field", "due=2025-03-01")

    def found(query):
        out = paperfs(filed, "search", query, "--json")
        return [hit["id"] for hit in json.loads(out.stdout)["hits"]]

    assert found("amount:>100") == [1] and found("amount:<100") == []
    assert found("due:[2025-01-01 to 2025-12-31]") == [1] and found("due:<2025-01-01") == []
    assert found("has:due") == [1] and found("-has:paid") == [1] and found("has:paid") == []
    out = paperfs(filed, "search", "amount:lots", check=False)
    assert out.returncode != 0 and "'amount' needs a number" in out.stderr
    (filed.root / "fields.yml").write_text("due: date\n")  # amount no longer declared
    out = paperfs(filed, "search", "amount:>100", check=False)
    assert out.returncode != 0 and "unknown field 'amount'" in out.stderr


def test_hand_edit_with_a_wrong_value_is_refused_with_a_note(filed):
    sidecar = next(filed.archive.rglob("*.yml"))
    runtime = Runtime(config_for(filed))
    writer = runtime.open_writer()
    try:
        text = sidecar.read_text()
        sidecar.write_text(text.replace("custom_fields: {}", "custom_fields:\n  due: soon\n"
                                                              "  amount: 3"))
        assert writer.sidecar_changed(sidecar) == "invalid"
        note = sidecar.with_name(sidecar.stem + ".paperfs-error.txt")
        assert "custom_fields: due: expected a date like 2025-01-31, got 'soon'" in note.read_text()
        assert writer.archive.index.get(1, _admin()).title == "Invoice"
        # fixed: applied, in the sidecar notation, and the note is gone
        sidecar.write_text(text.replace("custom_fields: {}", "custom_fields:\n  due: 2025-02-01\n"
                                                              "  amount: 3\n  legacy: free text"))
        assert writer.sidecar_changed(sidecar) == "applied"
        assert not note.exists()
        doc = read_sidecar(sidecar)
        assert dict(doc.custom_fields) == {"due": dt.date(2025, 2, 1), "amount": "EUR3.00",
                                           "legacy": "free text"}
    finally:
        writer.close()
        runtime.close()


def _admin():
    from paperfs.index.model import LOCAL_ADMIN
    return LOCAL_ADMIN


@pytest.mark.slow
def test_the_daemon_refuses_a_wrong_typed_value_and_changes_nothing(tmp_path):
    root = init_root(tmp_path)
    (root.root / "fields.yml").write_text(EVERY_TYPE)
    daemon = Daemon(root, tmp_path / "daemon.log").start()
    try:
        drop(make_text_pdf(tmp_path / "memo.pdf", ["memo of 06.06.2016"]), root.inbox)
        daemon.wait_settled(60)
        [doc] = archive_state(root).values()
        sidecar = next(root.archive.rglob("*.yml"))
        sidecar.write_text(sidecar.read_text().replace(
            "correspondent: null", "correspondent: Umbrella").replace(
            "custom_fields: {}", "custom_fields: {paid: perhaps}"))
        note = sidecar.with_name(sidecar.stem + ".paperfs-error.txt")
        daemon.wait_for(note.exists, 20, "the error note")
        assert "paid: expected true or false, got 'perhaps'" in note.read_text()
        assert sidecar.exists(), "not moved: the edit changed nothing"
        assert not (root.archive / "Umbrella").exists()
        shown = json.loads(paperfs(root, "search", "correspondent:umbrella", "--json").stdout)
        assert shown["total"] == 0
        sidecar.write_text(sidecar.read_text().replace("{paid: perhaps}", "{paid: yes}"))
        moved = root.archive / "Umbrella/2016/2016-06-06 memo.yml"
        daemon.wait_for(moved.exists, 20, "the corrected edit to be applied")
        assert read_sidecar(moved).custom_fields == {"paid": True}
        assert not note.exists()
    finally:
        daemon.stop()


def test_webdav_put_of_a_sidecar_with_a_wrong_typed_value_is_refused(tmp_path):
    from tests.dav_support import add_doc, running

    with running(tmp_path, lambda archive: add_doc(archive, 1, "Invoice", dt.date(2024, 3, 15),
                                                   correspondent="ACME")) as dav:
        (dav.root.root / "fields.yml").write_text(EVERY_TYPE)
        path = "/archive/ACME/2024/2024-03-15 Invoice.yml"
        text = dav.request("GET", path).body.decode()
        wrong = text.replace("title: Invoice", "title: Renamed").replace(
            "custom_fields: {}", "custom_fields: {due: someday}")
        r = dav.request("PUT", path, body=wrong)
        assert r.status == 403 and b"paperfs-error.txt" in r.body
        note = dav.root.archive / "ACME/2024/2024-03-15 Invoice.paperfs-error.txt"
        assert "due: expected a date like 2025-01-31, got 'someday'" in note.read_text()
        assert dav.archive.index.get(1, _admin()).title == "Invoice", "nothing applied"
        right = wrong.replace("{due: someday}", "{due: 2025-05-01, amount: 9.5}")
        assert dav.request("PUT", path, body=right).status in (200, 201, 204)
        doc = dav.sidecar(1)
        assert doc.title == "Renamed" and doc.custom_fields == {
            "due": dt.date(2025, 5, 1), "amount": "EUR9.50"}
        assert not note.exists()


def test_webdav_search_and_saved_folders_know_the_declared_fields(tmp_path):
    from tests.dav_support import add_doc, running

    def docs(archive):
        (archive.root.root / "fields.yml").write_text("amount: {type: monetary, currency: EUR}\n")
        add_doc(archive, 1, "Big", dt.date(2024, 3, 15), custom_fields={"amount": "EUR250.00"})
        add_doc(archive, 2, "Small", dt.date(2024, 3, 16), custom_fields={"amount": "EUR5.00"})

    with running(tmp_path, docs) as dav:
        assert dav.names("/search/amount:>100/") == ["2024-03-15 Big.pdf"]
        assert dav.names("/search/has:amount/") == [
            "2024-03-15 Big.pdf", "2024-03-16 Small.pdf"]
        assert dav.request("MKCOL", "/saved/amount:<10").status == 201
        assert dav.names("/saved/amount:<10" + "/") == ["2024-03-16 Small.pdf"]
        assert dav.propfind("/search/nosuch:>1/").status == 404


def test_an_unreadable_fields_file_keeps_the_last_valid_declarations(tmp_path):
    from paperfs.archive.custom_fields import FieldsFile

    path = tmp_path / "fields.yml"
    path.write_text("due: {type: date}\n")
    holder = FieldsFile(path)
    assert holder.types() == {"due": "date"}
    path.unlink()
    path.mkdir()  # not a file any more: reading it fails
    assert holder.types() == {"due": "date"}
    [problem] = holder.problems()
    assert problem.startswith(f"{path}: cannot read it")
