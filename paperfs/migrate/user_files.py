"""The plan's labels, fields, users and saved searches merged into the data root's files.

Each merge only adds: a label, field, user, group or saved search the data
root has already keeps its own settings (listed as kept). The new text of
labels.yml and fields.yml is made and validated whole (``prepare``) before
any document is filed; ``write`` writes it. Comments and order of the
user's files survive (ruamel.yaml round trip, as ``paperfs label`` edits).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paperfs.access.users import Account, UserTable, check_name, load_users, save_users
from paperfs.archive.atomic import atomic_write_text
from paperfs.archive.custom_fields import FieldsError, parse_fields
from paperfs.archive.layout import DataRoot
from paperfs.classify.labels import LabelsError, parse_labels
from paperfs.errors import UsageError
from paperfs.migrate.manifest import ExportError
from paperfs.migrate.mapping import Plan
from paperfs.search.saved import SavedSearches, check_query, check_saved_name


def _round_trip() -> Any:
    from ruamel.yaml import YAML

    rt = YAML(typ="rt")
    rt.width = 4096
    rt.indent(mapping=2, sequence=4, offset=2)
    return rt


def _merged(path: Path, sections: dict[str, dict[str, Any]] | None,
            top: dict[str, Any] | None, what: str = "field") -> tuple[str, list[str], int]:
    """The file's text with the new entries added: (text, kept names, added count)."""
    from ruamel.yaml.comments import CommentedMap

    rt = _round_trip()
    original = path.read_text("utf-8") if path.exists() else ""
    data = rt.load(original) or CommentedMap()
    kept, added = [], 0

    def add(into: Any, entries: dict[str, Any], what: str, flow: bool = True) -> None:
        nonlocal added
        known = {str(k).casefold() for k in into}
        for name, settings in entries.items():
            if name.casefold() in known:
                kept.append(f"{what} {name!r}")
                continue
            into[name] = CommentedMap(settings)
            if flow:
                into[name].fa.set_flow_style()
            added += 1

    if sections is not None:
        for kind, entries in sections.items():
            if entries:
                if data.get(kind) is None:
                    data[kind] = CommentedMap()
                add(data[kind], entries, kind.rstrip("s").replace("_", " "))
    if top is not None:
        add(data, top, what, flow=what == "field")
    out = io.StringIO()
    rt.dump(data, out)
    return (out.getvalue() if data else original), kept, added


@dataclass
class Merge:
    labels_text: str = ""
    fields_text: str = ""
    workflows_text: str = ""
    kept: list[str] = field(default_factory=list)
    added: dict[str, int] = field(default_factory=dict)


def prepare(root: DataRoot, plan: Plan) -> Merge:
    """The merged labels.yml and fields.yml, validated; ExportError says what clashes."""
    merge = Merge()
    merge.labels_text, kept, merge.added["labels"] = _merged(root.labels_file, plan.labels, None)
    merge.kept += kept
    try:
        parse_labels(merge.labels_text, str(root.labels_file))
    except LabelsError as exc:
        raise ExportError(f"the export's labels do not fit labels.yml: {exc}") from None
    merge.fields_text, kept, merge.added["fields"] = _merged(root.fields_file, None, plan.fields)
    merge.kept += kept
    try:
        declared = parse_fields(merge.fields_text, str(root.fields_file))
    except FieldsError as exc:
        raise ExportError(f"the export's custom fields do not fit fields.yml: {exc}") from None
    for name, decl in plan.fields.items():
        have = declared.get(name)
        if have is not None and have.type != decl["type"]:
            raise ExportError(f"custom field {name!r} is a {decl['type']} in the export but "
                              f"a {have.type} in {root.fields_file.name}; rename one, then "
                              "import again")
    _prepare_workflows(root, plan, merge)
    _check_saved(plan, declared.types())
    for name in [*plan.users, *plan.groups]:
        try:
            check_name(name)
        except UsageError as exc:
            raise ExportError(f"paperless user or group {exc}; rename it in paperless "
                              "and export again") from None
    return merge


def _check_saved(plan: Plan, custom: dict[str, str]) -> None:
    """A saved view whose name or query paperfs cannot take is listed, not carried
    over, before anything is written (so that --dry-run names it too)."""
    valid = []
    for name, query, owner in plan.saved:
        try:
            check_saved_name(name)
            check_query(query, custom)
            valid.append((name, query, owner))
        except UsageError as exc:
            plan.left_out.append(f"saved view {name!r}: {exc}; not carried over")
    plan.saved = valid


def _prepare_workflows(root: DataRoot, plan: Plan, merge: Merge) -> None:
    """Each translated workflow checked alone (one that does not pass is listed, not
    written), then the valid ones merged into workflows.yml."""
    from paperfs.workflows.definitions import WorkflowsError, parse_workflows

    valid = {}
    for name, workflow in plan.workflows.items():
        text = _round_trip_text({name: workflow})
        try:
            parse_workflows(text, f"workflow {name!r}")
            valid[name] = workflow
        except WorkflowsError as exc:
            plan.left_out.append(f"workflow {name!r}: {exc}; recreate it in workflows.yml")
    plan.workflows = valid
    merge.workflows_text, kept, merge.added["workflows"] = _merged(
        root.workflows_file, None, valid, "workflow")
    merge.kept += kept
    try:
        parse_workflows(merge.workflows_text, str(root.workflows_file))
    except WorkflowsError as exc:
        raise ExportError(f"the export's workflows do not fit workflows.yml: {exc}") from None


def _round_trip_text(data: dict[str, Any]) -> str:
    out = io.StringIO()
    _round_trip().dump(data, out)
    return out.getvalue()


def new_users(root: DataRoot, plan: Plan) -> list[str]:
    """The plan's users that users.yml does not have yet, sorted."""
    have = load_users(root.root / "users.yml").accounts
    return sorted(name for name in plan.users if name not in have)


def write(root: DataRoot, plan: Plan, merge: Merge) -> dict[str, int]:
    """Write the merged files; returns how many users, groups, saved searches were added."""
    if merge.added["labels"]:
        atomic_write_text(root.labels_file, merge.labels_text)
    if merge.added["fields"]:
        atomic_write_text(root.fields_file, merge.fields_text)
    if merge.added["workflows"]:
        atomic_write_text(root.workflows_file, merge.workflows_text)
    users_file = root.root / "users.yml"
    table = load_users(users_file)
    accounts, groups = dict(table.accounts), dict(table.groups)
    created = [name for name in plan.users if name not in accounts]
    for name in created:  # without a password: cannot log in until one is set
        accounts[name] = Account(name=name, password="", superuser=plan.users[name])
    new_groups = 0
    for group, members in plan.groups.items():
        if group not in groups:
            new_groups += 1
        groups[group] = tuple(sorted({*groups.get(group, ()), *members}))
    if created or new_groups or groups != dict(table.groups):
        save_users(users_file, UserTable(accounts, groups))
    saved = SavedSearches(root.root, custom=lambda: parse_fields(
        merge.fields_text, "fields.yml").types())
    names = {(s.name, s.owner) for s in saved.all()}
    added_saved = 0
    for name, query, owner in plan.saved:
        if (name, owner) in names:
            merge.kept.append(f"saved search {name!r}")
            continue
        try:
            saved.add(name, query, owner)
            added_saved += 1
        except UsageError as exc:
            plan.left_out.append(f"saved view {name!r}: {exc}")
    return {"users": len(created), "groups": new_groups, "saved searches": added_saved,
            "labels": merge.added["labels"], "fields": merge.added["fields"],
            "workflows": merge.added["workflows"]}

