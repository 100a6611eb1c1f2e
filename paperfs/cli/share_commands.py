"""CLI commands for share links (registered on import; docs/sharing.md).

    paperfs share create (--document ID | --search NAME) --expires 7d [--as USER]
    paperfs share list [--json]
    paperfs share revoke ID|TOKEN|URL
"""

from __future__ import annotations

import json
from typing import Any

import click

from paperfs.cli.app import cli, runtime_of
from paperfs.errors import NotFoundError, UsageError


def _store(runtime: Any) -> Any:
    from paperfs.sharing.store import share_store

    return share_store(runtime.root, runtime.config)


def _creator(runtime: Any, name: str | None) -> Any:
    """The paperfs user a link is made as: --as, or the only user there is."""
    from paperfs.access.users import load_users, users_path

    table = load_users(users_path(runtime.root.root))
    if name is None:
        if len(table.accounts) != 1:
            raise UsageError("name the user the link is made as with --as USER: a link shows "
                             "only what this user may view" + (
                                 "" if table.accounts else
                                 " (there are no users yet: 'paperfs user add NAME')"))
        name = next(iter(table.accounts))
    user = table.user(name)
    if user is None:
        raise NotFoundError(f"no user {name!r} in users.yml ('paperfs user list')")
    return user


def _check_target(runtime: Any, user: Any, document: int | None, search: str | None) -> None:
    """The creator must be able to view what he shares (missing = not visible)."""
    if document is not None:
        from paperfs.sharing.view import visible_entry

        runtime.root.check_initialised()
        catalog = runtime.open_catalog()
        try:
            entry = visible_entry(catalog, user, document)
        finally:
            catalog.close()
        if entry is None:
            raise NotFoundError(f"{user.name} may view no document with id {document}")
        return
    from paperfs.archive.custom_fields import fields_of
    from paperfs.search.saved import SavedSearches

    saved = SavedSearches(runtime.root.root, runtime.config.dav.saved,
                          fields_of(runtime.root.fields_file).types)
    if saved.get(search, user) is None:
        raise NotFoundError(f"{user.name} has no saved search {search!r} ('paperfs saved list')")


@cli.group("share")
def share_group() -> None:
    """Share links: read access to one document or saved search without a login."""


@share_group.command("create")
@click.option("--document", "document", type=int, metavar="ID", help="Share this document.")
@click.option("--search", "search", metavar="NAME", help="Share this saved search.")
@click.option("--expires", required=True, metavar="DURATION",
              help="How long the link works: 30m, 12h, 7d, 2w (at most dav.share_max_days).")
@click.option("--as", "as_user", metavar="USER",
              help="The user the link is made as (default: the only user).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def share_create(ctx: click.Context, document: int | None, search: str | None, expires: str,
                 as_user: str | None, as_json: bool) -> None:
    """Make a link; its URL is printed once (only a hash of it is kept)."""
    from paperfs.sharing.store import parse_duration, public_base

    if (document is None) == (search is None):
        raise UsageError("give either --document ID or --search NAME")
    duration = parse_duration(expires)
    runtime = runtime_of(ctx)
    user = _creator(runtime, as_user)
    _check_target(runtime, user, document, search)
    kind, target = ("document", str(document)) if document is not None else ("search", search)
    link, token = _store(runtime).create(kind, target, user.name, duration)
    url = f"{public_base(runtime.config)}/s/{token}"
    if as_json:
        click.echo(json.dumps({"url": url, **link.to_json(link.created)}, indent=1))
        return
    click.echo(url)
    click.echo(f"link {link.id}: {link.describe()} as {user.name}, until "
               f"{link.expires:%Y-%m-%d %H:%M} UTC (revoke: paperfs share revoke {link.id})",
               err=True)


@share_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def share_list(ctx: click.Context, as_json: bool) -> None:
    """The links (active, expired, revoked), without their URLs."""
    store = _store(runtime_of(ctx))
    now = store.now()
    links = store.links()
    if as_json:
        click.echo(json.dumps([s.to_json(now) for s in links], indent=1))
        return
    for s in links:
        click.echo(f"{s.id}  {s.state(now):8}  {s.describe()}  by {s.creator}  "
                   f"until {s.expires:%Y-%m-%d %H:%M}")
    if not links:
        click.echo("no share links")


@share_group.command("revoke")
@click.argument("key", metavar="ID|TOKEN|URL")
@click.pass_context
def share_revoke(ctx: click.Context, key: str) -> None:
    """End a link at once (its id from 'paperfs share list', or its token or URL)."""
    link = _store(runtime_of(ctx)).revoke(key)
    click.echo(f"link {link.id} ({link.describe()}) revoked")
