"""paperless-ngx exports made the way its document_exporter writes them (tests, benchmark).

The record layout follows paperless-ngx's own exporter and models at the
tags v1.17.4, v2.20.x and v3.0.5 (src/documents/management/commands/
document_exporter.py, src/documents/models.py): 1.x writes version.json,
created as a timestamp, MD5 checksums, tags without a tree; 2.x writes
metadata.json, tags with ``tn_parent``, custom fields, soft-deleted
documents (``deleted_at``), MD5; 3.x SHA-256 and version documents
(``root_document``, ``version_index``). ``split`` writes one
``*-manifest.json`` per document (document, notes, field values), ``prefix``
is ``-p`` (originals/, archive/, json/), ``as_zip`` is ``-z``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from tests.samples import make_text_pdf

VERSIONS = {"1": "1.17.4", "2": "2.20.13", "3": "3.0.5"}
#: a 1×1 WebP: every export without --no-thumbnail has one per document (never imported)
THUMBNAIL = bytes.fromhex("524946461a000000574542505650384c0d0000002f0000001007101111888"
                          "8fe0700")


def _sum(data: bytes, major: int) -> str:
    return (hashlib.sha256 if major >= 3 else hashlib.md5)(data).hexdigest()


def unique_pdf(base: bytes, n: int, export: str = "") -> bytes:
    """A PDF with bytes of its own (a comment after %%EOF, which readers ignore)."""
    return base + f"\n% paperless test document {n} of {export}\n".encode()


def _label(pk: int, name: str, algorithm: int, match: str, major: int, **extra: Any) -> dict:
    fields = {"owner": None, "name": name, "match": match, "matching_algorithm": algorithm,
              "is_insensitive": True, **extra}
    return {"pk": pk, "fields": fields}


#: the secrets a test greps the data root and the output for
MAIL_SECRETS = ("pw-home-7Qx!secret", "pw-work-Zz9#secret", "ya29.oauth-access-secret",
                "1//refresh-token-secret")


def mail_records(major: int) -> list[tuple[int, dict]]:
    """paperless_mail.mailaccount and .mailrule as each version's models have them
    (src/paperless_mail/models.py): 1.x one attachment glob; 2.0 assign_owner_from_rule;
    2.1 include/exclude; 2.13 enabled, OAuth accounts; 2.15 pdf_layout; 3.0 stop_processing."""
    def account(name: str, server: str, port: int | None, security: int, user: str,
                password: str, **later: Any) -> dict:
        f = {"model": "paperless_mail.mailaccount", "owner": 1, "name": name,
             "imap_server": server, "imap_port": port, "imap_security": security,
             "username": user, "password": password, "is_token": later.pop("is_token", False),
             "character_set": "UTF-8"}
        if major >= 2:
            f.update({"account_type": 1, "refresh_token": None, "expiration": None, **later})
        return f

    def rule(name: str, order: int, account: int, include: str | None,
             exclude: str | None = None, **fields: Any) -> dict:
        f = {"model": "paperless_mail.mailrule", "owner": fields.pop("owner", None),
             "name": name, "order": order, "account": account}
        if major >= 2:
            f["enabled"] = fields.pop("enabled", True)
        else:
            fields.pop("enabled", None)
        f.update({"folder": "INBOX", "filter_from": None, "filter_to": None,
                  "filter_subject": None, "filter_body": None})
        if major >= 2:
            f.update({"filter_attachment_filename_include": include,
                      "filter_attachment_filename_exclude": exclude})
        else:
            f["filter_attachment_filename"] = include.split(",")[0] if include else None
        f.update({"maximum_age": 30, "attachment_type": 1, "consumption_scope": 1})
        if major >= 2:
            f["pdf_layout"] = fields.pop("pdf_layout", 0)
        else:
            fields.pop("pdf_layout", None)
        f.update({"action": 3, "action_parameter": None, "assign_title_from": 1,
                  "assign_document_type": None, "assign_correspondent_from": 1,
                  "assign_correspondent": None})
        if major >= 2:
            f["assign_owner_from_rule"] = True
        stop = fields.pop("stop_processing", False)
        if major >= 3:
            f["stop_processing"] = stop
        f.update(fields)
        f["assign_tags"] = f.pop("assign_tags", [])  # many-to-many fields come last
        return f

    records = [
        (1, account("home", "imap.example.org", 993, 2, "me@example.org", MAIL_SECRETS[0])),
        (2, account("Work Mail", "mail.acme.example", None, 3, "alice", MAIL_SECRETS[1])),
        (1, rule("Invoices", 0, 1, "*.pdf,*.xml", "*signature*", owner=1,
                 filter_from="billing@acme.example", filter_subject="Invoice", action=2,
                 action_parameter="INBOX.Invoices", assign_title_from=2, assign_tags=[1],
                 assign_document_type=1, assign_correspondent_from=4, assign_correspondent=1,
                 stop_processing=True)),
        (2, rule("Everything else", 1, 1, None, maximum_age=0, attachment_type=2,
                 consumption_scope=3, action=5, action_parameter="paperless",
                 assign_tags=[3], assign_correspondent_from=3, filter_to="me@example.org")),
        (3, rule("Scans", 0, 2, "*.pdf", folder="INBOX.Scanner", filter_subject="Scan",
                 filter_body="scanned", maximum_age=7, consumption_scope=2, action=4,
                 assign_correspondent_from=2, **({"assign_title_from": 3} if major >= 2
                                                  else {}))),
        (4, rule("Old newsletter", 1, 2, None, enabled=False, filter_from="news@shop.example",
                 action=1, pdf_layout=2)),
    ]
    if major >= 2:  # OAuth accounts came with 2.13
        records.insert(2, (3, account("gmail", "imap.gmail.com", 993, 2, "me@gmail.com",
                                      MAIL_SECRETS[2], is_token=True, account_type=2,
                                      refresh_token=MAIL_SECRETS[3],
                                      expiration="2025-01-01T00:00:00Z")))
    return records


def make_export(folder: Path, major: int = 3, *, split: bool = False, prefix: bool = False,
                as_zip: bool = False, docs: int = 0) -> Path:
    """Write an export into *folder* (returns it, or the zip); *docs* > 0: that many plain
    born-digital documents instead of the hand-picked ones (benchmark)."""
    version = VERSIONS[str(major)]
    folder.mkdir(parents=True, exist_ok=True)
    base = make_text_pdf(folder / "base.pdf", ["Invoice 4711 from ACME", "amount 12.50"]).read_bytes()
    (folder / "base.pdf").unlink()
    records: list[dict] = []

    def add(model: str, pk: int, fields: dict, **extra: Any) -> dict:
        record = {"model": model, "pk": pk, "fields": fields, **extra}
        records.append(record)
        return record

    tree = major >= 2
    for item in (_label(1, "Finance", 1, "invoice receipt", major),
                 _label(2, "Taxes", 3, "tax return", major),
                 _label(3, "Inbox", 0, "", major)):
        item["fields"].update({"color": "#a6cee3", "is_inbox_tag": item["pk"] == 3})
        if tree:
            item["fields"]["tn_parent"] = 1 if item["pk"] == 2 else None
        add("documents.tag", item["pk"], item["fields"])
    add("documents.correspondent", 1, _label(1, "ACME GmbH", 6, "", major)["fields"])
    add("documents.documenttype", 1, _label(1, "Invoice", 4, r"Invoice\s+\d+", major)["fields"])
    add("documents.storagepath", 1, {**_label(1, "By year", 0, "", major)["fields"],
                                      "path": "{created_year}/{title}"})
    add("auth.group", 1, {"name": "family", "permissions": []})
    for pk, name in ((1, "alice"), (2, "bob"), (3, "consumer")):
        add("auth.user", pk, {"username": name, "password": "pbkdf2_sha256$x", "is_superuser":
                              name == "alice", "groups": [1] if pk < 3 else [],
                              "user_permissions": [], "is_active": True})
    add("contenttypes.contenttype", 7, {"app_label": "documents", "model": "document"})
    add("auth.permission", 30, {"name": "Can view document", "content_type": 7,
                                "codename": "view_document"})
    add("auth.permission", 31, {"name": "Can change document", "content_type": 7,
                                "codename": "change_document"})
    add("guardian.userobjectpermission", 1, {"permission": 30, "content_type": 7,
                                             "object_pk": "1", "user": 2})
    add("guardian.groupobjectpermission", 1, {"permission": 31, "content_type": 7,
                                              "object_pk": "1", "group": 1})
    add("documents.savedview", 1, {"owner": 1, "name": "Taxes", "show_on_dashboard": True,
                                   "sort_field": "created", "sort_reverse": True})
    add("documents.savedviewfilterrule", 1, {"saved_view": 1, "rule_type": 6, "value": "2"})
    add("documents.savedview", 2, {"owner": None, "name": "Shared with me",
                                   "sort_field": "created", "sort_reverse": True})
    add("documents.savedviewfilterrule", 2, {"saved_view": 2, "rule_type": 37, "value": "1"})
    for pk, fields in mail_records(major):
        add(fields.pop("model"), pk, fields)
    add("documents.uisettings", 1, {"user": 1, "settings": {}})
    if major >= 2:
        add("documents.customfield", 1, {"name": "Amount", "data_type": "monetary",
                                         "extra_data": {"default_currency": None}})
        add("documents.customfield", 2, {"name": "Due", "data_type": "date", "extra_data": {}})
        add("documents.customfield", 3, {"name": "Priority", "data_type": "select",
                                         "extra_data": {"select_options": [
                                             {"id": "aB3", "label": "low"},
                                             {"id": "x9Q", "label": "high"}]}})
        add("documents.workflowtrigger", 1, {
            "type": 2, "sources": "1,2,3,4", "filter_filename": "*.pdf", "filter_path": None,
            "filter_mailrule": None, "matching_algorithm": 1, "match": "invoice",
            "is_insensitive": True, "filter_has_tags": [1], "filter_has_all_tags": [],
            "filter_has_not_tags": [3], "filter_has_correspondent": None,
            "filter_has_document_type": 1})
        add("documents.workflowtrigger", 2, {"type": 1, "sources": "3", "filter_mailrule": 1})
        add("documents.workflowtrigger", 3, {
            "type": 4, "schedule_offset_days": -7, "schedule_is_recurring": True,
            "schedule_recurring_interval_days": 30, "schedule_date_field": "custom_field",
            "schedule_date_custom_field": 2})
        add("documents.workflowactionemail", 1, {"subject": "New: {doc_title}", "body": "see",
                                                 "to": "me@example.org, you@example.org",
                                                 "include_document": True})
        add("documents.workflowactionwebhook", 1, {
            "url": "https://hooks.example.org/x", "use_params": True, "as_json": True,
            "params": {"title": "{{ title }}"}, "body": None, "headers": {"X-Key": "1"},
            "include_document": False})
        add("documents.workflowaction", 1, {
            "type": 1, "order": 0, "assign_title": "{correspondent} {created}",
            "assign_tags": [2], "assign_correspondent": 1, "assign_view_users": [2]})
        add("documents.workflowaction", 2, {"type": 3, "order": 1, "email": 1})
        add("documents.workflowaction", 3, {"type": 4, "order": 0, "webhook": 1})
        add("documents.workflowaction", 4, {"type": 1, "assign_storage_path": 1})
        add("documents.workflow", 1, {"name": "tag new", "order": 0, "enabled": True,
                                      "triggers": [1], "actions": [1, 2]})
        add("documents.workflow", 2, {"name": "mail only", "order": 1, "enabled": True,
                                      "triggers": [2], "actions": [4]})
        add("documents.workflow", 3, {"name": "due soon", "order": 2, "enabled": False,
                                      "triggers": [3], "actions": [3]})
    per_doc: dict[int, list[dict]] = {}

    exported: set[str] = set()
    bases: dict[int, str] = {}

    def public_name(pk: int, f: dict) -> str:
        """document_exporter's base name: Document.get_public_filename ("<created>
        <correspondent> <title>", "/" → "-"), "_01" … when an earlier one took it."""
        base = " ".join(part for part in (f["created"][:10],
                                          "ACME GmbH" if f["correspondent"] == 1 else "",
                                          f["title"]) if part).replace("/", "-")
        name, counter = base, 0
        while name in exported:
            counter += 1
            name = f"{base}_{counter:02}"
        exported.add(name)
        bases[pk] = name
        return name

    def doc_file(pk: int, name: str, data: bytes, kind: str = "originals") -> str:
        rel = f"{kind}/{name}" if prefix else name  # -p: originals/, archive/, thumbnails/
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
        return rel

    def document(pk: int, title: str, n: int, *, archive: bool = True, **fields: Any) -> dict:
        original = unique_pdf(base, n, folder.name)
        f = {"owner": None, "correspondent": None, "storage_path": None, "title": title,
             "document_type": None, "content": f"{title}\nInvoice 4711 from ACME",
             "mime_type": "application/pdf", "tags": [], "checksum": _sum(original, major),
             "archive_checksum": None,
             "created": "2023-05-04" if major >= 2 else "2023-05-04T00:00:00Z",
             "modified": "2024-01-01T10:00:00Z", "added": "2023-05-05T09:30:00Z",
             "filename": f"{pk:07d}.pdf", "archive_filename": None,
             "original_filename": f"{title}.pdf", "archive_serial_number": None}
        if major < 3:
            f["storage_type"] = "unencrypted"
        if major >= 2:
            f.update({"deleted_at": None, "restored_at": None, "transaction_id": None,
                      "page_count": 1})
        if major >= 3:
            f.update({"root_document": None, "version_index": None, "version_label": None})
        f.update(fields)
        name = public_name(pk, f)
        record = {"model": "documents.document", "pk": pk, "fields": f,
                  "__exported_file_name__": doc_file(pk, f"{name}.pdf", original),
                  "__exported_thumbnail_name__": doc_file(pk, f"{name}-thumbnail.webp",
                                                          THUMBNAIL, "thumbnails")}
        if archive:
            data = unique_pdf(base, 100_000 + n, folder.name)
            f["archive_checksum"] = _sum(data, major)
            f["archive_filename"] = f"{pk:07d}.pdf"
            record["__exported_archive_name__"] = doc_file(pk, f"{name}-archive.pdf", data,
                                                           "archive")
        per_doc[pk] = [record]
        return record

    documents = []
    if docs:
        for n in range(1, docs + 1):
            documents.append(document(n, f"Document {n}", n, archive=False, tags=[1]))
    else:
        documents.append(document(1, "Invoice 4711", 1, owner=1, correspondent=1,
                                  document_type=1, tags=[1, 2], archive_serial_number=17,
                                  storage_path=1))
        documents.append(document(2, "Letter", 2, archive=False, tags=[3]))
        if major >= 2:
            documents.append(document(3, "Old receipt", 3, deleted_at="2024-02-01T08:00:00Z"))
        if major >= 3:
            documents.append(document(4, "Contract", 4))
            documents.append(document(5, "Contract", 5, root_document=4, version_index=1,
                                      version_label="signed", content="Contract, signed"))
            # a text file: paperless made no archive version of it
            text = f"Shopping list of {folder.name}\nmilk, bread\n".encode()
            record = document(6, "Shopping list", 6, archive=False, mime_type="text/plain",
                              original_filename="list.txt", checksum=_sum(text, major))
            (folder / record["__exported_file_name__"]).unlink()
            record["__exported_file_name__"] = doc_file(6, f"{bases[6]}.txt", text)
            documents.append(record)
        per_doc[1].append({"model": "documents.note", "pk": 1, "fields": {
            "note": "paid on 2023-05-10", "created": "2023-05-10T12:00:00Z", "document": 1,
            "user": 1, **({"deleted_at": None} if major >= 2 else {})}})
        if major >= 2:
            for pk, (field, key, value) in enumerate(((1, "value_monetary", "EUR12.50"),
                                                      (2, "value_date", "2023-06-01"),
                                                      (3, "value_select", "x9Q")), 1):
                per_doc[1].append({"model": "documents.customfieldinstance", "pk": pk,
                                   "fields": {"document": 1, "field": field, key: value,
                                              "deleted_at": None}})
    if split:
        for pk, content in per_doc.items():
            name = f"{bases[pk]}-manifest.json"
            target = folder / ("json/" + name if prefix else name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(content, indent=2))
    else:
        for content in per_doc.values():
            records.extend(content)
    (folder / "manifest.json").write_text(json.dumps(records, indent=2))
    meta = "version.json" if major == 1 else "metadata.json"
    (folder / meta).write_text(json.dumps({"version": version}))
    if as_zip:
        made = shutil.make_archive(str(folder.parent / f"{folder.name}-export"), "zip",
                                   root_dir=folder)
        shutil.rmtree(folder)
        return Path(made)
    return folder
