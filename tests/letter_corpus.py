"""A generated archive of letters for the learned classifier (tests and benchmark).

One correspondent dominates (60 % of the letters), several smaller ones share
the rest; each sender has a vocabulary of its own (name, address, products),
every letter has the common letter words, a document type (its own words:
invoice, reminder, contract, statement) and tags that follow from what the
letter is about. A few letters in the archive come from senders nobody
labelled (no correspondent), as in a real archive. Letters from *unknown*
senders use a vocabulary no archived letter has, plus the common words and
their type's words: a classifier must leave their correspondent unassigned.
Seeded: the same arguments give the same letters.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

COMMON = ("dear sir madam thank you for your letter please find enclosed we would like to "
          "inform kind regards sincerely yours date reference customer number page total "
          "amount address phone email account our your this that with from have been will "
          "should questions contact us any time best service team office street city "
          "postcode country monday friday january march june october december year month "
          "payment due order information attached document copy original signature").split()
TYPE_WORDS = {
    "invoice": "invoice net gross vat item quantity unit price subtotal payable iban bic".split(),
    "reminder": "reminder overdue outstanding balance immediately second notice fee late".split(),
    "contract": "contract agreement term clause party parties termination signed effective".split(),
    "statement": "statement balance opening closing transactions credit debit period interest".split(),
}
#: tag -> the document types it goes with (a tag follows from what a letter is)
TAGS_OF_TYPE = {"invoice": ("tax",), "reminder": ("urgent",), "contract": ("keep",),
                "statement": ("tax", "bank")}
SYLLABLES = ("ka ro mi te sun ber lo an ex ti vo gra pel dor fin zu ha ne qui ost "
             "lam bri cor wen yat pol").split()


@dataclass(frozen=True)
class Letter:
    text: str
    #: who wrote it; None for a letter from a sender not in the archive's labels
    sender: str
    correspondent: str | None
    document_type: str
    tags: tuple[str, ...]


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))


class LetterCorpus:
    """Senders, their vocabularies, and letters drawn from them."""

    def __init__(self, seed: int = 14, known: int = 8, dominant_share: float = 0.6,
                 unlabelled_share: float = 0.05) -> None:
        self.rng = random.Random(seed)
        self.dominant_share = dominant_share
        self.unlabelled_share = unlabelled_share
        used: set[str] = set(COMMON)
        self.known = [f"sender-{i}" for i in range(known)]
        self.vocab: dict[str, list[str]] = {}
        for name in self.known:
            self.vocab[name] = self._fresh_words(40, used)
        self._used = used
        self._unlabelled = 0
        self._unknown = 0

    def _fresh_words(self, count: int, used: set[str]) -> list[str]:
        words: list[str] = []
        while len(words) < count:
            word = _word(self.rng)
            if word not in used:
                used.add(word)
                words.append(word)
        return words

    def _new_sender(self, prefix: str) -> str:
        name = f"{prefix}-{self._unknown + self._unlabelled}"
        self.vocab[name] = self._fresh_words(40, self._used)
        return name

    def letter(self, sender: str, correspondent: str | None) -> Letter:
        rng = self.rng
        kind = rng.choice(sorted(TYPE_WORDS))
        own, type_words = self.vocab[sender], TYPE_WORDS[kind]
        words = [rng.choice(COMMON) for _ in range(rng.randint(60, 120))]
        words += [rng.choice(own) for _ in range(rng.randint(12, 25))]
        words += [rng.choice(type_words) for _ in range(rng.randint(6, 12))]
        words += [str(rng.randint(1, 99999)) for _ in range(rng.randint(3, 8))]
        rng.shuffle(words)
        # the letterhead: the sender's first words, as a real letter starts
        text = " ".join(own[:4]) + "\n" + " ".join(words)
        return Letter(text, sender, correspondent, kind, TAGS_OF_TYPE[kind])

    def archived(self) -> Letter:
        """A letter as the archive has it: mostly known senders, a few unlabelled."""
        roll = self.rng.random()
        if roll < self.unlabelled_share:
            self._unlabelled += 1
            return self.letter(self._new_sender("unlabelled"), None)
        if roll < self.unlabelled_share + self.dominant_share:
            sender = self.known[0]
        else:
            sender = self.rng.choice(self.known[1:])
        return self.letter(sender, sender)

    def unknown(self) -> Letter:
        """A letter from a sender the archive has never seen."""
        self._unknown += 1
        return self.letter(self._new_sender("unknown"), None)

    def archive(self, count: int) -> list[Letter]:
        return [self.archived() for _ in range(count)]
