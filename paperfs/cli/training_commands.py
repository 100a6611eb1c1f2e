"""CLI command for the learned classifier: ``train`` (registered on import)."""

from __future__ import annotations

import sys
import time

import click

from paperfs.cli.app import cli, progress_bar, runtime_of


def _documents(runtime) -> int:
    """About how many sidecars there are to read (for the progress bar)."""
    if runtime.root.index_db.exists():
        catalog = runtime.open_catalog()
        try:
            return catalog.count()
        finally:
            catalog.close()
    from paperfs.archive.treesync import iter_sidecars

    return sum(1 for _ in iter_sidecars(runtime.root.archive))


@cli.command()
@click.option("--force", is_flag=True,
              help="Train even when nothing changed since the last training.")
@click.pass_context
def train(ctx: click.Context, force: bool) -> None:
    """Train the learned classifier (labels with algorithm auto) on the archive now.

    The daemon does this by itself when the archive changed; this is for a first
    training, or to see what the classifier learned. Works beside a running daemon."""
    from paperfs.classify.labels import load_labels
    from paperfs.classify.training import learned_names, needs_training, train_archive

    runtime = runtime_of(ctx).initialised()
    labels = load_labels(runtime.root.labels_file)  # an invalid file: its error, here
    if not any(learned_names(labels).values()):
        needs_training(runtime, labels)  # removes a model left from before
        click.echo(f"no label in {runtime.root.labels_file.name} has algorithm auto: "
                   "nothing to learn (give a tag, correspondent or document type "
                   "'algorithm: auto')")
        return
    if not force and not needs_training(runtime, labels):
        click.echo("the classifier is up to date: nothing changed since it was trained "
                   "(--force trains anyway)")
        return
    started = time.monotonic()
    with progress_bar(_documents(runtime), "reading documents") as bar:
        try:
            model = train_archive(runtime, labels, progress=lambda: bar.update(1))
        except ValueError as problem:
            click.echo(f"not trained: {problem} (documents with an inbox tag are left out)",
                       err=True)
            sys.exit(1)
    click.echo(f"trained on {model.documents} documents in {time.monotonic() - started:.1f} s")
    for kind, names in model.classes().items():
        shown = ", ".join(names[:10]) + (f", … ({len(names) - 10} more)" if len(names) > 10 else "")
        click.echo(f"{kind.replace('_', ' ')}: {len(names)}" + (f" ({shown})" if names else ""))
