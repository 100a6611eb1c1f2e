"""CLI commands for WebDAV users, groups and saved searches (registered on import).

    paperfs user add|passwd|rm|list|superuser
    paperfs group add|rm|members|list
    paperfs saved list|add|rm
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from paperfs.access.users import UserAdmin, users_path
from paperfs.cli.app import cli, config_of, runtime_of
from paperfs.errors import UsageError


# ---------------------------------------------------------------- users


def _admin(ctx: click.Context) -> UserAdmin:
    config = config_of(ctx)
    return UserAdmin(users_path(config.data_root), digest=config.dav.auth in ("digest", "both"))


def _password(stdin: bool) -> str:
    if stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise UsageError("the password must not be empty")
    return password


@cli.group("user")
def user_group() -> None:
    """WebDAV users (users.yml in the data root)."""


@user_group.command("add")
@click.argument("name")
@click.option("--superuser", is_flag=True, help="May view and change every document.")
@click.option("--group", "groups", multiple=True, help="Add to this group (repeatable).")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.pass_context
def user_add(ctx: click.Context, name: str, superuser: bool, groups: tuple[str, ...],
             password_stdin: bool) -> None:
    """Add a user (asks for the password)."""
    admin = _admin(ctx)
    admin.add_user(name, _password(password_stdin), superuser=superuser, groups=groups)
    click.echo(f"user {name} added" + (" (superuser)" if superuser else ""))


@user_group.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.pass_context
def user_passwd(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Set a user's password."""
    admin = _admin(ctx)
    admin.table()  # fail early on a broken file
    admin.set_password(name, _password(password_stdin))
    click.echo(f"password of {name} changed")


@user_group.command("superuser")
@click.argument("name")
@click.option("--off", is_flag=True, help="Take superuser rights away.")
@click.pass_context
def user_superuser(ctx: click.Context, name: str, off: bool) -> None:
    """Make a user a superuser (or not, with --off)."""
    _admin(ctx).set_superuser(name, not off)
    click.echo(f"{name} is {'no longer ' if off else ''}a superuser")


@user_group.command("rm")
@click.argument("name")
@click.pass_context
def user_rm(ctx: click.Context, name: str) -> None:
    """Remove a user (documents keep their owner name; only superusers see them then)."""
    _admin(ctx).remove_user(name)
    click.echo(f"user {name} removed")


@user_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def user_list(ctx: click.Context, as_json: bool) -> None:
    """List users with their groups."""
    table = _admin(ctx).table()
    rows = [{"name": a.name, "superuser": a.superuser, "groups": list(table.groups_of(a.name)),
             "digest": a.digest_ha1 is not None} for a in sorted(table.accounts.values(),
                                                                key=lambda a: a.name)]
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    for row in rows:
        flags = " (superuser)" if row["superuser"] else ""
        groups = f"  groups: {', '.join(row['groups'])}" if row["groups"] else ""
        click.echo(f"{row['name']}{flags}{groups}")
    if not rows:
        click.echo("no users; add one with 'paperfs user add NAME'")


# ---------------------------------------------------------------- groups


@cli.group("group")
def group_group() -> None:
    """Groups of users (for document permissions)."""


@group_group.command("add")
@click.argument("name")
@click.argument("members", nargs=-1)
@click.pass_context
def group_add(ctx: click.Context, name: str, members: tuple[str, ...]) -> None:
    """Create a group, optionally with members."""
    _admin(ctx).add_group(name, members)
    click.echo(f"group {name} added")


@group_group.command("rm")
@click.argument("name")
@click.pass_context
def group_rm(ctx: click.Context, name: str) -> None:
    """Remove a group."""
    _admin(ctx).remove_group(name)
    click.echo(f"group {name} removed")


@group_group.command("members")
@click.argument("name")
@click.option("--add", "add", multiple=True, metavar="USER", help="Add a member (repeatable).")
@click.option("--remove", "remove", multiple=True, metavar="USER",
              help="Remove a member (repeatable).")
@click.pass_context
def group_members(ctx: click.Context, name: str, add: tuple[str, ...],
                  remove: tuple[str, ...]) -> None:
    """Show (and change) the members of a group."""
    members = _admin(ctx).change_members(name, add, remove)
    click.echo(f"{name}: {', '.join(members) if members else '(no members)'}")


@group_group.command("list")
@click.pass_context
def group_list(ctx: click.Context) -> None:
    """List groups and their members."""
    table = _admin(ctx).table()
    for name, members in sorted(table.groups.items()):
        click.echo(f"{name}: {', '.join(members) if members else '(no members)'}")
    if not table.groups:
        click.echo("no groups")


# ---------------------------------------------------------------- saved searches


def _saved(ctx: click.Context) -> Any:
    from paperfs.archive.custom_fields import fields_of
    from paperfs.search.saved import SavedSearches

    runtime = runtime_of(ctx)
    fields = fields_of(runtime.root.fields_file)
    return SavedSearches(runtime.root.root, runtime.config.dav.saved, fields.types)


@cli.group("saved")
def saved_group() -> None:
    """Saved searches (live folders under /saved/ on the WebDAV drive)."""


@saved_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def saved_list(ctx: click.Context, as_json: bool) -> None:
    """List saved searches (from the config and from saved.yml)."""
    items = _saved(ctx).all()
    if as_json:
        click.echo(json.dumps([{"name": s.name, "query": s.query, "owner": s.owner,
                                "origin": s.origin} for s in items], indent=1))
        return
    for s in items:
        who = f"  (private to {s.owner})" if s.owner else ""
        origin = "  [config]" if s.origin == "config" else ""
        click.echo(f"{s.name}: {s.query}{who}{origin}")
    if not items:
        click.echo("no saved searches")


@saved_group.command("add")
@click.argument("name")
@click.argument("query")
@click.option("--owner", help="Only this user sees it (default: everyone).")
@click.pass_context
def saved_add(ctx: click.Context, name: str, query: str, owner: str | None) -> None:
    """Add a saved search NAME for QUERY (in the search language)."""
    item = _saved(ctx).add(name, query, owner=owner or None)
    click.echo(f"saved search {item.name!r}: {item.query}")


@saved_group.command("rm")
@click.argument("name")
@click.option("--owner", help="Remove the private one of this user.")
@click.pass_context
def saved_rm(ctx: click.Context, name: str, owner: str | None) -> None:
    """Remove a saved search (from saved.yml; config ones are removed in the config)."""
    _saved(ctx).remove(name, owner or None)
    click.echo(f"saved search {name!r} removed")
