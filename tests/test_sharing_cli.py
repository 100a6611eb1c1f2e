"""paperfs share create|list|revoke (paperfs/cli/share_commands.py)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from paperfs.cli import cli
from paperfs.runtime import Runtime
from paperfs.search.saved import SavedSearches
from paperfs.sharing.store import share_store

from tests.dav_support import add_doc, add_users, init_root


@pytest.fixture
def root(tmp_path):
    root, config = init_root(tmp_path, "  public_url: https://paper.example.org/\n"
                                       "  share_max_days: 10\n")
    add_users(root)
    runtime = Runtime(config)
    archive = runtime.open_archive()
    try:
        add_doc(archive, 1, "Alice invoice", dt.date(2021, 1, 1), owner="alice")
        add_doc(archive, 2, "Bob secret", dt.date(2021, 2, 1), owner="bob")
    finally:
        runtime.close_archive(archive)
    SavedSearches(root.root).add("Bills", "invoice", owner="alice")
    return root


def share(root, *args: str):
    return CliRunner().invoke(cli, ["--root", str(root.root), "share", *args])


def test_create_list_revoke(root):
    out = share(root, "create", "--document", "1", "--expires", "7d", "--as", "alice")
    assert out.exit_code == 0, out.output
    url = out.stdout.strip()
    assert url.startswith("https://paper.example.org/s/") and len(url.rsplit("/", 1)[1]) == 43
    link = share_store(root, _config(root)).find(url.rsplit("/", 1)[1])
    assert (link.kind, link.target, link.creator) == ("document", "1", "alice")
    assert f"paperfs share revoke {link.id}" in out.stderr

    listed = share(root, "list", "--json")
    assert [(s["id"], s["state"]) for s in json.loads(listed.stdout)] == [(link.id, "active")]
    assert url.rsplit("/", 1)[1] not in share(root, "list").stdout  # never the token again

    assert share(root, "revoke", link.id).exit_code == 0
    assert json.loads(share(root, "list", "--json").stdout)[0]["state"] == "revoked"
    missing = share(root, "revoke", "nosuchlink")
    assert missing.exit_code == 3 and "paperfs share list" in missing.stderr


def test_search_links_and_json(root):
    out = share(root, "create", "--search", "Bills", "--expires", "12h", "--as", "alice",
                "--json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["kind"] == "search" and data["target"] == "Bills" and data["state"] == "active"
    assert data["url"].startswith("https://paper.example.org/s/")
    # revoked by its URL
    assert share(root, "revoke", data["url"]).exit_code == 0


@pytest.mark.parametrize("args,code,message", [
    (["--document", "2", "--as", "alice"], 3, "alice may view no document with id 2"),
    (["--document", "9", "--as", "alice"], 3, "no document with id 9"),
    (["--search", "Bills", "--as", "bob"], 3, "bob has no saved search 'Bills'"),
    (["--document", "1", "--as", "mallory"], 3, "no user 'mallory'"),
    (["--document", "1"], 2, "--as USER"),
    (["--document", "1", "--search", "Bills", "--as", "alice"], 2, "either --document"),
    (["--as", "alice"], 2, "either --document"),
])
def test_refusals_name_the_fix(root, args, code, message):
    out = share(root, "create", *args, "--expires", "1d")
    assert out.exit_code == code, out.output
    assert message in out.stderr
    assert share_store(root, _config(root)).links() == []


def test_expiry_is_required_and_bounded(root):
    out = share(root, "create", "--document", "1", "--as", "alice")
    assert out.exit_code == 2 and "--expires" in out.stderr
    out = share(root, "create", "--document", "1", "--as", "alice", "--expires", "11d")
    assert out.exit_code == 2 and "at most 10 days" in out.stderr
    out = share(root, "create", "--document", "1", "--as", "alice", "--expires", "soon")
    assert out.exit_code == 2 and "7d, 12h" in out.stderr


def _config(root):
    from paperfs.config import load_config

    return load_config(root.root / "paperfs.yml", environ={})
