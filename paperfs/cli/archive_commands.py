"""CLI commands for the data root and its documents (registered on import).

    paperfs init [DIR]            create a data root
    paperfs run                   the daemon
    paperfs consume FILES         consume once (or hand the files to the running daemon)
    paperfs show ID|PATH          a document's metadata
    paperfs edit ID --title …     change it (--owner/--grant/--revoke: permissions)
    paperfs status                queue, progress, failed files, counts
    paperfs retry                 failed/ back into the inbox
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any, Callable

import click

from paperfs.access.grants import permission_change
from paperfs.archive.custom_fields import assignments_change, load_fields
from paperfs.cli.app import cli, json_default, runtime_of
from paperfs.config import CONFIG_NAME, load_config
from paperfs.errors import NotFoundError, UsageError
from paperfs.index.base import Index
from paperfs.runtime import Runtime

log = logging.getLogger("paperfs")

# ---------------------------------------------------------------- init

EXAMPLE_CONFIG = """\
# paperfs configuration. Every key is documented in docs/configuration.md;
# an annotated example with all keys is config/paperfs.example.yml.
# Environment variables override keys: PAPERFS_OCR__LANGUAGES=eng+deu
data_root: .
ocr:
  mode: auto          # auto | always | never | redo
  languages: {languages}
consume:
  date_order: DMY     # DMY | MDY | YMD
archive:
  paths:
    - path: "{{correspondent}}/{{created:%Y}}/{{created:%Y-%m-%d}} {{title}}"
"""


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), required=False)
@click.option("--languages", default="eng", show_default=True,
              help="OCR languages, tesseract style (eng+deu).")
@click.pass_context
def init(ctx: click.Context, directory: Path | None, languages: str) -> None:
    """Create a data root in DIRECTORY (default: --root, else the working directory;
    idempotent: keeps an existing config)."""
    from paperfs.archive.layout import DataRoot

    if directory is None:
        directory = Path(ctx.obj.root or ".")
    root = DataRoot(directory.resolve())  # there is no configuration yet
    root.create()
    config_path = root.root / CONFIG_NAME
    if config_path.exists():
        load_config(config_path)  # validate what is there
        click.echo(f"{root.root} is a paperfs data root already ({CONFIG_NAME} kept)")
        return
    config_path.write_text(EXAMPLE_CONFIG.format(languages=languages), encoding="utf-8")
    click.echo(f"created a paperfs data root in {root.root}\n"
               f"  drop files into {root.inbox}\n  start the daemon: paperfs --root "
               f"{directory} run")


# ---------------------------------------------------------------- run


@cli.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the daemon: consume the inboxes, keep archive and index in step, serve WebDAV."""
    from paperfs.daemon.service import Daemon
    from paperfs.daemon.systemd import Notifier

    daemon = Daemon(runtime_of(ctx))

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        daemon.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    daemon.run(notify=Notifier().notify)
    log.info("paperfs stopped")


# ---------------------------------------------------------------- consume


@cli.command()
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--serial", is_flag=True, help="Process in this process (debugging).")
@click.pass_context
def consume(ctx: click.Context, files: tuple[Path, ...], serial: bool) -> None:
    """Consume FILES once, through the same pipeline as the daemon (files are copied)."""
    from paperfs.daemon.consumer import Consumer
    from paperfs.daemon.intake import hand_off_to_inbox

    runtime = runtime_of(ctx).initialised()
    if runtime.lock.held_elsewhere():
        for path in hand_off_to_inbox(runtime.root, files):
            click.echo(f"queued for the running daemon: {path}")
        return
    failures = 0
    with click.progressbar(length=len(files), label="consuming", file=sys.stderr,
                           show_pos=True) as bar:
        def on_result(result: Any) -> None:
            nonlocal failures
            if result.error is None:
                click.echo(f"\nfiled {result.source} -> archive/{result.path}.pdf "
                           f"(id {result.doc.id})")
            else:
                failures += 1
                click.echo(f"\nfailed {result.source}: {result.error}", err=True)

        consumer = Consumer(runtime, serial=serial, on_result=on_result,
                            on_input_done=lambda source: bar.update(1))
        consumer.open()
        try:
            consumer.claim_files(files)
            consumer.consume_now()
        finally:
            consumer.close()
    if failures:
        ctx.exit(6)


# ---------------------------------------------------------------- show


def _resolve(runtime: Runtime, catalog: Index, ident: str) -> tuple[int, str]:
    """An id, or a path to a document's .pdf/.yml -> (id, archive-relative path)."""
    if ident.isdigit():
        ref = catalog.ref(int(ident))
        if ref is None:
            raise NotFoundError(f"no document with id {ident}")
        return ref.id, ref.path
    archive = runtime.root.archive
    path = Path(ident).resolve()
    try:
        rel = path.relative_to(archive.resolve()).with_suffix("").as_posix()
    except ValueError:
        raise NotFoundError(f"{ident} is not inside {archive}") from None
    ref = catalog.ref_by_path(rel)
    if ref is None:
        raise NotFoundError(f"{ident} is not a filed document (try 'paperfs reindex')")
    return ref.id, ref.path


@cli.command()
@click.argument("ident", metavar="ID|PATH")
@click.option("--json", "as_json", is_flag=True, help="All fields as JSON.")
@click.option("--content", is_flag=True, help="Print the full text too.")
@click.pass_context
def show(ctx: click.Context, ident: str, as_json: bool, content: bool) -> None:
    """Show a document's metadata."""
    from paperfs.archive.document import read_sidecar, to_mapping

    runtime = runtime_of(ctx).initialised()
    catalog = runtime.open_catalog(readonly=False)
    try:
        _doc_id, rel = _resolve(runtime, catalog, ident)
    finally:
        catalog.close()
    doc = read_sidecar(runtime.root.archive / (rel + ".yml"))
    data = to_mapping(doc)
    data["path"] = f"archive/{rel}.pdf"
    if as_json:
        data["content"] = doc.content
        click.echo(json.dumps(data, default=json_default, ensure_ascii=False, indent=1))
        return
    for key in ("id", "title", "created", "correspondent", "document_type", "tags", "asn",
                "owner", "added", "modified", "path"):
        value = data[key]
        if isinstance(value, list):
            value = ", ".join(value)
        click.echo(f"{key + ':':15} {'' if value is None else value}")
    click.echo(f"{'pages:':15} {doc.archive.pages}")
    click.echo(f"{'original:':15} {doc.original.filename} ({doc.original.mime_type}) "
               f"{doc.original.path}")
    for name, value in doc.custom_fields.items():
        click.echo(f"{'field ' + str(name) + ':':15} {'' if value is None else value}")
    for note in doc.notes:
        by = ", ".join(x for x in (note.author, note.time and note.time.isoformat()) if x)
        click.echo(f"{'note:':15} {note.text}" + (f"  ({by})" if by else ""))
    if content:
        click.echo("\n" + doc.content)


# ---------------------------------------------------------------- edit

Change = Callable[[Any], Any]  # Document -> changed Document
NOTHING_TO_CHANGE = "nothing to change: give an option such as --title or --tag " \
                    "(paperfs edit --help)"


def _parse_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(f"--created: {value!r} is not a date like 2024-03-15") from None


def _parse_tags(specs: tuple[str, ...]) -> list[tuple[bool, str]]:
    """'+tag' or 'tag' -> (True, 'tag'); '-tag' -> (False, 'tag')."""
    changes = []
    for spec in specs:
        text = spec.strip()
        adding = not text.startswith("-")
        name = text[1:].strip() if text.startswith(("+", "-")) else text
        if not name:
            raise UsageError(f"--tag {spec!r} names no tag: write TAG or +TAG to add it, "
                             "-TAG to remove it")
        changes.append((adding, name))
    return changes


def _clearable(option: str, value: str) -> str | None:
    """'' clears the field; only blanks is most likely a mistake."""
    if value and not value.strip():
        raise UsageError(f"{option}: {value!r} is only blanks; pass '' to clear it")
    return value.strip() or None


def metadata_change(*, title: str | None, tags: tuple[str, ...], correspondent: str | None,
                    document_type: str | None, created: str | None,
                    asn: str | None) -> Change | None:
    """The change the metadata options of 'edit' ask for (None: none), checked in full
    before anything is read or written."""
    updates: dict[str, Any] = {}
    if title is not None:
        if not title.strip():
            raise UsageError("--title must not be empty")
        updates["title"] = title.strip()
    if correspondent is not None:
        updates["correspondent"] = _clearable("--correspondent", correspondent)
    if document_type is not None:
        updates["document_type"] = _clearable("--type", document_type)
    if created is not None:
        updates["created"] = _parse_date(created)
    if asn is not None:
        if asn and not asn.isdigit():
            raise UsageError(f"--asn: {asn!r} is not a whole number ('' clears it)")
        updates["asn"] = int(asn) if asn else None
    tag_changes = _parse_tags(tags)
    if not updates and not tag_changes:
        return None

    def change(doc: Any) -> Any:
        new_tags = list(doc.tags)
        for adding, name in tag_changes:
            known = name.casefold() in (t.casefold() for t in new_tags)
            if adding and not known:
                new_tags.append(name)
            elif not adding:
                new_tags = [t for t in new_tags if t.casefold() != name.casefold()]
        return doc.replace(tags=tuple(new_tags), **updates)

    return change


@cli.command()
@click.argument("doc_id", type=int)
@click.option("--title")
@click.option("--tag", "tags", multiple=True, metavar="+TAG|-TAG",
              help="Add (+tag or tag) or remove (-tag) a tag; repeatable.")
@click.option("--correspondent", help="Set the correspondent ('' clears it).")
@click.option("--type", "document_type", help="Set the document type ('' clears it).")
@click.option("--created", help="Set the created date (YYYY-MM-DD).")
@click.option("--asn", help="Set the archive serial number ('' clears it).")
@click.option("--owner", help="Set the owner ('' clears it).")
@click.option("--grant", "grants", multiple=True, metavar="view|change:user|group:NAME",
              help="Grant view or change to a user or group; repeatable.")
@click.option("--revoke", "revokes", multiple=True, metavar="view|change:user|group:NAME",
              help="Take a grant away; repeatable.")
@click.option("--field", "field_values", multiple=True, metavar="NAME=VALUE|-NAME",
              help="Set a declared custom field (NAME= leaves it empty) or remove one; "
                   "repeatable.")
@click.pass_context
def edit(ctx: click.Context, doc_id: int, owner: str | None, grants: tuple[str, ...],
         revokes: tuple[str, ...], field_values: tuple[str, ...], **options: Any) -> None:
    """Change a document's metadata; the pair moves if its path template says so.

    Permissions: --owner NAME ('' for none), --grant/--revoke
    view|change:user|group:NAME (repeatable).
    """
    from paperfs.daemon.workflow_triggers import workflows_of_edits

    # Every option is checked before anything is applied; one edit, one write.
    fields = assignments_change(load_fields(runtime_of(ctx).root.fields_file), field_values) \
        if field_values else None
    changes = [c for c in (metadata_change(**options),
                           permission_change(owner, grants, revokes), fields) if c is not None]
    if not changes:
        raise UsageError(NOTHING_TO_CHANGE)
    with runtime_of(ctx).document_writer() as writer, \
            workflows_of_edits(runtime_of(ctx), writer):  # with no daemon: document_updated
        edited = writer.update(doc_id, lambda d: functools.reduce(lambda a, f: f(a), changes, d))
    doc = edited.doc
    if edited.applied:
        click.echo(f"doc {doc.id}: archive/{edited.path}.pdf")
    else:
        click.echo(f"doc {doc.id}: sidecar updated; the running daemon applies it")
    if owner is not None or grants or revokes:
        perms = doc.permissions
        click.echo(f"doc {doc.id}: owner {doc.owner or '(none)'}; view: "
                   f"{', '.join(perms.view.users + perms.view.groups) or '-'}; change: "
                   f"{', '.join(perms.change.users + perms.change.groups) or '-'}")


# ---------------------------------------------------------------- status / retry


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Queue, documents in progress, failed files and counts."""
    from paperfs.daemon.status import collect_status

    data = collect_status(runtime_of(ctx))
    if as_json:
        click.echo(json.dumps(data, indent=1, default=json_default))
        return
    daemon = data["daemon"]
    if daemon.get("running"):
        click.echo(f"daemon:      running (pid {daemon['pid']}, since {daemon['started']})")
        click.echo(f"in progress: {len(daemon['in_flight'])} "
                   f"{', '.join(daemon['in_flight'])}".rstrip())
        click.echo(f"waiting:     {daemon['waiting_in_inbox']} in the inbox, "
                   f"{daemon['queued']} queued")
    else:
        click.echo("daemon:      not running")
    if data.get("cluster"):  # the split deployment: services, scheduler, queue from Redis
        from paperfs.cluster.overview import describe

        click.echo("\n".join(describe(data["cluster"])))
    if data.get("storage"):  # disk full / read-only: what the daemon waits for
        click.echo(f"storage:     {data['storage']}")
    click.echo(f"inbox:       {data['inbox_files']} file(s)")
    click.echo(f"work queue:  {data['work_queue']} claimed job(s)")
    for first in data["double_sided_waiting"]:
        click.echo(f"  double-sided: {first['source']} waits for its second pass until "
                   f"{first['until']}")
    for folder in data["stopped_folders"]:
        click.echo(f"  STOPPED folder {folder['folder']}: {folder['problem']}")
    click.echo(f"documents:   {data['documents']}")
    index = data.get("index") or {}
    if index.get("backend") == "solr":
        click.echo(f"index:       {index.get('where')}"
                   + (" (fallback: embedded index)" if index.get("fallback") else ""))
        click.echo(f"backlog:     {index.get('backlog', 0)} index update(s) waiting to be "
                   "sent to Solr")
    else:
        click.echo(f"index:       {index.get('backend', 'sqlite')} (embedded)")
    classifier = data.get("classifier")
    if classifier:
        trained = (f"trained {classifier['trained']} on {classifier['documents']} documents"
                   if classifier["trained"] else "not trained yet")
        click.echo(f"classifier:  {trained}" + ("; training now" if classifier["training"] else ""))
    labels = data["labels"]
    for problem in labels["problems"]:
        click.echo(f"labels:      INVALID, the last valid version stays in force: {problem}")
    if not labels["problems"]:
        click.echo(f"labels:      {labels['count']} declared")
    for problem in labels["rule_problems"]:
        click.echo(f"  rule problem: {problem}")
    workflows = data["workflows"]
    click.echo(f"workflows:   {workflows['problem'] or workflows['count']}")
    fields = data["fields"]
    click.echo(f"fields:      {fields['problem'] or fields['count']}")
    click.echo(f"failed:      {len(data['failed'])}")
    for item in data["failed"]:
        click.echo(f"  failed/{item['file']}: {item.get('reason')}: {item.get('message')}")
    if data.get("mail"):  # IMAP accounts: one line each, failed mails
        from paperfs.mail.status import status_lines

        click.echo("\n".join(status_lines(data["mail"])))


@cli.command()
@click.pass_context
def retry(ctx: click.Context) -> None:
    """Move every file in failed/ back into the inbox to be consumed again."""
    from paperfs.archive.store import retry_failed

    moved = retry_failed(runtime_of(ctx).initialised().root)
    for path in moved:
        click.echo(f"back in the inbox: {path}")
    if not moved:
        click.echo("nothing in failed/")
