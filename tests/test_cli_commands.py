"""Every CLI command, found by walking the click command tree (new commands are
covered without touching this file, or fail until they get sample arguments):
help works anywhere, and nothing but `paperfs init` accepts or creates a data root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from paperfs.cli import cli
from tests.helpers import init_root


def command_paths(group: click.Group = cli, prefix: tuple[str, ...] = ()):
    """('run',), ('user',), ('user', 'add'), … for every command and group."""
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        yield path
        if isinstance(command, click.Group):
            yield from command_paths(command, path)


def leaf_commands() -> list[tuple[str, ...]]:
    groups = {path[:-1] for path in command_paths()}
    return [path for path in command_paths() if path not in groups]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFS_")}
    return {**env, **extra}


def paperfs(*args, cwd: Path, env: dict[str, str] | None = None, input: str | None = None):
    return subprocess.run([sys.executable, "-m", "paperfs", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, env=env or clean_env(),
                          timeout=60, input=input)


# ---------------------------------------------------------------- help anywhere


@pytest.mark.parametrize("path", [(), *command_paths()], ids=lambda p: " ".join(p) or "paperfs")
def test_help_works_without_a_data_root(tmp_path, path):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = paperfs(*path, "--help", cwd=empty)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    assert f"Usage: paperfs {' '.join(path)}".rstrip() in out.stdout
    assert list(empty.iterdir()) == [], "help must not create anything"


# ---------------------------------------------------------------- data roots

# Arguments that get each command past its own argument checks, to where it
# would use the data root. {file} is an existing file.
SAMPLE_ARGS: dict[tuple[str, ...], list[str]] = {
    ("check",): [],
    ("classify",): ["--explain", "1"],
    ("consume",): ["{file}"],
    ("dav",): [],
    ("edit",): ["1", "--title", "New title"],
    ("field", "add"): ["due", "date"],
    ("field", "list"): [],
    ("field", "rm"): ["due"],
    ("group", "add"): ["family"],
    ("group", "list"): [],
    ("group", "members"): ["family"],
    ("group", "rm"): ["family"],
    ("label", "add"): ["tag", "Finance", "--match", "invoice"],
    ("label", "edit"): ["tag", "Finance", "--priority", "2"],
    ("label", "list"): [],
    ("label", "rm"): ["tag", "Finance"],
    ("mail", "records"): [],
    ("mail", "failed"): [],
    ("mail", "retry"): [],
    ("mail", "test"): ["work"],
    ("note", "add"): ["1", "checked"],
    ("pages", "delete"): ["1", "2"],
    ("pages", "merge"): ["1", "2"],
    ("pages", "move"): ["1", "2", "--to", "1"],
    ("pages", "restore"): ["1", "1"],
    ("pages", "rotate"): ["1", "2", "90"],
    ("pages", "split"): ["1", "2"],
    ("pages", "versions"): ["1"],
    ("reindex",): [],
    ("retag",): ["--dry-run"],
    ("retry",): [],
    ("run",): [],
    ("saved", "add"): ["unpaid", "tag:unpaid"],
    ("scheduler",): [],
    ("saved", "list"): [],
    ("saved", "rm"): ["unpaid"],
    ("search",): ["invoice"],
    ("share", "create"): ["--document", "1", "--expires", "7d", "--as", "bob"],
    ("share", "list"): [],
    ("share", "revoke"): ["0123456789"],
    ("show",): ["1"],
    ("solr", "init"): [],
    ("solr", "status"): [],
    ("status",): [],
    ("train",): [],
    ("import-paperless",): ["{file}", "--dry-run"],
    ("export",): ["{file}.export"],
    ("user", "add"): ["bob", "--password-stdin"],
    ("user", "list"): [],
    ("user", "passwd"): ["bob", "--password-stdin"],
    ("user", "rm"): ["bob"],
    ("user", "superuser"): ["bob"],
    ("worker",): ["--concurrency", "1"],
    ("workflow", "check"): [],
    ("workflow", "list"): [],
    ("workflow", "runs"): [],
}
# solr commands need Solr configured (checked after the data root).
SOLR = "index:\n  backend: solr\n  url: http://127.0.0.1:9/solr\n"


def test_every_command_has_sample_arguments():
    assert set(SAMPLE_ARGS) == set(leaf_commands()) - {("init",)}


def sample_args(path: tuple[str, ...], tmp_path: Path) -> list[str]:
    file = tmp_path / "letter.pdf"
    file.write_bytes(b"%PDF-1.4\n%%EOF\n")
    return [a.format(file=file) for a in SAMPLE_ARGS[path]]


def assert_refused(out: subprocess.CompletedProcess, where: Path) -> None:
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 4, out.stderr
    assert len(lines) == 1 and lines[0].startswith("paperfs: error:"), out.stderr
    assert str(where) in lines[0] and f"paperfs init {where}" in lines[0], lines[0]


@pytest.mark.parametrize("path", sorted(SAMPLE_ARGS), ids=" ".join)
@pytest.mark.parametrize("kind", ["missing", "not-a-data-root"])
def test_commands_refuse_a_data_root_that_is_not_one(tmp_path, path, kind):
    target = tmp_path / "archive-here"
    if kind == "not-a-data-root":
        target.mkdir()
        (target / "notes.txt").write_text("mine\n")
    config = tmp_path / "etc" / "paperfs.yml"
    config.parent.mkdir()
    config.write_text(f"data_root: {target}\n" + SOLR)
    out = paperfs("--config", config, *path, *sample_args(path, tmp_path), cwd=tmp_path,
                  input="password-1\n")
    assert_refused(out, target)
    assert "data_root" in out.stderr and str(config) in out.stderr
    if kind == "missing":
        assert not target.exists(), "nothing but 'paperfs init' creates a data root"
    else:
        assert [p.name for p in target.iterdir()] == ["notes.txt"]


def test_root_option_naming_a_missing_folder(tmp_path):
    target = tmp_path / "nowhere"
    out = paperfs("--root", target, "status", cwd=tmp_path)
    assert_refused(out, target)
    assert not target.exists()


def test_root_option_naming_a_folder_without_config(tmp_path):
    target = tmp_path / "plain"
    target.mkdir()
    out = paperfs("--root", target, "user", "list", cwd=tmp_path)
    assert_refused(out, target)
    assert list(target.iterdir()) == []


def test_root_env_naming_a_missing_folder(tmp_path):
    target = tmp_path / "nowhere"
    out = paperfs("dav", cwd=tmp_path, env=clean_env(PAPERFS_ROOT=str(target)))
    assert_refused(out, target)
    assert not target.exists()


def test_hand_written_config_without_init_is_refused(tmp_path):
    """A paperfs.yml in a folder that was never initialised: not a data root yet."""
    target = tmp_path / "handmade"
    target.mkdir()
    (target / "paperfs.yml").write_text("data_root: .\ndav:\n  enabled: false\n")
    out = paperfs("--root", target, "run", cwd=tmp_path)
    assert_refused(out, target)
    assert [p.name for p in target.iterdir()] == ["paperfs.yml"]


def test_data_root_env_override_naming_a_missing_folder(tmp_path):
    root = init_root(tmp_path)
    target = tmp_path / "moved-away"
    out = paperfs("--root", root.root, "run", cwd=tmp_path,
                  env=clean_env(PAPERFS_DATA_ROOT=str(target)))
    assert_refused(out, target)
    assert "PAPERFS_" in out.stderr and "data_root" in out.stderr
    assert not target.exists()


def test_data_root_that_is_a_file(tmp_path):
    target = tmp_path / "a-file"
    target.write_text("x\n")
    config = tmp_path / "paperfs.yml"
    config.write_text(f"data_root: {target}\n")
    out = paperfs("--config", config, "status", cwd=tmp_path)
    assert_refused(out, target)
    assert "not a folder" in out.stderr


def test_init_then_every_route_accepts_it(tmp_path):
    target = tmp_path / "new"
    out = paperfs("init", target, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    for args, env in ((["--root", target], None), ([], clean_env(PAPERFS_ROOT=str(target))),
                      (["--config", target / "paperfs.yml"], None)):
        out = paperfs(*args, "status", cwd=tmp_path, env=env)
        assert out.returncode == 0, out.stderr
        assert "documents:   0" in out.stdout


def test_init_uses_the_root_option(tmp_path):
    """`paperfs --root DIR init` initialises DIR, not the working directory."""
    target = tmp_path / "via-option"
    out = paperfs("--root", target, "init", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (target / "paperfs.yml").is_file() and (target / ".paperfs").is_dir()
    assert not (tmp_path / "paperfs.yml").exists()
