"""The classify stage: tags, correspondent and document type from the text.

It runs last in the worker, after the text and the dates are known: the
labels' matching rules and the learned classifier's predictions over the
threshold (paperfs/classify/), added to what intake gave the document (inbox
folder tags). The writer files whatever it proposes (path templates use
these fields).
"""

from __future__ import annotations

import logging

from paperfs.classify.classifier import classify
from paperfs.consume.messages import WorkItem

log = logging.getLogger(__name__)


def run(item: WorkItem) -> WorkItem:
    settings = item.task.classify
    if settings is None:
        return item
    decision = classify(settings, item.text or "", correspondent=item.correspondent,
                        document_type=item.document_type, tags=item.tags, explain=False)
    problems = tuple(f"{item.filename}: {problem}" for problem in decision.problems)
    for problem in problems:
        log.warning("%s", problem)
    return item.but(correspondent=decision.correspondent, document_type=decision.document_type,
                    tags=decision.tags, classify_problems=item.classify_problems + problems)
