"""labels.yml: loading, validation with lines, nested and inbox tags; and the decision rules."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from paperfs.classify.assign import decide
from paperfs.classify.labels import LabelsError, LabelsFile, load_labels, parse_labels

GOOD = """\
# my labels
tags:
  Finance: {match: "invoice receipt"}
  Taxes: {parent: Finance, match: '"tax return"', priority: 5}
  Germany: {parent: Taxes, match: Steuer, algorithm: exact}
  Inbox: {inbox: true}
  Manual:
  Learned tag: {algorithm: auto}
correspondents:
  ACME GmbH: {match: ACME, algorithm: exact}
  Acme Rival: {match: acme, algorithm: any}
  Power company: {algorithm: auto}
  Bank: {match: 'IBAN\\s+DE\\d+', algorithm: regex, priority: 3}
document_types:
  Invoice: {match: invoice, algorithm: literal}
"""


def test_a_good_file_loads_with_defaults_and_lines() -> None:
    labels = parse_labels(GOOD)
    assert list(labels.tags) == ["Finance", "Taxes", "Germany", "Inbox", "Manual", "Learned tag"]
    finance = labels.tags["Finance"]
    assert (finance.algorithm, finance.match, finance.case_sensitive, finance.priority) == (
        "any", "invoice receipt", False, 0)
    assert finance.line == 3
    assert labels.tags["Manual"].algorithm == "none"
    assert labels.document_types["Invoice"].algorithm == "exact"  # paperless' "literal"
    assert labels.inbox_tags() == ("Inbox",)
    assert labels.learned("tags") == {"Learned tag"}
    assert labels.learned("correspondents") == {"Power company"}
    assert labels.with_parents(["Germany", "Manual"]) == ("Germany", "Taxes", "Finance", "Manual")
    assert labels.find("correspondents", "acme gmbh").name == "ACME GmbH"
    assert len(labels) == 11


def test_data_round_trips() -> None:
    import yaml
    labels = parse_labels(GOOD)
    again = parse_labels(yaml.safe_dump(labels.data(), sort_keys=False, allow_unicode=True))
    assert again.data() == labels.data()
    assert again.tags == {name: l.__class__(**{**l.__dict__, "line": again.tags[name].line})
                          for name, l in labels.tags.items()}


def test_missing_and_empty_files_are_no_labels(tmp_path: Path) -> None:
    assert len(load_labels(tmp_path / "labels.yml")) == 0
    (tmp_path / "labels.yml").write_text("# nothing yet\n")
    assert len(load_labels(tmp_path / "labels.yml")) == 0
    (tmp_path / "labels.yml").write_text("tags:\ncorrespondents:\n")
    assert len(load_labels(tmp_path / "labels.yml")) == 0


@pytest.mark.parametrize("text, line, words", [
    ("tags: [a, b]\n", 1, "tags must be a mapping"),
    ("tag:\n  a:\n", 1, "unknown section 'tag'"),
    ("tags:\n  a: {algoritm: any}\n", 2, "unknown setting 'algoritm'"),
    ("tags:\n  a: {algorithm: magic, match: x}\n", 2, "unknown algorithm 'magic'"),
    ("tags:\n  a: {algorithm: all}\n", 2, "needs a match string"),
    ("tags:\n  a:\n  A:\n", 3, "declared twice"),
    ("correspondents:\n  x: {parent: y}\n", 2, "unknown setting 'parent'"),
    ("correspondents:\n  x: {inbox: true}\n", 2, "unknown setting 'inbox'"),
    ("tags:\n  a: {case_sensitive: yes please}\n", 2, "true or false"),
    ("tags:\n  a: {priority: high}\n", 2, "priority must be a whole number"),
    ("tags:\n  a: {priority: 5000}\n", 2, "priority must be a whole number"),
    ("tags:\n  a: {match: [x]}\n", 2, "match must be a text"),
    ("document_types:\n  bad: {algorithm: regex, match: '(unclosed'}\n", 2,
     "not a valid regular expression"),
    ("tags:\n  child: {parent: nobody}\n", 2, "parent 'nobody' is not a declared tag"),
    ("tags:\n  a: {parent: b}\n  b: {parent: a}\n", 2, "loop"),
    ("tags:\n  a: {match: x\n", 3, "not valid YAML"),
    ("tags:\n  \"a\\tb\":\n", 2, "control characters"),
])
def test_invalid_files_name_file_line_and_problem(tmp_path: Path, text: str, line: int,
                                                   words: str) -> None:
    path = tmp_path / "labels.yml"
    path.write_text(text)
    with pytest.raises(LabelsError) as caught:
        load_labels(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: line {line}")
    assert words in message


def test_nesting_deeper_than_five_levels_is_refused() -> None:
    chain = "tags:\n  l1:\n" + "".join(f"  l{i}: {{parent: l{i - 1}}}\n" for i in range(2, 7))
    with pytest.raises(LabelsError, match="nested 6 levels deep.*at most 5"):
        parse_labels(chain)
    five = "tags:\n  l1:\n" + "".join(f"  l{i}: {{parent: l{i - 1}}}\n" for i in range(2, 6))
    assert parse_labels(five).with_parents(["l5"]) == ("l5", "l4", "l3", "l2", "l1")


def test_the_last_valid_file_stays_in_force(tmp_path: Path) -> None:
    path = tmp_path / "labels.yml"
    holder = LabelsFile(path)
    assert len(holder.current()) == 0 and holder.problems() == []
    path.write_text(GOOD)
    assert "Finance" in holder.current().tags
    path.write_text("tags:\n  broken: {algorithm: nope}\n")
    os.utime(path, ns=(1, 1))  # a different mtime even on a coarse clock
    assert "Finance" in holder.current().tags
    [problem] = holder.problems()
    assert "line 2" in problem and "unknown algorithm" in problem
    path.write_text("tags:\n  Fixed:\n")
    assert list(holder.current().tags) == ["Fixed"] and holder.problems() == []


# ---------------------------------------------------------------- deciding


@dataclass
class FakePredictions:
    correspondent: tuple = ()
    document_type: tuple = ()
    tags: tuple = ()


LETTER = "ACME GmbH\nInvoice 4711\nYour tax return, Steuer. IBAN DE1234"


def test_all_matching_tags_their_parents_and_the_inbox_tag() -> None:
    decision = decide(LETTER, parse_labels(GOOD))
    assert decision.tags == ("Finance", "Taxes", "Germany", "Inbox")
    assert not decision.problems


def test_one_correspondent_by_priority_then_rule_then_name() -> None:
    labels = parse_labels(GOOD)
    # ACME GmbH, Acme Rival and Bank all fire: Bank has priority 3
    assert decide(LETTER, labels).correspondent == "Bank"
    # without Bank: ACME GmbH before Acme Rival by name (case-insensitive)
    assert decide("ACME GmbH invoice", labels).correspondent == "ACME GmbH"
    # a prediction loses against a rule at equal priority, even with p=0.99
    sure = FakePredictions(correspondent=(("Power company", 0.99),))
    assert decide("ACME GmbH", labels, sure).correspondent == "ACME GmbH"
    assert decide("nothing known", labels, sure).correspondent == "Power company"


def test_predictions_below_the_threshold_are_not_applied() -> None:
    labels = parse_labels(GOOD)
    unsure = FakePredictions(correspondent=(("Power company", 0.6),), tags=(("Learned tag", 0.5),))
    decision = decide("a letter from someone new", labels, unsure, threshold=0.7)
    assert decision.correspondent is None
    assert decision.tags == ("Inbox",)
    notes = [str(r) for r in decision.reasons if not r.applied]
    assert "correspondent 'Power company': prediction p=0.60: not applied (below the threshold 0.7)" in notes
    assert decide("x", labels, unsure, threshold=0.5).tags == ("Learned tag", "Inbox")


def test_predictions_of_labels_no_longer_auto_are_ignored() -> None:
    labels = parse_labels(GOOD)
    stale = FakePredictions(correspondent=(("ACME GmbH", 0.99), ("Gone", 0.99)))
    assert decide("nothing", labels, stale).correspondent is None


def test_what_the_document_has_is_kept_and_explained() -> None:
    labels = parse_labels(GOOD)
    decision = decide(LETTER, labels, correspondent="Given Ltd", tags=["from-scanner"])
    assert decision.correspondent == "Given Ltd"
    assert decision.document_type == "Invoice"
    assert decision.tags[0] == "from-scanner"
    lines = [str(r) for r in decision.reasons]
    assert "correspondent 'Given Ltd': given before classification: applied" in lines
    assert any(line.startswith("correspondent 'Bank': rule regex") and
               "the document already has one" in line for line in lines)
    nested = decide("Steuer", labels)
    assert nested.tags == ("Germany", "Taxes", "Finance", "Inbox")
    assert "tag 'Finance': parent of 'Germany': applied" in [str(r) for r in nested.reasons]


def test_a_regex_timeout_is_a_problem_not_an_error() -> None:
    labels = parse_labels("tags:\n  slow: {algorithm: regex, match: '(a|aa)+$'}\n  fast: {match: b}\n")
    decision = decide("a" * 5000 + "! b", labels, regex_timeout=0.01)
    assert decision.tags == ("fast",)
    [problem] = decision.problems
    assert problem.kind == "timeout" and problem.label == "slow"


def test_a_label_set_pickles_as_its_text_and_comes_back_equal() -> None:
    import pickle

    import dill

    labels = parse_labels(GOOD)
    for dumps in (pickle.dumps, dill.dumps):
        blob = dumps(labels)
        assert len(blob) < len(GOOD) + 200  # the text, not 11 Label objects
        again = pickle.loads(blob)
        assert again == labels and again.text == GOOD
    hand_made = labels.__class__(tags=labels.tags)
    assert pickle.loads(pickle.dumps(hand_made)) == hand_made


def test_a_tag_the_document_has_is_explained_once() -> None:
    decision = decide("nothing", parse_labels(GOOD), tags=["Inbox"])
    assert [str(r) for r in decision.reasons] == [
        "tag 'Inbox': given before classification: applied"]
    assert decision.tags == ("Inbox",)
