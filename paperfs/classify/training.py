"""Training the learned classifier from the archive, and only when it changed.

* **Examples** are read from the sidecars (the truth), one at a time, with
  the fast reader; documents with an inbox tag are left out (nobody has
  reviewed their labels yet).
* **The fingerprint** of the archive is a hash of every filed document's id,
  sidecar path, mtime and size, as the catalog records them (the tree's own
  stats when there is no index yet), and of the inbox tags: "the archive
  changed since the last training" is a comparison with the fingerprint in
  the model file's header, not a timer. 100,000 documents take a fraction of
  a second.
* ``retrain_if_changed`` trains and saves only when the fingerprint or the
  ``auto`` label names differ from the model's, and removes a stale model when
  no label is ``auto`` any more.
* One training at a time per data root: ``.paperfs/classifier.lock`` (flock)
  is held while one runs, which ``paperfs status`` reads (``training_running``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Mapping

from paperfs.archive.document import read_sidecar
from paperfs.archive.layout import DataRoot
from paperfs.archive.treesync import iter_sidecars
from paperfs.classify.model_file import read_model_info
from paperfs.errors import PaperfsError, SidecarError

if TYPE_CHECKING:
    from paperfs.classify.labels import LabelSet
    from paperfs.classify.learned import Example, Model
    from paperfs.runtime import Runtime

log = logging.getLogger(__name__)

#: the kinds of label the classifier learns (LabelSet.learned's argument)
KINDS = ("correspondents", "document_types", "tags")


class TrainingRunning(PaperfsError):
    """Another process trains the classifier of this data root now."""


def learned_names(labels: "LabelSet") -> dict[str, frozenset[str]]:
    return {kind: labels.learned(kind) for kind in KINDS}


def examples(root: DataRoot, inbox_tags: Iterable[str] = (),
             progress: Callable[[], None] | None = None) -> Iterator["Example"]:
    """Every archived document without an inbox tag, read from its sidecar.

    Streamed: one sidecar in memory at a time. A sidecar that is being moved or
    is invalid is skipped (the daemon reports invalid ones)."""
    from paperfs.classify.learned import Example

    inbox = frozenset(inbox_tags)
    for entry in iter_sidecars(root.archive):
        try:
            doc = read_sidecar(Path(entry.path))
        except (SidecarError, OSError) as problem:
            log.debug("classifier training: skipped %s (%s)", entry.path, problem)
            continue
        if progress is not None:
            progress()
        if inbox and not inbox.isdisjoint(doc.tags):
            continue
        yield Example(doc.content, doc.correspondent, doc.document_type, doc.tags)


def archive_fingerprint(runtime: "Runtime", inbox_tags: Iterable[str] = ()) -> str:
    """What changes whenever a document is filed, edited, moved or deleted."""
    digest = hashlib.sha256()
    digest.update(json.dumps(sorted(inbox_tags)).encode())
    if runtime.root.index_db.exists():
        catalog = runtime.open_catalog()
        try:
            for ref in catalog.refs():
                digest.update(f"{ref.id}\0{ref.path}\0{ref.mtime_ns}\0{ref.size}\n".encode())
        finally:
            catalog.close()
    else:  # no daemon has run yet: the tree itself
        for entry in iter_sidecars(runtime.root.archive):
            st = entry.stat(follow_symlinks=False)
            digest.update(f"{entry.path}\0{st.st_mtime_ns}\0{st.st_size}\n".encode())
    return digest.hexdigest()


def lock_path(root: DataRoot) -> Path:
    return root.state / "classifier.lock"


@contextlib.contextmanager
def training_lock(root: DataRoot) -> Iterator[None]:
    """Held while this process trains; TrainingRunning if another one does."""
    path = lock_path(root)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise TrainingRunning(f"the classifier is being trained now (process {holder}); "
                                  "wait for it to finish")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the flock


def training_running(root: DataRoot) -> bool:
    """Whether some process trains the classifier now (works on a read-only root)."""
    try:
        fd = os.open(lock_path(root), os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def train_archive(runtime: "Runtime", labels: "LabelSet", *,
                  progress: Callable[[], None] | None = None,
                  fingerprint: str | None = None) -> "Model":
    """Train on the archive now and save the model (ValueError: no documents to train on)."""
    from paperfs.classify.learned import save_model, train

    root = runtime.root
    inbox = labels.inbox_tags()
    with training_lock(root):
        if fingerprint is None:
            fingerprint = archive_fingerprint(runtime, inbox)
        started = time.monotonic()
        model = train(examples(root, inbox, progress), learned_names(labels),
                      fingerprint=fingerprint)
        save_model(model, root.classifier_model)
    classes = model.classes()
    log.info("classifier trained on %d documents in %.1f s (%d correspondents, %d document "
             "types, %d tags)", model.documents, time.monotonic() - started,
             len(classes["correspondents"]), len(classes["document_types"]), len(classes["tags"]))
    return model


def up_to_date(info: Mapping | None, fingerprint: str,
               learned: Mapping[str, frozenset[str]]) -> bool:
    """Whether a model file's header says it was trained on this state for these labels."""
    return (info is not None and info.get("fingerprint") == fingerprint
            and info.get("learned") == {kind: sorted(names) for kind, names in learned.items()})


def needs_training(runtime: "Runtime", labels: "LabelSet") -> bool:
    """Whether the archive or the ``auto`` labels changed since the model was trained.
    With no ``auto`` label, a model left from before is removed (its predictions
    would name labels no longer learned)."""
    path = runtime.root.classifier_model
    learned = learned_names(labels)
    if not any(learned.values()):
        if path.exists():
            path.unlink()
            log.info("classifier: no label is auto any more; removed %s", path)
        return False
    fingerprint = archive_fingerprint(runtime, labels.inbox_tags())
    return not up_to_date(read_model_info(path), fingerprint, learned)


def retrain_if_changed(runtime: "Runtime", labels: "LabelSet | None" = None) -> bool:
    """Train and save when ``needs_training``; True when it trained."""
    if labels is None:
        labels = runtime.labels.current()
    if not needs_training(runtime, labels):
        return False
    try:
        train_archive(runtime, labels)
    except ValueError as problem:  # nothing filed yet, or everything in the inbox
        log.info("classifier not trained: %s", problem)
        return False
    return True
