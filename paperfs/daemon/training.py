"""The daemon's classifier training: a scheduled check, a training process.

Every ``classify.retrain_check_seconds``, while nothing is being consumed,
the job compares the archive's fingerprint and the ``auto`` labels with the
model file's header (classify/training.py: a fraction of a second, no
scikit-learn in the daemon). When they differ it starts a training process
and returns: at 100,000 documents training takes minutes, and the daemon's
loop must go on filing, applying edits and writing its status meanwhile. The
process runs at a lower priority, writes the model file atomically and
exits; the next check notices it ended (and reports a failure). A daemon that
stops takes its training process with it (a daemonic child): the next start
trains again.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from typing import TYPE_CHECKING, Callable

from paperfs.classify.training import TrainingRunning, needs_training
from paperfs.daemon.scheduler import ScheduledJob

if TYPE_CHECKING:
    from paperfs.config import Config
    from paperfs.runtime import Runtime

log = logging.getLogger(__name__)

#: the training process yields the cores to consumption and WebDAV
TRAINING_NICENESS = 10


def _train_in_child(config: "Config", log_level: int) -> None:
    """The training process (spawned): train on the archive and save the model."""
    from paperfs.classify.training import train_archive
    from paperfs.runtime import Runtime

    logging.basicConfig(level=log_level, format="%(levelname)s %(name)s: %(message)s",
                        force=True)
    try:
        os.nice(TRAINING_NICENESS)
    except OSError:
        pass
    runtime = Runtime(config)
    try:
        train_archive(runtime, runtime.labels.current())
    except TrainingRunning as busy:  # `paperfs train` got there first
        log.info("%s", busy)
    except ValueError as problem:
        log.info("classifier not trained: %s", problem)


class BackgroundTraining:
    """Starts a training process when the archive changed; one at a time."""

    def __init__(self, runtime: "Runtime") -> None:
        self.runtime = runtime
        self.process: multiprocessing.process.BaseProcess | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.is_alive()

    def check(self) -> None:
        if self.process is not None:
            if self.process.is_alive():
                return
            self._ended()
        if needs_training(self.runtime, self.runtime.labels.current()):
            self.start()

    def start(self) -> None:
        log.info("classifier: the archive or the auto labels changed; training in the background")
        context = multiprocessing.get_context("spawn")
        self.process = context.Process(
            target=_train_in_child, name="paperfs-training", daemon=True,
            args=(self.runtime.config, logging.getLogger("paperfs").getEffectiveLevel()))
        self.process.start()

    def _ended(self) -> None:
        assert self.process is not None
        self.process.join()
        if self.process.exitcode != 0:
            log.warning("classifier training failed (exit status %s); tried again at the next "
                        "check", self.process.exitcode)
        self.process = None


def classifier_training(runtime: "Runtime", when: Callable[[], bool]) -> ScheduledJob:
    """The scheduled check (``Consumer.open`` adds it, with ``when=at_rest``)."""
    training = BackgroundTraining(runtime)
    return ScheduledJob("training the classifier", runtime.config.classify.retrain_check_seconds,
                        training.check, when)
