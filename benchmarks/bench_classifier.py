"""Classifier benchmark: paperfs' learned classifier beside paperless-ngx's model.

    .venv/bin/python -m benchmarks classifier [--docs 10000 [100000 ...]] [--test 1000]
                                              [--no-reference]

The corpus (tests/letter_corpus.py, seeded): one correspondent writes 60 % of
the archive's letters, seven smaller ones the rest but 5 % from senders
nobody labelled (``--unlabelled``); every letter has the common letter words, a document type
and tags that follow from it. Held out: ``--test`` letters of known senders
and ``--test`` letters of senders the archive has never seen.

Each model is trained in a fresh process (so its peak memory is its own):
paperfs (classify/learned.py: hashed tf-idf, logistic regression with a
*none* class, applied at the default threshold 0.7) and paperless-ngx's
configuration re-created (its preprocessing, CountVectorizer 1–2-grams with
min_df 0.01, one MLPClassifier(tol=0.01) each for tags, correspondent and
document type — no storage paths in the corpus, which paperless then skips —
and its argmax, no threshold). Printed per size and model: training seconds,
peak memory (ru_maxrss) and what training added to it, accuracy on the
known senders, the rate of wrong assignments on unknown senders, document
type accuracy, exact tag sets, and the prediction time per document; then
the ratios paperless / paperfs.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THRESHOLD = 0.7
PREDICT_SAMPLE = 300


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def corpus(docs: int, test: int, seed: int, unlabelled: float):
    from tests.letter_corpus import LetterCorpus

    letters = LetterCorpus(seed=seed, unlabelled_share=unlabelled)
    archive = letters.archive(docs)
    known = [l for l in letters.archive(test * 2) if l.correspondent][:test]
    unknown = [letters.unknown() for _ in range(test)]
    return archive, known, unknown


# ---------------------------------------------------------------- the two models


class Paperfs:
    def __init__(self, archive) -> None:
        from paperfs.classify.learned import Example, train
        from tests.letter_corpus import TAGS_OF_TYPE, TYPE_WORDS

        learned = {"correspondents": frozenset(l.correspondent for l in archive if l.correspondent),
                   "document_types": frozenset(TYPE_WORDS),
                   "tags": frozenset(t for tags in TAGS_OF_TYPE.values() for t in tags)}
        self.model = train((Example(l.text, l.correspondent, l.document_type, l.tags)
                            for l in archive), learned)

    @staticmethod
    def _pick(ranked):
        return ranked[0][0] if ranked and ranked[0][1] >= THRESHOLD else None

    def predict(self, text: str):
        p = self.model.predict(text)
        return (self._pick(p.correspondent), self._pick(p.document_type),
                frozenset(name for name, prob in p.tags if prob >= THRESHOLD))


def _paperless_preprocess(content: str) -> str:
    content = content.lower().strip()
    content = re.sub(r"\s+", " ", content)
    return re.sub(r"[^\w\s]", " ", content)


class Paperless:
    """paperless-ngx's DocumentClassifier.train/predict, on the same letters."""

    def __init__(self, archive) -> None:
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.neural_network import MLPClassifier
        from sklearn.preprocessing import MultiLabelBinarizer

        correspondents = sorted({l.correspondent for l in archive if l.correspondent})
        types = sorted({l.document_type for l in archive})
        self.ids = {name: i for i, name in enumerate(correspondents + types)}
        self.names = {i: name for name, i in self.ids.items()}
        y_correspondent = [self.ids[l.correspondent] if l.correspondent else -1 for l in archive]
        y_type = [self.ids[l.document_type] for l in archive]
        y_tags = [sorted(l.tags) for l in archive]
        self.vectorizer = CountVectorizer(analyzer="word", ngram_range=(1, 2), min_df=0.01)
        x = self.vectorizer.fit_transform(_paperless_preprocess(l.text) for l in archive)
        self.vectorizer.stop_words_ = None
        self.binarizer = MultiLabelBinarizer()
        self.tags = MLPClassifier(tol=0.01).fit(x, self.binarizer.fit_transform(y_tags))
        self.correspondent = MLPClassifier(tol=0.01).fit(x, y_correspondent)
        self.document_type = MLPClassifier(tol=0.01).fit(x, y_type)

    def predict(self, text: str):
        x = self.vectorizer.transform([_paperless_preprocess(text)])
        correspondent = int(self.correspondent.predict(x)[0])
        document_type = int(self.document_type.predict(x)[0])
        tags = self.binarizer.inverse_transform(self.tags.predict(x))[0]
        return (self.names.get(correspondent) if correspondent != -1 else None,
                self.names.get(document_type) if document_type != -1 else None,
                frozenset(tags))


MODELS = {"paperfs": Paperfs, "paperless": Paperless}


def measure(model_name: str, docs: int, test: int, seed: int, unlabelled: float) -> dict:
    """One model at one size, in this (fresh) process."""
    archive, known, unknown = corpus(docs, test, seed, unlabelled)
    before = _rss_mib()
    started = time.perf_counter()
    model = MODELS[model_name](archive)
    seconds = time.perf_counter() - started
    peak = _rss_mib()
    del archive
    results = [(l, model.predict(l.text)) for l in known + unknown]
    started = time.perf_counter()
    for letter in (known + unknown)[:PREDICT_SAMPLE]:
        model.predict(letter.text)
    predict_ms = (time.perf_counter() - started) / min(PREDICT_SAMPLE, len(results)) * 1e3
    on_known = [(l, p) for l, p in results if l in known]
    on_unknown = results[len(known):]
    return {
        "model": model_name, "docs": docs, "train_seconds": seconds,
        "peak_mib": peak, "training_mib": peak - before,
        "known_right": sum(p[0] == l.correspondent for l, p in on_known) / len(on_known),
        "unknown_wrong": sum(p[0] is not None for _, p in on_unknown) / len(on_unknown),
        "type_right": sum(p[1] == l.document_type for l, p in results) / len(results),
        "tags_exact": sum(p[2] == frozenset(l.tags) for l, p in results) / len(results),
        "predict_ms": predict_ms,
    }


def _in_fresh_process(model: str, docs: int, args: argparse.Namespace) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.bench_classifier", "--worker", model,
                          "--docs", str(docs), "--test", str(args.test), "--seed", str(args.seed),
                          "--unlabelled", str(args.unlabelled)],
                         cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{model} at {docs} documents failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _row(r: dict) -> str:
    return (f"{r['model']:<10} {r['docs']:>7,} docs: train {r['train_seconds']:7.1f} s, "
            f"peak {r['peak_mib']:6.0f} MiB (training +{r['training_mib']:5.0f}), "
            f"known senders right {r['known_right']:6.1%}, unknown senders assigned "
            f"{r['unknown_wrong']:6.1%}, type {r['type_right']:6.1%}, tags {r['tags_exact']:6.1%}, "
            f"predict {r['predict_ms']:.2f} ms")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks classifier",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, nargs="+", default=[10_000],
                        help="archive sizes to train on (default 10000; the issue also asks 100000)")
    parser.add_argument("--test", type=int, default=1000,
                        help="held-out letters of known senders, and as many of unknown ones")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--unlabelled", type=float, default=0.05, metavar="SHARE",
                        help="share of archived letters from senders nobody labelled (default "
                             "0.05; 0: every letter has a known correspondent)")
    parser.add_argument("--no-reference", action="store_true",
                        help="skip paperless-ngx's model")
    parser.add_argument("--worker", choices=sorted(MODELS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(measure(args.worker, args.docs[0], args.test, args.seed,
                                 args.unlabelled)))
        return 0
    models = ["paperfs"] + ([] if args.no_reference else ["paperless"])
    print(f"threshold {THRESHOLD} (paperfs); paperless: argmax. Each model in a fresh process; "
          f"{args.unlabelled:.0%} of the archive from unlabelled senders.")
    for docs in args.docs:
        results = {}
        for model in models:
            results[model] = _in_fresh_process(model, docs, args)
            print(_row(results[model]), flush=True)
        if len(results) == 2:
            ours, ref = results["paperfs"], results["paperless"]
            print(f"  paperless / paperfs at {docs:,}: training time "
                  f"{ref['train_seconds'] / ours['train_seconds']:.1f}x, peak memory "
                  f"{ref['peak_mib'] / ours['peak_mib']:.1f}x (training's own "
                  f"{ref['training_mib'] / max(ours['training_mib'], 1):.1f}x), wrong assignments "
                  f"on unknown senders {ref['unknown_wrong']:.1%} vs {ours['unknown_wrong']:.1%}, "
                  f"known senders right {ref['known_right']:.1%} vs {ours['known_right']:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
