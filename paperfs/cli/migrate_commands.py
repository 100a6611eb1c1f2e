"""``paperfs import-paperless PATH`` and ``paperfs export PATH`` (registered on import).

Moving in from paperless-ngx and out again; the work is in paperfs/migrate/
(docs/migration.md)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Callable, Iterator

import click

from paperfs.cli.app import cli, progress_bar, runtime_of


@contextlib.contextmanager
def _bars() -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """A progress(label, total) for the core that opens one click bar per stage."""
    with contextlib.ExitStack() as stack:
        def start(label: str, total: int) -> Callable[[int], None]:
            return stack.enter_context(progress_bar(total, label)).update

        yield start


def _print_summary(summary: Any) -> None:
    plan = summary.plan
    click.echo(f"paperless-ngx export, version {plan.version}")
    docs = len(plan.documents)
    trashed = sum(1 for d in plan.documents if d.trashed is not None)
    versions = sum(len(d.versions) for d in plan.documents)
    labels = {kind: len(v) for kind, v in plan.labels.items()}
    rows = [("documents", docs), ("  of them in the trash", trashed),
            ("  later versions (3.x)", versions),
            ("notes", sum(len(d.notes) for d in plan.documents)),
            ("tags", labels.get("tags", 0)), ("correspondents", labels.get("correspondents", 0)),
            ("document types", labels.get("document_types", 0)),
            ("custom fields", len(plan.fields)), ("users", len(plan.users)),
            ("groups", len(plan.groups)), ("saved searches", len(plan.saved)),
            ("mail accounts", len(plan.mail.accounts)), ("mail rules", plan.mail.rule_count())]
    verb = "would import" if summary.dry_run else "in the export"
    click.echo(f"{verb}:")
    for name, count in rows:
        click.echo(f"  {name}: {count}")
    if not summary.dry_run:
        click.echo(f"imported {summary.imported} documents ({summary.trashed} into the trash), "
                   f"{summary.already} were imported by an earlier run")
        added = ", ".join(f"{n} {k}" for k, n in summary.added.items())
        click.echo(f"added: {added}")
    for line in summary.kept:
        click.echo(f"kept as it was in this archive: {line}")
    if plan.left_out or summary.skipped:
        click.echo("not carried over:")
        for line in [*plan.left_out, *summary.skipped]:
            click.echo(f"  - {line}")
    if summary.new_users:
        made = "would be created" if summary.dry_run else "were created"
        click.echo(f"users {made} without passwords ({', '.join(summary.new_users)}): "
                   "set one with 'paperfs user passwd NAME' before they log in")
    _print_mail(summary)
    if summary.retrained:
        click.echo("the classifier was retrained (labels with algorithm auto)")


def _print_mail(summary: Any) -> None:
    """Per imported account: where it went, how to give it its password (never shown)."""
    mail = summary.mail
    if mail is None:
        return
    verb = "would be added to" if summary.dry_run else "added to"
    click.echo(f"mail accounts {verb} {mail.config_path}, rules to mail.yml; paperless' "
               "passwords and tokens are never imported:")
    for account in mail.accounts:
        click.echo(f"  - {account.how(mail.config_path)}; {account.rules} rule(s)")
        for note in account.notes:
            click.echo(f"      {note}")


@cli.command("import-paperless")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True,
              help="Read and check the export, print what would be imported and what "
                   "cannot be carried over; change nothing.")
@click.pass_context
def import_paperless(ctx: click.Context, path: Path, dry_run: bool) -> None:
    """Import an export of paperless-ngx (document_exporter, 1.x–3.x): a folder or a zip.

    Every file is checked before anything is written. Interrupted, run it again:
    it continues where it stopped, without duplicates. Documents keep their
    archive PDF and text (no OCR)."""
    from paperfs.migrate.importer import run_import

    runtime = runtime_of(ctx)
    with _bars() as bars:
        summary = run_import(runtime, path, dry_run=dry_run, progress=bars)
    _print_summary(summary)


@cli.command("export")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--tree", is_flag=True,
              help="A plain copy of archive/ and originals/ with the sidecars, instead of "
                   "paperless-ngx's format.")
@click.option("--zip", "as_zip", is_flag=True, help="Write export.zip into PATH.")
@click.pass_context
def export(ctx: click.Context, path: Path, tree: bool, as_zip: bool) -> None:
    """Export the archive for paperless-ngx's document_importer (3.x manifest), or --tree."""
    from paperfs.migrate.exporter import export_paperless, export_tree

    runtime = runtime_of(ctx).initialised()
    with _bars() as bars:
        if tree:
            count = export_tree(runtime, path, progress=bars)
            click.echo(f"copied {count} documents with their sidecars to {path}")
            return
        result = export_paperless(runtime, path, as_zip=as_zip, progress=bars)
    click.echo(f"exported {result.documents} documents ({result.trashed} from the trash), "
               f"{result.labels} labels, {result.fields} custom fields, {result.notes} notes, "
               f"{result.users} users, {result.mail_accounts} mail accounts, "
               f"{result.mail_rules} mail rules to {result.target}")
    for line in result.left_out:
        click.echo(f"  - {line}")
    click.echo("import it into paperless-ngx with: document_importer " + str(result.target))
