"""The learned classifier on a generated archive where one correspondent writes 60 %
of the letters: known senders are recognised, unknown ones stay unassigned at the
default threshold, probabilities mean what they say, the model file is safe."""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys

import pytest

from paperfs.classify.learned import Example, Model, cached_model, load_model, save_model, train
from paperfs.classify.model_file import FORMAT_VERSION, read_model_info
from tests.letter_corpus import TYPE_WORDS, Letter, LetterCorpus

THRESHOLD = 0.7  # classify.threshold's default


def examples(letters: list[Letter]) -> list[Example]:
    return [Example(l.text, l.correspondent, l.document_type, l.tags) for l in letters]


def learned_of(corpus: LetterCorpus) -> dict[str, frozenset[str]]:
    return {"correspondents": frozenset(corpus.known), "document_types": frozenset(TYPE_WORDS),
            "tags": frozenset({"tax", "urgent", "keep", "bank"})}


def assigned(ranked: tuple[tuple[str, float], ...]) -> str | None:
    """What the classify stage applies: the most probable, if over the threshold."""
    return ranked[0][0] if ranked and ranked[0][1] >= THRESHOLD else None


class Trained:
    def __init__(self, unlabelled_share: float) -> None:
        self.corpus = LetterCorpus(seed=7, unlabelled_share=unlabelled_share)
        self.model = train(examples(self.corpus.archive(300)), learned_of(self.corpus),
                           fingerprint="f1")
        self.known = [l for l in self.corpus.archive(220) if l.correspondent][:200]
        self.unknown = [self.corpus.unknown() for _ in range(200)]


@pytest.fixture(scope="module")
def trained() -> Trained:
    return Trained(unlabelled_share=0.05)


@pytest.fixture(scope="module")
def every_letter_labelled() -> Trained:
    """An archive in which every document has an auto correspondent: no 'none' to learn from."""
    return Trained(unlabelled_share=0.0)


@pytest.mark.parametrize("case", ["trained", "every_letter_labelled"])
def test_known_senders_are_assigned_and_unknown_ones_are_not(case, request) -> None:
    t: Trained = request.getfixturevalue(case)
    right = sum(assigned(t.model.predict(l.text).correspondent) == l.correspondent
                for l in t.known)
    unassigned = sum(assigned(t.model.predict(l.text).correspondent) is None for l in t.unknown)
    assert right / len(t.known) >= 0.95, f"{right}/{len(t.known)} known senders recognised"
    assert unassigned / len(t.unknown) >= 0.95, \
        f"only {unassigned}/{len(t.unknown)} letters of unknown senders left unassigned"


def test_document_types_and_tags_are_predicted_for_every_sender(trained) -> None:
    letters = trained.known + trained.unknown  # an unknown sender's invoice is an invoice
    types = sum(assigned(trained.model.predict(l.text).document_type) == l.document_type
                for l in letters)
    tags = sum({t for t, p in trained.model.predict(l.text).tags if p >= THRESHOLD} == set(l.tags)
               for l in letters)
    assert types / len(letters) >= 0.95
    assert tags / len(letters) >= 0.95


def test_probabilities_mean_what_they_say(trained) -> None:
    """Calibration: of the letters given a sender with probability about p, about p
    are right (expected calibration error over ten bins)."""
    bins: dict[int, list[tuple[float, bool]]] = {}
    for letter in trained.known + trained.unknown:
        name, p = trained.model.predict(letter.text).correspondent[0]
        bins.setdefault(min(int(p * 10), 9), []).append((p, name == letter.correspondent))
    total = len(trained.known) + len(trained.unknown)
    error = sum(abs(sum(p for p, _ in b) - sum(ok for _, ok in b)) for b in bins.values()) / total
    assert error <= 0.1, f"expected calibration error {error:.3f}"


def test_predictions_are_sorted_probabilities_of_learned_labels_only(trained) -> None:
    corpus = LetterCorpus(seed=3)
    letters = corpus.archive(200)
    learned = learned_of(corpus)
    learned["correspondents"] = frozenset(corpus.known[:3])  # the others are not auto
    model = train(examples(letters), learned)
    assert set(model.classes()["correspondents"]) == set(corpus.known[:3])
    for letter in letters[:50]:
        predicted = model.predict(letter.text)
        for ranked in (predicted.correspondent, predicted.document_type, predicted.tags):
            probabilities = [p for _, p in ranked]
            assert probabilities == sorted(probabilities, reverse=True)
            assert all(0.0 <= p <= 1.0 for p in probabilities)
        names = {name for name, _ in predicted.correspondent}
        assert names <= learned["correspondents"]  # never "none", never a rule-matched one
        if letter.correspondent not in learned["correspondents"]:
            assert assigned(predicted.correspondent) is None


def test_labels_nobody_has_are_not_predicted_and_no_documents_is_an_error() -> None:
    corpus = LetterCorpus(seed=5)
    letters = corpus.archive(60)
    model = train(examples(letters), {"correspondents": frozenset({"nobody"}),
                                      "document_types": frozenset(), "tags": frozenset()})
    assert model.predict(letters[0].text) == model.predict(letters[0].text).__class__()
    with pytest.raises(ValueError, match="no documents"):
        train([], learned_of(corpus))


# ---------------------------------------------------------------- the model file


def test_a_saved_model_predicts_the_same_and_says_what_it_is(trained, tmp_path) -> None:
    path = tmp_path / "classifier.pickle"
    save_model(trained.model, path)
    loaded = load_model(path)
    assert isinstance(loaded, Model) and loaded.fingerprint == "f1"
    for letter in trained.known[:20] + trained.unknown[:20]:
        assert _close(loaded.predict(letter.text), trained.model.predict(letter.text))
    info = read_model_info(path)
    assert info["documents"] == 300 and info["format"] == FORMAT_VERSION
    assert info["classes"]["correspondents"] == sorted(trained.corpus.known)


def _close(a, b) -> bool:
    return all(x[0] == y[0] and abs(x[1] - y[1]) < 1e-5
               for part in ("correspondent", "document_type", "tags")
               for x, y in zip(getattr(a, part), getattr(b, part)))


def test_the_model_file_is_replaced_atomically(trained, tmp_path) -> None:
    path = tmp_path / "classifier.pickle"
    path.write_bytes(b"old")
    reader = open(path, "rb")  # a worker that opened the old file keeps reading it whole
    save_model(trained.model, path)
    assert reader.read() == b"old"
    reader.close()
    assert [p.name for p in tmp_path.iterdir()] == ["classifier.pickle"]  # no temp left
    assert load_model(path) is not None


@pytest.mark.parametrize("content", [b"", b"not a pickle", pickle.dumps({"format": FORMAT_VERSION})])
def test_an_unreadable_model_is_ignored_with_a_log_line(tmp_path, caplog, content) -> None:
    path = tmp_path / "classifier.pickle"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="paperfs.classify.learned"):
        assert load_model(path) is None
    assert f"cannot read {path}" in caplog.text and "trained anew" in caplog.text


def test_a_model_of_another_format_is_ignored_with_a_log_line(tmp_path, caplog) -> None:
    path = tmp_path / "classifier.pickle"
    path.write_bytes(pickle.dumps({"format": FORMAT_VERSION + 1}) + pickle.dumps({}))
    with caplog.at_level(logging.WARNING, logger="paperfs.classify.learned"):
        assert load_model(path) is None
    assert "another format" in caplog.text
    assert read_model_info(path) is None
    assert load_model(tmp_path / "missing.pickle") is None


def test_a_process_loads_the_model_once_until_the_file_changes(trained, tmp_path) -> None:
    path = tmp_path / "classifier.pickle"
    save_model(trained.model, path)
    first = cached_model(path)
    assert first is not None and cached_model(path) is first
    save_model(trained.model, path)
    os.utime(path, ns=(1, 1))  # a new file, whatever the clock's resolution
    second = cached_model(path)
    assert second is not None and second is not first
    path.unlink()
    assert cached_model(path) is None


def test_predicting_loads_neither_scipy_nor_scikit_learn(trained, tmp_path) -> None:
    """A worker that classifies stays small: numpy only."""
    path = tmp_path / "classifier.pickle"
    save_model(trained.model, path)
    probe = ("import sys; from paperfs.classify.learned import cached_model; "
             f"model = cached_model(__import__('pathlib').Path({str(path)!r})); "
             f"print(model.predict({trained.known[0].text!r}).correspondent[0][0]); "
             "print(' '.join(m for m in ('scipy', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(__file__)))
    assert out.returncode == 0, out.stderr
    predicted, loaded = (out.stdout.split("\n") + [""])[:2]
    assert predicted == trained.known[0].correspondent
    assert loaded == ""


def test_documents_sharing_no_word_are_too_few_to_learn_from() -> None:
    """Two documents with no word in common (an archive just imported, say):
    a clear ValueError, not an IndexError from an empty vocabulary."""
    few = [Example("invoice alpha", "ACME", None, ()), Example("letter beta", "Bank", None, ())]
    with pytest.raises(ValueError, match="too few documents to learn from: no word occurs in 2"):
        train(few, {"correspondents": frozenset({"ACME", "Bank"}),
                    "document_types": frozenset(), "tags": frozenset()})
