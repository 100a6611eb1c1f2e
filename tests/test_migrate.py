"""paperfs import-paperless and paperfs export, through the CLI, on generated exports
(tests/paperless_exports.py) of paperless-ngx 1.17, 2.x and 3.x."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperfs.access.users import load_users
from paperfs.archive.trash import Trash
from paperfs.cli import cli
from paperfs.classify.labels import load_labels
from tests.helpers import archive_state, init_root
from tests.paperless_exports import make_export

REPO = Path(__file__).resolve().parent.parent


def run(root, *args, code=0):
    result = CliRunner().invoke(cli, ["--root", str(root.root), *map(str, args)])
    assert result.exit_code == code, result.output + repr(result.exception)
    return result.output


def state(root):
    return {doc.id: doc for doc in archive_state(root).values()}


def check_clean(root):
    out = run(root, "check")
    assert "no problems" in out, out


@pytest.mark.parametrize("major,split,prefix,as_zip", [
    (1, False, False, False), (2, True, False, False), (2, False, True, True),
    (3, False, False, False), (3, True, True, True)])
def test_import_each_version(tmp_path, major, split, prefix, as_zip):
    export = make_export(tmp_path / "export", major, split=split, prefix=prefix, as_zip=as_zip)
    root = init_root(tmp_path)
    dry = run(root, "import-paperless", export, "--dry-run")
    assert "would import" in dry and f"mail accounts: {2 if major == 1 else 3}" in dry
    assert not any(root.archive.rglob("*.yml")) and not root.labels_file.exists()
    out = run(root, "import-paperless", export)
    docs = state(root)
    assert sorted(docs) == [1, 2] + ([4, 6] if major >= 3 else [])
    invoice = docs[1]
    assert (invoice.title, invoice.asn, invoice.correspondent, invoice.document_type) == \
        ("Invoice 4711", 17, "ACME GmbH", "Invoice")
    assert invoice.tags == ("Finance", "Taxes") and invoice.owner == "alice"
    assert invoice.permissions.view.users == ("bob",)
    assert invoice.permissions.change.groups == ("family",)
    assert [(n.text, n.author) for n in invoice.notes] == [("paid on 2023-05-10", "alice")]
    assert invoice.created.isoformat() == "2023-05-04"
    assert invoice.content.startswith("Invoice 4711")
    assert invoice.source["storage_path"] == "By year"
    assert "path: '{created:%Y}/{title}'" in out  # the storage path as a suggested path rule
    # a document without an archive version: its original PDF is the archive PDF
    assert docs[2].archive.sha256 == docs[2].original.sha256
    labels = load_labels(root.labels_file)
    assert labels.find("tags", "Taxes").parent == ("Finance" if major >= 2 else None)
    assert labels.find("tags", "Taxes").algorithm == "exact"
    assert labels.find("correspondents", "ACME GmbH").algorithm == "auto"
    assert labels.find("tags", "Inbox").inbox
    users = load_users(root.root / "users.yml")
    assert set(users.accounts) == {"alice", "bob"} and users.groups["family"] == ("alice", "bob")
    assert all(a.password == "" for a in users.accounts.values())
    assert "paperfs user passwd" in out
    if major >= 2:
        assert dict(invoice.custom_fields) == {"amount": "EUR12.50", "due": invoice.custom_fields["due"],
                                               "priority": "high"}
        assert str(invoice.custom_fields["due"]) == "2023-06-01"
        assert Trash(root).get(3) is not None  # trashed in paperless: in paperfs' trash
        from paperfs.workflows.definitions import load_workflows

        workflows = load_workflows(root.workflows_file)
        assert sorted(w.name for w in workflows.workflows) == ["due soon", "tag new"]
        assert "workflow 'mail only': an action assigns a storage path" in out
    if major >= 3:
        from paperfs.archive.versions import history

        assert [v.operation for v in history(docs[4])] == ["filed", "signed"]
        assert docs[4].content.strip() == "Contract, signed"  # the newest version's text
        # a text file without an archive version: made into a PDF, paperless' text kept
        assert docs[6].original.mime_type == "text/plain" and docs[6].archive.pages == 1
        assert docs[6].original.path.endswith(".txt")
        assert docs[6].archive.sha256 != docs[6].original.sha256
    assert "tag:\"Taxes\"" in (root.root / "saved.yml").read_text()
    check_clean(root)


def test_broken_exports_import_nothing(tmp_path):
    cases = {}
    export = make_export(tmp_path / "missing", 3)
    next(export.glob("* Letter.pdf")).unlink()
    cases["missing"] = (export, "document 2: its original")
    export = make_export(tmp_path / "mismatch", 2)
    victim = next(export.glob("*Invoice 4711-archive.pdf"))
    victim.write_bytes(victim.read_bytes() + b"x")
    cases["mismatch"] = (export, "does not match the export's MD5 checksum")
    export = make_export(tmp_path / "unknown", 3)
    manifest = json.loads((export / "manifest.json").read_text())
    manifest.append({"model": "documents.frobnicator", "pk": 1, "fields": {}})
    (export / "manifest.json").write_text(json.dumps(manifest))
    cases["unknown"] = (export, "unknown model 'documents.frobnicator'")
    export = make_export(tmp_path / "cut", 3)
    text = (export / "manifest.json").read_text()
    (export / "manifest.json").write_text(text[: len(text) // 2])
    cases["cut"] = (export, "manifest.json: not valid JSON")
    for name, (export, message) in cases.items():
        root = init_root(tmp_path / name)
        result = CliRunner().invoke(cli, ["--root", str(root.root), "import-paperless",
                                          str(export)])
        assert result.exit_code != 0, name
        assert message in str(result.exception) + result.output, (name, result.output)
        assert not any(root.archive.rglob("*")) and not root.labels_file.exists(), name
        assert not (root.root / "users.yml").exists(), name


def test_kill_in_the_middle_then_rerun(tmp_path):
    export = make_export(tmp_path / "export", 2, docs=1200)
    root = init_root(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "paperfs", "--root", str(root.root),
                             "import-paperless", str(export)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while sum(1 for _ in root.archive.rglob("*.yml")) < 300:
        assert proc.poll() is None and time.monotonic() < deadline, "finished too soon"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    filed_before = sum(1 for _ in root.archive.rglob("*.yml"))
    assert 0 < filed_before < 1200
    out = run(root, "import-paperless", export)
    assert "were imported by an earlier run" in out
    docs = state(root)
    assert sorted(docs) == list(range(1, 1201))  # every one once, paperless' ids kept
    assert len({d.original.sha256 for d in docs.values()}) == 1200
    check_clean(root)


#: the fields of each model paperless-ngx 3.0.5 has (src/documents/models.py with its mixins
#: ModelWithOwner, MatchingModel, django-treenode's TreeNodeModel, SoftDeleteModel;
#: Django's auth and contenttypes; django-guardian): its document_importer stops at a field
#: its model does not have (Model._meta.get_field)
_SOFT = {"deleted_at", "restored_at", "transaction_id"}
_MATCHING = {"owner", "name", "match", "matching_algorithm", "is_insensitive"}
PAPERLESS_3_FIELDS = {
    "documents.correspondent": _MATCHING, "documents.documenttype": _MATCHING,
    "documents.tag": _MATCHING | {"color", "is_inbox_tag", "tn_parent", "tn_ancestors_pks",
                                  "tn_ancestors_count", "tn_children_pks", "tn_children_count",
                                  "tn_depth", "tn_descendants_pks", "tn_descendants_count",
                                  "tn_index", "tn_level", "tn_priority", "tn_order",
                                  "tn_siblings_pks", "tn_siblings_count"},
    "documents.document": _SOFT | {
        "owner", "correspondent", "storage_path", "title", "document_type", "content",
        "mime_type", "tags", "checksum", "archive_checksum", "page_count", "created",
        "modified", "added", "filename", "archive_filename", "original_filename",
        "archive_serial_number", "root_document", "version_index", "version_label"},
    "documents.note": _SOFT | {"note", "created", "document", "user"},
    "documents.savedview": {"owner", "name", "sort_field", "sort_reverse", "page_size",
                            "display_mode", "display_fields"},
    "documents.savedviewfilterrule": {"saved_view", "rule_type", "value"},
    "documents.customfield": {"created", "name", "data_type", "extra_data"},
    "documents.customfieldinstance": _SOFT | {
        "created", "document", "field", "value_text", "value_bool", "value_url", "value_date",
        "value_int", "value_float", "value_monetary", "value_document_ids", "value_select",
        "value_long_text"},
    "auth.user": {"password", "last_login", "is_superuser", "username", "first_name",
                  "last_name", "email", "is_staff", "is_active", "date_joined", "groups",
                  "user_permissions"},
    "auth.group": {"name", "permissions"},
    "auth.permission": {"name", "content_type", "codename"},
    "contenttypes.contenttype": {"app_label", "model"},
    "guardian.userobjectpermission": {"permission", "content_type", "object_pk", "user"},
    "guardian.groupobjectpermission": {"permission", "content_type", "object_pk", "group"},
    # src/paperless_mail/models.py
    "paperless_mail.mailaccount": {"owner", "name", "imap_server", "imap_port",
                                   "imap_security", "username", "password", "is_token",
                                   "character_set", "account_type", "refresh_token",
                                   "expiration"},
    "paperless_mail.mailrule": {
        "owner", "name", "order", "account", "enabled", "folder", "filter_from", "filter_to",
        "filter_subject", "filter_body", "filter_attachment_filename_include",
        "filter_attachment_filename_exclude", "maximum_age", "attachment_type",
        "consumption_scope", "pdf_layout", "action", "action_parameter", "assign_title_from",
        "assign_tags", "assign_document_type", "assign_correspondent_from",
        "assign_correspondent", "assign_owner_from_rule", "stop_processing"},
}


def test_round_trip(tmp_path):
    """paperless export → paperfs → paperfs export → paperfs: nothing lost."""
    first = init_root(tmp_path / "one")
    run(first, "import-paperless", make_export(tmp_path / "export", 3))
    letter = next(first.archive.rglob("*Letter.yml"))  # a field fields.yml does not declare
    letter.write_text(letter.read_text().replace("custom_fields: {}", "custom_fields:\n  shelf: B4"))
    run(first, "check", "--fix")
    out = run(first, "export", tmp_path / "out")
    assert "exported 5 documents (1 from the trash)" in out
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    docs = [r for r in manifest if r["model"] == "documents.document"]
    assert all(len(r["fields"]["checksum"]) == 64 for r in docs)  # 3.x: SHA-256
    for record in manifest:
        unknown = set(record["fields"]) - PAPERLESS_3_FIELDS[record["model"]]
        assert not unknown, (record["model"], unknown)
    assert all((tmp_path / "out" / r["__exported_file_name__"]).is_file() for r in docs)
    exported_fields = {r["fields"]["name"]: r["fields"]["data_type"] for r in manifest
                       if r["model"] == "documents.customfield"}
    assert exported_fields == {"amount": "monetary", "due": "date", "priority": "select",
                               "shelf": "string"}
    second = init_root(tmp_path / "two")
    run(second, "import-paperless", tmp_path / "out")

    def comparable(root):
        out = {}
        for doc in state(root).values():
            out[doc.id] = (doc.title, doc.created, doc.tags, doc.correspondent,
                           doc.document_type, doc.asn, doc.owner, doc.permissions,
                           dict(doc.custom_fields), doc.notes, doc.original.sha256,
                           doc.archive.sha256, doc.content, doc.extra.get("versions"))
        return out

    assert comparable(first) == comparable(second)
    assert Trash(second).get(3) is not None
    assert load_labels(first.labels_file).data() == load_labels(second.labels_file).data()
    from paperfs.archive.custom_fields import load_fields

    assert load_fields(second.fields_file).types() == {**load_fields(first.fields_file).types(),
                                                       "shelf": "text"}
    tree = tmp_path / "tree"
    run(first, "export", "--tree", tree)
    assert sorted(p.name for p in (tree / "archive").rglob("*.yml")) == \
        sorted(p.name for p in first.archive.rglob("*.yml"))


def test_import_into_an_archive_in_use(tmp_path):
    """New ids follow the archive's; an ASN in use refuses the import before anything is
    written; originals the archive already has are skipped and listed."""
    root = init_root(tmp_path)
    run(root, "import-paperless", make_export(tmp_path / "three", 3))
    before = state(root)
    result = CliRunner().invoke(cli, ["--root", str(root.root), "import-paperless",
                                      str(make_export(tmp_path / "two", 2))])
    assert result.exit_code != 0
    assert "ASN 17 is already held by document 1" in result.output
    assert state(root) == before
    plain = make_export(tmp_path / "plain", 2, docs=3)
    run(root, "import-paperless", plain)
    after = state(root)
    assert sorted(set(after) - set(before)) == [7, 8, 9]  # ids after the archive's
    assert [after[i].title for i in (7, 8, 9)] == ["Document 1", "Document 2", "Document 3"]
    manifest = json.loads((plain / "manifest.json").read_text())  # another export, same files
    manifest[-1]["fields"]["title"] = "Renamed"
    (plain / "manifest.json").write_text(json.dumps(manifest))
    out = run(root, "import-paperless", plain)
    assert out.count("its original is already document") == 3
    assert state(root) == after
    check_clean(root)


FIXTURES = Path(__file__).resolve().parent / "paperless-fixtures"


def _fields_by_model(folder: Path) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for manifest in [folder / "manifest.json", *folder.glob("**/*-manifest.json")]:
        for record in json.loads(manifest.read_text()):
            out.setdefault(record["model"], set()).update(record["fields"])
    return out


@pytest.mark.parametrize("name,major,split,prefix", [
    ("1.17", 1, False, False), ("2.20-split", 2, True, False), ("3.0-split-p", 3, True, True)])
def test_hand_checked_fixtures(tmp_path, name, major, split, prefix):
    """The exports kept as files import; the generator writes no field they lack."""
    generated = make_export(tmp_path / "generated", major, split=split, prefix=prefix)
    kept = _fields_by_model(FIXTURES / name)
    for model, fields in _fields_by_model(generated).items():
        assert fields <= kept[model], (model, fields - kept[model])
    root = init_root(tmp_path)
    out = run(root, "import-paperless", FIXTURES / name)
    assert f"imported {2 if major == 1 else 3 if major == 2 else 4} documents" in out
    assert state(root)[1].tags == ("Finance", "Taxes")
    check_clean(root)


def test_older_select_options_and_path_templates(tmp_path):
    """2.x before option ids: options are plain labels and a value is the option's index."""
    from paperfs.migrate.manifest import Export
    from paperfs.migrate.mapping import Mapper, path_template

    export = Export(folder=tmp_path, version="2.5.0", records={
        "documents.customfield": [{"pk": 1, "fields": {
            "name": "Priority", "data_type": "select",
            "extra_data": {"select_options": ["low", "high"]}}}],
        "documents.customfieldinstance": [{"pk": 1, "fields": {
            "document": 1, "field": 1, "value_select": 1}}],
        "documents.document": [{"pk": 1, "__exported_file_name__": "a.pdf", "fields": {
            "title": "A", "created": "2023-01-01T00:00:00+01:00", "added": "2023-01-02T00:00:00Z",
            "checksum": "x", "tags": []}}]})
    plan = Mapper(export).build()
    assert plan.fields == {"priority": {"type": "select", "options": ["low", "high"]}}
    assert plan.documents[0].custom_fields == {"priority": "high"}
    assert path_template("{created_year}/{correspondent}/{title}") == \
        "{created:%Y}/{correspondent}/{title}"
    assert path_template("{{ custom_fields.x }}/{title}") is None


def test_an_interrupted_batch_is_completed_or_undone(tmp_path):
    """What kill -9 leaves in the middle of a batch: a document whose files are all there
    stays; one whose sidecar (the commit point) is missing is removed and filed again."""
    export = make_export(tmp_path / "export", 2, docs=3)
    root = init_root(tmp_path)
    run(root, "import-paperless", export)
    docs = {doc.id: doc for doc in state(root).values()}
    paths = {doc.id: str(next(root.archive.rglob(f"*Document {doc.id}.yml"))
                         .relative_to(root.archive))[:-4] for doc in docs.values()}
    # as if the batch of documents 2 and 3 stopped after 3's PDF, before its sidecar
    sidecar3 = root.archive / (paths[3] + ".yml")
    sidecar3.unlink()
    state_dir = next((root.root / ".paperfs" / "migrate").glob("*/ids.json")).parent
    (state_dir / "batch.json").write_text(json.dumps(
        [{"id": i, "path": paths[i], "original": docs[i].original.path} for i in (2, 3)]))
    out = run(root, "import-paperless", export)
    assert "imported 1 documents" in out and "2 were imported by an earlier run" in out
    assert sorted(state(root)) == [1, 2, 3]
    assert not (state_dir / "batch.json").exists()
    check_clean(root)
