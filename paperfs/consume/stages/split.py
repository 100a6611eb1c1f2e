"""The split stage: where one input becomes several documents (empty for now).

A stage here returns the item unchanged, several items (one per document, each
made with ``WorkItem.part`` and detected afresh with ``detect.run``), or an
empty tuple when the input holds nothing to file. Barcode or blank-page
separators of a scanned batch go here; the writer files every part and a
restart finishes exactly the parts not yet filed (Archive.commit).
"""

from __future__ import annotations

from paperfs.consume.messages import WorkItem


def run(item: WorkItem) -> WorkItem:
    """No splitting yet: one input, one document."""
    return item
