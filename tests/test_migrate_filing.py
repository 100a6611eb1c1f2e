"""The import's batch journal (migrate/filing.py) after a crash at each step: what a
power loss can leave (files renamed into place but not yet synced: a sidecar beside a
PDF or original whose bytes never reached the disk), and a journal cut while written."""

from __future__ import annotations

import json

import pytest

from tests.helpers import init_root
from tests.paperless_exports import make_export
from tests.test_migrate import check_clean, run, state


def _imported(tmp_path):
    export = make_export(tmp_path / "export", 2, docs=3)
    root = init_root(tmp_path)
    run(root, "import-paperless", export)
    docs = state(root)
    paths = {i: str(next(root.archive.rglob(f"*Document {i}.yml")).relative_to(root.archive))[:-4]
             for i in docs}
    journal = next((root.root / ".paperfs" / "migrate").glob("*/ids.json")).with_name("batch.json")
    return export, root, docs, paths, journal


@pytest.mark.parametrize("lost", ["pdf", "original"])
def test_a_sidecar_whose_files_never_reached_the_disk(tmp_path, lost):
    """The batch's sync had not run: doc 3's sidecar is there, its PDF or original is
    empty. It is undone and filed again from the export; doc 2, whole, stays."""
    export, root, docs, paths, journal = _imported(tmp_path)
    victim = (root.archive / (paths[3] + ".pdf") if lost == "pdf"
              else root.root / docs[3].original.path)
    victim.write_bytes(b"")
    journal.write_text(json.dumps([{"id": i, "path": paths[i],
                                    "original": docs[i].original.path} for i in (2, 3)]))
    out = run(root, "import-paperless", export)
    assert "imported 1 documents" in out and "2 were imported by an earlier run" in out
    assert state(root)[3].archive.sha256 == docs[3].archive.sha256
    assert victim.stat().st_size > 0 and not journal.exists()
    check_clean(root)


def test_a_journal_cut_while_it_was_written(tmp_path):
    """batch.json is written (and synced) before any file of its batch: cut, nothing of
    the batch was written, and the rerun files everything that is missing."""
    export, root, docs, paths, journal = _imported(tmp_path)
    for suffix in (".yml", ".pdf"):
        (root.archive / (paths[3] + suffix)).unlink()
    (root.root / docs[3].original.path).unlink()
    run(root, "reindex")
    journal.write_text('[{"id": 3, "pa')
    out = run(root, "import-paperless", export)
    assert "imported 1 documents" in out and not journal.exists()
    assert sorted(state(root)) == [1, 2, 3]
    check_clean(root)


def test_a_name_that_differs_only_in_case_is_taken(tmp_path):
    """The archive has '… document 1' (renamed by hand, indexed): an imported 'Document 1'
    of the same folder gets the writer's collision suffix, not a file beside it that
    differs only in case (one file for Windows and macOS clients)."""
    root = init_root(tmp_path)
    run(root, "import-paperless", make_export(tmp_path / "first", 2, docs=1))
    sidecar = next(root.archive.rglob("*Document 1.yml"))
    for suffix in (".yml", ".pdf"):
        sidecar.with_suffix(suffix).rename(sidecar.with_name(
            sidecar.stem.replace("Document", "document") + suffix))
    run(root, "reindex")
    out = run(root, "import-paperless", make_export(tmp_path / "second", 2, docs=1))
    assert "imported 1 documents" in out
    names = [p.name.casefold() for p in sidecar.parent.iterdir()]
    assert len(names) == len(set(names)) == 4, names
    check_clean(root)


def test_check_reports_a_damaged_sidecar_in_the_trash(tmp_path):
    """check counts trashed documents' originals as referenced (the import puts paperless'
    trash there): a trash sidecar it cannot read is a problem it reports, naming the
    file, not the end of the check."""
    from click.testing import CliRunner

    from paperfs.archive.trash import Trash
    from paperfs.cli import cli

    root = init_root(tmp_path)
    run(root, "import-paperless", make_export(tmp_path / "export", 3))
    entry = Trash(root).get(3)
    entry.sidecar.write_text("id: [unclosed\n")
    result = CliRunner().invoke(cli, ["--root", str(root.root), "check"])
    assert result.exit_code == 1 and "in the trash: " in result.output, \
        result.output
    assert f"trash/{entry.sidecar.parent.name}/{entry.sidecar.name}" in result.output
    assert "1 error(s) left" in result.output
