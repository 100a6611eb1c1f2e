"""paperless-ngx workflows (2.x, 3.x) as workflows.yml entries, where they can be expressed.

A paperless workflow has several triggers, each with its own filters, and
actions; a paperfs workflow has triggers and one set of filters. So each
trigger becomes a workflow of its own (``Name``, or ``Name (2)`` …) with the
same actions. Triggers: consumption started, document added, updated,
scheduled (created/added/modified/a custom date field, offset, recurring).
Filters: sources, file name, path, content (the matching algorithms),
tags (any/all/none), correspondents, document types. Actions: assignment,
removal, e-mail, webhook. A workflow that needs what paperfs cannot say
(storage paths, a mail rule filter, a custom field query, password removal …)
is left out with the reason, never half translated.
"""

from __future__ import annotations

import re
from typing import Any

from paperfs.migrate.manifest import ALGORITHMS

TRIGGERS = {1: "consumption_started", 2: "document_added", 3: "document_updated",
            4: "scheduled"}
SOURCES = {1: "inbox", 2: "webdav", 3: "mail", 4: "webdav"}
DATE_FIELDS = {"created": "created", "added": "added", "modified": "modified"}


class Inexpressible(Exception):
    """What makes a workflow impossible to carry over; the message says what."""


def _pks(value: Any) -> list[Any]:
    return list(value or [])


def _sources(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    return sorted({SOURCES[int(v)] for v in value or [] if int(v) in SOURCES})


def _template(text: str) -> str:
    """paperless' old {placeholder} titles as Jinja ({{ placeholder }}); Jinja stays."""
    if "{{" in text or "{%" in text:
        return text
    return re.sub(r"\{(\w+)\}", r"{{ \1 }}", text)


class WorkflowMapper:
    def __init__(self, export: Any, names: dict[str, dict[Any, str]],
                 fields: dict[Any, tuple[str, str, dict[str, str]]]) -> None:
        self.export = export
        self.names = names
        self.fields = fields

    def build(self) -> tuple[dict[str, dict[str, Any]], list[str]]:
        triggers = self.export.by_pk("documents.workflowtrigger")
        actions = self.export.by_pk("documents.workflowaction")
        out: dict[str, dict[str, Any]] = {}
        left_out: list[str] = []
        workflows = sorted(self.export.of("documents.workflow"),
                           key=lambda r: (r["fields"].get("order") or 0, r["pk"]))
        for record in workflows:
            f = record["fields"]
            name = " ".join(str(f.get("name") or f"workflow {record['pk']}").split())
            try:
                acts = [act for pk in sorted(_pks(f.get("actions")),
                                             key=lambda pk: (actions.get(pk, {}).get("fields", {})
                                                             .get("order") or 0, pk))
                        if pk in actions for act in self._action(actions[pk]["fields"])]
                made = [self._trigger(triggers[pk]["fields"]) for pk in _pks(f.get("triggers"))
                        if pk in triggers]
                if not acts or not made:
                    raise Inexpressible("it has no triggers or no actions")
            except Inexpressible as why:
                left_out.append(f"workflow {name!r}: {why}; recreate it in workflows.yml")
                continue
            for number, (trigger, filters) in enumerate(made, 1):
                entry: dict[str, Any] = {"triggers": [trigger]}
                if filters:
                    entry["filters"] = filters
                entry["actions"] = acts
                if f.get("enabled") is False:
                    entry["enabled"] = False
                out[name if len(made) == 1 else f"{name} ({number})"] = entry
        return out, left_out

    # ------------------------------------------------------------ triggers

    def _names(self, kind: str, pks: Any) -> list[str]:
        return [self.names[kind][pk] for pk in _pks(pks) if pk in self.names[kind]]

    def _trigger(self, f: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        kind = TRIGGERS.get(f.get("type"))
        if kind is None:
            raise Inexpressible(f"trigger type {f.get('type')!r} is unknown")
        for key in ("filter_mailrule", "filter_has_storage_path"):
            if f.get(key) is not None:
                raise Inexpressible(f"a trigger filters on {key[7:].replace('_', ' ')}")
        for key in ("filter_has_any_storage_paths", "filter_has_not_storage_paths"):
            if f.get(key):
                raise Inexpressible("a trigger filters on storage paths")
        if f.get("filter_custom_field_query"):
            raise Inexpressible("a trigger filters by a custom field query")
        filters: dict[str, Any] = {}
        sources = _sources(f.get("sources"))
        if kind == "consumption_started" and sources and len(sources) < 3:
            filters["source"] = sources
        for key, name in (("filter_filename", "filename"), ("filter_path", "path")):
            if f.get(key):
                filters[name] = f[key]
        algorithm = ALGORITHMS.get(f.get("matching_algorithm") or 0, "none")
        if algorithm == "auto":
            raise Inexpressible("a trigger matches content with the learned classifier (auto)")
        if algorithm != "none" and f.get("match"):
            filters["content"] = {"algorithm": algorithm, "match": f["match"]}
            if f.get("is_insensitive") is False:
                filters["content"]["case_sensitive"] = True
        tags = {key: self._names("tags", f.get(field)) for key, field in
                (("any", "filter_has_tags"), ("all", "filter_has_all_tags"),
                 ("none", "filter_has_not_tags"))}
        if any(tags.values()):
            filters["tags"] = {k: v for k, v in tags.items() if v}
        for kind_name, one, any_of, none_of in (
                ("correspondent", "filter_has_correspondent", "filter_has_any_correspondents",
                 "filter_has_not_correspondents"),
                ("document_type", "filter_has_document_type", "filter_has_any_document_types",
                 "filter_has_not_document_types")):
            names = kind_name + "s"
            given = self._names(names, ([f[one]] if f.get(one) is not None else [])
                                + _pks(f.get(any_of)))
            excluded = self._names(names, f.get(none_of))
            if given or excluded:
                filters[kind_name] = {k: v for k, v in (("in", given), ("not_in", excluded))
                                      if v}
        if kind != "scheduled":
            return kind, filters
        schedule: dict[str, Any] = {"offset": f"{int(f.get('schedule_offset_days') or 0)}d"}
        date = f.get("schedule_date_field") or "added"
        if date == "custom_field":
            field = self.fields.get(f.get("schedule_date_custom_field"))
            if field is None or field[1] != "date":
                raise Inexpressible("its schedule counts from a custom field that is not a date")
            schedule["field"] = field[0]
        else:
            schedule["from"] = DATE_FIELDS.get(date, "added")
        if f.get("schedule_is_recurring"):
            schedule["recurring"] = f"{int(f.get('schedule_recurring_interval_days') or 1)}d"
        return {"scheduled": schedule}, filters

    # ------------------------------------------------------------ actions

    def _action(self, f: dict[str, Any]) -> list[dict[str, Any]]:
        """One paperless action as paperfs actions (one assignment each)."""
        kind = f.get("type") or 1
        if kind == 1:
            return self._assignment(f)
        if kind == 2:
            return [{"remove": self._removal(f)}]
        if kind == 3:
            mail = self.export.by_pk("documents.workflowactionemail").get(f.get("email"))
            if mail is None:
                raise Inexpressible("an e-mail action's settings are missing from the export")
            m = mail["fields"]
            return [{"email": {"to": [a.strip() for a in str(m.get("to") or "").split(",")
                                     if a.strip()],
                              "subject": _template(str(m.get("subject") or "")),
                              "body": _template(str(m.get("body") or "")),
                              "attach": bool(m.get("include_document"))}}]
        if kind == 4:
            hook = self.export.by_pk("documents.workflowactionwebhook").get(f.get("webhook"))
            if hook is None:
                raise Inexpressible("a webhook action's settings are missing from the export")
            h = hook["fields"]
            if h.get("include_document"):
                raise Inexpressible("a webhook sends the document file")
            webhook: dict[str, Any] = {"url": h.get("url")}
            if h.get("use_params") and h.get("params"):
                webhook["json"] = dict(h["params"])
            elif h.get("body"):
                webhook["body"] = _template(str(h["body"]))
            if h.get("headers"):
                webhook["headers"] = dict(h["headers"])
            return [{"webhook": webhook}]
        raise Inexpressible(f"action type {kind} has no paperfs equivalent")

    def _assignment(self, f: dict[str, Any]) -> list[dict[str, Any]]:
        if f.get("assign_storage_path") is not None:
            raise Inexpressible("an action assigns a storage path")
        if f.get("assign_custom_fields"):
            raise Inexpressible("an action assigns custom fields")
        parts: list[dict[str, Any]] = []
        if f.get("assign_title"):
            parts.append({"title": _template(str(f["assign_title"]))})
        if self._names("tags", f.get("assign_tags")):
            parts.append({"tags": self._names("tags", f.get("assign_tags"))})
        for key, name, kind in (("assign_correspondent", "correspondent", "correspondents"),
                                ("assign_document_type", "document_type", "document_types"),
                                ("assign_owner", "owner", "user")):
            if f.get(key) is not None and f[key] in self.names[kind]:
                parts.append({name: self.names[kind][f[key]]})
        perms = {}
        for action in ("view", "change"):
            grants = {who: self._names(kind, f.get(f"assign_{action}_{who}s"))
                      for who, kind in (("user", "user"), ("group", "group"))}
            grants = {f"{who}s": names for who, names in grants.items() if names}
            if grants:
                perms[action] = grants
        if perms:
            parts.append({"permissions": perms})
        if not parts:
            raise Inexpressible("an assignment action assigns nothing paperfs keeps")
        return parts

    def _removal(self, f: dict[str, Any]) -> Any:
        """Removals paperfs can say exactly: named tags, or all of a kind."""
        every = ("remove_all_tags", "remove_all_correspondents", "remove_all_document_types",
                 "remove_all_owners", "remove_all_permissions", "remove_all_custom_fields")
        if all(f.get(k) for k in every):
            return "all"
        for key in ("remove_correspondents", "remove_document_types", "remove_owners",
                    "remove_view_users", "remove_view_groups", "remove_change_users",
                    "remove_change_groups", "remove_custom_fields", "remove_storage_paths"):
            covered = f.get("remove_all_" + key.split("_", 1)[1]) or (
                f.get("remove_all_permissions") and key[7:11] in ("view", "chan"))
            if _pks(f.get(key)) and not covered:
                raise Inexpressible(f"an action removes only some {key[7:].replace('_', ' ')}")
        if f.get("remove_all_storage_paths"):
            raise Inexpressible("an action removes storage paths")
        removal: dict[str, Any] = {}
        if f.get("remove_all_tags"):
            removal["tags"] = sorted(self.names["tags"].values())
        elif self._names("tags", f.get("remove_tags")):
            removal["tags"] = self._names("tags", f.get("remove_tags"))
        for key, name in (("remove_all_correspondents", "correspondent"),
                          ("remove_all_document_types", "document_type"),
                          ("remove_all_owners", "owner"), ("remove_all_permissions", "permissions")):
            if f.get(key):
                removal[name] = True
        if f.get("remove_all_custom_fields"):
            removal["custom_fields"] = sorted(name for name, _, _ in self.fields.values())
        if not removal:
            raise Inexpressible("a removal action removes nothing paperfs keeps")
        return removal
