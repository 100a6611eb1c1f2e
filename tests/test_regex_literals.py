"""classify/literals.py and the gram look-up of regex rules in a RuleSet: a text is
only skipped when no match is possible."""

from __future__ import annotations

import random

import pytest
import regex

from paperfs.classify.literals import required_literals
from paperfs.classify.matching import RuleSet, compile_rule


@pytest.mark.parametrize("pattern, case_sensitive, expected", [
    (r"invoice\s+\d+", False, [(("invoice",), True)]),
    (r"Invoice\s+No\.?\s*\d+", False, [(("invoice no",), True)]),  # \s+ between: one space
    (r"IBAN \s*DE", True, [(("IBAN DE",), False)]),
    (r"a\s*b", True, []),  # \s* may be nothing: ends the run (one letter each side)
    (r"ab\s+\s*[ ]*cd\s+", True, [(("ab cd",), False)]),  # no space after the last letter
    (r"abc\s*[ ]+de", True, [(("abc",), False)]),  # \s* first: the run ends there
    (r"\s+abc", True, [(("abc",), False)]),
    # a run joined to the group after it: the start of each alternative
    (r"invoice\s+(no\.?|number)\s*\d+", False,
     [(("invoice",), True), (("invoice no", "invoice number"), True)]),
    (r"ab(cd|x)", True, [(("ab",), False), (("abcd", "abx"), False)]),
    (r"ab (\s*cd|ef)", True, [(("ab",), False), (("cd", "ef"), False)]),  # "" start: not joined
    (r"(?:order|Bestellung)\s*#?66\d*", False, [(("66",), True), (("order", "bestellung"), True)]),
    (r"(?:order|Bestellung)\s*#?", True, [(("order", "Bestellung"), False)]),
    (r"(invoice)\s+\d", False, [(("invoice",), True)]),
    (r"IBAN|Konto", False, [(("iban", "konto"), True)]),
    (r"abc|abd", False, [(("ab",), True)]),  # the parser factors the common prefix out
    (r"(?i:Foo)bar", True, [(("bar",), False)]),  # a group with flags of its own: not read
    (r"x(?:ab|)y", False, []),  # an empty alternative: no requirement
    (r"(?:ab)?cd", False, [(("cd",), True)]),  # an optional group: not required
    (r"Straße", False, []),  # not ASCII, case-insensitive: not looked up
    (r"Straße", True, [(("Straße",), False)]),
    (r"(?:straße|weg)", False, []),
    (r"[a-z]+\d", False, []),
])
def test_required_literals(pattern: str, case_sensitive: bool, expected: list) -> None:
    assert required_literals(pattern, case_sensitive) == expected


def test_a_rule_set_skips_a_regex_only_when_it_cannot_match() -> None:
    """Random patterns of literals, groups and alternations against random texts: the
    RuleSet (gram look-up of the literals) answers what the regex engine answers."""
    rng = random.Random(5)
    pieces = ["invoice", "No.", r"\s+", r"\d{2}", "IBAN", "(?:order|bestellung)", "(ACME|Acme GmbH)",
              "#?", r"\.", "x*", "rechnung", "|", "(?:straße|weg)", "2024", "(?:abc|abd)", " ",
              r"\s*", "[ ]+", r"\s", r"(?:\s+no)", r"(no\.?|number)", "(?:No|Nr)", "(ab|)", r"(\s*x|no)"]
    alphabet = ["invoice", "INVOICE", "No. ", "no\n", "12", "IBAN", "order", "Bestellung", "acme",
                "ACME GMBH", ".", "2024", "Rechnung", "weg", "STRASSE", "abd", " ", "\n\n", "x",
                "\t", " \u00a0", "\x1c", "-", "number", "Nr", "NO"]
    fired = 0
    for _ in range(1500):
        pattern = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 4)))
        try:
            engines = {False: regex.compile(pattern, regex.IGNORECASE), True: regex.compile(pattern)}
        except regex.error:
            continue
        if not pattern.strip():
            continue
        texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(3)]
        for case_sensitive, engine in engines.items():
            rule_set = RuleSet([compile_rule("regex", pattern, case_sensitive=case_sensitive, label="r")])
            for text in texts:
                expected = engine.search(text) is not None
                fired_rules, _ = rule_set.match(text)
                assert bool(fired_rules) is expected, (pattern, text, case_sensitive)
                fired += expected
    assert fired > 300
