"""`paperfs label list|add|edit|rm`: labels.yml edited in place, comments and layout kept,
every edit validated whole before it is written."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from click.testing import CliRunner, Result

from paperfs.archive.layout import DataRoot
from paperfs.classify.labels import load_labels
from paperfs.cli import cli
from paperfs.runtime import Runtime
from tests.dav_support import add_doc
from tests.helpers import config_for, init_root

LABELS = """\
# Labels of the Smith household
tags:
  Finance: {match: "invoice receipt", algorithm: any}  # money matters
  # taxes are finance too
  Taxes: {parent: Finance, match: '"tax return" Steuer', priority: 5}
  Inbox: {inbox: true}

correspondents:
  ACME GmbH:
    match: ACME
    algorithm: exact   # the letterhead
document_types:
"""


def run(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--root", str(root), "label", *args])


def make_root(tmp_path: Path, labels: str | None = LABELS) -> Path:
    root = init_root(tmp_path)
    if labels is not None:
        (root.root / "labels.yml").write_text(labels)
    return root.root


def test_add_keeps_comments_and_layout(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    out = run(root, "add", "tag", "Insurance", "--match", "policy premium", "--parent", "Finance")
    assert out.exit_code == 0, out.output
    assert "added tag 'Insurance'" in out.output
    out = run(root, "add", "type", "Invoice", "--match", r"Invoice\s+No", "--algorithm", "regex")
    assert out.exit_code == 0, out.output
    text = (root / "labels.yml").read_text()
    # everything that was there is there, byte for byte
    for line in LABELS.splitlines():
        if line != "document_types:":
            assert line in text, line
    assert "  Insurance: {match: policy premium, parent: Finance}\n" in text
    assert "document_types:\n  Invoice: {match: Invoice\\s+No, algorithm: regex}\n" in text
    labels = load_labels(root / "labels.yml")
    assert labels.tags["Insurance"].parent == "Finance"
    assert labels.document_types["Invoice"].algorithm == "regex"
    assert list(labels.tags) == ["Finance", "Taxes", "Inbox", "Insurance"]


def test_kinds_singular_plural_and_paperless_names(tmp_path: Path) -> None:
    root = make_root(tmp_path, None)  # no labels.yml yet: created
    for kind, name in (("tags", "A"), ("correspondent", "B"), ("correspondents", "C"),
                       ("document_type", "D"), ("types", "E"), ("document-type", "F")):
        out = run(root, "add", kind, name)
        assert out.exit_code == 0, out.output
    labels = load_labels(root / "labels.yml")
    assert (list(labels.tags), list(labels.correspondents), list(labels.document_types)) == \
        (["A"], ["B", "C"], ["D", "E", "F"])
    assert (root / "labels.yml").read_text().startswith("# paperfs labels")
    out = run(root, "add", "person", "X")
    assert out.exit_code == 2 and "unknown kind 'person'" in out.output


def test_names_and_matches_that_yaml_would_read_as_other_types_are_quoted(tmp_path: Path) -> None:
    root = make_root(tmp_path, None)
    for name, match in (("yes", "010"), ("2024", "on"), ("C++", '"tax return"')):
        assert run(root, "add", "tag", name, "--match", match).exit_code == 0
    labels = load_labels(root / "labels.yml")
    assert {n: t.match for n, t in labels.tags.items()} == \
        {"yes": "010", "2024": "on", "C++": '"tax return"'}


def test_edit_changes_only_what_is_given(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    out = run(root, "edit", "correspondent", "acme gmbh", "--priority", "3",
              "--case-sensitive")
    assert out.exit_code == 0, out.output
    text = (root / "labels.yml").read_text()
    assert "    algorithm: exact   # the letterhead\n" in text
    acme = load_labels(root / "labels.yml").correspondents["ACME GmbH"]
    assert (acme.match, acme.algorithm, acme.priority, acme.case_sensitive) == \
        ("ACME", "exact", 3, True)
    # '' removes a setting; a default value is not written
    out = run(root, "edit", "tag", "Taxes", "--parent", "", "--priority", "0")
    assert out.exit_code == 0, out.output
    taxes = load_labels(root / "labels.yml").tags["Taxes"]
    assert (taxes.parent, taxes.priority, taxes.match) == (None, 0, '"tax return" Steuer')
    assert "Taxes: {match: '\"tax return\" Steuer'}" in (root / "labels.yml").read_text()
    out = run(root, "edit", "tag", "Taxes")
    assert out.exit_code == 2 and "nothing to change" in out.output


def test_rename_keeps_place_and_comment_and_children_follow(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    out = run(root, "edit", "tag", "Finance", "--rename", "Money")
    assert out.exit_code == 0, out.output
    assert "documents are not changed" in out.output and "/tags" in out.output
    text = (root / "labels.yml").read_text()
    assert "  Money: {match: \"invoice receipt\", algorithm: any}" in text
    assert "# money matters" in text
    labels = load_labels(root / "labels.yml")
    assert list(labels.tags) == ["Money", "Taxes", "Inbox"]
    assert labels.tags["Taxes"].parent == "Money"


def test_rm(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    before = (root / "labels.yml").read_text()
    out = run(root, "rm", "tag", "Finance")  # Taxes names it as parent
    assert out.exit_code == 2 and "parent of 'Taxes'" in out.output
    assert (root / "labels.yml").read_text() == before
    out = run(root, "rm", "tag", "taxes")
    assert out.exit_code == 0, out.output
    assert "removed tag 'Taxes'" in out.output and "documents are not changed" in out.output
    assert list(load_labels(root / "labels.yml").tags) == ["Finance", "Inbox"]
    out = run(root, "rm", "correspondent", "Nobody")
    assert out.exit_code == 3 and "no correspondent 'Nobody'" in out.output


def test_an_edit_that_makes_the_file_invalid_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    labels = root / "labels.yml"
    before = labels.read_bytes()
    stamp = labels.stat().st_mtime_ns
    cases = [
        (["add", "tag", "Broken", "--algorithm", "regex", "--match", "(unclosed"],
         "tag 'Broken': match is not a valid regular expression"),
        (["add", "tag", "Orphan", "--parent", "Nowhere"], "parent 'Nowhere' is not a declared tag"),
        (["edit", "tag", "Finance", "--parent", "Taxes"], "its parents form a loop"),
        (["edit", "tag", "Finance", "--match", ""], "algorithm 'any' needs a match string"),
        (["add", "tag", "finance"], "declared already"),
        (["edit", "tag", "Taxes", "--rename", "FINANCE"], "declared already"),
        (["add", "correspondent", "X", "--inbox"], "--inbox is for tags only"),
    ]
    for args, message in cases:
        out = run(root, *args)
        assert out.exit_code == 2, (args, out.output)
        assert message in out.output, (args, out.output)
        assert labels.read_bytes() == before and labels.stat().st_mtime_ns == stamp
    out = run(root, "add", "tag", "Broken", "--algorithm", "regex", "--match", "(unclosed")
    assert "was not changed" in out.output and f"{labels}: line " in out.output


def test_a_file_with_a_mistake_is_not_edited_until_it_is_fixed(tmp_path: Path) -> None:
    root = make_root(tmp_path, "tags:\n  A: {match: x}\n  B: {parnt: A}\n")
    out = run(root, "add", "tag", "C")
    assert out.exit_code == 2
    assert "line 3: tag 'B': unknown setting 'parnt'" in out.output
    assert "C:" not in (root / "labels.yml").read_text()


def test_list_shows_settings_and_document_counts(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    runtime = Runtime(config_for(DataRoot(root)))
    archive = runtime.open_archive()
    try:
        add_doc(archive, 1, "Bill", dt.date(2024, 1, 2), tags=("finance", "Inbox"),
                correspondent="ACME GmbH")
        add_doc(archive, 2, "Tax", dt.date(2024, 1, 3), tags=("Finance", "Taxes"))
    finally:
        runtime.close_archive(archive)
    out = run(root, "list")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].split() == ["KIND", "NAME", "ALGORITHM", "MATCH", "PRIORITY", "PARENT",
                                "INBOX", "DOCUMENTS"]
    finance = next(line for line in lines if " Finance " in line and line.startswith("tag"))
    assert finance.split()[-1] == "2"  # compared without case, like the labels
    out = run(root, "list", "--kind", "tag", "--json")
    rows = json.loads(out.output)
    assert [r["name"] for r in rows] == ["Finance", "Taxes", "Inbox"]
    assert rows[1] == {"kind": "tag", "name": "Taxes", "algorithm": "any",
                       "match": '"tax return" Steuer', "case_sensitive": False, "priority": 5,
                       "parent": "Finance", "inbox": False, "documents": 1}
    assert rows[2]["inbox"] is True and rows[2]["documents"] == 1


def test_list_without_labels_or_index(tmp_path: Path) -> None:
    root = make_root(tmp_path, None)
    out = run(root, "list")
    assert out.exit_code == 0 and "no labels declared" in out.output


def test_help_needs_no_data_root(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for args in (["label", "--help"], ["label", "add", "--help"], ["label", "edit", "--help"]):
        out = CliRunner().invoke(cli, args)
        assert out.exit_code == 0 and "Usage: " in out.output
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- check and status


def test_check_and_status_name_an_invalid_labels_file(tmp_path: Path) -> None:
    root = make_root(tmp_path, "tags:\n  A: {match: x}\n  B: {algorithm: regex, match: '(x'}\n")
    Runtime(config_for(DataRoot(root))).open_catalog(readonly=False).close()  # an empty index
    runner = CliRunner()
    out = runner.invoke(cli, ["--root", str(root), "check", "--quick"])
    assert out.exit_code == 1, out.output
    assert (f"error: labels.yml: {root / 'labels.yml'}: line 3: tag 'B': match is not a "
            "valid regular expression") in out.output
    out = runner.invoke(cli, ["--root", str(root), "status"])
    assert out.exit_code == 0, out.output
    assert "labels:      INVALID, the last valid version stays in force: " in out.output
    assert "line 3: tag 'B'" in out.output
    data = json.loads(runner.invoke(cli, ["--root", str(root), "status", "--json"]).stdout)
    assert data["labels"]["count"] == 0 and len(data["labels"]["problems"]) == 1

    (root / "labels.yml").write_text("tags:\n  A: {match: x}\n  slow: {algorithm: regex, "
                                     "match: '(a|aa)+$'}\n")
    out = runner.invoke(cli, ["--root", str(root), "check", "--quick"])
    assert out.exit_code == 0 and "labels" not in out.output, out.output
    assert "labels:      2 declared" in runner.invoke(cli, ["--root", str(root), "status"]).output


def test_check_and_status_show_the_rules_that_failed_in_the_daemon(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    Runtime(config_for(DataRoot(root))).open_catalog(readonly=False).close()
    problem = "long.pdf: label 'slow': regex '(a|aa)+$': timed out after 0.05 s"
    # what the daemon writes (tests/test_classify_consume.py runs the real one)
    (root / ".paperfs" / "status.json").write_text(json.dumps(
        {"running": False, "labels_problems": [], "classify_problems": [problem]}))
    out = CliRunner().invoke(cli, ["--root", str(root), "check", "--quick"])
    assert out.exit_code == 0, out.output  # a warning
    assert f"warning: labels.yml: the daemon reported: {problem}" in out.output
    out = CliRunner().invoke(cli, ["--root", str(root), "status"])
    assert f"  rule problem: {problem}" in out.output
