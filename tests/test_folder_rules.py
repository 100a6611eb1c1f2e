"""Per-folder rule files (.paperfs-folder.yml): checked with line numbers, inherited
down the inbox tree and overridden deeper, applied by the real daemon; a bad
one stops its folder (files untouched, a note beside it, status) until fixed."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperfs.config import load_config
from paperfs.consume.folder_rules import NOTE_FILE, RULE_FILE, FolderRules, RuleFileError, parse
from paperfs.daemon.status import collect_status
from tests.daemon import Daemon
from tests.helpers import archive_state, filed_count, drop, init_root, sha256
from tests.samples import make_text_pdf


@pytest.fixture
def root(tmp_path):
    return init_root(tmp_path)


def rule(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RULE_FILE).write_text(text)
    return folder / RULE_FILE


@pytest.mark.parametrize("text, line, problem", [
    ("tags: [tax]\nocr:\n  mode: sometimes\n", 3, "ocr.mode: 'sometimes' is not one of"),
    ("tags: [tax]\ncolour: red\n", 2, "colour: unknown key; valid keys: ocr, barcodes"),
    ("tags: [tax\nowner: x\n", 2, "not valid YAML"),
    ("barcodes:\n  enabled: true\n  tags:\n    - pattern: 'TAG:(('\n      tag: x\n", 4,
     "barcodes.tags[0].pattern: 'TAG:((' is not a regular expression"),
    ("double_sided: maybe\n", 1, "double_sided: expected true or false"),
    ("- tags\n", 1, "expected settings (key: value)"),
])
def test_a_bad_rule_file_names_its_line_and_problem(tmp_path, text, line, problem):
    path = rule(tmp_path, text)
    with pytest.raises(RuleFileError) as info:
        parse(path)
    assert info.value.line == line and problem in info.value.problem
    assert str(info.value).startswith(f"{path}: line {line}: ")


def test_rules_are_inherited_and_overridden_deeper(tmp_path):
    inbox = tmp_path / "inbox"
    rule(inbox, "ocr:\n  languages: eng\n  mode: never\ntags: [scanned]\n")
    rule(inbox / "accounting", "ocr:\n  languages: deu\ncorrespondent: Accountant\n"
                               "tags: [tax]\n")
    rule(inbox / "accounting" / "2024" / "bank", "correspondent: Bank\n")
    rules = FolderRules()
    top = rules.settings_for(inbox / "a.pdf", inbox)
    deep = rules.settings_for(inbox / "accounting" / "2024" / "bank" / "x" / "b.pdf", inbox)
    assert top == {"ocr": {"languages": "eng", "mode": "never"}, "tags": ["scanned"],
                   "files": ["inbox/.paperfs-folder.yml"]}
    assert deep["ocr"] == {"languages": "deu", "mode": "never"}  # sections merge by key
    assert deep["tags"] == ["tax"] and deep["correspondent"] == "Bank"  # others replace
    assert deep["files"] == ["inbox/.paperfs-folder.yml", "inbox/accounting/.paperfs-folder.yml",
                             "inbox/accounting/2024/bank/.paperfs-folder.yml"]
    assert rules.settings_for(tmp_path / "inbox2" / "c.pdf", tmp_path / "inbox2") is None


@pytest.fixture
def daemon(root, tmp_path):
    d = Daemon(root, tmp_path / "daemon.log", ocr__mode="never")
    yield d
    if d.proc is not None and d.proc.poll() is None:
        d.stop()


def filed_by_name(root) -> dict[str, object]:
    return {doc.original.filename: doc for doc in archive_state(root).values()}


def test_the_daemon_applies_the_rules_of_each_folder(daemon, root, tmp_path, corpus):
    rule(root.inbox / "accounting", "ocr:\n  languages: deu\ncorrespondent: Accountant\n"
                                    "document_type: Receipt\ntags: [tax]\n")
    rule(root.inbox / "accounting" / "bank", "correspondent: Bank\nowner: alice\n")
    rule(root.inbox / "stacks", "barcodes:\n  enabled: true\n")
    daemon.start()
    drop(make_text_pdf(tmp_path / "1.pdf", ["The first letter with enough text"]),
         root.inbox / "accounting", "one.pdf")
    drop(make_text_pdf(tmp_path / "2.pdf", ["The second letter with enough text"]),
         root.inbox / "accounting" / "bank", "two.pdf")
    drop(corpus / "barcodes/pngx-patch-code-t-middle.pdf", root.inbox / "stacks")
    drop(corpus / "barcodes/pngx-patch-code-t-double.pdf", root.inbox)  # no rules: not cut
    daemon.wait_for(lambda: filed_count(root) == 5, 60, "five documents")
    docs = filed_by_name(root)
    one, two = docs["one.pdf"], docs["two.pdf"]
    assert (one.correspondent, one.document_type, one.tags, one.language, one.owner) == (
        "Accountant", "Receipt", ("tax",), "deu", None)
    assert (two.correspondent, two.document_type, two.tags, two.language, two.owner) == (
        "Bank", "Receipt", ("tax",), "deu", "alice")
    assert two.source["folder_rules"] == ["inbox/accounting/.paperfs-folder.yml",
                                          "inbox/accounting/bank/.paperfs-folder.yml"]
    cut = [d for name, d in docs.items() if name.startswith("pngx-patch-code-t-middle")]
    assert len(cut) == 2 and all(d.archive.pages == 1 for d in cut)
    assert docs["pngx-patch-code-t-double.pdf"].archive.pages == 4
    # the rule files stay where they are, and never become documents
    assert (root.inbox / "accounting" / RULE_FILE).exists()


def test_a_bad_rule_file_stops_its_folder_until_it_is_fixed(daemon, root, tmp_path):
    bad = rule(root.inbox / "scanner", "tags: [tax]\nocr:\n  mode: sometimes\n")
    letter = make_text_pdf(tmp_path / "letter.pdf", ["A letter with enough text on it"])
    daemon.start()
    waiting = drop(letter, root.inbox / "scanner" / "deeper", "stuck.pdf")
    drop(make_text_pdf(tmp_path / "2.pdf", ["Another letter"]), root.inbox, "free.pdf")
    note = bad.with_name(NOTE_FILE)
    daemon.wait_for(lambda: filed_count(root) == 1 and note.exists(), 30,
                    "the free file filed and the note written")
    assert "line 3: ocr.mode: 'sometimes' is not one of" in note.read_text()
    daemon.wait_for(lambda: daemon.status().get("stopped_folders"), 5, "status")
    assert list(daemon.status()["stopped_folders"].values()) == [
        "line 3: ocr.mode: 'sometimes' is not one of auto, always, never, redo"]
    stopped = collect_status(load_config(root.root / "paperfs.yml"))["stopped_folders"]
    assert stopped == [{"folder": "inbox/scanner", "problem":
                        ".paperfs-folder.yml line 3: ocr.mode: 'sometimes' is not one of "
                        "auto, always, never, redo"}]
    assert sha256(waiting) == sha256(letter)  # untouched, still in the inbox
    assert "folder stopped" in daemon.log()

    bad.write_text("tags: [tax]\nocr:\n  mode: never\n")
    daemon.wait_for(lambda: filed_count(root) == 2, 30, "the waiting file filed")
    assert not note.exists() and not waiting.exists()
    assert filed_by_name(root)["stuck.pdf"].tags == ("tax",)
    daemon.wait_for(lambda: daemon.status().get("stopped_folders") == {}, 5, "status clear")


def test_a_rule_file_turns_collation_on_for_its_folder(daemon, root, corpus):
    rule(root.inbox / "duplex", "double_sided: true\n")
    daemon.start()
    drop(corpus / "double-sided/pngx-double-sided-odd.pdf", root.inbox / "duplex")
    daemon.wait_for(lambda: daemon.status().get("double_sided_waiting"), 30, "the first pass")
    drop(corpus / "double-sided/pngx-double-sided-even.pdf", root.inbox / "duplex")
    daemon.wait_for(lambda: filed_count(root) == 1, 30, "the collated document")
    [doc] = archive_state(root).values()
    assert doc.archive.pages == 5 and len(doc.source["collated"]) == 2


def test_a_job_keeps_the_settings_it_was_claimed_with(root, tmp_path):
    """Recorded in job.yml at the claim: a restart (or a later edit of the rule file)
    prepares the job with the same settings."""
    from paperfs.consume.jobs import Job, WorkQueue
    from paperfs.consume.messages import PrepareTask

    inbox = root.inbox
    rule(inbox / "tax", "ocr:\n  languages: deu\n  mode: always\ncorrespondent: Accountant\n"
                        "barcodes:\n  enabled: true\n  tags:\n    - {pattern: 'T:(.+)', tag: '\\1'}\n")
    settings = FolderRules().settings_for(inbox / "tax" / "a.pdf", inbox)
    src = make_text_pdf(tmp_path / "a.pdf", ["A letter"])
    job = WorkQueue(root.work).claim(src, source="inbox/tax/a.pdf", settings=settings, copy=True)
    rule(inbox / "tax", "ocr:\n  languages: fra\n")  # edited after the claim
    config = load_config(root.root / "paperfs.yml")
    task = PrepareTask.for_job(Job.load(job.folder), ocr=config.ocr, dates=config.consume,
                               barcodes=config.barcodes)
    assert (task.ocr.languages, task.ocr.mode, task.correspondent) == ("deu", "always",
                                                                       "Accountant")
    assert task.barcodes.enabled and task.barcodes.tags[0].tag == "\\1"
    assert task.source["folder_rules"] == ["inbox/tax/.paperfs-folder.yml"]
