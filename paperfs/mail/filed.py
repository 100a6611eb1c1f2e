"""Which documents a mail's job filed, found through the ``record`` in their sidecars.

The catalog does not hold the sidecar field ``mail``, so the documents are
found by a scan of what the jobs produced: ids only grow, so a mail's
documents have ids at or above the id counter read when it was handed over
(the record's ``first_id``). One scan per settling covers every record that
ended in it, from the lowest ``first_id`` to the newest document: it reads
only the sidecars filed since those hand-offs, never the whole archive, and
nothing at all when no mail ended (a poll of 10,000 known mails is not
slowed). An attachment the archive had already (linked, not filed again:
docs/mail-documents.md) counts as the mail's through the mail document's
``attachments``.
"""

from __future__ import annotations

import logging
from typing import Iterable

from paperfs.archive.document import read_sidecar
from paperfs.archive.layout import DataRoot
from paperfs.errors import SidecarError
from paperfs.index.base import FiledLookups
from paperfs.mail_documents.links import of_document

log = logging.getLogger(__name__)


def id_watermark(root: DataRoot) -> int:
    """The id counter now: every document filed from here on has this id or a higher one."""
    try:
        return max(int(root.id_counter.read_text().strip() or 0), 1)
    except (FileNotFoundError, ValueError):
        return 1  # nothing filed yet: ids start at 1


def documents_of(root: DataRoot, lookups: FiledLookups, keys: Iterable[str],
                 first_id: int) -> dict[str, list[int]]:
    """record key -> the ids of its documents (sorted), for *keys*, scanning the
    documents with ids from *first_id* to the newest."""
    wanted = set(keys)
    found: dict[str, set[int]] = {key: set() for key in wanted}
    if not wanted:
        return {}
    for doc_id in range(max(first_id, 1), lookups.max_id() + 1):
        ref = lookups.ref(doc_id)
        if ref is None:
            continue
        try:
            doc = read_sidecar(root.archive / (ref.path + ".yml"))
        except (OSError, SidecarError) as exc:  # moved or edited meanwhile: not one of ours
            log.debug("mail outcome: document %d unreadable: %s", doc_id, exc)
            continue
        link = of_document(doc.extra) or {}
        key = link.get("record")
        if key in found:
            found[key].add(doc.id)
            if link.get("role") == "mail":
                found[key].update(i for i in link.get("attachments") or () if isinstance(i, int))
    return {key: sorted(ids) for key, ids in found.items()}
