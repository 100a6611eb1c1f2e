"""CLI commands for WebDAV, users, groups and saved searches (registered on import).

    paperfs dav [--host H] [--port P]         the WebDAV server alone (split deployments)
    paperfs user add|passwd|rm|list|superuser
    paperfs group add|rm|members|list
    paperfs saved list|add|rm
    paperfs edit ID --owner NAME --grant view:user:bob --revoke change:group:family
"""

from __future__ import annotations

import functools
import json
import logging
import signal
import sys
from typing import Any

import click

from paperfs.cli.app import NOTHING_TO_CHANGE, _config, apply_edit, cli, metadata_change
from paperfs.config import host_problem, port_problem
from paperfs.archive.document import Document, Grants, Permissions
from paperfs.errors import UsageError
from paperfs.access.users import NAME_RE, UserAdmin, users_path

log = logging.getLogger("paperfs")


# ---------------------------------------------------------------- dav


@cli.command("dav")
@click.option("--host", help="Address to listen on (default: dav.host).")
@click.option("--port", type=int, help="Port (default: dav.port).")
@click.pass_context
def dav_command(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Run the WebDAV server alone (the daemon, 'paperfs run', applies the changes)."""
    from paperfs.dav.server import DavServer
    from paperfs.archive.layout import DataRoot

    for option, value, check in (("--host", host, host_problem), ("--port", port, port_problem)):
        problem = None if value is None else check(value)
        if problem:
            raise UsageError(f"{option}: {problem}")
    config = _config(ctx)
    DataRoot(config.data_root).check_initialised()
    server = DavServer(config, None, host=host, port=port)

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("received %s, stopping the WebDAV server", signal.Signals(signum).name)
        server._stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        server.serve_forever()
    finally:
        server.stop()


# ---------------------------------------------------------------- users


def _admin(ctx: click.Context) -> UserAdmin:
    config = _config(ctx)
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
    from paperfs.search.saved import SavedSearches

    config = _config(ctx)
    return SavedSearches(config.data_root, config.dav.saved)


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


# ---------------------------------------------------------------- edit --owner/--grant


def _parse_grant(spec: str) -> tuple[str, str, str]:
    parts = spec.split(":")
    if len(parts) != 3 or parts[0] not in ("view", "change") \
            or parts[1] not in ("user", "group") or not NAME_RE.fullmatch(parts[2]):
        raise UsageError(f"--grant/--revoke {spec!r}: write view|change:user|group:NAME, "
                         "e.g. view:user:bob or change:group:family")
    return parts[0], parts[1], parts[2]


def permission_change(owner: str | None, grants: tuple[str, ...],
                      revokes: tuple[str, ...]) -> Any:
    """The change --owner/--grant/--revoke ask for, or None."""
    if owner is None and not grants and not revokes:
        return None
    if owner and not NAME_RE.fullmatch(owner):
        raise UsageError(f"--owner: {owner!r} is not a user name")
    adds = [_parse_grant(g) for g in grants]
    removes = [_parse_grant(g) for g in revokes]

    def change(doc: Document) -> Document:
        lists = {(k, w): list(getattr(getattr(doc.permissions, k), w + "s"))
                 for k in ("view", "change") for w in ("user", "group")}
        for kind, who, name in adds:
            if name not in lists[(kind, who)]:
                lists[(kind, who)].append(name)
        for kind, who, name in removes:
            lists[(kind, who)] = [n for n in lists[(kind, who)] if n != name]
        perms = Permissions(view=Grants(tuple(lists[("view", "user")]),
                                        tuple(lists[("view", "group")])),
                            change=Grants(tuple(lists[("change", "user")]),
                                          tuple(lists[("change", "group")])))
        updates: dict[str, Any] = {"permissions": perms}
        if owner is not None:
            updates["owner"] = owner or None
        return doc.replace(**updates)

    return change


def _extend_edit() -> None:
    original = cli.commands.get("edit")
    if original is None or getattr(original, "_paperfs_permissions", False):
        return

    @click.pass_context
    def callback(ctx: click.Context, doc_id: int, owner: str | None, grants: tuple[str, ...],
                 revokes: tuple[str, ...], **options: Any) -> None:
        # Every option is checked before anything is applied; one edit, one write.
        changes = [c for c in (metadata_change(**options),
                               permission_change(owner, grants, revokes)) if c is not None]
        if not changes:
            raise UsageError(NOTHING_TO_CHANGE)
        doc = apply_edit(ctx, doc_id, lambda d: functools.reduce(lambda a, f: f(a), changes, d))
        if owner is not None or grants or revokes:
            perms = doc.permissions
            click.echo(f"doc {doc.id}: owner {doc.owner or '(none)'}; view: "
                       f"{', '.join(perms.view.users + perms.view.groups) or '-'}; change: "
                       f"{', '.join(perms.change.users + perms.change.groups) or '-'}")

    command = click.Command(
        "edit", callback=callback, help=(original.help or "") +
        "\n\nPermissions: --owner NAME ('' for none), --grant/--revoke "
        "view|change:user|group:NAME (repeatable).",
        params=[*original.params,
                click.Option(["--owner"], help="Set the owner ('' clears it)."),
                click.Option(["--grant", "grants"], multiple=True,
                             metavar="view|change:user|group:NAME",
                             help="Grant view or change to a user or group; repeatable."),
                click.Option(["--revoke", "revokes"], multiple=True,
                             metavar="view|change:user|group:NAME",
                             help="Take a grant away; repeatable.")])
    command._paperfs_permissions = True  # type: ignore[attr-defined]
    cli.add_command(command, "edit")


_extend_edit()
