"""The matching rules of labels (paperfs/classify/matching.py): a table of cases
per algorithm, paperless-ngx's documented behaviour first, then where paperfs
differs (tokens with non-word edges, whitespace, empty strings), regex
problems reported instead of raised, fuzzy thresholds."""

from __future__ import annotations

import time

import pytest

from paperfs.classify.matching import (
    Problem, compile_rule, match_rules, prepare, split_terms,
)

# (algorithm, match, text, expected); case-insensitive unless the test says so
CASES = [
    # none: never, whatever the text
    ("none", "invoice", "invoice", False),
    ("none", "", "anything", False),
    # any: one word or quoted phrase, each word-bounded (paperless' docs and tests)
    ("any", "apple banana", "I like bananas", False),  # words are bounded: banana != bananas
    ("any", "apple banana", "I like a banana", True),
    ("any", "apple banana", "An APPLE a day", True),
    ("any", "alpha charlie", "I have alphas, charlie, and gamma", True),
    ("any", '"brown car" "loud bike"', "the brown car", True),
    ("any", '"brown car" "loud bike"', "the brown and the car", False),
    ("any", '"brown   car"', "a brown\n  car", True),  # a phrase's spaces match any whitespace run
    ("any", "Company", "the company you keep", True),
    ("any", "Company", "the companys", False),
    # all: every word and phrase
    ("all", "alpha charlie gamma", "I have alpha, charlie, and gamma", True),
    ("all", "alpha charlie gamma", "I have alphas, charlie, and gamma", False),
    ("all", "alpha charlie", "alpha only", False),
    ("all", '"brown car" tax', "Tax for the brown car", True),
    ("all", '"brown car" tax', "Tax for the car, brown", False),
    # exact (paperless: literal): the whole string, bounded
    ("exact", "alpha charlie", "I have alpha charlie", True),
    ("exact", "alpha charlie", "I have charlie alpha", False),
    ("exact", "alpha charlie", "I have alpha, charlie", False),
    ("exact", "alpha charlie", "I have alpha\ncharlie", True),  # paperfs: OCR line break
    ("exact", "Alpha Charlie", "alphacharlie", False),
    ("literal", "alpha charlie", "I have alpha charlie", True),  # paperless' name
    # regex: searched in the raw text
    ("regex", r"alpha\w", "I have alphas", True),
    ("regex", r"alpha\w", "I have alpha", False),
    ("regex", r"invoice\s+no\.\s*\d{4}", "INVOICE No. 2024", True),
    ("regex", r"^Page 1$", "x\nPage 1", False),  # no MULTILINE, as paperless
    # tokens paperless' \b gets wrong: matched here when they stand alone
    ("any", "C++", "We write C++, not C.", True),
    ("any", "C++", "We write C+++ sometimes", True),  # bounded by words only
    ("any", "C++", "We write Cx++", False),
    ("any", "#123", "Ticket #123 closed", True),
    ("any", "#123", "Ticket #1234 closed", False),
    ("any", "#123", "Ticket A#123 closed", False),  # bounded around the term, like ASP.NET
    ("any", ".NET", "built on .NET 8", True),
    ("any", ".NET", "built on ASP.NET", False),
    ("any", ".NET", "the .NETwork", False),
    ("any", "e-mail", "send an E-Mail today", True),
    ("any", "e-mail", "send an e-mails", False),
    ("any", "50%", "save 50% now", True),
    ("any", "50%", "save 150% now", False),
    ("exact", "ACME GmbH & Co.", "From ACME GmbH & Co. KG, Berlin", True),
    ("exact", "ACME GmbH & Co.", "From ACME GmbH & Co.", True),
    ("exact", "ACME GmbH & Co.", "From ACME GmbH & Co KG", False),
    ("all", "C++ #123 50%", "#123: C++ is 50% faster", True),
    # case folding (insensitive by default)
    ("any", "straße", "MUSTERSTRASSE 1, STRASSE", True),
    ("any", "MÜLLER", "herr müller", True),
    # empty and whitespace-only strings never match (paperless' all of "  " matched all)
    ("any", "", "text", False),
    ("all", "   ", "text", False),
    ("exact", " ", "a b", False),
    ("regex", "", "text", False),
    ("fuzzy", "", "text", False),
    ("any", '""', "text", False),
    ("fuzzy", "!!!", "!!! text", False),  # only punctuation: nothing to compare
    # fuzzy: partial_ratio >= 90, punctuation removed, whitespace runs collapsed
    ("fuzzy", "Deutsche Telekom", "Rechnung der Deutsche Telekon AG", True),  # 15/16 letters
    ("fuzzy", "Deutsche Telekom", "Rechnung der Deutsche   Telekom\nAG", True),
    ("fuzzy", "Deutsche Telekom", "Rechnung der Deutsche Bahn AG", False),
    ("fuzzy", "ACME Corp.", "acme-corp invoices", True),  # punctuation dropped from both
    ("fuzzy", "akme korp", "ACME Corporation", False),  # paperless' example scores 78
    # auto: learned, never matched by the rule
    ("auto", "invoice", "invoice", False),
]


@pytest.mark.parametrize("algorithm, match, text, expected", CASES,
                         ids=[f"{a}:{m!r}:{t[:24]!r}" for a, m, t, _ in CASES])
def test_matching_table(algorithm: str, match: str, text: str, expected: bool) -> None:
    rule = compile_rule(algorithm, match, label="L")
    assert rule.matches(text) is expected
    assert rule.matches(prepare(text)) is expected  # the shared, prepared form agrees
    assert rule.problem is None


@pytest.mark.parametrize("algorithm, match, text, insensitive, sensitive", [
    ("any", "Invoice", "INVOICE", True, False),
    ("any", "Invoice", "Invoice", True, True),
    ("all", "ACME Invoice", "acme Invoice", True, False),
    ("exact", "ACME GmbH", "Acme GmbH", True, False),
    ("regex", r"Acme\s+GmbH", "ACME GMBH", True, False),
    ("fuzzy", "Deutsche Telekom", "DEUTSCHE TELEKOM", True, False),
])
def test_case_sensitivity(algorithm: str, match: str, text: str, insensitive: bool,
                          sensitive: bool) -> None:
    assert compile_rule(algorithm, match).matches(text) is insensitive
    assert compile_rule(algorithm, match, case_sensitive=True).matches(text) is sensitive


def test_split_terms_as_paperless() -> None:
    assert split_terms('  some random  words "with   quotes  " and   spaces') == [
        "some", "random", "words", "with quotes", "and", "spaces"]
    assert split_terms('"" " " x') == ['""', "x"]  # '""' is a word, as in paperless
    assert split_terms("") == []


def test_auto_is_learned_and_none_is_not() -> None:
    assert compile_rule("auto", "x").learned
    assert not compile_rule("none", "x").learned


def test_unknown_algorithm_is_an_error_at_compile_time() -> None:
    with pytest.raises(ValueError, match="unknown matching algorithm 'soundex'"):
        compile_rule("soundex", "x")


def test_invalid_regex_is_a_problem_not_an_exception() -> None:
    rule = compile_rule("regex", "(unclosed", label="Broken")
    assert rule.problem == Problem("Broken", "(unclosed", rule.problem.reason, "invalid")
    assert "does not compile" in rule.problem.reason
    outcome = rule.evaluate("(unclosed")
    assert not outcome and outcome.problem == rule.problem
    assert "label 'Broken': regex '(unclosed'" in str(outcome.problem)


def test_catastrophic_regex_times_out_and_is_reported() -> None:
    # The regex package defuses the textbook (a+)+$ itself; (a|aa)+$ it cannot.
    assert not compile_rule("regex", r"(a+)+$").matches("a" * 5000 + "b")
    rule = compile_rule("regex", r"(a|aa)+$", label="Slow", regex_timeout=0.05)
    start = time.monotonic()
    outcome = rule.evaluate("a" * 5000 + "b")
    assert time.monotonic() - start < 2
    assert not outcome.matched
    assert outcome.problem is not None and outcome.problem.kind == "timeout"
    assert (outcome.problem.label, outcome.problem.pattern) == ("Slow", r"(a|aa)+$")
    assert "timed out after 0.05 s" in outcome.problem.reason
    assert rule.problem is None  # compiled fine: the problem is per document


def test_match_rules_keeps_going_past_problems() -> None:
    rules = [compile_rule("regex", "(", label="bad"),
             compile_rule("regex", r"(a|aa)+$", label="slow", regex_timeout=0.05),
             compile_rule("any", "aaa", label="good"),
             compile_rule("auto", "x", label="learned")]
    fired, problems = match_rules(rules, "aaa " + "a" * 5000 + "!")
    assert [rule.label for rule in fired] == ["good"]
    assert [(p.label, p.kind) for p in problems] == [("bad", "invalid"), ("slow", "timeout")]


@pytest.mark.parametrize("threshold, expected", [(80, True), (90, True), (95, False)])
def test_fuzzy_threshold(threshold: int, expected: bool) -> None:
    # "deutsche telekom" in "rechnung der deutsche telekon ag": partial_ratio 93.75
    rule = compile_rule("fuzzy", "Deutsche Telekom", fuzzy_threshold=threshold)
    assert rule.matches("Rechnung der Deutsche Telekon AG") is expected


def test_fuzzy_below_default_threshold() -> None:
    # two letters of ten wrong: partial_ratio 80, under paperless' 90
    assert not compile_rule("fuzzy", "Stadtwerke").matches("Stedtwirke Köln")
    assert compile_rule("fuzzy", "Stadtwerke", fuzzy_threshold=75).matches("Stedtwirke Köln")


def test_many_unbounded_hits_before_a_bounded_one() -> None:
    # more hits inside words than str.find tries, then a bounded one: the regex finishes
    text = " ".join(["xab"] * 50) + " ab"
    assert compile_rule("any", "ab").matches(text)
    assert not compile_rule("any", "ab").matches(" ".join(["xab"] * 50))


def test_terms_agree_with_the_lookaround_definition() -> None:
    # The fast path (word set, str.find, neighbour check) against the plain
    # definition (?<!\w)term(?!\w), on random texts of words and punctuation.
    import random
    import re

    rng = random.Random(14)
    alphabet = ["ab", "a", "b", "c", "+", "#", ".", "-", "%", " ", " ", "\n", "1", "_", "é"]
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        term = "".join(rng.choice(alphabet[:10]) for _ in range(rng.randint(1, 4))).strip()
        if not term:
            continue
        collapsed = re.sub(r"\s+", " ", text)
        expected = bool(re.search(rf"(?<!\w){re.escape(term)}(?!\w)", collapsed))
        assert compile_rule("exact", term, case_sensitive=True).matches(text) is expected, (term, text)


def test_the_fuzzy_prefilter_never_drops_a_match() -> None:
    """The pigeonhole filter (fuzzy.pieces) against rapidfuzz itself, on
    random needles planted with random edits into random texts."""
    import random

    from rapidfuzz import fuzz

    rng = random.Random(7)
    alphabet = "abcdefgh "
    checked = 0
    for _ in range(5000):
        needle = " ".join("".join(rng.choice(alphabet) for _ in range(rng.randint(3, 30))).split())
        hay = " ".join("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200))).split())
        edited = list(needle)
        for _ in range(rng.randint(0, 4)):
            i = rng.randrange(len(edited) + 1)
            if rng.random() < 0.5:
                edited.insert(i, rng.choice("abcdefgh"))
            elif i < len(edited):
                del edited[i]
        at = rng.randrange(len(hay) + 1)
        hay = " ".join((hay[:at] + "".join(edited) + hay[at:]).split())  # as the rule sees it
        expected = fuzz.partial_ratio(needle, hay, score_cutoff=90) >= 90
        assert compile_rule("fuzzy", needle).matches(hay) == expected, (needle, hay)
        checked += expected
    assert checked > 500  # the planted copies do match often


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_rule_set_fires_exactly_the_rules_the_list_does(seed: int) -> None:
    """RuleSet looks rules up by their words; on generated labels (every algorithm, tokens
    such as C++ and #123, both cases) it must answer what evaluating every rule answers."""
    import random

    from benchmarks.bench_matching import make_labels, make_text, vocabulary
    from paperfs.classify.matching import RuleSet

    rng = random.Random(seed)
    words = vocabulary(rng, 800)
    used, unused = words[:300], words[300:]
    rules = [compile_rule(algorithm, match.upper() if i % 7 == 0 else match, label=f"l{i}",
                          case_sensitive=i % 5 == 0)
             for i, (algorithm, match) in enumerate(make_labels(rng, 600, used, unused))]
    rule_set = RuleSet(rules)
    for _ in range(5):
        text = make_text(rng, used, 2)
        text = text.upper() if rng.random() < 0.3 else text
        fired, _ = rule_set.match(text)
        expected, _ = match_rules(rules, text)
        assert [r.label for r in fired] == [r.label for r in expected]
        assert len(expected) > 10


def test_the_regex_prefilter_never_drops_a_match() -> None:
    """literals.required_literals against the regex engine itself: random patterns with
    literals (some with spaces, case, Kelvin sign and long s), random texts."""
    import random

    import regex

    rng = random.Random(11)
    pieces = ["invoice", "No", r"\s+", r"\d{2}", "IBAN", "DE", "(?:order|bestellung)", "#?",
              "ACME GmbH", r"\.", "x*", "ab", "s", "k", "|", "(?i)", "Ünl"]
    alphabet = ["invoice", "INVOICE", "No ", "no\n", "12", "IBAN", "DE", "order", "acme",
                "gmbh", ".", "ab", "\u212a", "\u017f", "S", "K", " ", "\n\n", "ünl", "ÜNL"]
    fired = 0
    for _ in range(3000):
        pattern = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 5)))
        if pattern.count("(?i)") > 1 or "(?i)" in pattern[1:]:
            pattern = pattern.replace("(?i)", "")
        if not pattern.strip():
            continue  # an empty match string never matches (by design, tested above)
        try:
            compiled_i = regex.compile(pattern, regex.IGNORECASE)
            compiled = regex.compile(pattern)
        except regex.error:
            continue
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        for case_sensitive, engine in ((False, compiled_i), (True, compiled)):
            expected = engine.search(text) is not None
            assert compile_rule("regex", pattern, case_sensitive=case_sensitive).matches(text) \
                == expected, (pattern, text, case_sensitive)
            fired += expected
    assert fired > 500
