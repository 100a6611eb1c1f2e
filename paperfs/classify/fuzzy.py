"""Fuzzy rules: rapidfuzz ``partial_ratio(needle, text) >= threshold``, computed only
where the text can reach the threshold.

The answer is always the one ``fuzz.partial_ratio`` gives on the whole text;
what is skipped is work that cannot change it:

1. Pigeonhole. A score of at least *threshold* allows at most d = (1 -
   threshold/100) * 2 * len(needle) insertions and deletions between the
   needle and a window of the text. Cut into d + 1 pieces, at least one
   piece is left untouched, so it occurs exactly in the window. A text with
   no piece cannot match.
2. A piece occurs in the text only if each of its 4-grams does: looked up in
   the text's gram bitmap (grams.py, shared by every rule; ``RuleSet`` looks
   up all fuzzy rules at once there) instead of a scan of the text.
3. Windows. Every window of the text that can score is within len(needle)
   characters of an occurrence of a piece, so rapidfuzz runs on those
   stretches only. A stretch that does not reach an end of the text is padded
   there with len(needle) NUL characters (never in a needle: punctuation is
   removed): a window partly of padding scores no more than the real window of
   the text it stands for, and one of padding alone scores 0, so a stretch can
   neither miss nor invent a match.

Needles longer than 64 characters are not windowed: there rapidfuzz uses a
heuristic (alignments at the longest common blocks) whose answer depends on
the whole text.
"""

from __future__ import annotations

import math

from rapidfuzz import fuzz

from paperfs.classify.grams import Haystack, gram_hashes

_PAD = "\0"
_WINDOWED_NEEDLE = 64  # rapidfuzz's exhaustive partial_ratio stops here (see above)
#: more occurrences of pieces than this: one call over the whole text (a piece that
#: common makes the stretches cover much of it; counting on costs Python calls)
_MAX_OCCURRENCES = 32


def pieces(needle: str, threshold: float) -> list[str]:
    """Pieces of which at least one occurs exactly in any text the needle fuzzily
    matches (the pigeonhole, above). Only valid when the text is at least as long
    as the needle; partial_ratio swaps them otherwise."""
    # score = 100 * (1 - d / (n + m)) for d edits, window length m <= n: d <= (100 - t) * 2n / 100,
    # computed without 1 - t/100 (0.09999… for 90, which could floor one edit short)
    edits = math.floor((100 - threshold) * 2 * len(needle) / 100 + 1e-6)
    size = len(needle) / (edits + 1)
    cut = [needle[round(i * size):round((i + 1) * size)] for i in range(edits + 1)]
    return [piece for piece in cut if piece] or [""]


class FuzzyNeedle:
    """One fuzzy rule's needle (already stripped of punctuation, folded if need be)."""

    __slots__ = ("needle", "threshold", "pieces", "grams")

    def __init__(self, needle: str, threshold: float) -> None:
        self.needle = needle
        self.threshold = threshold
        self.pieces = pieces(needle, threshold)
        #: each piece's gram hashes (grams.py; None: shorter than a gram)
        self.grams = [gram_hashes(piece) for piece in self.pieces]

    def found_in(self, hay: Haystack) -> bool:
        needle, text, threshold = self.needle, hay.text, self.threshold
        size = len(needle)
        if len(text) < size:  # partial_ratio swaps the two: no pre-filter holds
            return fuzz.partial_ratio(needle, text, score_cutoff=threshold) >= threshold
        present = [piece for piece, hashes in zip(self.pieces, self.grams)
                   if hay.may_have(hashes, piece)]
        if not present:
            return False
        if size > _WINDOWED_NEEDLE or len(text) <= 4 * size:
            if not any(piece in text for piece in present):
                return False
            return fuzz.partial_ratio(needle, text, score_cutoff=threshold) >= threshold
        stretches = _stretches(text, present, size)
        if stretches is None:  # too many: the whole text at once
            return fuzz.partial_ratio(needle, text, score_cutoff=threshold) >= threshold
        end = len(text)
        pad = _PAD * size
        for start, stop in stretches:
            window = text[start:stop]
            if start > 0:
                window = pad + window
            if stop < end:
                window += pad
            if fuzz.partial_ratio(needle, window, score_cutoff=threshold) >= threshold:
                return True
        return False


def _stretches(text: str, present: list[str], size: int) -> list[tuple[int, int]] | None:
    """The stretches of *text* that hold every window of length *size* around an
    occurrence of a piece, merged and in order; None when there are too many."""
    spans: list[tuple[int, int]] = []
    end = len(text)
    for piece in present:
        at = text.find(piece)
        while at >= 0:
            spans.append((max(0, at - size), min(end, at + len(piece) + size)))
            if len(spans) > _MAX_OCCURRENCES:
                return None
            at = text.find(piece, at + 1)
    if not spans:
        return []
    spans.sort()
    merged = [list(spans[0])]
    for start, stop in spans[1:]:
        if start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], stop)
        else:
            merged.append([start, stop])
    return [(start, stop) for start, stop in merged]
