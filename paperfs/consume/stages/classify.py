"""The classify stage: correspondent, document type and tags from the text
(empty for now: a document keeps the tags intake gave it).

It runs last in the worker, after the text and the dates are known, and sets
``correspondent``, ``document_type`` and ``tags`` on the item; the writer files
whatever it proposes (path templates use these fields).
"""

from __future__ import annotations

from paperfs.consume.messages import WorkItem


def run(item: WorkItem) -> WorkItem:
    """No classifier yet."""
    return item
