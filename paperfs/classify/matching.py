"""The matching rules of labels: does a label's match string fire on a text.

paperless-ngx (``src/documents/matching.py``) is the reference. Its
algorithms, and what paperfs does with each:

``none``
    Never matches (the label is only assigned by hand).
``any`` / ``all``
    The match string is split into terms: ``"quoted phrases"`` and runs of
    non-whitespace, as paperless' ``_split_match`` does. ``any`` matches when
    one term is found, ``all`` when every term is. Each term is word-bounded;
    a phrase's inner whitespace matches any run of whitespace in the text.
``exact`` (paperless: *literal*; ``literal`` is accepted as an alias)
    The whole match string, word-bounded.
``regex``
    A regular expression searched in the raw text (not normalised).
``fuzzy``
    rapidfuzz ``partial_ratio(match, text) >= 90`` after removing punctuation
    (``[^\\w\\s]``) from both, as paperless does (computed only where the
    text can reach the threshold: fuzzy.py).
``auto``
    Learned: the classifier decides, not a rule. ``Rule.matches`` is always
    False here, as paperless' ``matches()`` is; ``Rule.learned`` says so.

Where paperfs differs, on purpose:

* Word bounds are "not preceded / not followed by a word character",
  ``(?<!\\w)term(?!\\w)``, instead of paperless' ``\\bterm\\b``. ``\\b`` needs a
  word character on the inside of the bound, so paperless never matches
  terms with a non-word edge: ``C++``, ``#123``, ``.NET``, ``50%``,
  ``ACME GmbH & Co.``. Here they match when they stand alone (``C++,`` yes;
  ``#1234`` no; ``ASP.NET`` is not ``.NET``).
* ``exact`` also treats any run of whitespace in the text as one space, so a
  name broken over two lines by OCR still matches; paperless compares spaces
  literally. ``fuzzy`` collapses whitespace runs likewise (removing
  punctuation leaves double spaces that would lower the score).
* Case-insensitive matching uses ``str.casefold`` (``Straße`` = ``STRASSE``).
* A match string that is empty or only whitespace never matches, for every
  algorithm (paperless' ``all`` of a whitespace-only string matches
  everything; its empty regex would, too).
* A regex runs with a time limit (the ``regex`` package's ``timeout``). One
  that does not compile or times out gives a ``Problem`` (label, pattern,
  reason) the caller reports in ``paperfs check``/``status``, instead of
  paperless' log line; it never raises into classification.

Speed: ``compile_rule`` does the per-label work once. Per document the text
is normalised once (``DocumentText``, shared by every rule), and a term is
first looked up in the document's set of words, and only then found with
``str.find`` plus a check of the two neighbouring characters: far faster
than a regex with look-behind scanning a long text for every term.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Iterable

import regex

from paperfs.classify.fuzzy import FuzzyNeedle
from paperfs.classify.grams import GramIndex, Haystack, LiteralFilter, gram_hashes
from paperfs.classify.literals import required_literals

ALGORITHMS = ("none", "any", "all", "exact", "regex", "fuzzy", "auto")
ALIASES = {"literal": "exact"}
REGEX_TIMEOUT = 0.1  # seconds per pattern and document
FUZZY_THRESHOLD = 90  # paperless' fixed cut-off

_WHITESPACE = re.compile(r"\s+")
_WORDS = re.compile(r"\w+")
_PUNCTUATION = re.compile(r"[^\w\s]")
_TERMS = re.compile(r'"([^"]+)"|(\S+)')  # paperless' _split_match
_FIND_TRIES = 16  # unbounded hits (a short term inside words) before the regex takes over


@dataclass(frozen=True)
class Problem:
    """A rule that could not be applied: reported to the user, not raised."""

    label: str
    pattern: str
    reason: str
    kind: str  # "invalid" (does not compile) or "timeout" or "error"

    def __str__(self) -> str:
        who = f"label {self.label!r}: " if self.label else ""
        return f"{who}regex {self.pattern!r}: {self.reason}"


@dataclass(frozen=True)
class Outcome:
    """The answer of one rule for one document; false when there is a problem."""

    matched: bool
    problem: Problem | None = None

    def __bool__(self) -> bool:
        return self.matched


_YES = Outcome(True)
_NO = Outcome(False)


class DocumentText:
    """One document's text and its normalised forms, each built on first use and
    then shared by every rule evaluated against it."""

    def __init__(self, text: str) -> None:
        self.raw = text

    @cached_property
    def collapsed(self) -> str:
        # str.split splits where re's \s matches (str.isspace), 4x faster than re.sub
        return " ".join(self.raw.split())

    @cached_property
    def folded(self) -> str:
        return self.collapsed.casefold()

    @cached_property
    def words(self) -> frozenset[str]:
        return frozenset(_WORDS.findall(self.collapsed))

    @cached_property
    def folded_words(self) -> frozenset[str]:
        return frozenset(_WORDS.findall(self.folded))

    @cached_property
    def fuzzy(self) -> str:
        return " ".join(_PUNCTUATION.sub("", self.collapsed).split())

    @cached_property
    def fuzzy_folded(self) -> str:
        return " ".join(_PUNCTUATION.sub("", self.folded).split())

    @cached_property
    def _haystacks(self) -> dict[str, Haystack]:
        return {}

    def haystack(self, name: str) -> Haystack:
        """The form *name* of the text (``fuzzy``, ``folded``, …) with its gram bitmap."""
        hay = self._haystacks.get(name)
        if hay is None:
            hay = self._haystacks[name] = Haystack(getattr(self, name))
        return hay


def prepare(text: str | DocumentText) -> DocumentText:
    """The text ready for rules; pass the result to many rules to normalise once."""
    return text if isinstance(text, DocumentText) else DocumentText(text)


def split_terms(match: str) -> list[str]:
    """The terms of an ``any``/``all`` match string: quoted phrases and words,
    inner whitespace collapsed to one space, empty ones dropped."""
    terms = (_WHITESPACE.sub(" ", (quoted or word).strip()) for quoted, word in _TERMS.findall(match))
    return [term for term in terms if term]


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"  # exactly what re's \w is for str


class _Term:
    """A word-bounded literal: found by str.find, its neighbours then checked.

    Every run of word characters in a bounded term is a whole word of the text
    where the term occurs (the bounds, or the term's own non-word characters,
    end it), so a term with a word the text lacks is rejected by a set lookup
    without scanning: most terms of most labels are absent from a document.
    """

    __slots__ = ("needle", "words", "_bounded")

    def __init__(self, needle: str) -> None:
        self.needle = needle
        self.words = _WORDS.findall(needle)
        self._bounded: re.Pattern[str] | None = None

    def found_in(self, hay: str, words: frozenset[str]) -> bool:
        for word in self.words:
            if word not in words:
                return False
        needle, size, end = self.needle, len(self.needle), len(hay)
        start = 0
        for _ in range(_FIND_TRIES):
            i = hay.find(needle, start)
            if i < 0:
                return False
            j = i + size
            if (i == 0 or not _is_word(hay[i - 1])) and (j == end or not _is_word(hay[j])):
                return True
            start = i + 1
        # Many hits inside words: let the C regex engine scan the rest in one call.
        if self._bounded is None:
            self._bounded = re.compile(rf"(?<!\w){re.escape(needle)}(?!\w)")
        return self._bounded.search(hay, start) is not None


class Rule:
    """A label's match rule compiled once; ``matches``/``evaluate`` per document."""

    __slots__ = ("algorithm", "match", "case_sensitive", "label", "problem", "_test", "keys",
                 "need_all", "literals")

    def __init__(self, algorithm: str, match: str, case_sensitive: bool, label: str,
                 test: Callable[[DocumentText], Outcome], problem: Problem | None = None,
                 terms: "list[_Term] | None" = None, need_all: bool = False,
                 literals: LiteralFilter | None = None) -> None:
        self.algorithm = algorithm
        self.match = match
        self.case_sensitive = case_sensitive
        self.label = label
        self.problem = problem  # found at compile time (a regex that does not compile)
        self._test = test
        #: any/all/exact: one word per term that the text must have for the term to
        #: be found (its longest); None: the rule cannot be looked up by words
        self.keys: tuple[str, ...] | None = None
        if terms and all(term.words for term in terms):
            self.keys = tuple(max(term.words, key=len) for term in terms)
        self.need_all = need_all
        #: regex and fuzzy: literals one of which a text must have to match (RuleSet looks
        #: up many rules' at once, grams.GramIndex); None: no such literals
        self.literals = literals

    @property
    def learned(self) -> bool:
        """``auto``: the classifier decides; this rule itself never matches."""
        return self.algorithm == "auto"

    def evaluate(self, text: str | DocumentText) -> Outcome:
        """Whether the rule fires, with the problem if it could not be applied."""
        return self._test(prepare(text))

    def matches(self, text: str | DocumentText) -> bool:
        return self._test(prepare(text)).matched

    def __repr__(self) -> str:
        case = ", case_sensitive" if self.case_sensitive else ""
        return f"Rule({self.algorithm!r}, {self.match!r}{case}, label={self.label!r})"


def _never(_doc: DocumentText) -> Outcome:
    return _NO


def _terms_test(compiled: list[_Term], need_all: bool,
                case_sensitive: bool) -> Callable[[DocumentText], Outcome]:
    def test(doc: DocumentText) -> Outcome:
        if case_sensitive:
            hay, words = doc.collapsed, doc.words
        else:
            hay, words = doc.folded, doc.folded_words
        if need_all:
            return _YES if all(term.found_in(hay, words) for term in compiled) else _NO
        return _YES if any(term.found_in(hay, words) for term in compiled) else _NO

    return test


def _regex_rule(pattern: str, case_sensitive: bool, label: str,
                timeout: float) -> tuple[Callable[[DocumentText], Outcome], Problem | None]:
    try:
        compiled = regex.compile(pattern, 0 if case_sensitive else regex.IGNORECASE)
    except Exception as error:  # regex.error, and OverflowError etc. for absurd repeats
        problem = Problem(label, pattern, f"does not compile: {error}", "invalid")
        failed = Outcome(False, problem)
        return (lambda _doc: failed), problem, None

    requirements = required_literals(pattern, case_sensitive)
    prefilter = _regex_filter(requirements)

    def test(doc: DocumentText) -> Outcome:
        for literals, folded in requirements:  # what every match contains (literals.py)
            hay = doc.folded if folded else doc.collapsed
            if not any(literal in hay for literal in literals):
                return _NO
        try:
            return _YES if compiled.search(doc.raw, timeout=timeout) else _NO
        except TimeoutError:
            return Outcome(False, Problem(label, pattern, f"timed out after {timeout:g} s", "timeout"))
        except Exception as error:  # e.g. MemoryError: one label must not stop the others
            return Outcome(False, Problem(label, pattern, f"failed: {error!r}", "error"))

    return test, None, prefilter


def _regex_filter(requirements: list[tuple[tuple[str, ...], bool]]) -> LiteralFilter | None:
    """The requirement best looked up by grams (the shortest of its literals the
    longest), looked up in the fuzzy form of the text, whose grams the fuzzy rules
    have built already: a literal (never with whitespace) in the text is there
    without its punctuation. None: no requirement with literals of 3 characters."""
    usable = []
    for literals, folded in requirements:
        # the fuzzy form: no punctuation, whitespace collapsed, no space at either end
        bare = [" ".join(_PUNCTUATION.sub("", literal).split()) for literal in literals]
        if all(gram_hashes(literal) is not None for literal in bare):
            usable.append((bare, folded))
    if not usable:
        return None
    bare, folded = max(usable, key=lambda requirement: min(map(len, requirement[0])))
    return LiteralFilter("fuzzy_folded" if folded else "fuzzy", [gram_hashes(each) for each in bare])


def _fuzzy_test(match: str, case_sensitive: bool,
                threshold: float) -> tuple[Callable[[DocumentText], Outcome], LiteralFilter | None]:
    needle = _WHITESPACE.sub(" ", _PUNCTUATION.sub("", match)).strip()
    if not needle:  # only punctuation: nothing left to compare
        return _never, None
    fuzzy = FuzzyNeedle(needle if case_sensitive else needle.casefold(), threshold)
    text = "fuzzy" if case_sensitive else "fuzzy_folded"

    def test(doc: DocumentText) -> Outcome:
        return _YES if fuzzy.found_in(doc.haystack(text)) else _NO

    # a piece of the needle, unless the text is shorter than it (fuzzy.py)
    return test, LiteralFilter(text, fuzzy.grams, shorter_than=len(fuzzy.needle))


def compile_rule(algorithm: str, match: str, *, case_sensitive: bool = False, label: str = "",
                 regex_timeout: float = REGEX_TIMEOUT, fuzzy_threshold: float = FUZZY_THRESHOLD) -> Rule:
    """The rule of one label, compiled once.

    Raises ValueError for an unknown algorithm (a mistake in the label file,
    caught when it is loaded); a regex that does not compile is not an error
    here but ``Rule.problem``, and the rule never matches.
    """
    name = ALIASES.get(algorithm, algorithm)
    if name not in ALGORITHMS:
        raise ValueError(f"unknown matching algorithm {algorithm!r}; known: {', '.join(ALGORITHMS)}")
    problem = None
    terms: list[_Term] | None = None
    literals: LiteralFilter | None = None
    if name in ("none", "auto") or not match.strip():
        test = _never
    elif name in ("any", "all", "exact"):
        texts = split_terms(match) if name != "exact" else [_WHITESPACE.sub(" ", match.strip())]
        terms = [_Term(term if case_sensitive else term.casefold()) for term in texts]
        test = _terms_test(terms, name != "any", case_sensitive)
    elif name == "regex":
        test, problem, literals = _regex_rule(match, case_sensitive, label, regex_timeout)
    else:
        test, literals = _fuzzy_test(match, case_sensitive, fuzzy_threshold)
    return Rule(name, match, case_sensitive, label, test, problem, terms, name != "any", literals)


def match_rules(rules: Iterable[Rule], text: str | DocumentText) -> tuple[list[Rule], list[Problem]]:
    """The rules that fire on one text, and the problems met on the way."""
    doc = prepare(text)
    fired: list[Rule] = []
    problems: list[Problem] = []
    for rule in rules:
        outcome = rule._test(doc)
        if outcome.matched:
            fired.append(rule)
        elif outcome.problem is not None:
            problems.append(outcome.problem)
    return fired, problems


class RuleSet:
    """Many rules, evaluated together: only the rules that can fire are tried.

    Most any/all/exact rules name words a document does not contain. Each such
    rule is filed under its key words (``Rule.keys``); per document, the
    document's words are looked up in that table, so a rule is evaluated only
    when its key words are there (all of them for ``all``/``exact``, one for
    ``any``). Regex and fuzzy rules with literals (``Rule.literals``) are tried
    only when one of them may be in the text (``GramIndex``: all at once). The
    other rules (terms without a word, the rest) are always evaluated. The answer is the same as ``match_rules``
    over the list, in the list's order.
    """

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = list(rules)
        self._always: list[int] = []
        #: (case-sensitive?) -> key word -> positions of the rules filed under it
        self._by_word: dict[bool, dict[str, list[int]]] = {True: {}, False: {}}
        #: form of the text -> positions of the rules with literals in it, and their index
        self._by_literal: dict[str, tuple[list[int], GramIndex, int]] = {}
        by_literal: dict[str, list[int]] = {}
        for position, rule in enumerate(self.rules):
            if rule.algorithm in ("none", "auto") and rule.problem is None:
                continue  # never fires
            if rule.literals is not None and rule.problem is None:
                by_literal.setdefault(rule.literals.text, []).append(position)
                continue
            if rule.keys is None:
                self._always.append(position)
                continue
            table = self._by_word[rule.case_sensitive]
            for key in dict.fromkeys(rule.keys):
                table.setdefault(key, []).append(position)
        for text, positions in by_literal.items():
            filters = [self.rules[i].literals for i in positions]
            self._by_literal[text] = (positions, GramIndex([f.literals for f in filters]),  # type: ignore[union-attr]
                                      max(f.shorter_than for f in filters))  # type: ignore[union-attr]

    def __len__(self) -> int:
        return len(self.rules)

    def match(self, text: str | DocumentText) -> tuple[list[Rule], list[Problem]]:
        doc = prepare(text)
        candidates = set(self._always)
        for case_sensitive, table in self._by_word.items():
            if not table:
                continue
            words = doc.words if case_sensitive else doc.folded_words
            found: set[int] = set()
            for word in (words if len(words) < len(table) else table):
                positions = table.get(word) if word in words else None
                if positions:
                    found.update(positions)
            candidates.update(i for i in found if not self.rules[i].need_all
                              or all(key in words for key in self.rules[i].keys or ()))
        for text, (positions, index, shorter_than) in self._by_literal.items():
            hay = doc.haystack(text)
            candidates.update(positions[i] for i in index.candidates(hay))
            if len(hay.text) < shorter_than:  # rare: a text shorter than some needle
                candidates.update(i for i in positions
                                  if len(hay.text) < self.rules[i].literals.shorter_than)  # type: ignore[union-attr]
        return match_rules((self.rules[i] for i in sorted(candidates)), doc)
