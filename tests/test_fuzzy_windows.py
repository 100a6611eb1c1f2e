"""classify/fuzzy.py: rapidfuzz only around the pieces of a needle, same answers as
rapidfuzz over the whole text (texts long enough for windows, matches at the edges,
overlapping and many windows, needles past 64 characters)."""

from __future__ import annotations

import random

import pytest
from rapidfuzz import fuzz

from paperfs.classify.fuzzy import FuzzyNeedle, pieces
from paperfs.classify.grams import Haystack, gram_hashes


def _expected(needle: str, text: str, threshold: float = 90) -> bool:
    return fuzz.partial_ratio(needle, text, score_cutoff=threshold) >= threshold


def _edited(rng: random.Random, needle: str, alphabet: str, edits: int) -> str:
    chars = list(needle)
    for _ in range(edits):
        i = rng.randrange(len(chars) + 1)
        if rng.random() < 0.5:
            chars.insert(i, rng.choice(alphabet))
        elif i < len(chars):
            del chars[i]
    return "".join(chars)


@pytest.mark.parametrize("where", ["start", "end", "middle", "twice", "anywhere"])
def test_windows_agree_with_rapidfuzz_on_the_whole_text(where: str) -> None:
    rng = random.Random(where)  # seeded by the name: the same texts every run
    alphabet = "abcdefgh"
    checked = matched = 0
    for _ in range(600):
        needle = " ".join("".join(rng.choice(alphabet + " ") for _ in range(rng.randint(4, 40))).split())
        if not needle:
            continue
        filler = lambda size: "".join(rng.choice(alphabet + "  ") for _ in range(size))  # noqa: E731
        planted = _edited(rng, needle, alphabet, rng.randint(0, 5))
        text = {"start": lambda: planted + filler(rng.randint(0, 900)),
                "end": lambda: filler(rng.randint(0, 900)) + planted,
                "middle": lambda: filler(rng.randint(100, 500)) + planted + filler(rng.randint(100, 500)),
                # two near copies a few characters apart: overlapping windows, merged
                "twice": lambda: filler(300) + planted + filler(rng.randint(0, 8)) + planted + filler(300),
                "anywhere": lambda: filler(rng.randint(0, 1500)),
                }[where]()
        text = " ".join(text.split())  # as the rule sees it: single spaces
        for threshold in (90, 80):
            expected = _expected(needle, text, threshold)
            assert FuzzyNeedle(needle, threshold).found_in(Haystack(text)) is expected, \
                (needle, text, threshold)
            checked += 1
            matched += expected
    assert checked > 1000 and matched > (10 if where == "anywhere" else 300)


def test_a_match_at_the_very_start_and_end_with_padding_elsewhere() -> None:
    needle = "deutsche telekom"
    middle = " ".join(["lorem ipsum dolor"] * 40)
    for text in (f"deutsche telekon {middle}", f"{middle} deutsche telekon", f"{middle} eutsche telekom",
                 f"utsche telekom {middle}", f"{middle} deutsche tele"):
        expected = _expected(needle, text)
        assert FuzzyNeedle(needle, 90).found_in(Haystack(text)) is expected, text
    assert FuzzyNeedle(needle, 90).found_in(Haystack(f"deutsche telekon {middle}"))
    assert not FuzzyNeedle(needle, 90).found_in(Haystack(f"{middle} deutsche tele"))


def test_a_piece_everywhere_falls_back_to_the_whole_text() -> None:
    # one piece occurs hundreds of times: too many stretches, one call over the text
    needle = "ab cdefgh ijkl"
    text = " ".join(["ab xyz"] * 300) + " ab cdefgx ijkl " + " ".join(["ab"] * 50)
    assert FuzzyNeedle(needle, 90).found_in(Haystack(text)) is _expected(needle, text) is True


def test_long_needles_are_not_windowed() -> None:
    rng = random.Random(3)
    for _ in range(200):
        needle = " ".join("".join(rng.choice("abcdef ") for _ in range(rng.randint(65, 120))).split())
        text = " ".join(("".join(rng.choice("abcdef ") for _ in range(rng.randint(0, 600)))
                         + _edited(rng, needle, "abcdef", rng.randint(0, 12))).split())
        assert FuzzyNeedle(needle, 90).found_in(Haystack(text)) is _expected(needle, text)


def test_pieces_without_their_4_grams_in_the_text_are_no_match() -> None:
    needle = "stadtwerke köln"
    hay = Haystack(" ".join(["rechnung", "betrag", "zahlbar"] * 100))
    assert hay.may_have(gram_hashes("zzzz"), "zzzz") is False  # before the bitmap: searched
    hay.grams  # noqa: B018  built (as a RuleSet does)
    assert all(hay.may_have(gram_hashes(gram), gram) for gram in ("rech", "g be", "hlba"))
    bitmap, shift = hay.grams
    assert int(bitmap.sum()) == len({key >> shift for size in (3, 4) for i in range(len(hay.text) - size + 1)
                                     for key in gram_hashes(hay.text[i:i + size]) or ()})
    assert hay.may_have(gram_hashes("ech"), "ech") and not hay.may_have(gram_hashes("xyz"), "xyz")
    assert gram_hashes("ab") is None and hay.may_have(None, "qq") is False
    assert all(piece not in hay.text for piece in pieces(needle, 90))
    assert FuzzyNeedle(needle, 90).found_in(hay) is False


@pytest.mark.parametrize("threshold", [70, 75, 85, 90, 95, 97.5])
def test_the_pieces_hold_at_every_threshold(threshold: float) -> None:
    """As few pieces as the threshold allows (one more edit than it allows per window and
    a match could be missed): planted copies with up to that many edits, any threshold."""
    rng = random.Random(int(threshold * 10))
    matched = 0
    for _ in range(1500):
        needle = "".join(rng.choice("abcdefgh") for _ in range(rng.randint(3, 60)))
        edits = int((100 - threshold) * 2 * len(needle) / 100)
        text = "".join(rng.choice("ijklm") for _ in range(rng.randint(0, 300)))
        at = rng.randrange(len(text) + 1)
        text = text[:at] + _edited(rng, needle, "abcdefgh", rng.randint(0, edits + 1)) + text[at:]
        expected = _expected(needle, text, threshold)
        assert FuzzyNeedle(needle, threshold).found_in(Haystack(text)) is expected, (needle, text)
        matched += expected
    assert matched > 500


def test_one_fuzzy_rule_alone_does_not_load_numpy() -> None:
    """A workflow's content filter runs in the daemon: no bitmap, no numpy there."""
    import subprocess
    import sys
    from pathlib import Path

    probe = ("import sys; from paperfs.classify.matching import compile_rule; "
             "r = compile_rule('fuzzy', 'Deutsche Telekom'); "
             "assert r.matches('x ' * 100 + 'deutsche telekon'); print('numpy' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
