"""The assignment actions: set or remove metadata, as a change of the document.

``assign`` takes a ``Document`` (filed) or a ``ProposedDocument`` (consumption
started: the change is applied before it is filed) and returns the changed
copy; both have the fields assigned here. The engine hands the result to the
writer (``DocumentWriter.update``), so the pair moves as its path rules say.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

from paperfs.archive.document import Grants, Permissions
from paperfs.workflows.model import Action


def _added(names: tuple[str, ...], more: tuple[str, ...]) -> tuple[str, ...]:
    """names + more, each once (compared without case), in order."""
    seen = {name.casefold() for name in names}
    out = list(names)
    for name in more:
        if name.casefold() not in seen:
            seen.add(name.casefold())
            out.append(name)
    return tuple(out)


def _without(names: tuple[str, ...], gone: Any) -> tuple[str, ...]:
    if gone is True:
        return ()
    folded = {name.casefold() for name in gone}
    return tuple(name for name in names if name.casefold() not in folded)


def _cleared(value: str | None, gone: Any) -> str | None:
    """A correspondent/type removed when it is one of *gone* (True: whatever it is)."""
    if value is None or gone is True or value.casefold() in {g.casefold() for g in gone}:
        return None
    return value


def _granted(permissions: Permissions, settings: Mapping[str, Any]) -> Permissions:
    def grants(right: str, current: Grants) -> Grants:
        return Grants(users=_added(current.users, settings.get(f"{right}_users", ())),
                      groups=_added(current.groups, settings.get(f"{right}_groups", ())))

    return Permissions(view=grants("view", permissions.view),
                       change=grants("change", permissions.change))


def _removed(doc: Any, settings: Mapping[str, Any]) -> dict[str, Any]:
    everything = settings.get("all") is True
    changes: dict[str, Any] = {}
    if everything or "tags" in settings:
        changes["tags"] = _without(doc.tags, True if everything else settings["tags"])
    for key in ("correspondent", "document_type"):
        if everything or key in settings:
            changes[key] = _cleared(getattr(doc, key), True if everything else settings[key])
    if everything or settings.get("owner"):
        changes["owner"] = None
    if everything or settings.get("permissions"):
        changes["permissions"] = Permissions()
    if everything or "custom_fields" in settings:
        gone = True if everything else settings["custom_fields"]
        changes["custom_fields"] = {} if gone is True else {
            k: v for k, v in doc.custom_fields.items() if k not in set(gone)}
    return changes


def assign(action: Action, doc: Any, variables: Callable[[Any], Mapping[str, Any]]) -> Any:
    """The document with *action* applied; ``variables(doc)`` gives a title template
    its fields (TemplateError when it cannot be rendered: the document is unchanged)."""
    settings = action.settings
    if action.kind == "title":
        title = " ".join(settings["template"].render(variables(doc)).split())
        return dataclasses.replace(doc, title=title) if title else doc
    if action.kind == "tags":
        return dataclasses.replace(doc, tags=_added(tuple(doc.tags), settings["names"]))
    if action.kind in ("correspondent", "document_type", "owner"):
        return dataclasses.replace(doc, **{action.kind: settings["name"] or None})
    if action.kind == "permissions":
        return dataclasses.replace(doc, permissions=_granted(doc.permissions, settings))
    if action.kind == "custom_fields":
        return dataclasses.replace(doc, custom_fields={**doc.custom_fields, **settings["values"]})
    if action.kind == "remove":
        return dataclasses.replace(doc, **_removed(doc, settings))
    raise ValueError(f"{action.kind} is not an assignment")
