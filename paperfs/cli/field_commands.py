"""CLI commands for custom field declarations and notes (registered on import).

    paperfs field add NAME TYPE [--currency C] [--option O …]   declare a field in fields.yml
    paperfs field rm NAME                                       remove a declaration
    paperfs field list                                          the declarations
    paperfs note add ID TEXT [--author NAME]                    add a note to a document

fields.yml is edited with ruamel.yaml's round trip, so the user's comments and
order stay; the new text is validated as a whole before it replaces the file.
Values are set with ``paperfs edit ID --field NAME=VALUE``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import click

from paperfs.cli.app import cli, runtime_of
from paperfs.errors import UsageError

FIELDS_HEADER = ("# Custom fields: NAME: {type: TYPE, ...}; see docs/metadata.md.\n"
                 "# Types: text, integer, number, monetary, boolean, date, url, select, "
                 "document_link.\n")


def _round_trip() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML()  # round trip: comments and order are kept
    yaml.preserve_quotes = True
    yaml.width = 100
    return yaml


def _edit_fields(path: Path, edit: Any) -> None:
    """Load fields.yml, ``edit(mapping)``, and write it back if the result is valid."""
    from ruamel.yaml.comments import CommentedMap

    from paperfs.archive.atomic import atomic_write_text
    from paperfs.archive.custom_fields import load_fields, parse_fields

    load_fields(path)  # an invalid file is reported as it is, not edited
    yaml = _round_trip()
    text = path.read_text("utf-8") if path.exists() else ""
    data = yaml.load(text) if text.strip() else None
    prefix = ""
    if data is None:  # no file, or only comments: keep them above the new mapping
        data, prefix = CommentedMap(), text if text.strip() else FIELDS_HEADER
    edit(data)
    new_text = FIELDS_HEADER
    if data:
        out = io.StringIO()
        yaml.dump(data, out)
        new_text = prefix + out.getvalue()
    parse_fields(new_text, str(path))  # never write a file paperfs would refuse
    atomic_write_text(path, new_text)


@cli.group()
def field() -> None:
    """Custom field declarations (fields.yml in the data root)."""


@field.command("add")
@click.argument("name")
@click.argument("type_", metavar="TYPE")
@click.option("--currency", help="monetary: the one currency of its values (e.g. EUR).")
@click.option("--option", "options", multiple=True,
              help="select: an allowed value; repeat for each.")
@click.pass_context
def field_add(ctx: click.Context, name: str, type_: str, currency: str | None,
              options: tuple[str, ...]) -> None:
    """Declare a custom field NAME of TYPE (text, integer, number, monetary, boolean,
    date, url, select, document_link)."""
    from ruamel.yaml.comments import CommentedMap

    from paperfs.archive.custom_fields import TYPES, load_fields

    if type_ not in TYPES:
        raise UsageError(f"unknown type {type_!r}; the types are {', '.join(TYPES)}")
    if currency is not None and type_ != "monetary":
        raise UsageError("--currency is for monetary fields")
    if options and type_ != "select":
        raise UsageError("--option is for select fields")
    if type_ == "select" and not options:
        raise UsageError("a select field needs its values: --option low --option high …")
    path = runtime_of(ctx).root.fields_file
    existing = load_fields(path).get(name)
    if existing is not None:
        raise UsageError(f"{name!r} is already declared ({existing.describe()}, {path} line "
                         f"{existing.line}); 'paperfs field rm {name}' first to change it")
    settings = CommentedMap(type=type_)
    if currency is not None:
        settings["currency"] = currency
    if options:
        settings["options"] = list(options)
    settings.fa.set_flow_style()  # one line per field: amount: {type: monetary, currency: EUR}

    def add(data: Any) -> None:
        data[name] = settings

    _edit_fields(path, add)
    click.echo(f"field {name}: {type_} declared in {path}")


@field.command("rm")
@click.argument("name")
@click.pass_context
def field_rm(ctx: click.Context, name: str) -> None:
    """Remove the declaration of NAME; documents keep their values (untyped)."""
    from paperfs.archive.custom_fields import load_fields

    path = runtime_of(ctx).root.fields_file
    if name not in load_fields(path):
        raise UsageError(f"{name!r} is not declared in {path}")
    _edit_fields(path, lambda data: data.pop(name))
    click.echo(f"field {name}: declaration removed; documents keep their values, untyped")


@field.command("list")
@click.pass_context
def field_list(ctx: click.Context) -> None:
    """The declared fields and their types."""
    from paperfs.archive.custom_fields import load_fields

    fields = load_fields(runtime_of(ctx).root.fields_file)
    if not fields.fields:
        click.echo("no custom fields declared (paperfs field add NAME TYPE)")
    for decl in fields:
        click.echo(f"{decl.name}\t{decl.describe()}")


@cli.group()
def note() -> None:
    """Notes on documents (text, author, time)."""


@note.command("add")
@click.argument("doc_id", type=int)
@click.argument("text")
@click.option("--author", help="Who wrote it (default: the user running this command).")
@click.pass_context
def note_add(ctx: click.Context, doc_id: int, text: str, author: str | None) -> None:
    """Add a note to document DOC_ID."""
    from paperfs.archive.notes import new_note

    try:
        added = new_note(text, author)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    with runtime_of(ctx).document_writer() as writer:
        edited = writer.update(doc_id, lambda d: d.replace(notes=(*d.notes, added)))
    state = "" if edited.applied else " (the running daemon applies it)"
    click.echo(f"doc {doc_id}: note added by {added.author or 'unknown'}{state}")
