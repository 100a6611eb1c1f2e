"""paperfs export read as paperless-ngx 3.x's document_importer reads it: what it needs
of each document record to put the files in place, and grants to any group."""

from __future__ import annotations

import json

from tests.helpers import init_root
from tests.paperless_exports import make_export
from tests.test_migrate import FIXTURES, run, state


def test_export_names_where_paperless_puts_each_file(tmp_path):
    """The importer copies the files with its filename signals off, to
    ORIGINALS_DIR/filename and ARCHIVE_DIR/archive_filename (models.Document.source_path,
    archive_path): an archive file without archive_filename has nowhere to go."""
    root = init_root(tmp_path)
    run(root, "import-paperless", make_export(tmp_path / "export", 3))
    run(root, "export", tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    docs = [r for r in manifest if r["model"] == "documents.document"]
    assert len(docs) == 6  # five documents, one of them with a later version
    for record in docs:
        fields = record["fields"]
        assert fields["filename"], record
        if fields["root_document"] is None:  # the original under the name it was exported as
            assert fields["filename"] == record["__exported_file_name__"].split("/")[-1]
        assert fields["archive_filename"] and fields["archive_filename"].endswith(".pdf")
    # each file of the archive is a file of its own in paperless' media folders
    assert len({r["fields"]["filename"] for r in docs}) == len(docs)
    assert len({r["fields"]["archive_filename"] for r in docs}) == len(docs)


def test_a_grant_to_a_group_users_yml_does_not_list(tmp_path):
    """paperfs edit --grant takes any group name; the export declares it as a group."""
    root = init_root(tmp_path)
    run(root, "import-paperless", make_export(tmp_path / "export", 3))
    run(root, "edit", "2", "--grant", "view:group:neighbours")
    run(root, "export", tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    groups = {r["fields"]["name"]: r["pk"] for r in manifest if r["model"] == "auth.group"}
    assert "neighbours" in groups
    grants = [r["fields"] for r in manifest if r["model"] == "guardian.groupobjectpermission"]
    assert {"permission": 1, "content_type": 1, "object_pk": "2",
            "group": groups["neighbours"]} in grants
    second = init_root(tmp_path / "two")
    run(second, "import-paperless", tmp_path / "out")
    assert state(second)[2].permissions.view.groups == ("neighbours",)


def test_a_mail_rule_older_than_paperless_can_store(tmp_path):
    """mail.yml takes max_age_days up to 36,500; paperless' maximum_age is a
    PositiveSmallIntegerField (at most 32,767 in PostgreSQL): exported as that."""
    root = init_root(tmp_path)
    run(root, "import-paperless", FIXTURES / "3.0-split-p")
    rules = root.root / "mail.yml"
    rules.write_text(rules.read_text().replace("max_age_days: 30", "max_age_days: 36500", 1))
    run(root, "export", tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    ages = {r["fields"]["name"]: r["fields"]["maximum_age"] for r in manifest
            if r["model"] == "paperless_mail.mailrule"}
    assert ages["Invoices"] == 32767 and max(ages.values()) == 32767, ages
