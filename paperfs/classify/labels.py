"""The labels file: tags, correspondents and document types with their matching rules.

``labels.yml`` in the data root, edited by hand, with ``paperfs label``, or
over WebDAV by a superuser::

    tags:
      Finance: {match: "invoice receipt", algorithm: any}
      Taxes: {parent: Finance, match: '"tax return" Steuer', priority: 5}
      Inbox: {inbox: true}
    correspondents:
      ACME GmbH: {match: ACME, algorithm: exact}
      Power company: {algorithm: auto}
    document_types:
      Invoice: {match: 'Invoice\\s+No\\.?\\s*\\d+', algorithm: regex}

Each kind is a mapping from the label's name to its settings (a name with no
settings is a label assigned only by hand). Settings: ``match``,
``algorithm`` (``none any all exact regex fuzzy auto``; default ``any`` when
there is a match string, else ``none``), ``case_sensitive`` (false),
``priority`` (0; decides between several correspondents or types), and for
tags ``parent`` (nested tags, at most 5 levels) and ``inbox`` (added to
every new document, left out of training).

The file is validated whole when it is loaded: a mistake names the file, the
line, the label and what is wrong, and nothing of that file is used
(``LabelsFile`` keeps the last valid one in force).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from paperfs.classify.matching import (ALGORITHMS, ALIASES, REGEX_TIMEOUT, DocumentText, Problem, Rule,
                                       RuleSet, compile_rule)
from paperfs.errors import ConfigError
from paperfs.user_files import LastValid, NodeReader, compose, node_kind, read_text

LABELS_NAME = "labels.yml"
KINDS = ("tags", "correspondents", "document_types")
#: what one label of each kind is called in messages
SINGULAR = {"tags": "tag", "correspondents": "correspondent", "document_types": "document type"}
MAX_TAG_DEPTH = 5  # paperless' limit of nested tags
_SETTINGS = {
    "tags": ("match", "algorithm", "case_sensitive", "priority", "parent", "inbox"),
    "correspondents": ("match", "algorithm", "case_sensitive", "priority"),
    "document_types": ("match", "algorithm", "case_sensitive", "priority"),
}


class LabelsError(ConfigError):
    """labels.yml is not valid; the message names the file, line, label and problem."""


@dataclass(frozen=True)
class Label:
    kind: str  # one of KINDS
    name: str
    algorithm: str = "none"
    match: str = ""
    case_sensitive: bool = False
    priority: int = 0
    parent: str | None = None
    inbox: bool = False
    #: the line of its name in the file (1-based; 0: not from a file)
    line: int = 0

    def settings(self) -> dict[str, Any]:
        """Its non-default settings, as the file writes them."""
        out: dict[str, Any] = {}
        if self.match:
            out["match"] = self.match
        if self.algorithm != _default_algorithm(self.match):
            out["algorithm"] = self.algorithm
        if self.case_sensitive:
            out["case_sensitive"] = True
        if self.priority:
            out["priority"] = self.priority
        if self.parent:
            out["parent"] = self.parent
        if self.inbox:
            out["inbox"] = True
        return out


def _default_algorithm(match: str) -> str:
    return "any" if match.strip() else "none"


@dataclass(frozen=True)
class LabelSet:
    """The declared labels of one data root (empty when there is no labels.yml)."""

    tags: Mapping[str, Label] = field(default_factory=dict)
    correspondents: Mapping[str, Label] = field(default_factory=dict)
    document_types: Mapping[str, Label] = field(default_factory=dict)
    #: the file's content digest: compiled rules are cached per digest
    digest: str = ""
    #: the file's text: what a LabelSet pickles as (see __reduce__)
    text: str = field(default="", repr=False, compare=False)

    def __reduce__(self) -> tuple[Any, ...]:
        # A worker gets the labels with every task. Pickled field by field, 1,000
        # labels cost more than 100 ms in the pool's pure-Python pickler (dill);
        # as one string they cost nothing, and each process parses a version once.
        if self.text:
            return (_parsed, (self.text, self.digest))
        return (LabelSet, (self.tags, self.correspondents, self.document_types, self.digest))

    def of(self, kind: str) -> Mapping[str, Label]:
        return getattr(self, kind)

    def __len__(self) -> int:
        return sum(len(self.of(kind)) for kind in KINDS)

    def find(self, kind: str, name: str) -> Label | None:
        """The label of that name, compared case-insensitively."""
        labels = self.of(kind)
        if name in labels:
            return labels[name]
        folded = name.casefold()
        return next((label for key, label in labels.items() if key.casefold() == folded), None)

    def learned(self, kind: str) -> frozenset[str]:
        """Names whose algorithm is ``auto``: the classifier learns and predicts these."""
        return self._learned[kind]

    def inbox_tags(self) -> tuple[str, ...]:
        return self._inbox_tags

    # Asked for every document classified: worked out once per LabelSet (it never changes).
    @cached_property
    def _learned(self) -> dict[str, frozenset[str]]:
        return {kind: frozenset(name for name, label in self.of(kind).items()
                                if label.algorithm == "auto") for kind in KINDS}

    @cached_property
    def _inbox_tags(self) -> tuple[str, ...]:
        return tuple(name for name, label in self.tags.items() if label.inbox)

    def ancestors(self, tag: str) -> list[str]:
        """The tag's parent, its parent's parent, … (nearest first)."""
        chain: list[str] = []
        label = self.tags.get(tag)
        while label is not None and label.parent and label.parent not in chain:
            chain.append(label.parent)
            label = self.tags.get(label.parent)
        return chain

    def with_parents(self, tags: Iterable[str]) -> tuple[str, ...]:
        """The tags plus every ancestor of each (a tag implies its parents), in order, once."""
        out: dict[str, None] = {}
        for tag in tags:
            out.setdefault(tag, None)
            for parent in self.ancestors(tag):
                out.setdefault(parent, None)
        return tuple(out)

    def data(self) -> dict[str, dict[str, Any]]:
        """Plain data in the file's shape (what ``paperfs label`` writes)."""
        return {kind: {name: (label.settings() or None) for name, label in self.of(kind).items()}
                for kind in KINDS if self.of(kind)}


# ---------------------------------------------------------------- compiled rules

class CompiledLabels:
    """Every kind's matching rules in one RuleSet: per document, the text's words and
    grams are looked up once for all of them (not once per kind)."""

    def __init__(self, labels: LabelSet, regex_timeout: float) -> None:
        rules, kinds = [], {}
        for kind in KINDS:  # in this order: the problems are reported in it
            for name, label in labels.of(kind).items():
                if label.algorithm in ("none", "auto") or not label.match.strip():
                    continue
                rule = compile_rule(label.algorithm, label.match, case_sensitive=label.case_sensitive,
                                    label=name, regex_timeout=regex_timeout)
                rules.append(rule)
                kinds[id(rule)] = kind
        self.rules = RuleSet(rules)
        self._kinds = kinds

    def match(self, text: str | DocumentText) -> tuple[dict[str, list[Rule]], list[Problem]]:
        """The rules that fire, by kind, and the problems met on the way."""
        fired, problems = self.rules.match(text)
        by_kind: dict[str, list[Rule]] = {kind: [] for kind in KINDS}
        for rule in fired:
            by_kind[self._kinds[id(rule)]].append(rule)
        return by_kind, problems


_compiled: dict[tuple[str, float], CompiledLabels] = {}


def compiled_rules(labels: LabelSet, *, regex_timeout: float = REGEX_TIMEOUT) -> CompiledLabels:
    """The matching rules of the labels, compiled once per label file (and process).

    A worker receives the LabelSet with each task; compiling 1,000 labels for
    every document would cost more than matching them.
    """
    key = (labels.digest or str(id(labels)), regex_timeout)
    compiled = _compiled.get(key)
    if compiled is None:
        if len(_compiled) > 8:  # old versions of the file
            _compiled.clear()
        compiled = _compiled[key] = CompiledLabels(labels, regex_timeout)
    return compiled


# ---------------------------------------------------------------- loading


class _Parser(NodeReader):
    def __init__(self, source: str) -> None:
        super().__init__(source, LabelsError)

    def pairs(self, node: yaml.Node, what: str) -> list[tuple[yaml.ScalarNode, yaml.Node]]:
        """A mapping's (key node, value node) pairs; keys must be unique texts."""
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping (name: settings), got {node_kind(node)}")
        seen: dict[str, int] = {}
        out = []
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or not str(self.value(key)).strip():
                raise self.fail(key, f"{what}: a name must be a non-empty text")
            name = str(self.value(key)).strip()
            folded = name.casefold()
            if folded in seen:
                raise self.fail(key, f"{name!r} is declared twice in {what} (first on line "
                                     f"{seen[folded]}); names are compared without case")
            seen[folded] = key.start_mark.line + 1
            out.append((key, value))
        return out

    def parse(self, text: str) -> LabelSet:
        root = compose(text, self.source, LabelsError)
        kinds: dict[str, dict[str, Label]] = {kind: {} for kind in KINDS}
        if root is None or (isinstance(root, yaml.ScalarNode) and root.value == ""):
            return LabelSet(digest=_digest(text))
        for key, value in self.pairs(root, "the top level"):
            kind = str(self.value(key)).strip()
            if kind not in KINDS:
                raise self.fail(key, f"unknown section {kind!r}; the sections are {', '.join(KINDS)}")
            if isinstance(value, yaml.ScalarNode) and self.value(value) is None:
                continue
            for name_node, settings in self.pairs(value, kind):
                label = self.label(kind, name_node, settings)
                kinds[kind][label.name] = label
        self.check_tree(kinds["tags"])
        return LabelSet(kinds["tags"], kinds["correspondents"], kinds["document_types"],
                        digest=_digest(text))

    def label(self, kind: str, name_node: yaml.ScalarNode, node: yaml.Node) -> Label:
        name = str(self.value(name_node)).strip()
        who = f"{SINGULAR[kind]} {name!r}"
        problem = _name_problem(name)
        if problem:
            raise self.fail(name_node, problem, who)
        values: dict[str, Any] = {}
        if not (isinstance(node, yaml.ScalarNode) and self.value(node) is None):
            for key, value in self.pairs(node, who):
                setting = str(self.value(key))
                if setting not in _SETTINGS[kind]:
                    raise self.fail(key, f"unknown setting {setting!r}; a {SINGULAR[kind]} takes "
                                         f"{', '.join(_SETTINGS[kind])}", who)
                values[setting] = self.setting(setting, value, who)
        match = values.get("match", "")
        algorithm = values.get("algorithm") or _default_algorithm(match)
        if algorithm not in ("none", "auto") and not match.strip():
            raise self.fail(name_node, f"algorithm {algorithm!r} needs a match string "
                                       "(or use algorithm none or auto)", who)
        if algorithm == "regex":
            rule = compile_rule("regex", match, case_sensitive=bool(values.get("case_sensitive")),
                                label=name)
            if rule.problem is not None:
                raise self.fail(name_node, f"match is not a valid regular expression: "
                                           f"{rule.problem.reason}", who)
        return Label(kind, name, algorithm, match, bool(values.get("case_sensitive", False)),
                     values.get("priority", 0), values.get("parent"), bool(values.get("inbox", False)),
                     name_node.start_mark.line + 1)

    def setting(self, setting: str, node: yaml.Node, who: str) -> Any:
        value = self.value(node)
        if setting in ("match", "parent"):
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise self.fail(node, f"{setting} must be a text, got {value!r}", who)
            return str(value) if setting == "match" else str(value).strip()
        if setting == "algorithm":
            algorithm = ALIASES.get(str(value), str(value))
            if algorithm not in ALGORITHMS:
                raise self.fail(node, f"unknown algorithm {value!r}; known: {', '.join(ALGORITHMS)}", who)
            return algorithm
        if setting in ("case_sensitive", "inbox"):
            if not isinstance(value, bool):
                raise self.fail(node, f"{setting} must be true or false, got {value!r}", who)
            return value
        if setting == "priority":
            if isinstance(value, bool) or not isinstance(value, int) or not -1000 <= value <= 1000:
                raise self.fail(node, f"priority must be a whole number from -1000 to 1000, "
                                      f"got {value!r}", who)
            return value
        raise AssertionError(setting)

    def check_tree(self, tags: dict[str, Label]) -> None:
        """Parents are declared tags; no cycles; at most MAX_TAG_DEPTH levels."""
        for name, label in tags.items():
            if label.parent is None:
                continue
            if label.parent not in tags:
                raise LabelsError(f"{self.source}: line {label.line}: tag {name!r}: parent "
                                  f"{label.parent!r} is not a declared tag")
            chain = [name]
            parent: str | None = label.parent
            while parent is not None:
                if parent in chain:
                    loop = " → ".join([*chain, parent])
                    raise LabelsError(f"{self.source}: line {label.line}: tag {name!r}: its "
                                      f"parents form a loop ({loop})")
                chain.append(parent)
                parent = tags[parent].parent
            if len(chain) > MAX_TAG_DEPTH:
                raise LabelsError(f"{self.source}: line {label.line}: tag {name!r} is nested "
                                  f"{len(chain)} levels deep ({' → '.join(chain)}); at most "
                                  f"{MAX_TAG_DEPTH} levels")


def _name_problem(name: str) -> str | None:
    if any(ord(c) < 32 for c in name):
        return "a name must not contain control characters (line breaks, tabs)"
    if len(name) > 128:
        return "a name must be at most 128 characters"
    return None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def parse_labels(text: str, source: str = LABELS_NAME) -> LabelSet:
    """The labels in *text*; LabelsError names *source*, the line and the problem."""
    return dataclasses.replace(_Parser(source).parse(text), text=text)


_parsed_versions: dict[str, LabelSet] = {}


def _parsed(text: str, digest: str) -> LabelSet:
    """A pickled LabelSet back: the text parsed once per process and version (the
    sender's digest names the version; hashing the text per task would cost more)."""
    labels = _parsed_versions.get(digest)
    if labels is None:
        if len(_parsed_versions) > 8:
            _parsed_versions.clear()
        labels = _parsed_versions[digest] = parse_labels(text)
    return labels


def load_labels(path: Path) -> LabelSet:
    """The labels in the file; no file is no labels."""
    text = read_text(path, LabelsError)
    return LabelSet() if text is None else parse_labels(text, str(path))


class LabelsFile(LastValid[LabelSet]):
    """labels.yml as a long-running process sees it: read again when it changed;
    an invalid version is reported (``problem``) and the last valid one stays in force."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, load_labels, LabelSet(), LabelsError)
