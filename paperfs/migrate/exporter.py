"""paperfs export: the archive as paperless-ngx 3.x's document_importer reads it, or --tree.

The export is what ``document_exporter -p`` of 3.x writes: ``manifest.json``
(correspondents, tags with ``tn_parent``, document types, groups, users
without passwords, content types and permissions for documents, object
permissions, custom fields and their values, notes, saved views, documents
with ``__exported_file_name__``/``__exported_archive_name__`` and SHA-256
checksums), ``metadata.json`` with the version, and the files under
originals/ and archive/. Trashed documents carry ``deleted_at``; kept
versions (page edits) become 3.x version documents of their root.

``--tree`` copies archive/ and originals/ (and versions/, trash/, the label,
field and user files) as they are: the tree is readable without paperfs.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from paperfs.access.users import load_users
from paperfs.archive.custom_fields import FieldDecl, FieldSet, load_fields
from paperfs.archive.document import Document, read_sidecar
from paperfs.archive.trash import Trash
from paperfs.archive.treesync import iter_sidecars
from paperfs.archive.versions import history, version_file
from paperfs.classify.labels import KINDS, load_labels
from paperfs.migrate import mail_export
from paperfs.migrate.manifest import ALGORITHMS, ARCHIVE_NAME, FILE_NAME
from paperfs.migrate.mapping import FIELD_TYPES
from paperfs.search.saved import SavedSearches

if TYPE_CHECKING:
    from paperfs.runtime import Runtime

EXPORT_VERSION = "3.0.0"  # the manifest format written
LABEL_MODEL = {"tags": "documents.tag", "correspondents": "documents.correspondent",
               "document_types": "documents.documenttype"}
TO_ALGORITHM = {name: number for number, name in ALGORITHMS.items()}
TO_FIELD_TYPE = {"text": "string", "url": "url", "date": "date", "boolean": "boolean",
                 "integer": "integer", "number": "float", "monetary": "monetary",
                 "document_link": "documentlink", "select": "select"}
assert set(TO_FIELD_TYPE.values()) <= set(FIELD_TYPES)
PERMISSIONS = {"view": 1, "change": 2}  # auth.permission pks written with the export
DOCUMENT_CT = 1


@dataclass
class ExportResult:
    target: Path
    documents: int = 0
    trashed: int = 0
    labels: int = 0
    fields: int = 0
    notes: int = 0
    users: int = 0
    mail_accounts: int = 0
    mail_rules: int = 0
    #: what the export leaves out or changes (mail passwords, …), with the reason
    left_out: list[str] = field(default_factory=list)


@dataclass
class _Records:
    out: list[dict[str, Any]] = field(default_factory=list)
    pks: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, model: str, pk: int, fields: dict[str, Any], **extra: Any) -> None:
        self.out.append({"model": model, "pk": pk, "fields": fields, **extra})

    def pk(self, kind: str, name: str | None) -> int | None:
        return None if name is None else self.pks.get(kind, {}).get(name)


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _documents(runtime: "Runtime") -> Iterator[tuple[Document, Path, dt.datetime | None]]:
    """Every filed document with its archive PDF, then the trashed ones."""
    for entry in iter_sidecars(runtime.root.archive):
        path = Path(entry.path)
        yield read_sidecar(path), path.with_suffix(".pdf"), None
    for trashed in Trash(runtime.root).entries():
        yield read_sidecar(trashed.sidecar), trashed.pdf, trashed.deleted_at


def export_paperless(runtime: "Runtime", target: Path, *, as_zip: bool = False,
                     progress: Callable[[str, int], Callable[[int], None]] | None = None
                     ) -> ExportResult:
    target.mkdir(parents=True, exist_ok=True)
    if not as_zip:
        return _write(runtime, target, progress)
    with tempfile.TemporaryDirectory(prefix="paperfs-export-", dir=target) as tmp:
        result = _write(runtime, Path(tmp), progress)
        made = shutil.make_archive(str(target / "export"), "zip", root_dir=tmp)
    result.target = Path(made)
    return result


def _write(runtime: "Runtime", target: Path,
           progress: Callable[[str, int], Callable[[int], None]] | None) -> ExportResult:
    root = runtime.root
    result = ExportResult(target)
    records = _Records()
    labels = load_labels(root.labels_file)
    docs = list(_documents(runtime))
    mail = mail_export.load(runtime.config.mail.accounts, root.root)
    for doc, _, _ in docs:  # labels only on documents are labels too
        for kind, names in (("tags", doc.tags), ("correspondents", (doc.correspondent,)),
                            ("document_types", (doc.document_type,))):
            for name in names:
                if name:
                    records.pks.setdefault(kind, {}).setdefault(name, 0)
    for kind, name in mail.labels():  # and those only in mail rules
        records.pks.setdefault(kind, {}).setdefault(name, 0)
    for kind in KINDS:
        names = records.pks.setdefault(kind, {})
        for name in labels.of(kind):
            names.setdefault(name, 0)
        for pk, name in enumerate(sorted(names), 1):
            names[name] = pk
        for name, pk in names.items():
            label = labels.find(kind, name)
            f: dict[str, Any] = {
                "owner": None, "name": name, "match": label.match if label else "",
                "matching_algorithm": TO_ALGORITHM.get(label.algorithm, 0) if label else 0,
                "is_insensitive": not label.case_sensitive if label else True}
            if kind == "tags":
                parent = label.parent if label else None
                f.update({"color": "#a6cee3", "is_inbox_tag": bool(label and label.inbox),
                          "tn_parent": names.get(parent) if parent else None})
            records.add(LABEL_MODEL[kind], pk, f)
            result.labels += 1
    users = load_users(root.root / "users.yml")
    user_pks = {name: pk for pk, name in enumerate(sorted(users.accounts), 1)}
    group_pks = {name: pk for pk, name in enumerate(sorted(users.groups), 1)}
    for doc, _, _ in docs:  # owners and grantees that users.yml does not list
        for name in (doc.owner, *doc.permissions.view.users, *doc.permissions.change.users,
                     *(n.author for n in doc.notes)):
            if name and name not in user_pks:
                user_pks[name] = len(user_pks) + 1
        for name in (*doc.permissions.view.groups, *doc.permissions.change.groups):
            if name not in group_pks:
                group_pks[name] = len(group_pks) + 1
    for name in sorted(mail.owners() - set(user_pks)):
        user_pks[name] = len(user_pks) + 1
    for name, pk in group_pks.items():
        records.add("auth.group", pk, {"name": name, "permissions": []})
    for name, pk in user_pks.items():
        account = users.accounts.get(name)
        records.add("auth.user", pk, {
            "password": "!", "last_login": None, "is_superuser": bool(account and
                                                                      account.superuser),
            "username": name, "first_name": "", "last_name": "", "email": "",
            "is_staff": bool(account and account.superuser), "is_active": True,
            "date_joined": _iso(dt.datetime.now(dt.timezone.utc)),
            "groups": [pk_ for g, pk_ in group_pks.items() if name in users.groups.get(g, ())],
            "user_permissions": []})
    result.users = len(user_pks)
    records.add("contenttypes.contenttype", DOCUMENT_CT,
                {"app_label": "documents", "model": "document"})
    for action, pk in PERMISSIONS.items():
        records.add("auth.permission", pk, {"name": f"Can {action} document",
                                            "content_type": DOCUMENT_CT,
                                            "codename": f"{action}_document"})
    fields = load_fields(root.fields_file)
    undeclared = sorted({name for doc, _, _ in docs for name in doc.custom_fields
                         if name not in fields})  # free-form values go as text fields
    fields = FieldSet({**fields.fields, **{n: FieldDecl(n, "text") for n in undeclared}})
    field_pks: dict[str, int] = {}
    options: dict[str, dict[str, str]] = {}
    for pk, decl in enumerate(fields, 1):
        field_pks[decl.name] = pk
        extra: dict[str, Any] = {}
        if decl.type == "select":
            options[decl.name] = {label: f"opt{n}" for n, label in enumerate(decl.options, 1)}
            extra["select_options"] = [{"id": i, "label": label}
                                       for label, i in options[decl.name].items()]
        if decl.currency:
            extra["default_currency"] = decl.currency
        records.add("documents.customfield", pk, {
            "created": _iso(dt.datetime.now(dt.timezone.utc)), "name": decl.name,
            "data_type": TO_FIELD_TYPE[decl.type], "extra_data": extra})
    result.fields = len(field_pks)
    saved = SavedSearches(root.root).all()
    for pk, item in enumerate(saved, 1):
        records.add("documents.savedview", pk, {
            "owner": user_pks.get(item.owner) if item.owner else None, "name": item.name,
            "sort_field": "created", "sort_reverse": True})
        records.add("documents.savedviewfilterrule", pk, {
            "saved_view": pk, "rule_type": 20, "value": item.query})
    mail_export.add_records(records, mail, user_pks)
    result.mail_accounts, result.mail_rules = len(mail.accounts), len(mail.rules)
    result.left_out += mail.left_out
    tick = progress("exporting documents", len(docs)) if progress else None
    perm_pk = note_pk = value_pk = 0
    next_version_pk = max((d.id for d, _, _ in docs), default=0) + 1
    documents: list[dict[str, Any]] = []
    for doc, pdf, deleted_at in docs:
        base = f"{doc.id:07d}"
        original_name = f"originals/{base}{Path(doc.original.filename).suffix.lower() or '.bin'}"
        _copy(root.root / doc.original.path, target / original_name)
        kept = history(doc)
        first_pdf = version_file(root, doc.id, 1) if len(kept) > 1 else pdf
        archive_name = f"archive/{base}-archive.pdf"
        _copy(first_pdf, target / archive_name)
        record = _document_record(doc, records, user_pks, deleted_at)
        record["fields"]["archive_checksum"] = kept[0].sha256
        record["fields"]["page_count"] = kept[0].pages
        # the importer copies the files to these names with its signals off: without
        # archive_filename it has nowhere to put the archive file and stops
        record["fields"].update(filename=Path(original_name).name,
                                archive_filename=f"{base}.pdf")
        documents.append({**record, FILE_NAME: original_name, ARCHIVE_NAME: archive_name})
        for index, version in enumerate(kept[1:], 1):
            vpdf = pdf if index == len(kept) - 1 else version_file(root, doc.id, version.version)
            name = f"archive/{base}-v{version.version}.pdf"
            _copy(vpdf, target / name)
            vrecord = _document_record(doc, records, user_pks, deleted_at)
            vrecord["pk"] = next_version_pk
            vrecord["fields"].update({
                "root_document": doc.id, "version_index": index,
                "version_label": version.operation, "checksum": version.sha256,
                "archive_checksum": version.sha256, "page_count": version.pages,
                "original_filename": f"{Path(doc.original.filename).stem}-v{version.version}.pdf",
                "mime_type": "application/pdf", "filename": f"{next_version_pk:07d}.pdf",
                "archive_filename": f"{next_version_pk:07d}.pdf"})
            next_version_pk += 1
            documents.append({**vrecord, FILE_NAME: name, ARCHIVE_NAME: name})
        for action, grants in (("view", doc.permissions.view), ("change", doc.permissions.change)):
            for who, names, pks in (("user", grants.users, user_pks),
                                    ("group", grants.groups, group_pks)):
                for name in names:
                    perm_pk += 1
                    records.add(f"guardian.{who}objectpermission", perm_pk, {
                        "permission": PERMISSIONS[action], "content_type": DOCUMENT_CT,
                        "object_pk": str(doc.id), who: pks[name]})
        for note in doc.notes:
            note_pk += 1
            records.add("documents.note", note_pk, {
                "note": note.text, "created": _iso(note.time or doc.added),
                "document": doc.id, "user": user_pks.get(note.author) if note.author else None,
                "deleted_at": None, "restored_at": None, "transaction_id": None})
            result.notes += 1
        for name, value in doc.custom_fields.items():
            if name not in field_pks:
                continue
            value_pk += 1
            records.add("documents.customfieldinstance", value_pk, {
                "created": _iso(doc.added), "document": doc.id, "field": field_pks[name],
                **_value(fields.get(name).type, value, options.get(name, {})),
                "deleted_at": None, "restored_at": None, "transaction_id": None})
        result.documents += 1
        result.trashed += deleted_at is not None
        if tick:
            tick(1)
    manifest = records.out + documents
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False),
                                          encoding="utf-8")
    (target / "metadata.json").write_text(json.dumps({"version": EXPORT_VERSION}, indent=2),
                                          encoding="utf-8")
    return result


def _document_record(doc: Document, records: _Records, user_pks: dict[str, int],
                     deleted_at: dt.datetime | None) -> dict[str, Any]:
    return {"model": "documents.document", "pk": doc.id, "fields": {
        "owner": user_pks.get(doc.owner) if doc.owner else None,
        "correspondent": records.pk("correspondents", doc.correspondent),
        "storage_path": None, "title": doc.title,
        "document_type": records.pk("document_types", doc.document_type),
        "content": doc.content, "mime_type": doc.original.mime_type,
        "tags": [records.pk("tags", t) for t in doc.tags],
        "checksum": doc.original.sha256, "archive_checksum": doc.archive.sha256,
        "page_count": doc.archive.pages, "created": doc.created.isoformat(),
        "modified": _iso(doc.modified), "added": _iso(doc.added), "filename": None,
        "archive_filename": None, "original_filename": doc.original.filename,
        "archive_serial_number": doc.asn, "root_document": None, "version_index": None,
        "version_label": None, "deleted_at": _iso(deleted_at), "restored_at": None,
        "transaction_id": None}}


def _value(kind: str, value: Any, options: dict[str, str]) -> dict[str, Any]:
    key = {"text": "value_text", "url": "value_url", "date": "value_date",
           "boolean": "value_bool", "integer": "value_int", "number": "value_float",
           "monetary": "value_monetary", "document_link": "value_document_ids",
           "select": "value_select"}[kind]
    if kind == "text" and isinstance(value, str) and len(value) > 128:
        key = "value_long_text"
    if kind == "select" and value is not None:
        value = options.get(str(value), str(value))
    if kind == "text" and value is not None and not isinstance(value, str):
        value = json.dumps(value, default=str) if isinstance(value, (list, dict)) else str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        value = value.isoformat()
    return {key: value}


def _copy(src: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, target)


def export_tree(runtime: "Runtime", target: Path,
                progress: Callable[[str, int], Callable[[int], None]] | None = None) -> int:
    """A plain copy of the tree: archive/, originals/, versions/, trash/ and the user files."""
    root = runtime.root
    target.mkdir(parents=True, exist_ok=True)
    count = sum(1 for _ in iter_sidecars(root.archive))
    tick = progress("copying the tree", count) if progress else None
    for folder in (root.archive, root.originals, root.versions, root.trash):
        if folder.exists():
            shutil.copytree(folder, target / folder.name, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns(".paperfs-tmp-*"))
    for name in ("labels.yml", "fields.yml", "workflows.yml", "saved.yml", "mail.yml"):
        if (root.root / name).exists():
            shutil.copyfile(root.root / name, target / name)
    if tick:
        tick(count)
    return count
