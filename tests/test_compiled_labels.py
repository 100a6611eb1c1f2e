"""labels.CompiledLabels: every kind's rules in one RuleSet, the fired rules told apart
by kind (a tag and a correspondent may share a name)."""

from __future__ import annotations

from paperfs.classify.assign import decide
from paperfs.classify.labels import compiled_rules, parse_labels

LABELS = """
tags:
  ACME: {match: invoice, algorithm: any}
  Fuzzy: {match: Deutsche Telekom, algorithm: fuzzy}
  Order: {match: "(?:order|bestellung)\\\\s*#?\\\\d+", algorithm: regex}
correspondents:
  ACME: {match: ACME GmbH, algorithm: exact}
  Other: {match: "nothing here", algorithm: all}
document_types:
  Invoice: {match: 'Invoice\\s+No\\.?\\s*\\d+', algorithm: regex}
"""


def test_one_rule_set_answers_by_kind() -> None:
    labels = parse_labels(LABELS)
    compiled = compiled_rules(labels)
    assert compiled is compiled_rules(labels)  # compiled once per version of the file
    text = "ACME GmbH\nInvoice No. 123 for Bestellung #55, Deutsche Telekon AG " + "filler " * 200
    fired, problems = compiled.match(text)
    assert problems == []
    assert {kind: [rule.label for rule in rules] for kind, rules in fired.items()} == {
        "tags": ["ACME", "Fuzzy", "Order"], "correspondents": ["ACME"], "document_types": ["Invoice"]}
    decision = decide(text, labels)
    assert (decision.correspondent, decision.document_type, decision.tags) == \
        ("ACME", "Invoice", ("ACME", "Fuzzy", "Order"))
    quiet = decide(text, labels, explain=False)
    assert (quiet.correspondent, quiet.document_type, quiet.tags, quiet.reasons) == \
        ("ACME", "Invoice", ("ACME", "Fuzzy", "Order"), ())
    assert compiled.match("nothing of the sort " * 100)[0] == {
        "tags": [], "correspondents": [], "document_types": []}
