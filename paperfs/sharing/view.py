"""What a share link shows now: its creator's view, evaluated at each request.

A link never shows more than its creator may view today: the creator is
looked up in users.yml on every request (removed: nothing), the document
through the catalog with the creator's permissions (deleted, trashed or no
longer visible to the creator: nothing), a saved search by the creator's
name for it, run with the creator's permission filter.
"""

from __future__ import annotations

import itertools
import os
from typing import TYPE_CHECKING

from paperfs.access.permissions import can_view
from paperfs.index.catalog import Catalog, CatalogEntry as DocEntry
from paperfs.index.model import User
from paperfs.search.parser import parse
from paperfs.search.syntax_error import QuerySyntaxError
from paperfs.sharing.store import ShareLink

if TYPE_CHECKING:
    from paperfs.dav.context import Services

#: a shared search lists at most this many documents (the newest last, as in /saved)
MAX_LISTED = 1000


def creator(link: ShareLink, services: "Services") -> User | None:
    return services.users.user(link.creator)


def may_view_document(user: User, doc_id: int, services: "Services") -> DocEntry | None:
    """The catalog entry of ``doc_id`` if ``user`` may view it, else None."""
    return visible_entry(services.readers().catalog, user, doc_id)


def visible_entry(catalog: Catalog, user: User, doc_id: int) -> DocEntry | None:
    entry = catalog.entry(doc_id)
    if entry is None or entry.permissions is None:
        return None
    return entry if can_view(user, entry.owner, entry.permissions) else None


def may_view_search(user: User, name: str, services: "Services") -> bool:
    return services.saved.get(name, user) is not None


def shared_document(link: ShareLink, services: "Services") -> DocEntry | None:
    """The document of a document link, as its creator may view it now, or None."""
    user = creator(link, services)
    if user is None or link.document_id is None:
        return None
    return may_view_document(user, link.document_id, services)


def shared_search(link: ShareLink, services: "Services",
                  limit: int = MAX_LISTED) -> tuple[str, list[DocEntry]] | None:
    """(the saved search's name, the documents it finds for its creator now), or None
    (creator or saved search gone, or its query no longer valid)."""
    user = creator(link, services)
    if user is None or link.kind != "search":
        return None
    saved = services.saved.get(link.target, user)
    if saved is None:
        return None
    try:
        node = parse(saved.query, custom=services.fields.types())
    except QuerySyntaxError:
        return None
    entries = services.readers().catalog.stream(node, user)
    return saved.name, list(itertools.islice(entries, limit))


def pdf_path(services: "Services", entry: DocEntry) -> str:
    return os.path.join(services.root.archive, entry.path + ".pdf")
