"""`paperfs retag`: the rules applied again to filed documents, through the writer."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperfs.archive.document import read_sidecar
from paperfs.archive.layout import DataRoot
from paperfs.classify.retag import Selection, parse_id_range, parse_ids, retag
from paperfs.cli import cli
from paperfs.errors import UsageError
from paperfs.runtime import Runtime
from tests.daemon import Daemon
from tests.dav_support import add_doc
from tests.helpers import config_for, init_root

LABELS = """\
tags:
  Finance: {match: invoice}
  Taxes: {parent: Finance, match: '"tax return"'}
  Power: {match: kilowatt}
  New: {inbox: true}
  Keep: {}
correspondents:
  ACME GmbH: {match: ACME GmbH, algorithm: exact}
  Power Co: {match: kilowatt}
  Old Sender: {match: telegram}
document_types:
  Invoice: {match: 'Invoice\\s+No\\.?\\s*\\d+', algorithm: regex}
"""

# id: (content, correspondent, tags)
DOCS = {
    1: ("ACME GmbH Invoice No. 1 your tax return", None, ()),
    2: ("ACME GmbH sends an invoice", "Someone", ("Keep", "private")),
    3: ("300 kilowatt hours", "Old Sender", ("Finance", "Power", "New")),
    4: ("nothing to see here", "Old Sender", ("Taxes", "Finance", "Keep")),
    5: ("a kilowatt bill", "Hand Picked", ("New",)),
}


def make_root(tmp_path: Path) -> DataRoot:
    root = init_root(tmp_path)
    (root.root / "labels.yml").write_text(LABELS)
    runtime = Runtime(config_for(root))
    archive = runtime.open_archive()
    try:
        for doc_id, (content, correspondent, tags) in DOCS.items():
            add_doc(archive, doc_id, f"Doc {doc_id}", dt.date(2024, 1, doc_id), content=content,
                    correspondent=correspondent, tags=tags)
    finally:
        runtime.close_archive(archive)
    return root


def sidecars(root: DataRoot) -> dict[str, bytes]:
    return {p.relative_to(root.root).as_posix(): p.read_bytes()
            for p in sorted(root.archive.rglob("*")) if p.is_file()}


def state(root: DataRoot) -> dict[int, tuple]:
    out = {}
    for path in root.archive.rglob("*.yml"):
        doc = read_sidecar(path)
        out[doc.id] = (doc.correspondent, doc.document_type, doc.tags)
    return out


def path_of(root: DataRoot, doc_id: int) -> str:
    for path in root.archive.rglob("*.yml"):
        if read_sidecar(path).id == doc_id:
            assert path.with_suffix(".pdf").is_file()
            return path.relative_to(root.archive).parent.parts[0]
    raise AssertionError(doc_id)


def test_dry_run_prints_the_table_and_changes_nothing(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    before = sidecars(root)
    out = CliRunner().invoke(cli, ["--root", str(root.root), "retag", "--dry-run"])
    assert out.exit_code == 0, out.output
    assert sidecars(root) == before
    lines = out.stdout.splitlines()  # the progress bar is on stderr
    assert lines[0].split() == ["ID", "TITLE", "FIELD", "BEFORE", "→", "AFTER"]
    assert " 1  Doc 1  correspondent  - → ACME GmbH" in out.output
    assert " 1  Doc 1  document_type  - → Invoice" in out.output
    assert " 1  Doc 1  tags           - → Finance, Taxes" in out.output
    assert " 2  Doc 2  tags           Keep, private → Keep, private, Finance" in out.output
    assert "5 document(s) examined, would change 3" in out.output


def test_without_overwrite_only_fills_and_adds(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    report = retag(Runtime(config_for(root)), Selection())
    assert report.documents == 3 and report.handed_off == 0 and not report.problems
    assert state(root) == {
        # no inbox tag for documents filed long ago; Taxes brings its parent
        1: ("ACME GmbH", "Invoice", ("Finance", "Taxes")),
        2: ("Someone", None, ("Keep", "private", "Finance")),  # its correspondent stays
        3: ("Old Sender", None, ("Finance", "Power", "New")),  # nothing to add
        4: ("Old Sender", None, ("Taxes", "Finance", "Keep")),  # nothing removed
        5: ("Hand Picked", None, ("New", "Power")),
    }
    # the pair moved where the path template ({correspondent}/…) says, the index followed
    assert path_of(root, 1) == "ACME GmbH"
    runtime = Runtime(config_for(root))
    catalog = runtime.open_catalog()
    try:
        assert catalog.ref(1).path.startswith("ACME GmbH/")
    finally:
        catalog.close()
    # a second run has nothing left to do
    assert retag(Runtime(config_for(root)), Selection()).documents == 0


def test_overwrite_replaces_and_drops_what_rules_gave_but_keeps_hand_values(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    retag(Runtime(config_for(root)), Selection(), overwrite=True)
    assert state(root) == {
        1: ("ACME GmbH", "Invoice", ("Finance", "Taxes")),
        # replaced: a rule gives ACME GmbH; the undeclared tag stays, Keep (algorithm none) too
        2: ("ACME GmbH", None, ("Keep", "private", "Finance")),
        # Power Co replaces Old Sender; Finance is dropped (no rule gives it); New is an inbox tag
        3: ("Power Co", None, ("Power", "New")),
        # Old Sender (a rule could give it) is cleared; Taxes and Finance are dropped, Keep stays
        4: (None, None, ("Keep",)),
        # a correspondent set by hand (not declared) is replaced only by a match
        5: ("Power Co", None, ("New", "Power")),
    }
    assert path_of(root, 3) == "Power Co" and path_of(root, 4) != "Old Sender"


def test_overwrite_keeps_the_parents_of_tags_kept(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    labels = root.root / "labels.yml"
    labels.write_text(labels.read_text().replace("  Keep: {}\n", "  Keep: {parent: Finance}\n"))
    retag(Runtime(config_for(root)), Selection(kinds=frozenset({"tags"}), ids=frozenset({4})),
          overwrite=True)
    assert state(root)[4] == ("Old Sender", None, ("Finance", "Keep"))


def test_selections(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    runtime = Runtime(config_for(root))
    report = retag(runtime, Selection(kinds=frozenset({"tags"})), dry_run=True)
    assert {c.field for c in report.changes} == {"tags"}
    report = retag(runtime, Selection(kinds=frozenset({"correspondents"})), dry_run=True)
    assert [(c.doc_id, c.field) for c in report.changes] == [(1, "correspondent")]
    report = retag(runtime, Selection(id_range=(2, 4)), overwrite=True, dry_run=True)
    assert report.examined == 3 and {c.doc_id for c in report.changes} == {2, 3, 4}
    report = retag(runtime, Selection(ids=frozenset({1, 5})), dry_run=True)
    assert report.examined == 2 and {c.doc_id for c in report.changes} == {1, 5}
    # documents carrying an inbox tag (New): 3 and 5
    report = retag(runtime, Selection(inbox_only=True), overwrite=True, dry_run=True)
    assert report.examined == 2 and {c.doc_id for c in report.changes} == {3, 5}
    # the same through the command line, really applied
    out = CliRunner().invoke(cli, ["--root", str(root.root), "retag", "--inbox-only",
                                   "--correspondent", "--overwrite"])
    assert out.exit_code == 0, out.output
    assert "2 document(s) examined, changed 2" in out.output
    assert {i: s[0] for i, s in state(root).items()} == {
        1: None, 2: "Someone", 3: "Power Co", 4: "Old Sender", 5: "Power Co"}


def test_option_parsing() -> None:
    assert parse_id_range("10-20") == (10, 20) and parse_id_range("7") == (7, 7)
    assert parse_ids("3, 17,42") == {3, 17, 42}
    for bad in ("20-10", "a-b", "1-"):
        with pytest.raises(UsageError):
            parse_id_range(bad)
    with pytest.raises(UsageError):
        parse_ids("1;2")


def test_an_invalid_labels_file_retags_nothing(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    (root.root / "labels.yml").write_text("tags:\n  A: {parent: B}\n")
    before = sidecars(root)
    out = CliRunner().invoke(cli, ["--root", str(root.root), "retag"])
    assert out.exit_code == 2
    assert "line 2: tag 'A': parent 'B' is not a declared tag; nothing was retagged" in out.output
    assert sidecars(root) == before


@pytest.mark.slow
def test_retag_while_the_daemon_runs_hands_the_changes_to_it(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    daemon = Daemon(root, tmp_path / "daemon.log").start()
    try:
        report = retag(Runtime(config_for(root)), Selection(ids=frozenset({1, 3})),
                       overwrite=True)
        assert report.documents == 2 and report.handed_off == 2
        # the daemon applies the rewritten sidecars: the pairs move
        daemon.wait_for(lambda: path_of(root, 1) == "ACME GmbH" and path_of(root, 3) == "Power Co",
                        60, "the pairs moved")
    finally:
        assert daemon.stop() == 0
    assert state(root)[1] == ("ACME GmbH", "Invoice", ("Finance", "Taxes"))
    assert state(root)[3] == ("Power Co", None, ("Power", "New"))
