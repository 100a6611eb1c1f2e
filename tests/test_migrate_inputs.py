"""import-paperless on exports no document_exporter wrote: file names that lead out of
the export, and a second export of the same instance."""

from __future__ import annotations

import json
import zipfile

from click.testing import CliRunner

from paperfs.cli import cli
from tests.helpers import init_root
from tests.paperless_exports import make_export


def _refused(root, export) -> str:
    result = CliRunner().invoke(cli, ["--root", str(root.root), "import-paperless",
                                      str(export)])
    assert result.exit_code != 0, result.output
    return result.output + str(result.exception)


def test_file_names_that_lead_out_of_the_export_are_refused(tmp_path):
    """A manifest naming ../secret.pdf (or an absolute path) would copy a file from
    outside the export into the archive: refused, naming the record, nothing written."""
    outside = tmp_path / "secret.pdf"
    outside.write_bytes(b"%PDF-1.4 not for the archive")
    for number, name in enumerate(("../secret.pdf", str(outside))):
        export = make_export(tmp_path / f"export{number}", 3)
        manifest = json.loads((export / "manifest.json").read_text())
        doc = next(r for r in manifest if r["model"] == "documents.document")
        doc["__exported_file_name__"] = name
        (export / "manifest.json").write_text(json.dumps(manifest))
        root = init_root(tmp_path / f"root{number}")
        message = _refused(root, export)
        assert f"document {doc['pk']}: __exported_file_name__" in message, message
        assert "points outside the export" in message
        assert not any(root.archive.rglob("*")) and not root.labels_file.exists()


def test_a_link_out_of_the_export_is_refused(tmp_path):
    export = make_export(tmp_path / "export", 3)
    manifest = json.loads((export / "manifest.json").read_text())
    doc = next(r for r in manifest if r["model"] == "documents.document"
               and r.get("__exported_archive_name__"))
    archive = export / doc["__exported_archive_name__"]
    (tmp_path / "elsewhere.pdf").write_bytes(archive.read_bytes())
    archive.unlink()
    archive.symlink_to(tmp_path / "elsewhere.pdf")
    message = _refused(init_root(tmp_path), export)
    assert "__exported_archive_name__" in message and "points outside the export" in message


def test_a_zip_member_that_leads_out_is_refused(tmp_path):
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("manifest.json", "[]")
        archive.writestr("../escaped.pdf", b"%PDF-1.4")
    message = _refused(init_root(tmp_path), bad)
    assert "member '../escaped.pdf' points outside the export" in message
    assert not (tmp_path / "data" / ".paperfs" / "escaped.pdf").exists()


def test_a_later_split_export_of_the_same_instance(tmp_path):
    """With --split-manifest the documents are in their own manifests: a later export of
    the same paperless has the same manifest.json, so the same rerun state; its new
    documents get ids of their own, the ones imported before are not imported twice."""
    from tests.test_migrate import check_clean, run, state

    first = make_export(tmp_path / "first", 2, split=True, docs=3)
    later = make_export(tmp_path / "later", 2, split=True, docs=5)
    assert (first / "manifest.json").read_bytes() == (later / "manifest.json").read_bytes()
    root = init_root(tmp_path)
    run(root, "import-paperless", first)
    out = run(root, "import-paperless", later)
    assert "imported 2 documents" in out and "3 were imported by an earlier run" in out
    docs = state(root)
    assert sorted(docs) == [1, 2, 3, 4, 5]
    assert [docs[i].title for i in range(1, 6)] == [f"Document {i}" for i in range(1, 6)]
    check_clean(root)


def test_a_saved_view_paperfs_cannot_search_is_listed_by_the_dry_run(tmp_path):
    """A full-text rule is taken as a query as it is; one that does not parse is named
    by --dry-run (and by the import, which writes the others)."""
    from tests.test_migrate import run

    export = make_export(tmp_path / "export", 3)
    manifest = json.loads((export / "manifest.json").read_text())
    manifest += [{"model": "documents.savedview", "pk": 9, "fields": {
                     "owner": None, "name": "Broken", "sort_field": "created",
                     "sort_reverse": True}},
                 {"model": "documents.savedviewfilterrule", "pk": 9, "fields": {
                     "saved_view": 9, "rule_type": 20, "value": "tax AND ("}}]
    (export / "manifest.json").write_text(json.dumps(manifest))
    root = init_root(tmp_path)
    dry = run(root, "import-paperless", export, "--dry-run")
    assert "saved view 'Broken': not a valid search" in dry
    assert "saved searches: 1" in dry  # Taxes only
    out = run(root, "import-paperless", export)
    assert "saved view 'Broken': not a valid search" in out
    saved = (root.root / "saved.yml").read_text()
    assert "Taxes" in saved and "Broken" not in saved


def test_users_the_archive_has_are_not_said_to_be_created(tmp_path):
    """A second import names no user as created without a password when users.yml
    has them already (with the passwords they were given)."""
    from tests.test_migrate import run

    root = init_root(tmp_path)
    first = run(root, "import-paperless", make_export(tmp_path / "first", 2, docs=1))
    assert "users were created without passwords (alice, bob)" in first
    later = make_export(tmp_path / "later", 2, docs=2)
    dry = run(root, "import-paperless", "--dry-run", later)
    out = run(root, "import-paperless", later)
    assert "without passwords" not in dry and "without passwords" not in out, out


def test_what_a_killed_zip_import_unpacked_is_removed_by_the_next(tmp_path):
    """A kill -9 leaves the unpacked export (as large as the export) under
    .paperfs/migrate/; the next run removes it, but not the folder of a run still going
    (it holds the folder's flock)."""
    import fcntl
    import os

    from tests.test_migrate import run

    root = init_root(tmp_path)
    scratch = root.root / ".paperfs" / "migrate"
    stale, busy = scratch / "paperless-export-killed", scratch / "paperless-export-running"
    for folder in (stale, busy):
        (folder / "originals").mkdir(parents=True)
        (folder / "originals" / "big.pdf").write_bytes(b"%PDF-1.4")
    fd = os.open(busy.with_name(busy.name + ".lock"), os.O_CREAT | os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        run(root, "import-paperless", "--dry-run",
            make_export(tmp_path / "export", 3, as_zip=True))
        assert not stale.exists() and (busy / "originals" / "big.pdf").exists()
        assert sorted(p.name for p in scratch.iterdir()) == [busy.name, busy.name + ".lock"]
    finally:
        os.close(fd)
