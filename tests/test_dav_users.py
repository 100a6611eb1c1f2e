"""Users, groups, permissions, saved searches and their CLI (no server)."""

from __future__ import annotations

import datetime as dt
import os
import stat

import pytest
import yaml
from click.testing import CliRunner

from paperfs.cli import cli
from paperfs.config import SavedSearchConfig
from paperfs.archive.document import Document, Grants, Permissions
from paperfs.errors import ConfigError, NotFoundError, UsageError
from paperfs.index.model import User
from paperfs.access.permissions import can_change, can_manage, can_view, check_edit
from paperfs.search.saved import SavedSearches
from paperfs.access.users import (UserAdmin, UserStore, digest_ha1, load_users, owner_from_inbox,
                           users_path)

from tests.dav_support import Dav, add_doc, init_root


def test_users_file_holds_hashes_only_and_is_private(tmp_path):
    path = tmp_path / "users.yml"
    admin = UserAdmin(path)
    admin.add_user("alice", "s3cret-passphrase")
    text = path.read_text()
    assert "s3cret-passphrase" not in text
    assert "$argon2id$" in text
    assert "digest_ha1:" not in text  # only while digest is enabled
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    store = UserStore(path)
    assert store.verify("alice", "s3cret-passphrase") == User("alice")
    assert store.verify("alice", "wrong") is None
    assert store.verify("nobody", "s3cret-passphrase") is None
    # cached success still checks the password
    assert store.verify("alice", "s3cret-passphrase") is not None
    assert store.verify("alice", "s3cret-passphrase2") is None


def test_user_and_group_changes(tmp_path):
    path = tmp_path / "users.yml"
    admin = UserAdmin(path, digest=True)
    admin.add_user("alice", "a")
    admin.add_user("bob", "b", superuser=True)
    with pytest.raises(UsageError, match="exists"):
        admin.add_user("alice", "x")
    with pytest.raises(UsageError, match="user name"):
        admin.add_user("al:ice", "x")
    with pytest.raises(UsageError, match="user name"):
        admin.add_user("../x", "x")
    admin.add_group("family", ["alice"])
    assert admin.change_members("family", add=["bob"]) == ("alice", "bob")
    with pytest.raises(NotFoundError):
        admin.change_members("family", add=["nobody"])
    table = load_users(path)
    assert table.user("alice") == User("alice", ("family",))
    assert table.user("bob") == User("bob", ("family",), superuser=True)
    assert table.accounts["alice"].digest_ha1 == digest_ha1("alice", "a")
    store = UserStore(path)
    assert store.verify("alice", "a") is not None
    admin.set_password("alice", "new")
    assert store.verify("alice", "a") is None  # the file changed: re-read
    assert store.verify("alice", "new") is not None
    admin.remove_user("bob")
    assert load_users(path).groups["family"] == ("alice",)
    admin.remove_group("family")
    assert load_users(path).groups == {}


def test_broken_users_file_names_the_problem(tmp_path):
    path = tmp_path / "users.yml"
    path.write_text("users:\n  'bad name': {password: x}\n")
    with pytest.raises(ConfigError, match="bad name"):
        load_users(path)


def test_owner_from_inbox(tmp_path):
    UserAdmin(users_path(tmp_path)).add_user("alice", "a")
    inbox = tmp_path / "inbox"
    assert owner_from_inbox(inbox / "alice" / "scan.pdf", inbox, tmp_path) == "alice"
    assert owner_from_inbox(inbox / "alice" / "Tax" / "scan.pdf", inbox, tmp_path) == "alice"
    assert owner_from_inbox(inbox / "scan.pdf", inbox, tmp_path) is None
    assert owner_from_inbox(inbox / "alice", inbox, tmp_path) is None  # a file named alice
    assert owner_from_inbox(inbox / "mallory" / "x.pdf", inbox, tmp_path) is None


def _perms(view_users=(), view_groups=(), change_users=(), change_groups=()):
    return Permissions(Grants(tuple(view_users), tuple(view_groups)),
                       Grants(tuple(change_users), tuple(change_groups)))


def test_permission_rules():
    alice, bob = User("alice", ("family",)), User("bob")
    root = User("root", superuser=True)
    none = _perms()
    assert can_view(bob, None, none) and can_change(bob, None, none)  # no owner: shared
    assert can_view(alice, "alice", none) and can_change(alice, "alice", none)
    assert not can_view(bob, "alice", none) and not can_change(bob, "alice", none)
    assert can_view(root, "alice", none) and can_change(root, "alice", none)
    assert can_view(bob, "alice", _perms(view_users=["bob"]))
    assert not can_change(bob, "alice", _perms(view_users=["bob"]))
    assert can_view(bob, "alice", _perms(change_users=["bob"]))  # change implies view
    assert can_change(bob, "alice", _perms(change_users=["bob"]))
    assert can_view(alice, "carol", _perms(view_groups=["family"]))
    assert not can_change(alice, "carol", _perms(view_groups=["family"]))
    assert can_change(alice, "carol", _perms(change_groups=["family"]))
    assert can_manage(alice, "alice") and not can_manage(bob, "alice") and can_manage(bob, None)


def test_only_the_owner_changes_owner_and_permissions(tmp_path):
    from paperfs.archive.document import ArchiveInfo, OriginalInfo

    stamp = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    doc = Document(id=1, title="t", created=dt.date(2024, 1, 1), added=stamp, modified=stamp,
                   original=OriginalInfo("a", "application/pdf", "0", "o"),
                   archive=ArchiveInfo("0", 1), owner="alice",
                   permissions=_perms(change_users=["bob"]))
    bob = User("bob")
    assert check_edit(bob, doc, doc.replace(title="new")) is None
    assert "owner" in check_edit(bob, doc, doc.replace(owner="bob"))
    assert "owner" in check_edit(bob, doc, doc.replace(permissions=_perms()))
    assert check_edit(User("carol"), doc, doc.replace(title="x")) is not None
    assert check_edit(User("alice"), doc, doc.replace(owner="carol")) is None


def test_saved_searches(tmp_path):
    saved = SavedSearches(tmp_path, (SavedSearchConfig("Unpaid", "tag:unpaid"),))
    saved.add("Invoices", "type:invoice")
    saved.add("Mine", "tag:x", owner="alice")
    with pytest.raises(UsageError, match="exists"):
        saved.add("Unpaid", "tag:y")
    with pytest.raises(UsageError, match="valid search"):
        saved.add("Broken", "tag:(")
    with pytest.raises(UsageError, match="folder name"):
        saved.add("a/b", "x")
    alice, bob = User("alice"), User("bob")
    assert [s.name for s in saved.visible(alice)] == ["Unpaid", "Invoices", "Mine"]
    assert [s.name for s in saved.visible(bob)] == ["Unpaid", "Invoices"]
    saved.add("Mine", "tag:z", owner="bob")  # private names are per user
    saved.rename("Mine", "Mine 2", "alice")
    assert saved.get("Mine 2", alice).query == "tag:x"
    assert saved.get("Mine", bob).query == "tag:z"
    with pytest.raises(UsageError, match="config"):
        saved.remove("Unpaid")
    saved.remove("Invoices")
    assert "Invoices" not in [s.name for s in saved.all()]


def test_cli_users_groups_saved_and_edit_permissions(tmp_path):
    root, _config = init_root(tmp_path)
    runner = CliRunner()
    base = ["--root", str(root.root)]

    def run(*args, input=None):
        result = runner.invoke(cli, [*base, *args], input=input, catch_exceptions=False)
        return result

    r = run("user", "add", "alice", "--password-stdin", input="pw-alice\n")
    assert r.exit_code == 0, r.output
    assert "pw-alice" not in users_path(root.root).read_text()
    assert run("user", "add", "bob", "--superuser", input="pw\npw\n").exit_code == 0
    r = run("user", "add", "alice", "--password-stdin", input="x\n")
    assert r.exit_code == 2 and "exists" in r.output
    assert run("group", "add", "family", "alice").exit_code == 0
    r = run("group", "members", "family", "--add", "bob")
    assert "alice, bob" in r.output
    r = run("user", "list", "--json")
    rows = yaml.safe_load(r.output)
    assert {row["name"] for row in rows} == {"alice", "bob"}
    assert run("user", "passwd", "alice", "--password-stdin", input="new\n").exit_code == 0
    assert run("user", "rm", "bob").exit_code == 0
    assert "bob" not in run("user", "list").output
    assert run("saved", "add", "Unpaid", "tag:unpaid").exit_code == 0
    assert "Unpaid: tag:unpaid" in run("saved", "list").output
    assert run("saved", "rm", "Unpaid").exit_code == 0
    assert "no saved searches" in run("saved", "list").output

    # edit --owner/--grant on a filed document (no daemon: applied at once)
    from paperfs.config import load_config
    from paperfs.archive.lock import WriterLock
    from paperfs.runtime import open_archive
    config = load_config(root.root / "paperfs.yml", environ={})
    lock = WriterLock(root.lock_file)
    archive = open_archive(config, lock)
    add_doc(archive, 1, "Doc", dt.date(2024, 1, 1))
    archive.index.close()
    lock.release()
    r = run("edit", "1", "--owner", "alice", "--grant", "view:group:family",
            "--grant", "change:user:bob", "--title", "Renamed")
    assert r.exit_code == 0, r.output
    doc = Dav(root, config, None).sidecar(1)
    assert doc.owner == "alice" and doc.title == "Renamed"
    assert doc.permissions.view.groups == ("family",)
    assert doc.permissions.change.users == ("bob",)
    r = run("edit", "1", "--revoke", "change:user:bob", "--owner", "")
    doc = Dav(root, config, None).sidecar(1)
    assert doc.owner is None and doc.permissions.change.users == ()
    r = run("edit", "1", "--grant", "read:user:bob")
    assert r.exit_code == 2 and "view|change" in r.output


def test_paperfs_dav_command_serves_until_sigterm(tmp_path):
    import signal
    import subprocess
    import sys
    import time as _time

    from tests.dav_support import add_users, free_port, request_once

    root, _config = init_root(tmp_path)
    add_users(root)
    # an index must exist (the daemon normally creates it)
    from paperfs.index.sqlite import SqliteIndex
    SqliteIndex(root.index_db).close()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "paperfs", "--root", str(root.root), "dav",
                             "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = _time.monotonic() + 30
        status = None
        while _time.monotonic() < deadline:
            try:
                status = request_once(port, "PROPFIND", "/", "alice", {"Depth": "1"})
                break
            except OSError:
                _time.sleep(0.2)
        assert status == 207
        assert request_once(port, "PROPFIND", "/", "alice", {"Depth": "0"}, password="x") == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "WebDAV server on http://127.0.0.1:" in out
