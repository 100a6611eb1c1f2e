"""The learned classifier (algorithm ``auto``): correspondent, document type and tags
predicted from a document's text, each with a probability.

The model, chosen by measurement (benchmarks/bench_classifier.py, docs/performance.md):

* **features**: the words of the first ``MAX_CHARS`` characters, hashed into
  ``HASH_FEATURES`` columns (no vocabulary to hold while counting), of which
  those in at least ``MIN_DF`` documents are kept (``MAX_FEATURES`` at most,
  the most frequent); tf-idf with a logarithmic term frequency, rows of unit
  length. Memory is bounded whatever the archive's words.
* **correspondent, document type**: one multinomial logistic regression each,
  over the ``auto`` labels plus an explicit class *none*, which every training
  document without one of them teaches. A letter from an unknown sender
  shares only the common words with the archive, which carry little weight,
  so no class gets a high probability (and *none* often the highest): with a
  threshold it stays unassigned instead of getting the most frequent sender.
* **tags**: one binary logistic regression per ``auto`` tag.

Logistic regression gives probabilities that mean what they say (it minimises
log loss), unlike paperless-ngx's MLPs, which are close to 0 or 1 for any
text. Training uses scipy and scikit-learn; prediction only numpy (the words
are hashed with CRC-32 from the standard library), so a worker process does
not load scikit-learn (a second and 100 MiB), and a model file holds plain
arrays and names, not pickled scikit-learn objects: another scikit-learn
version reads it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import numpy as np

from paperfs.classify.model_file import (FORMAT_VERSION, ModelFormatError, read_model_file,
                                         write_model_file)

if TYPE_CHECKING:
    from scipy import sparse

log = logging.getLogger(__name__)

#: the kinds of label the model predicts, as LabelSet.learned() names them
KINDS = ("correspondents", "document_types", "tags")
#: only the start of a long document is read: the letterhead, the subject and the
#: first pages say who wrote it and what it is; the rest costs time and memory
MAX_CHARS = 20_000
HASH_FEATURES = 2 ** 20
#: a word in fewer documents is noise (OCR errors, numbers) and not learned
MIN_DF = 2
MAX_FEATURES = 100_000
#: inverse regularisation strength of the regressions (measured: see the benchmark)
C = 20.0
#: saga needs memory for the coefficients and one gradient per document; lbfgs keeps
#: twenty-odd copies of the coefficients (measured: 100 MiB less at 30k documents, and
#: faster at this tolerance, with the same calibration)
SOLVER = {"solver": "saga", "tol": 1e-2, "max_iter": 300}
#: how much more often than elsewhere a word is in a label's documents to be its own
OWN_WORD_RATIO = 4.0
#: made-up letters of unknown senders, per document of the archive (and at least)
NONE_EXAMPLES_SHARE = 0.1
NONE_EXAMPLES_MIN = 50
#: documents hashed at a time while training
BATCH = 2000
#: the name of the "none of them" class inside the model; never returned
NONE = "\x00none"
#: a word: two or more letters or digits
_TOKEN = re.compile(r"\b\w\w+\b")
_HASH_MASK = HASH_FEATURES - 1


@dataclass(frozen=True)
class Example:
    """One training document (documents with an inbox tag are left out by the caller)."""

    text: str
    correspondent: str | None
    document_type: str | None
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Predictions:
    """Each tuple sorted by probability, highest first; probabilities 0..1."""

    correspondent: tuple[tuple[str, float], ...] = ()
    document_type: tuple[tuple[str, float], ...] = ()
    tags: tuple[tuple[str, float], ...] = ()


def hashed_words(text: str) -> tuple[np.ndarray, np.ndarray]:
    """A document's words as (hash columns, counts): the words of its first
    ``MAX_CHARS`` characters, lower-cased, each hashed (CRC-32) into one of
    ``HASH_FEATURES`` columns. Standard library and numpy only, so a worker that
    predicts loads neither scipy nor scikit-learn."""
    columns: dict[int, int] = {}
    for word, count in Counter(_TOKEN.findall(text[:MAX_CHARS].lower())).items():
        column = zlib.crc32(word.encode()) & _HASH_MASK
        columns[column] = columns.get(column, 0) + count
    return (np.fromiter(columns.keys(), dtype=np.int32, count=len(columns)),
            np.fromiter(columns.values(), dtype=np.float32, count=len(columns)))


def _hashed(texts: list[str]) -> "sparse.csr_matrix":
    """Documents' hashed words as the rows of a sparse matrix (for training)."""
    from scipy import sparse

    rows = [hashed_words(text) for text in texts]
    indptr = np.cumsum([0] + [len(columns) for columns, _ in rows])
    # 32-bit positions while they fit: half the memory, and scipy keeps them so
    indptr = indptr.astype(np.int32 if indptr[-1] < 2 ** 31 else np.int64)
    return sparse.csr_matrix((np.concatenate([counts for _, counts in rows]),
                              np.concatenate([columns for columns, _ in rows]), indptr),
                             shape=(len(rows), HASH_FEATURES))


@dataclass
class _Features:
    """Hashed words → the kept columns → tf-idf, rows of unit length."""

    columns: np.ndarray  # int32, sorted: the hash columns kept
    idf: np.ndarray  # float32, one per kept column
    _position: np.ndarray | None = field(default=None, repr=False)

    def position(self) -> np.ndarray:
        if self._position is None:  # hash column -> kept column, or -1
            position = np.full(HASH_FEATURES, -1, dtype=np.int32)
            position[self.columns] = np.arange(len(self.columns), dtype=np.int32)
            self._position = position
        return self._position

    def weights(self, columns: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One document's kept columns and their tf-idf weights, of unit length: what
        ``select`` makes of its row, without scipy."""
        mapped = self.position()[columns]
        kept = mapped >= 0
        mapped = mapped[kept]
        weights = (1.0 + np.log(counts[kept])) * self.idf[mapped]
        length = float(np.sqrt(weights @ weights))
        return mapped, (weights / length if length else weights)

    def select(self, hashed: "sparse.csr_matrix") -> "sparse.csr_matrix":
        """The kept columns of hashed counts, as tf-idf rows of unit length."""
        mapped = self.position()[hashed.indices]
        dropped = mapped < 0
        data = np.log(hashed.data, dtype=np.float32)  # 1 + log(tf): a repeated word counts less
        data += 1.0
        data[dropped] = 0.0
        mapped[dropped] = 0
        data *= self.idf[mapped]
        from scipy import sparse

        out = sparse.csr_matrix((data, mapped, hashed.indptr),
                                shape=(hashed.shape[0], len(self.columns)))
        out.eliminate_zeros()
        return _unit_rows(out)

    @classmethod
    def fit(cls, df: np.ndarray, documents: int) -> "_Features":
        """The columns to keep, from each column's document frequency."""
        candidates = np.flatnonzero(df >= MIN_DF)
        if len(candidates) > MAX_FEATURES:
            order = np.argsort(-df[candidates], kind="stable")[:MAX_FEATURES]
            candidates = np.sort(candidates[order])
        idf = np.log((1 + documents) / (1 + df[candidates])) + 1.0
        return cls(candidates.astype(np.int32), idf.astype(np.float32))


@dataclass
class _Softmax:
    """A multinomial regression: one row of weights per class."""

    names: list[str]
    coef: np.ndarray  # float32 (classes, features)
    intercept: np.ndarray

    def probabilities(self, x: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        columns, weights = x
        scores = self.coef[:, columns] @ weights + self.intercept
        scores -= scores.max()
        exp = np.exp(scores)
        return exp / exp.sum()


@dataclass
class _Sigmoids:
    """Binary regressions side by side: one row of weights per tag."""

    names: list[str]
    coef: np.ndarray
    intercept: np.ndarray

    def probabilities(self, x: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        columns, weights = x
        scores = self.coef[:, columns] @ weights + self.intercept
        return 1.0 / (1.0 + np.exp(-scores))


def _ranked(names: list[str], probabilities: np.ndarray) -> tuple[tuple[str, float], ...]:
    pairs = [(name, float(p)) for name, p in zip(names, probabilities) if name != NONE]
    return tuple(sorted(pairs, key=lambda pair: (-pair[1], pair[0])))


@dataclass
class Model:
    """A trained classifier; ``predict`` is what the classify stage calls."""

    features: _Features
    correspondent: _Softmax | None
    document_type: _Softmax | None
    tags: _Sigmoids | None
    #: the archive state it was trained on (paperfs/classify/training.py)
    fingerprint: str = ""
    #: the auto label names it was trained for, per kind
    learned: dict[str, list[str]] = field(default_factory=dict)
    documents: int = 0
    trained_at: str = ""
    seconds: float = 0.0

    def vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The text's kept columns and their weights."""
        return self.features.weights(*hashed_words(text))

    def predict(self, text: str) -> Predictions:
        x = self.vector(text)
        return Predictions(
            correspondent=_ranked(self.correspondent.names, self.correspondent.probabilities(x))
            if self.correspondent else (),
            document_type=_ranked(self.document_type.names, self.document_type.probabilities(x))
            if self.document_type else (),
            tags=_ranked(self.tags.names, self.tags.probabilities(x)) if self.tags else (),
        )

    def classes(self) -> dict[str, list[str]]:
        """The labels it can predict, per kind (an auto label no document has is not one)."""
        def names(part: _Softmax | _Sigmoids | None) -> list[str]:
            return [name for name in part.names if name != NONE] if part else []

        return {"correspondents": names(self.correspondent),
                "document_types": names(self.document_type), "tags": names(self.tags)}

    def info(self) -> dict[str, Any]:
        """What the model file's header says (model_file.read_model_info reads it alone)."""
        return {"format": FORMAT_VERSION, "fingerprint": self.fingerprint,
                "learned": self.learned, "classes": self.classes(),
                "documents": self.documents, "trained_at": self.trained_at,
                "seconds": round(self.seconds, 3)}


# ---------------------------------------------------------------- training


def _unit_rows(x: sparse.csr_matrix) -> sparse.csr_matrix:
    """Every row scaled to length 1, in place (an empty row stays empty)."""
    lengths = np.diff(x.indptr)
    filled = lengths > 0
    if filled.any():
        # the starts of the non-empty rows rise strictly: reduceat sums exactly each row
        squares = np.add.reduceat(x.data * x.data, x.indptr[:-1][filled])
        norms = np.ones(x.shape[0], dtype=x.dtype)
        norms[filled] = np.sqrt(squares)
        x.data /= np.repeat(norms, lengths)
    return x


def _shared_columns(x: sparse.csr_matrix, targets: list[str]) -> np.ndarray:
    """The words no label owns: a word is a label's own when documents of that label
    have it ``OWN_WORD_RATIO`` times as often (smoothed) as the other documents."""
    names = sorted(set(targets) - {NONE})
    index = {name: i for i, name in enumerate(names)}
    rows = np.array([index.get(t, -1) for t in targets])
    from scipy import sparse

    labelled = np.flatnonzero(rows >= 0)
    presence = sparse.csr_matrix((np.ones_like(x.data), x.indices, x.indptr), shape=x.shape)
    owner = sparse.csr_matrix((np.ones(len(labelled), np.float32), (rows[labelled], labelled)),
                              shape=(len(names), x.shape[0]))
    df = (owner @ presence).tocoo()  # (labels, words): documents of the label with the word
    total = np.asarray(df.sum(axis=0)).ravel()
    count = np.bincount(rows[labelled], minlength=len(names)).astype(np.float64)
    rest = len(labelled) - count
    rate_in = (df.data + 1) / (count[df.row] + 2)
    rate_out = (total[df.col] - df.data + 1) / (rest[df.row] + 2)
    ratio = np.zeros(x.shape[1])
    np.maximum.at(ratio, df.col, rate_in / rate_out)
    return ratio < OWN_WORD_RATIO


def _none_examples(x: sparse.csr_matrix, targets: list[str]) -> sparse.csr_matrix:
    """Letters as an unknown sender would write them, to teach the class *none*:
    labelled documents with every word a label owns taken out. Without them, an
    archive in which every document has an auto label has no *none* to learn, and a
    letter from a stranger (which shares only the common words with the archive)
    looks like a letter of the most frequent one."""
    labelled = [i for i, t in enumerate(targets) if t != NONE]
    rng = np.random.default_rng(len(targets))
    count = min(len(labelled), max(NONE_EXAMPLES_MIN, int(len(targets) * NONE_EXAMPLES_SHARE)))
    sample = np.sort(rng.choice(labelled, size=count, replace=False))
    from scipy import sparse

    keep = _shared_columns(x, targets).astype(np.float32)
    rows = (x[sample] @ sparse.diags(keep)).tocsr()
    rows.eliminate_zeros()
    rows = rows[np.diff(rows.indptr) > 0]
    return _unit_rows(rows)


def _softmax(x: "sparse.csr_matrix", targets: list[str]) -> _Softmax | None:
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    names = sorted(set(targets))
    if not any(name != NONE for name in names):
        return None  # no document has one of the auto labels: nothing to learn
    if len(names) == 1:
        # Every document has the one auto label: nothing tells it from others yet.
        log.info("classifier: every training document has %r; not learned until some "
                 "document has another or none", names[0])
        return None
    extra = _none_examples(x, targets)
    regression = LogisticRegression(C=C, **SOLVER)
    regression.fit(sparse.vstack([x, extra], format="csr"), targets + [NONE] * extra.shape[0])
    names = [str(name) for name in regression.classes_]
    coef, intercept = regression.coef_, regression.intercept_
    if len(names) == 2:  # a binary regression has one row: the second class's
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    return _Softmax(names, coef.astype(np.float32),
                    intercept.astype(np.float32))


def _sigmoids(x: sparse.csr_matrix, tag_sets: list[frozenset[str]],
              learned: frozenset[str]) -> _Sigmoids | None:
    from sklearn.linear_model import LogisticRegression

    names, rows, intercepts = [], [], []
    for name in sorted(learned):
        y = np.fromiter((name in tags for tags in tag_sets), dtype=bool, count=len(tag_sets))
        if not y.any() or y.all():
            continue  # on no document, or on all: nothing to tell apart
        regression = LogisticRegression(C=C, **SOLVER)
        regression.fit(x, y)
        names.append(name)
        rows.append(regression.coef_[0])
        intercepts.append(regression.intercept_[0])
    if not names:
        return None
    return _Sigmoids(names, np.vstack(rows).astype(np.float32),
                     np.array(intercepts, dtype=np.float32))


def train(examples: Iterable[Example], learned: Mapping[str, frozenset[str]], *,
          fingerprint: str = "") -> Model:
    """A model of the ``auto`` labels in ``learned`` ({"correspondents": names,
    "document_types": names, "tags": names}) from the examples, streamed: their
    texts are hashed in batches and not kept.

    A document whose correspondent (or type) is not one of ``learned`` — or has
    none — teaches "none of them": that is how a letter from an unknown sender
    stays unassigned. The caller leaves out documents with an inbox tag (they
    are not reviewed yet)."""
    from scipy import sparse

    started = time.monotonic()
    correspondents = frozenset(learned.get("correspondents", ()))
    types = frozenset(learned.get("document_types", ()))
    tag_names = frozenset(learned.get("tags", ()))
    blocks: list[sparse.csr_matrix] = []
    df = np.zeros(HASH_FEATURES, dtype=np.int64)  # documents per hashed word
    y_correspondent: list[str] = []
    y_type: list[str] = []
    tag_sets: list[frozenset[str]] = []
    batch: list[str] = []
    for example in examples:
        batch.append(example.text)
        y_correspondent.append(example.correspondent
                               if example.correspondent in correspondents else NONE)
        y_type.append(example.document_type if example.document_type in types else NONE)
        tag_sets.append(frozenset(example.tags) & tag_names)
        if len(batch) >= BATCH:
            blocks.append(_hashed(batch))
            df += np.bincount(blocks[-1].indices, minlength=HASH_FEATURES)
            batch = []
    if batch:
        blocks.append(_hashed(batch))
        df += np.bincount(blocks[-1].indices, minlength=HASH_FEATURES)
    if not blocks:
        raise ValueError("no documents to train on")
    features = _Features.fit(df, len(y_correspondent))
    if not len(features.columns):  # nothing to weigh a document by
        raise ValueError(f"too few documents to learn from: no word occurs in {MIN_DF} of "
                         f"the {len(y_correspondent)} documents")
    # block by block, each hashed block freed once selected: memory for one copy, not two
    selected = []
    while blocks:
        selected.append(features.select(blocks.pop(0)))
    x = sparse.vstack(selected, format="csr") if len(selected) > 1 else selected[0]
    del selected
    return Model(
        features=features,
        correspondent=_softmax(x, y_correspondent),
        document_type=_softmax(x, y_type),
        tags=_sigmoids(x, tag_sets, tag_names),
        fingerprint=fingerprint,
        learned={kind: sorted(learned.get(kind, ())) for kind in KINDS},
        documents=x.shape[0],
        trained_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        seconds=time.monotonic() - started,
    )


# ---------------------------------------------------------------- the file


def _payload(model: Model) -> dict[str, Any]:
    def part(p: _Softmax | _Sigmoids | None) -> dict[str, Any] | None:
        return None if p is None else {"names": p.names, "coef": p.coef,
                                       "intercept": p.intercept}

    return {"columns": model.features.columns, "idf": model.features.idf,
            "correspondent": part(model.correspondent),
            "document_type": part(model.document_type), "tags": part(model.tags)}


def save_model(model: Model, path: Path) -> None:
    """Write the model atomically (classify/model_file.py: a header, then the arrays)."""
    write_model_file(path, model.info(), _payload(model))


def load_model(path: Path) -> Model | None:
    """The model in ``path``; None when it is missing, unreadable or of another
    format version (logged: it is trained anew at the next check)."""
    try:
        header, payload = read_model_file(path)
        return _model_from(header, payload)
    except FileNotFoundError:
        return None
    except ModelFormatError as problem:
        log.warning("classifier: %s is of %s; ignored until it is trained anew", path, problem)
        return None
    except Exception as problem:  # noqa: BLE001 - a damaged file must not stop classifying
        log.warning("classifier: cannot read %s (%s: %s); ignored until it is trained anew",
                    path, type(problem).__name__, problem)
        return None


def _model_from(info: dict[str, Any], payload: dict[str, Any]) -> Model:
    def part(kind: type, data: dict[str, Any] | None) -> Any:
        if data is None:
            return None
        return kind(list(data["names"]), np.asarray(data["coef"], dtype=np.float32),
                    np.asarray(data["intercept"], dtype=np.float32))

    return Model(
        features=_Features(np.asarray(payload["columns"], dtype=np.int32),
                           np.asarray(payload["idf"], dtype=np.float32)),
        correspondent=part(_Softmax, payload["correspondent"]),
        document_type=part(_Softmax, payload["document_type"]),
        tags=part(_Sigmoids, payload["tags"]),
        fingerprint=str(info.get("fingerprint", "")),
        learned=dict(info.get("learned") or {}),
        documents=int(info.get("documents", 0)),
        trained_at=str(info.get("trained_at", "")),
        seconds=float(info.get("seconds", 0.0)),
    )


#: path -> ((mtime_ns, size), model): a worker unpickles a model once, not per task
_CACHE: dict[Path, tuple[tuple[int, int], Model | None]] = {}


def cached_model(path: Path) -> Model | None:
    """``load_model(path)``, kept per process until the file changes."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        _CACHE.pop(path, None)
        return None
    key = (st.st_mtime_ns, st.st_size)
    hit = _CACHE.get(path)
    if hit is not None and hit[0] == key:
        return hit[1]
    model = load_model(path)
    _CACHE[path] = (key, model)
    return model
