"""Training the classifier from a real data root: examples from the sidecars, retraining
only when the archive or the auto labels changed, `paperfs train`, `paperfs status`,
and the scheduled training of a real `paperfs run` daemon."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import sys
import time
from pathlib import Path

import pytest

from paperfs.archive.document import (ArchiveInfo, Document, OriginalInfo, read_sidecar,
                                      write_sidecar)
from paperfs.archive.layout import DataRoot
from paperfs.classify.learned import load_model
from paperfs.classify.model_file import read_model_info
from paperfs.classify.training import (TrainingRunning, examples, retrain_if_changed,
                                       training_lock, training_running)
from paperfs.daemon.status import collect_status
from paperfs.runtime import Runtime
from tests.daemon import Daemon
from tests.helpers import config_for, init_root
from tests.letter_corpus import Letter, LetterCorpus
from tests.samples import make_text_pdf

LABELS = """\
tags:
  tax: {algorithm: auto}
  urgent: {algorithm: auto}
  keep: {algorithm: auto}
  bank: {algorithm: auto}
  New: {inbox: true}
correspondents:
%s
document_types:
  invoice: {algorithm: auto}
  reminder: {algorithm: auto}
  contract: {algorithm: auto}
  statement: {algorithm: auto}
"""


def labels_for(corpus: LetterCorpus) -> str:
    return LABELS % "\n".join(f"  {name}: {{algorithm: auto}}" for name in corpus.known)


def tiny_pdf(doc_id: int) -> bytes:
    return b"%PDF-1.4\n% letter " + str(doc_id).encode() + b"\n%%EOF\n"


def file_letters(root: DataRoot, letters: list[Letter], first_id: int = 1,
                 extra_tags: tuple[str, ...] = ()) -> None:
    """Letters as filed documents (PDF, original, sidecar); the index learns them when
    the archive is next opened (start-up sync)."""
    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    for doc_id, letter in enumerate(letters, start=first_id):
        pdf = tiny_pdf(doc_id)
        digest = hashlib.sha256(pdf).hexdigest()
        original = root.original_path(doc_id, ".pdf")
        original.parent.mkdir(parents=True, exist_ok=True)
        original.write_bytes(pdf)
        folder = root.archive / (letter.correspondent or "none")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{doc_id}.pdf").write_bytes(pdf)
        write_sidecar(folder / f"{doc_id}.yml", Document(
            id=doc_id, title=f"letter {doc_id}", created=now.date(), added=now, modified=now,
            original=OriginalInfo(f"{doc_id}.pdf", "application/pdf", digest,
                                  str(original.relative_to(root.root))),
            archive=ArchiveInfo(digest, 1), correspondent=letter.correspondent,
            document_type=letter.document_type, tags=letter.tags + extra_tags,
            content=letter.text))
    root.id_counter.write_text(f"{first_id + len(letters)}\n")


def indexed(runtime: Runtime) -> None:
    with runtime.archive():  # the start-up sync indexes what was written by hand
        pass


@pytest.fixture()
def archive(tmp_path):
    root = init_root(tmp_path)
    corpus = LetterCorpus(seed=11)
    (root.root / "labels.yml").write_text(labels_for(corpus))
    file_letters(root, corpus.archive(120))
    runtime = Runtime(config_for(root))
    indexed(runtime)
    return root, runtime, corpus


def test_examples_come_from_the_sidecars_without_inbox_documents(tmp_path) -> None:
    root = init_root(tmp_path)
    corpus = LetterCorpus(seed=2)
    file_letters(root, corpus.archive(5))
    file_letters(root, corpus.archive(2), first_id=6, extra_tags=("New",))
    (root.archive / "broken.yml").write_text("id: [unclosed\n")
    found = list(examples(root, inbox_tags=("New",)))
    assert len(found) == 5
    assert {e.text for e in found} == {read_sidecar(p).content
                                      for p in root.archive.rglob("*.yml")
                                      if p.name != "broken.yml" and "New" not in read_sidecar(p).tags}


def test_it_retrains_only_when_the_archive_or_the_auto_labels_change(archive) -> None:
    root, runtime, corpus = archive
    assert retrain_if_changed(runtime) is True
    first = read_model_info(root.classifier_model)
    assert first["documents"] == 120
    assert retrain_if_changed(runtime) is False  # nothing changed
    assert read_model_info(root.classifier_model) == first

    with runtime.document_writer() as writer:  # an edit: the archive changed
        writer.update(1, lambda doc: doc.replace(title="edited"))
    assert retrain_if_changed(runtime) is True
    assert retrain_if_changed(runtime) is False

    labels = root.root / "labels.yml"  # a new auto label: the names changed
    labels.write_text(labels.read_text().replace("  bank: {algorithm: auto}\n",
                                                 "  bank: {algorithm: auto}\n  home: {algorithm: auto}\n"))
    runtime = Runtime(config_for(root))
    assert retrain_if_changed(runtime) is True
    assert "home" in read_model_info(root.classifier_model)["learned"]["tags"]

    labels.write_text("tags:\n  tax: {match: tax}\n")  # no auto label: the model goes
    assert retrain_if_changed(Runtime(config_for(root))) is False
    assert not root.classifier_model.exists()


def test_the_trained_model_recognises_the_senders(archive) -> None:
    root, runtime, corpus = archive
    retrain_if_changed(runtime)
    model = load_model(root.classifier_model)
    letters = [l for l in corpus.archive(40) if l.correspondent][:30]
    right = sum(model.predict(l.text).correspondent[0][0] == l.correspondent for l in letters)
    assert right >= 0.9 * len(letters)
    stranger = corpus.unknown()
    assert model.predict(stranger.text).correspondent[0][1] < 0.7


def test_one_training_at_a_time_and_status_says_so(archive) -> None:
    root, runtime, corpus = archive
    assert collect_status(runtime)["classifier"] is None
    with training_lock(root):
        assert training_running(root)
        assert collect_status(runtime)["classifier"]["training"] is True
        with pytest.raises(TrainingRunning, match="being trained now"):
            retrain_if_changed(runtime)
    assert not training_running(root)
    retrain_if_changed(runtime)
    status = collect_status(runtime)["classifier"]
    assert status["documents"] == 120 and status["training"] is False
    assert status["classes"] == {"correspondents": len(corpus.known), "document_types": 4, "tags": 4}


def paperfs(root: DataRoot, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "paperfs", "--root", str(root.root), *args],
                          capture_output=True, text=True, timeout=120)


def test_paperfs_train_and_status(archive) -> None:
    root, runtime, corpus = archive
    out = paperfs(root, "train")
    assert out.returncode == 0, out.stderr
    assert "trained on 120 documents" in out.stdout
    assert f"correspondents: {len(corpus.known)}" in out.stdout
    assert "reading documents" in out.stderr  # the progress bar
    again = paperfs(root, "train")
    assert again.returncode == 0 and "up to date" in again.stdout
    forced = paperfs(root, "train", "--force")
    assert "trained on 120 documents" in forced.stdout
    status = paperfs(root, "status")
    assert "classifier:  trained " in status.stdout and "on 120 documents" in status.stdout


def test_paperfs_train_reports_an_invalid_labels_file(archive) -> None:
    root, runtime, corpus = archive
    (root.root / "labels.yml").write_text("tags:\n  bad: {algorithm: nonsense}\n")
    out = paperfs(root, "train")
    assert out.returncode == 2
    assert "labels.yml: line 2" in out.stderr
    assert not root.classifier_model.exists()


@pytest.mark.slow
def test_the_daemon_trains_when_the_archive_changed_and_not_otherwise(tmp_path) -> None:
    root = init_root(tmp_path, "classify:\n  retrain_check_seconds: 0.5\n")
    corpus = LetterCorpus(seed=11)
    (root.root / "labels.yml").write_text(labels_for(corpus))
    file_letters(root, corpus.archive(120))
    daemon = Daemon(root, tmp_path / "daemon.log").start()
    try:
        daemon.wait_for(lambda: (read_model_info(root.classifier_model) or {}).get("documents")
                        == 120, 60, "the first training")
        # a letter of a known sender is filed with its sender (the model is in use) …
        letter = next(l for l in corpus.archive(50) if l.correspondent == corpus.known[0])
        words = letter.text.split()
        make_text_pdf(root.inbox / "new.pdf", [" ".join(words[i:i + 12])
                                               for i in range(0, len(words), 12)])
        daemon.wait_for(lambda: daemon.status().get("filed_since_start") == 1, 60, "filed")
        # … and the archive changed: trained once more (the new letter has the inbox
        # tag: not learned from), then left alone
        daemon.wait_for(lambda: daemon.log().count("classifier trained on 120") == 2, 60,
                        "the second training")
        time.sleep(3)  # six checks
    finally:
        daemon.stop()
    assert daemon.log().count("training in the background") == 2, daemon.log()
    filed = [read_sidecar(p) for p in root.archive.rglob("*.yml")]
    [new] = [doc for doc in filed if doc.original.filename == "new.pdf"]
    assert new.correspondent == corpus.known[0]
