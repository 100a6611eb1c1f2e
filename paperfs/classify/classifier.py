"""Classifying one document: the labels, the learned model and the threshold together.

``ClassifySettings`` is what a worker needs (it travels with each task, so it
is small and picklable: the model is named by its path and loaded once per
process). The consume stage, ``paperfs classify --explain`` and ``paperfs
retag`` all call ``classify`` here, so they cannot disagree.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from paperfs.classify.assign import Decision, Predictions, decide
from paperfs.classify.labels import KINDS, LabelSet
from paperfs.classify.matching import REGEX_TIMEOUT

if TYPE_CHECKING:
    from paperfs.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClassifySettings:
    labels: LabelSet
    #: the learned model's file (None or missing: no predictions)
    model: Path | None = None
    threshold: float = 0.7
    regex_timeout: float = REGEX_TIMEOUT

    @classmethod
    def of(cls, runtime: "Runtime", labels: LabelSet | None = None) -> "ClassifySettings":
        """The settings in force now: *labels*, or the last valid labels.yml."""
        config = runtime.config.classify
        return cls(labels if labels is not None else runtime.labels.current(),
                   runtime.root.classifier_model, config.threshold, config.regex_timeout_seconds)

    @property
    def learns(self) -> bool:
        return any(self.labels.learned(kind) for kind in KINDS)


def predict(settings: ClassifySettings, text: str) -> Predictions | None:
    """The learned model's predictions, or None when no label is ``auto`` or no model was trained."""
    if not settings.learns or settings.model is None:
        return None
    # imported here: scikit-learn stays out of processes that never predict
    from paperfs.classify.learned import cached_model

    model = cached_model(settings.model)
    return None if model is None else model.predict(text)


def classify(settings: ClassifySettings, text: str, *, correspondent: str | None = None,
             document_type: str | None = None, tags: Sequence[str] = (),
             explain: bool = True) -> Decision:
    """What the document gets, and why (``Decision.reasons``; none with ``explain=False``)."""
    return decide(text, settings.labels, predict(settings, text), threshold=settings.threshold,
                  regex_timeout=settings.regex_timeout, correspondent=correspondent,
                  document_type=document_type, tags=tags, explain=explain)
