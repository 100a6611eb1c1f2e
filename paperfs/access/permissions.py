"""Who may view and who may change a document.

The rules (the same as the index's permission filter, paperfs/index/sqlite_query.py,
and as paperless-ngx):

* a **superuser** may view and change everything;
* the **owner** may view and change the document, and is the only one (with
  superusers) who may change its ``owner`` and ``permissions``;
* users named in ``permissions.view`` (directly or through a group) may view it;
* users named in ``permissions.change`` (directly or through a group) may view
  and change it ("change" implies "view");
* a document **without an owner** is shared: every user may view and change it,
  including its owner and permissions (so anyone can claim it). Documents
  filed before there were users, or dropped into the common inbox (not a
  per-user ``inbox/<user>/``), have no owner.

A user must not learn that a document he may not view exists: callers treat
an invisible document exactly like a missing one (404, absent from listings).
"""

from __future__ import annotations

from typing import Protocol

from paperfs.archive.document import Document, Grants, Permissions
from paperfs.index.model import User


class HasPermissions(Protocol):
    owner: str | None
    permissions: Permissions


def _granted(user: User, grants: Grants) -> bool:
    return user.name in grants.users or any(g in grants.groups for g in user.groups)


def can_view(user: User, owner: str | None, permissions: Permissions) -> bool:
    if user.superuser or owner is None or owner == user.name:
        return True
    return _granted(user, permissions.view) or _granted(user, permissions.change)


def can_change(user: User, owner: str | None, permissions: Permissions) -> bool:
    if user.superuser or owner is None or owner == user.name:
        return True
    return _granted(user, permissions.change)


def can_manage(user: User, owner: str | None) -> bool:
    """May change the owner and the permissions themselves."""
    return user.superuser or owner is None or owner == user.name


def may_view(user: User, doc: HasPermissions) -> bool:
    return can_view(user, doc.owner, doc.permissions)


def may_change(user: User, doc: HasPermissions) -> bool:
    return can_change(user, doc.owner, doc.permissions)


def check_edit(user: User, old: Document, new: Document) -> str | None:
    """Why ``user`` may not turn ``old`` into ``new``, or None when allowed."""
    if not may_change(user, old):
        return "you may view this document but not change it"
    if (new.owner, new.permissions) != (old.owner, old.permissions) \
            and not can_manage(user, old.owner):
        return "only the owner (or a superuser) may change the owner or the permissions"
    return None
