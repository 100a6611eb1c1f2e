"""What a document gets: the labels' rules and the classifier's predictions combined.

The rules, in the order they apply (docs/classification.md says the same):

* Tags: every tag whose rule fires, every learned tag predicted with at least
  the threshold, and the inbox tags; then each tag's parents. Tags the
  document already has (inbox folder, workflow, hand) stay.
* Correspondent and document type (one each): a value the document already
  has is kept. Otherwise the candidates are the labels whose rule fired and
  the learned labels predicted with at least the threshold; the one with the
  highest ``priority`` wins, at equal priority a rule beats a prediction, then
  the higher probability, then the name (case-insensitive, as paperless picks
  "first by name").
* A prediction below the threshold is never applied: a letter from a sender
  the classifier does not know stays without a correspondent instead of
  getting the most frequent one.

``decide`` also returns every reason (what fired, what was predicted with
which probability, what was applied and why not), which is what
``paperfs classify --explain`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

from paperfs.classify.labels import KINDS, SINGULAR, Label, LabelSet, compiled_rules
from paperfs.classify.matching import REGEX_TIMEOUT, Problem, prepare

SINGLE_KINDS = ("correspondents", "document_types")


class Predictions(Protocol):
    """The learned classifier's answer (paperfs.classify.learned.Predictions)."""

    correspondent: Sequence[tuple[str, float]]
    document_type: Sequence[tuple[str, float]]
    tags: Sequence[tuple[str, float]]


_PREDICTED = {"tags": "tags", "correspondents": "correspondent", "document_types": "document_type"}


@dataclass(frozen=True)
class Reason:
    """One line of the explanation."""

    kind: str  # one of KINDS
    name: str
    source: str  # "rule", "prediction", "inbox", "parent", "given"
    detail: str  # the rule, the probability, the child tag
    applied: bool
    why: str = ""

    def __str__(self) -> str:
        mark = "applied" if self.applied else "not applied"
        why = f" ({self.why})" if self.why else ""
        return f"{SINGULAR[self.kind]} {self.name!r}: {self.source} {self.detail}: {mark}{why}"


@dataclass(frozen=True)
class Decision:
    correspondent: str | None
    document_type: str | None
    tags: tuple[str, ...]
    reasons: tuple[Reason, ...] = ()
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class _Candidate:
    label: Label
    probability: float | None  # None: a rule fired

    @property
    def order(self) -> tuple[int, int, float, str]:
        by_rule = 0 if self.probability is None else 1
        return (-self.label.priority, by_rule, -(self.probability or 0.0), self.label.name.casefold())


def _rule_text(label: Label) -> str:
    case = ", case-sensitive" if label.case_sensitive else ""
    return f"{label.algorithm} {label.match!r}{case}"


def decide(text: str, labels: LabelSet, predictions: Predictions | None = None, *,
           threshold: float = 0.7, regex_timeout: float = REGEX_TIMEOUT,
           correspondent: str | None = None, document_type: str | None = None,
           tags: Sequence[str] = (), explain: bool = True) -> Decision:
    """Classify one text; *correspondent*, *document_type* and *tags* are what it already has.
    ``explain=False``: no ``Decision.reasons`` (the consume stage keeps none; a prediction
    below the threshold for each learned label would cost a line each)."""
    doc = prepare(text)
    reasons: list[Reason] = []
    problems: list[Problem] = []
    candidates: dict[str, list[_Candidate]] = {kind: [] for kind in KINDS}
    fired_by_kind, found = compiled_rules(labels, regex_timeout=regex_timeout).match(doc)
    problems.extend(found)
    for kind in KINDS:
        for rule in fired_by_kind[kind]:
            candidates[kind].append(_Candidate(labels.of(kind)[rule.label], None))
        for name, probability in (getattr(predictions, _PREDICTED[kind]) if predictions else ()):
            label = labels.of(kind).get(name)
            if label is None or label.algorithm != "auto":
                continue  # a model trained on an older labels file
            if probability >= threshold:
                candidates[kind].append(_Candidate(label, probability))
            elif explain:
                reasons.append(Reason(kind, name, "prediction", f"p={probability:.2f}", False,
                                      f"below the threshold {threshold:g}"))

    given = {"correspondents": correspondent, "document_types": document_type}
    chosen: dict[str, str | None] = {}
    for kind in SINGLE_KINDS:
        ranked = sorted(candidates[kind], key=lambda c: c.order)
        keep = given[kind]
        if keep:
            reasons.append(Reason(kind, keep, "given", "before classification", True))
        for i, candidate in enumerate(ranked):
            applied = not keep and i == 0
            why = ("the document already has one" if keep else
                   "" if applied else f"{ranked[0].label.name!r} comes first (priority, rule "
                                      "before prediction, probability, name)")
            reasons.append(_reason(kind, candidate, applied, why))
        chosen[kind] = keep or (ranked[0].label.name if ranked else None)

    tag_names: dict[str, None] = dict.fromkeys(tags)
    for tag in tags:
        reasons.append(Reason("tags", tag, "given", "before classification", True))
    for candidate in candidates["tags"]:
        tag_names.setdefault(candidate.label.name, None)
        reasons.append(_reason("tags", candidate, True))
    for tag in labels.inbox_tags():
        if tag not in tag_names:  # given or fired already: said once
            tag_names[tag] = None
            reasons.append(Reason("tags", tag, "inbox", "tag of every new document", True))
    final = labels.with_parents(tag_names)
    for tag in final:
        if tag not in tag_names:
            child = next(t for t in tag_names if tag in labels.ancestors(t))
            reasons.append(Reason("tags", tag, "parent", f"of {child!r}", True))
    return Decision(chosen["correspondents"], chosen["document_types"], final,
                    tuple(reasons) if explain else (), tuple(problems))


def _reason(kind: str, candidate: _Candidate, applied: bool, why: str = "") -> Reason:
    if candidate.probability is None:
        return Reason(kind, candidate.label.name, "rule", _rule_text(candidate.label), applied, why)
    return Reason(kind, candidate.label.name, "prediction", f"p={candidate.probability:.2f}",
                  applied, why)
