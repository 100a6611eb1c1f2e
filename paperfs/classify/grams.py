"""Which rules may match a text, many rules at once: the text's 3- and 4-grams as a bitmap.

A literal (a piece of a fuzzy needle, what every match of a regex contains)
occurs in a text only if each of its 4-grams does (a literal of 3 characters:
if that 3-gram does). ``Haystack.grams`` hashes every run of three and of four
characters of a text into one bitmap once (numpy, shared by all rules);
``GramIndex`` then looks up the grams of every rule's literals in one
vectorised step and names the rules worth evaluating. Two grams of one hash
only let a rule through to its real test: never a wrong answer. Literals
shorter than 3 characters cannot be looked up: their rules are always
evaluated.

numpy is imported on first use, so a process that matches no such rule (the
daemon itself, ``paperfs status``) never loads it.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Sequence

GRAM = 4
SHORT_GRAM = 3  # the pieces of short fuzzy needles are often 3 characters
#: one odd 64-bit factor per position of a gram (multiplicative hashing); others for 3-grams
_FACTORS = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5)
_FACTORS3 = (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x94D049BB133111EB)
_U64 = (1 << 64) - 1
#: bitmap bits: about 64 slots per gram, so a gram absent from the text is let through
#: rarely (1/64); 2^12 .. 2^22 bytes
_MIN_BITS, _MAX_BITS, _SLOTS_PER_GRAM = 12, 22, 64


def gram_hashes(literal: str) -> tuple[int, ...] | None:
    """The 64-bit hashes of the literal's runs of GRAM characters (of its one 3-gram, for
    a literal of 3), as ``Haystack.grams`` computes them; None for a shorter literal."""
    if len(literal) < SHORT_GRAM:
        return None
    size, factors = (GRAM, _FACTORS) if len(literal) >= GRAM else (SHORT_GRAM, _FACTORS3)
    out = []
    for start in range(len(literal) - size + 1):
        key = 0
        for i, char in enumerate(literal[start:start + size]):
            key ^= (ord(char) * factors[i]) & _U64
        out.append(key)
    return tuple(dict.fromkeys(out))


class Haystack:
    """A text and its gram bitmap, built on first use and shared by every rule."""

    __slots__ = ("text", "__dict__")

    def __init__(self, text: str) -> None:
        self.text = text

    @cached_property
    def grams(self) -> tuple[Any, int]:
        """A byte per hash slot (numpy array), 1 where a run of 3 or of 4 characters of
        the text falls, and the shift that makes a 64-bit hash a slot."""
        import numpy as np

        codes = np.frombuffer(self.text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        grams = 2 * max(len(codes), 1)
        bits = min(max((_SLOTS_PER_GRAM * grams).bit_length(), _MIN_BITS), _MAX_BITS)
        bitmap = np.zeros(1 << bits, dtype=np.uint8)
        for size, factors in ((GRAM, _FACTORS), (SHORT_GRAM, _FACTORS3)):
            count = len(codes) - size + 1
            if count > 0:
                key = codes[:count] * np.uint64(factors[0])
                for i in range(1, size):
                    key ^= codes[i:i + count] * np.uint64(factors[i])
                bitmap[key >> np.uint64(64 - bits)] = 1
        return bitmap, 64 - bits

    def may_have(self, hashes: tuple[int, ...] | None, literal: str) -> bool:
        """Whether *literal* (of these ``gram_hashes``) may occur in the text: False is
        sure. Looked up in the bitmap when a GramIndex has built it, else searched: one
        rule alone (a workflow's filter, in the daemon) costs no bitmap and no numpy."""
        built = self.__dict__.get("grams")
        if hashes is None or built is None:
            return literal in self.text
        bitmap, shift = built
        return all(bitmap[key >> shift] for key in hashes)


class GramIndex:
    """Rules as "one of these literals occurs" (each literal given by its
    ``gram_hashes``); ``candidates`` names those that may hold for a text, all at once."""

    def __init__(self, entries: Sequence[Sequence[tuple[int, ...] | None]]) -> None:
        import numpy as np

        self.size = len(entries)
        #: an entry with a literal shorter than 3 characters (or none): always a candidate
        self._always = [i for i, literals in enumerate(entries) if not literals or None in literals]
        always = set(self._always)
        self._indexed = [i for i in range(len(entries)) if i not in always]
        keys: list[int] = []
        literal_starts: list[int] = []
        entry_starts: list[int] = []
        for i in self._indexed:
            entry_starts.append(len(literal_starts))
            for hashes in entries[i]:
                literal_starts.append(len(keys))
                keys.extend(hashes or ())
        self._keys = np.array(keys, dtype=np.uint64)
        self._literal_starts = np.array(literal_starts, dtype=np.intp)
        self._entry_starts = np.array(entry_starts, dtype=np.intp)

    def candidates(self, hay: Haystack) -> list[int]:
        """Positions (in the entries given) of those that may hold for *hay*, in order."""
        import numpy as np

        if not self._indexed:
            return list(self._always)
        bitmap, shift = hay.grams
        present = bitmap[self._keys >> np.uint64(shift)]
        literals = np.logical_and.reduceat(present, self._literal_starts)
        entries = np.logical_or.reduceat(literals, self._entry_starts)
        found = [self._indexed[i] for i in np.flatnonzero(entries).tolist()]
        return sorted(found + self._always) if self._always else found


class LiteralFilter:
    """What a rule needs of a text for it to be worth evaluating: one of its literals
    (by their ``gram_hashes``) in the text named *text* (an attribute of
    matching.DocumentText); a text shorter than *shorter_than* is always tried."""

    __slots__ = ("text", "literals", "shorter_than")

    def __init__(self, text: str, literals: Sequence[tuple[int, ...] | None],
                 shorter_than: int = 0) -> None:
        self.text = text
        self.literals = tuple(literals)
        self.shorter_than = shorter_than
