"""Changing who may view and change a document: ``--owner``/``--grant``/``--revoke``.

A grant is written ``view|change:user|group:NAME``, e.g. ``view:user:bob`` or
``change:group:family`` (the rules they feed are in permissions.py).
"""

from __future__ import annotations

from typing import Callable

from paperfs.access.users import NAME_RE
from paperfs.archive.document import Document, Grants, Permissions
from paperfs.errors import UsageError

Change = Callable[[Document], Document]


def parse_grant(spec: str) -> tuple[str, str, str]:
    """'view:user:bob' -> ('view', 'user', 'bob'); anything else is a UsageError."""
    parts = spec.split(":")
    if len(parts) != 3 or parts[0] not in ("view", "change") \
            or parts[1] not in ("user", "group") or not NAME_RE.fullmatch(parts[2]):
        raise UsageError(f"--grant/--revoke {spec!r}: write view|change:user|group:NAME, "
                         "e.g. view:user:bob or change:group:family")
    return parts[0], parts[1], parts[2]


def permission_change(owner: str | None, grants: tuple[str, ...],
                      revokes: tuple[str, ...]) -> Change | None:
    """The change --owner/--grant/--revoke ask for (None: none), checked in full first."""
    if owner is None and not grants and not revokes:
        return None
    if owner and not NAME_RE.fullmatch(owner):
        raise UsageError(f"--owner: {owner!r} is not a user name")
    adds = [parse_grant(g) for g in grants]
    removes = [parse_grant(g) for g in revokes]

    def change(doc: Document) -> Document:
        lists = {(k, w): list(getattr(getattr(doc.permissions, k), w + "s"))
                 for k in ("view", "change") for w in ("user", "group")}
        for kind, who, name in adds:
            if name not in lists[(kind, who)]:
                lists[(kind, who)].append(name)
        for kind, who, name in removes:
            lists[(kind, who)] = [n for n in lists[(kind, who)] if n != name]
        perms = Permissions(view=Grants(tuple(lists[("view", "user")]),
                                        tuple(lists[("view", "group")])),
                            change=Grants(tuple(lists[("change", "user")]),
                                          tuple(lists[("change", "group")])))
        if owner is None:
            return doc.replace(permissions=perms)
        return doc.replace(permissions=perms, owner=owner or None)

    return change
