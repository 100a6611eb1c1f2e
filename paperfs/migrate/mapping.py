"""What each paperless-ngx model becomes in paperfs: a Plan, made without writing.

Labels (tags with their parents, correspondents, document types, each with
its matching rule), custom fields with their types, users and groups,
object permissions, saved views and every document with its files, notes,
field values, trash state and (3.x) versions. What cannot be carried over is
listed in ``Plan.left_out`` with the reason; the dry run prints it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paperfs.archive.custom_fields import NAME as FIELD_NAME, RESERVED
from paperfs.archive.document import Grants, Permissions
from paperfs.archive.notes import Note
from paperfs.migrate.mail_mapping import MailMapper, MailPlan
from paperfs.migrate.manifest import ALGORITHMS, ARCHIVE_NAME, FILE_NAME, Export, ExportError
from paperfs.migrate.workflows import WorkflowMapper

#: paperless' custom field data_type → fields.yml type
FIELD_TYPES = {"string": "text", "longtext": "text", "url": "url", "date": "date",
               "boolean": "boolean", "integer": "integer", "float": "number",
               "monetary": "monetary", "documentlink": "document_link", "select": "select"}
VALUE_KEYS = ("value_text", "value_long_text", "value_bool", "value_url", "value_date",
              "value_int", "value_float", "value_monetary", "value_document_ids",
              "value_select")
LABEL_MODELS = {"tags": "documents.tag", "correspondents": "documents.correspondent",
                "document_types": "documents.documenttype"}
SYSTEM_USERS = {"consumer", "AnonymousUser"}
#: models that carry nothing a paperfs archive keeps (UI state, logs, login plumbing)
NOT_CARRIED = {
    "documents.uisettings": "web UI settings (paperfs has no such settings)",
    "documents.sharelink": "share links (make new ones with 'paperfs share')",
    "documents.sharelinkbundle": "share link bundles",
    "documents.paperlesstask": "task history", "documents.log": "logs",
    "auditlog.logentry": "audit log", "paperless.applicationconfiguration":
        "application settings (configure paperfs.yml)",
    "socialaccount.socialaccount": "social logins", "socialaccount.socialapp": "social logins",
    "socialaccount.socialtoken": "social login tokens", "mfa.authenticator": "MFA devices",
    "account.emailaddress": "e-mail addresses of users",
    "documents.consumptiontemplate": "consumption templates (recreate as workflows)",
}


@dataclass
class Version:
    """An earlier or later PDF of a document (paperless 3.x versions)."""

    pk: int
    pdf: Path
    checksum: str
    label: str | None
    added: dt.datetime
    #: its text (the newest version's is the document's content)
    content: str = ""


@dataclass
class PlannedDoc:
    pk: int
    where: str  # the manifest that holds it
    title: str
    created: dt.date
    added: dt.datetime
    original: Path
    original_name: str
    mime_type: str
    checksum: str
    archive: Path | None
    archive_checksum: str | None
    content: str
    asn: int | None = None
    correspondent: str | None = None
    document_type: str | None = None
    tags: tuple[str, ...] = ()
    owner: str | None = None
    permissions: Permissions = field(default_factory=Permissions)
    custom_fields: dict[str, Any] = field(default_factory=dict)
    notes: tuple[Note, ...] = ()
    trashed: dt.datetime | None = None
    #: the name of its storage path in paperless (recorded in the sidecar's source)
    storage_path: str | None = None
    #: 3.x: the later versions, oldest first (the last is the current PDF)
    versions: list[Version] = field(default_factory=list)


@dataclass
class Plan:
    version: str
    labels: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, bool] = field(default_factory=dict)  # name → superuser
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    saved: list[tuple[str, str, str | None]] = field(default_factory=list)
    workflows: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: mail accounts (no secrets) and mail.yml rules (mail_mapping.py)
    mail: MailPlan = field(default_factory=MailPlan)
    documents: list[PlannedDoc] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def _parse_time(value: Any, where: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ExportError(f"{where}: {value!r} is not a date or time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _created(value: Any, where: str) -> dt.date:
    """1.x and early 2.x store a timestamp, later versions a day."""
    text = str(value)
    if len(text) == 10:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    return _parse_time(text, where).date()


def field_name(name: str) -> str:
    """A paperless field name as a fields.yml name ("Invoice Amount" → invoice_amount)."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_") or "field"
    if not slug[0].isalpha():
        slug = "f_" + slug
    slug = slug[:64]
    if slug in RESERVED:
        slug = slug[:58] + "_field"
    assert FIELD_NAME.match(slug), slug
    return slug


def label_name(name: str) -> str:
    """Slashes separate tag levels in paperfs' folders: a paperless name keeps its text."""
    return " ".join(name.replace("/", "-").split()) or "unnamed"


#: paperless storage path placeholders → paperfs path template fields (archive/naming.py)
PATH_FIELDS = {"created_year": "{created:%Y}", "created_month": "{created:%m}",
               "created_day": "{created:%d}", "created": "{created:%Y-%m-%d}",
               "added_year": "{added:%Y}", "added_month": "{added:%m}", "added_day": "{added:%d}",
               "added": "{added:%Y-%m-%d}", "title": "{title}", "correspondent": "{correspondent}",
               "document_type": "{document_type}", "asn": "{asn}", "owner_username": "{owner}",
               "original_name": "{original_name}", "tag_list": "{tags}", "doc_pk": "{id}"}


def path_template(template: str) -> str | None:
    """A storage path's template as a paperfs path template, or None when it uses what
    paperfs' templates cannot say (custom fields, tag lookups, Jinja logic)."""
    text = re.sub(r"\{\{\s*(\w+)\s*\}\}", r"{\1}", template.strip().strip("/"))
    if not text or any(name not in PATH_FIELDS for name in re.findall(r"\{([^{}]*)\}", text)):
        return None
    if re.sub(r"\{\w+\}", "", text).count("{") or re.sub(r"\{\w+\}", "", text).count("}"):
        return None
    return re.sub(r"\{(\w+)\}", lambda m: PATH_FIELDS[m.group(1)], text)


class Mapper:
    def __init__(self, export: Export) -> None:
        self.export = export
        self.plan = Plan(version=export.version or f"{export.major}.x (not stated)")
        self.names: dict[str, dict[Any, str]] = {}

    def build(self) -> Plan:
        export, plan = self.export, self.plan
        for model, records in export.records.items():
            plan.counts[model] = len(records)
            if model in NOT_CARRIED and records:
                plan.left_out.append(f"{model}: {len(records)} not carried over: "
                                     f"{NOT_CARRIED[model]}")
        self._users()
        self._labels()
        self._fields()
        self._documents()
        self._saved_views()
        self._storage_paths()
        plan.workflows, left_out = WorkflowMapper(export, self.names, self.fields).build()
        plan.left_out += left_out
        plan.mail = MailMapper(export, self.names).build()
        if export.encrypted:
            plan.left_out.append("the secrets --passphrase encrypted (mail passwords, OAuth "
                                 "and social login tokens) are not read")
        plan.left_out += plan.mail.left_out
        return plan

    # ------------------------------------------------------------ users, labels, fields

    def _users(self) -> None:
        users: dict[Any, str] = {}
        for record in self.export.of("auth.user"):
            name = record["fields"].get("username", "")
            if name in SYSTEM_USERS:
                continue
            users[record["pk"]] = name
            self.plan.users[name] = bool(record["fields"].get("is_superuser"))
        groups = {r["pk"]: r["fields"].get("name", "") for r in self.export.of("auth.group")}
        members: dict[str, list[str]] = {name: [] for name in groups.values()}
        for record in self.export.of("auth.user"):
            for group in record["fields"].get("groups") or []:
                if record["pk"] in users and group in groups:
                    members[groups[group]].append(users[record["pk"]])
        self.plan.groups = {g: tuple(sorted(m)) for g, m in members.items()}
        self.names["user"], self.names["group"] = users, groups
        self.names["storage_paths"] = {r["pk"]: r["fields"].get("name")
                                       for r in self.export.of("documents.storagepath")}

    def _labels(self) -> None:
        for kind, model in LABEL_MODELS.items():
            records = self.export.of(model)
            names = {r["pk"]: label_name(r["fields"].get("name", "")) for r in records}
            self.names[kind] = names
            out: dict[str, dict[str, Any]] = {}
            for record in records:
                f = record["fields"]
                settings: dict[str, Any] = {}
                algorithm = ALGORITHMS.get(f.get("matching_algorithm", 0), "none")
                if f.get("match") and algorithm not in ("none", "auto"):
                    settings["match"] = f["match"]
                settings["algorithm"] = algorithm
                if f.get("is_insensitive") is False:
                    settings["case_sensitive"] = True
                parent = f.get("tn_parent", f.get("parent"))
                if kind == "tags" and parent in names:
                    settings["parent"] = names[parent]
                if kind == "tags" and f.get("is_inbox_tag"):
                    settings["inbox"] = True
                out[names[record["pk"]]] = settings
            self.plan.labels[kind] = out

    def _fields(self) -> None:
        fields: dict[Any, tuple[str, str, dict[str, str]]] = {}
        for record in self.export.of("documents.customfield"):
            f = record["fields"]
            kind = FIELD_TYPES.get(f.get("data_type", ""))
            if kind is None:
                self.plan.left_out.append(f"custom field {f.get('name')!r}: type "
                                          f"{f.get('data_type')!r} is unknown; values left out")
                continue
            name = field_name(f.get("name", ""))
            taken = {n for n, _, _ in fields.values()}
            base, number = name, 2
            while name in taken:  # "Due" and "due date!" may make the same name
                name = f"{base[:60]}_{number}"
                number += 1
            decl: dict[str, Any] = {"type": kind}
            options: dict[str, str] = {}
            if kind == "select":
                raw = (f.get("extra_data") or {}).get("select_options") or []
                for number, option in enumerate(raw):  # 2.x: labels; later: {id, label}
                    if isinstance(option, dict):
                        options[str(option.get("id"))] = str(option.get("label"))
                    else:
                        options[str(number)] = str(option)
                decl["options"] = list(dict.fromkeys(options.values())) or ["(none)"]
            self.plan.fields[name] = decl
            fields[record["pk"]] = (name, kind, options)
        self.fields = fields

    # ------------------------------------------------------------ documents

    def _grants(self) -> dict[int, dict[str, tuple[set[str], set[str]]]]:
        """document pk → view/change → (users, groups), from guardian's records."""
        content_types = {r["pk"]: (r["fields"].get("app_label"), r["fields"].get("model"))
                         for r in self.export.of("contenttypes.contenttype")}
        codenames = {}
        for r in self.export.of("auth.permission"):
            codenames[r["pk"]] = (r["fields"].get("codename"),
                                  content_types.get(r["fields"].get("content_type")))
        out: dict[int, dict[str, tuple[set[str], set[str]]]] = {}
        unresolved = 0
        for model, who in (("guardian.userobjectpermission", "user"),
                           ("guardian.groupobjectpermission", "group")):
            for record in self.export.of(model):
                f = record["fields"]
                perm = f.get("permission")
                if isinstance(perm, list):  # natural key: [codename, app_label, model]
                    codename, target = perm[0], (perm[1], perm[2])
                elif perm in codenames:
                    codename, target = codenames[perm]
                else:
                    unresolved += 1
                    continue
                if target is not None and target[1] != "document":
                    continue  # object permissions on labels: paperfs labels have none
                action = {"view_document": "view", "change_document": "change"}.get(codename)
                holder = self.names[who].get(f.get(who))
                if action is None or holder is None:
                    continue
                doc = int(f.get("object_pk"))
                grants = out.setdefault(doc, {"view": (set(), set()), "change": (set(), set())})
                grants[action][0 if who == "user" else 1].add(holder)
        if unresolved:
            self.plan.left_out.append(f"object permissions: {unresolved} name a permission "
                                      "the export does not hold (auth.permission); left out")
        return out

    def _values(self) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        for record in self.export.of("documents.customfieldinstance"):
            f = record["fields"]
            if f.get("deleted_at") or f.get("field") not in self.fields:
                continue
            name, kind, options = self.fields[f["field"]]
            value = next((f[k] for k in VALUE_KEYS if f.get(k) is not None), None)
            if kind == "select" and value is not None:
                value = options.get(str(value), str(value))
            out.setdefault(f["document"], {})[name] = value
        return out

    def _notes(self) -> dict[int, list[Note]]:
        out: dict[int, list[Note]] = {}
        for record in self.export.of("documents.note"):
            f = record["fields"]
            if f.get("deleted_at") or not str(f.get("note") or "").strip():
                continue
            time = _parse_time(f["created"], f"note {record['pk']}") if f.get("created") else None
            out.setdefault(f["document"], []).append(
                Note(str(f["note"]), self.names["user"].get(f.get("user")), time))
        return out

    def _documents(self) -> None:
        grants, values, notes = self._grants(), self._values(), self._notes()
        users = self.names["user"]
        folder = self.export.folder
        later: dict[int, list[tuple[int, dict]]] = {}
        for record in self.export.of("documents.document"):
            f, pk = record["fields"], record["pk"]
            where = f"{self.export.where.get(pk, 'manifest.json')}: document {pk}"
            if f.get("root_document") is not None:
                later.setdefault(f["root_document"], []).append((f.get("version_index") or 0,
                                                                 record))
                continue
            if f.get("storage_type") == "gpg":
                raise ExportError(f"{where}: stored GPG-encrypted; decrypt it in paperless "
                                  "('decrypt_documents') and export again")
            perms = grants.get(pk, {"view": (set(), set()), "change": (set(), set())})
            archive_name = record.get(ARCHIVE_NAME)
            doc = PlannedDoc(
                pk=pk, where=where,
                title=(f.get("title") or "").strip() or Path(f.get("original_filename")
                                                             or f"document {pk}").stem,
                created=_created(f.get("created"), where),
                added=_parse_time(f.get("added") or f.get("created"), where),
                original=folder / record[FILE_NAME],
                original_name=f.get("original_filename") or Path(record[FILE_NAME]).name,
                mime_type=f.get("mime_type") or "application/pdf",
                checksum=str(f.get("checksum") or ""),
                archive=folder / archive_name if archive_name else None,
                archive_checksum=f.get("archive_checksum"),
                content=f.get("content") or "",
                asn=f.get("archive_serial_number"),
                correspondent=self.names["correspondents"].get(f.get("correspondent")),
                document_type=self.names["document_types"].get(f.get("document_type")),
                tags=tuple(self.names["tags"][t] for t in f.get("tags") or []
                           if t in self.names["tags"]),
                owner=users.get(f.get("owner")),
                permissions=Permissions(
                    view=Grants(tuple(sorted(perms["view"][0])), tuple(sorted(perms["view"][1]))),
                    change=Grants(tuple(sorted(perms["change"][0])),
                                  tuple(sorted(perms["change"][1])))),
                custom_fields=values.get(pk, {}),
                notes=tuple(notes.get(pk, [])),
                trashed=_parse_time(f["deleted_at"], where) if f.get("deleted_at") else None)
            if f.get("storage_path") is not None:
                doc.storage_path = self.names["storage_paths"].get(f["storage_path"])
            self.plan.documents.append(doc)
        by_pk = {doc.pk: doc for doc in self.plan.documents}
        for root, versions in later.items():
            if root not in by_pk:
                raise ExportError(f"document versions name root document {root}, which the "
                                  "export does not hold")
            for _, record in sorted(versions, key=lambda item: item[0]):
                name = record.get(ARCHIVE_NAME) or record[FILE_NAME]
                checksum = (record["fields"].get("archive_checksum") if record.get(ARCHIVE_NAME)
                            else record["fields"].get("checksum"))
                by_pk[root].versions.append(Version(
                    record["pk"], folder / name, str(checksum or ""),
                    record["fields"].get("version_label"),
                    _parse_time(record["fields"].get("added"), f"document {record['pk']}"),
                    record["fields"].get("content") or ""))
            if by_pk[root].versions[-1].content:
                by_pk[root].content = by_pk[root].versions[-1].content

    # ------------------------------------------------------------ storage paths

    def _storage_paths(self) -> None:
        """Suggested path rules: paperless chose a storage path per document; paperfs
        chooses by a query in paperfs.yml, which is the operator's to write."""
        used: dict[Any, int] = {}
        for record in self.export.of("documents.document"):
            pk = record["fields"].get("storage_path")
            if pk is not None:
                used[pk] = used.get(pk, 0) + 1
        for record in self.export.of("documents.storagepath"):
            name = record["fields"].get("name")
            template = path_template(str(record["fields"].get("path") or ""))
            count = used.get(record["pk"], 0)
            if template is None:
                self.plan.left_out.append(
                    f"storage path {name!r} ({count} documents): its template "
                    f"{record['fields'].get('path')!r} uses what paperfs path templates "
                    "cannot say; write a rule in archive.paths of paperfs.yml")
            else:
                self.plan.left_out.append(
                    f"storage path {name!r} ({count} documents): not applied; as a path "
                    f"rule in archive.paths of paperfs.yml: {{when: QUERY, path: "
                    f"'{template}'}} (the sidecars record it as source.storage_path)")

    # ------------------------------------------------------------ saved views

    def _saved_views(self) -> None:
        rules: dict[Any, list[dict]] = {}
        for record in self.export.of("documents.savedviewfilterrule"):
            rules.setdefault(record["fields"].get("saved_view"), []).append(record["fields"])
        for record in self.export.of("documents.savedview"):
            name = label_name(record["fields"].get("name", "")) or f"view {record['pk']}"
            parts, missing = [], []
            for rule in rules.get(record["pk"], []):
                part = self._rule_query(rule)
                if part is None:
                    missing.append(str(rule.get("rule_type")))
                elif part:
                    parts.append(part)
            if missing or not parts:
                self.plan.left_out.append(
                    f"saved view {name!r}: " + (f"filter rule types {', '.join(missing)} have "
                                                "no query equivalent" if missing
                                                else "no filter rules") + "; not carried over")
                continue
            owner = self.names["user"].get(record["fields"].get("owner"))
            self.plan.saved.append((name, " ".join(parts), owner))

    def _rule_query(self, rule: dict) -> str | None:
        kind, value = rule.get("rule_type"), rule.get("value")
        quoted = '"' + str(value or "").replace('"', "") + '"'

        def label(names: str) -> str | None:
            found = self.names[names].get(int(value)) if str(value).isdigit() else None
            return None if found is None else '"' + found.replace('"', "") + '"'

        simple = {0: "title", 1: "content", 19: None, 20: None, 48: "title", 49: None}
        if kind in simple:
            return f"{simple[kind]}:{quoted}" if simple[kind] else str(value or "")
        if kind == 2:
            return f"asn:{value}"
        if kind in (6, 22, 17):
            tag = label("tags")
            return None if tag is None else ("-" if kind == 17 else "") + f"tag:{tag}"
        if kind in (3, 26):
            name = label("correspondents")
            return None if name is None else f"correspondent:{name}"
        if kind in (4, 28):
            name = label("document_types")
            return None if name is None else f"type:{name}"
        if kind in (8, 13, 9, 14):
            return (f"{'created' if kind in (8, 9) else 'added'}:"
                    f"{'<' if kind in (8, 13) else '>'}{str(value)[:10]}")
        return None
