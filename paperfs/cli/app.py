"""The command line: thin; each command builds the core object and calls it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import shlex
import signal
import sys
from pathlib import Path
from typing import Any, Callable

import click

from paperfs import __version__
from paperfs.config import CONFIG_NAME, ENV_PREFIX, Config, load_config
from paperfs.errors import DataRootError, NotFoundError, PaperfsError, UsageError

log = logging.getLogger("paperfs")


@dataclasses.dataclass
class Context:
    root: str | None
    config_file: str | None
    _config: Config | None = None

    @property
    def config(self) -> Config:
        """Found, loaded and checked on first use: --help needs none of it."""
        if self._config is None:
            config = load_config(find_config(self.root, self.config_file))
            require_data_root(config)
            self._config = config
        return self._config


def find_config(root: str | None, config: str | None) -> Path:
    if config:
        return Path(config)
    if root:
        folder = Path(root).absolute()
        problem = _not_a_data_root(folder, marker=folder / CONFIG_NAME)
        if problem:
            raise DataRootError(f"{folder} {problem}; {_init_hint(folder)}")
        return folder / CONFIG_NAME
    here = Path.cwd() / CONFIG_NAME
    if here.exists():
        return here
    raise UsageError(f"no {CONFIG_NAME} in {Path.cwd()}: pass --root DATA_ROOT, set "
                     "PAPERFS_ROOT, or create one with 'paperfs init DIR'")


def require_data_root(config: Config) -> None:
    """Only 'paperfs init' creates a data root; every other command needs an existing one."""
    from paperfs.archive.layout import DataRoot

    root = config.data_root
    problem = _not_a_data_root(root, marker=DataRoot(root).state)
    if not problem:
        return
    if f"{ENV_PREFIX}DATA_ROOT" in os.environ:
        origin = f"{ENV_PREFIX}DATA_ROOT (data_root)"
    else:
        origin = f"{config.source or 'defaults'}: data_root"
    raise DataRootError(f"{origin}: {root} {problem}; {_init_hint(root)}")


def _not_a_data_root(folder: Path, marker: Path) -> str | None:
    """What is wrong with *folder* as a data root that must hold *marker*, or None."""
    if not folder.exists():
        return "does not exist"
    if not folder.is_dir():
        return "is not a folder"
    if not marker.exists():
        return f"is not a paperfs data root (no {marker.name} in it)"
    return None


def _init_hint(folder: Path) -> str:
    return f"to create one: paperfs init {shlex.quote(str(folder))}"


def setup_logging(level: str) -> None:
    # journald adds its own timestamps; a terminal wants them.
    fmt = "%(levelname)s %(name)s: %(message)s" if os.environ.get("JOURNAL_STREAM") \
        else "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr, force=True)
    for noisy in ("ocrmypdf", "pikepdf", "PIL", "watchdog", "fontTools", "pdfminer"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


class PaperfsGroup(click.Group):
    """Turns PaperfsError into one clear line and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PaperfsError as exc:
            click.echo(f"paperfs: error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=PaperfsGroup)
@click.version_option(__version__, prog_name="paperfs")
@click.option("--root", envvar="PAPERFS_ROOT", metavar="DIR",
              help=f"Data root (its {CONFIG_NAME} is the config). [env: PAPERFS_ROOT]")
@click.option("--config", "config_file", envvar="PAPERFS_CONFIG", metavar="FILE",
              help="Config file, when it is not in the data root. [env: PAPERFS_CONFIG]")
@click.pass_context
def cli(ctx: click.Context, root: str | None, config_file: str | None) -> None:
    """paperfs: a filesystem-native document archive."""
    ctx.obj = Context(root=root, config_file=config_file)


def _config(ctx: click.Context) -> Config:
    config = ctx.obj.config
    setup_logging(config.log_level)
    return config


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
    root = DataRoot(directory.resolve())
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
    from paperfs.daemon.consumer import Consumer
    from paperfs.daemon.systemd import Notifier

    config = _config(ctx)
    consumer = Consumer(config)
    notifier = Notifier()

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        consumer.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    consumer.open()
    dav = None
    try:
        if config.dav.enabled:
            from paperfs.dav.server import DavServer
            dav = DavServer(config, consumer.writer)
            dav.start()  # binds now: a busy port or bad TLS files is one clear error
        consumer.run(notify=notifier.notify)
    finally:
        if dav is not None:
            dav.stop()
        consumer.close()
    log.info("paperfs stopped")


# ---------------------------------------------------------------- consume


@cli.command()
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--serial", is_flag=True, help="Process in this process (debugging).")
@click.pass_context
def consume(ctx: click.Context, files: tuple[Path, ...], serial: bool) -> None:
    """Consume FILES once, through the same pipeline as the daemon (files are copied)."""
    from paperfs.daemon.consumer import Consumer, WriterLock, handoff_to_inbox
    from paperfs.archive.layout import DataRoot

    config = _config(ctx)
    root = DataRoot(config.data_root)
    root.check_initialised()
    if WriterLock(root.lock_file).held_elsewhere():
        for path in handoff_to_inbox(root, files):
            click.echo(f"queued for the running daemon: {path}")
        return
    failures = 0
    with click.progressbar(length=len(files), label="consuming", file=sys.stderr,
                           show_pos=True) as bar:
        def on_result(result: Any) -> None:
            nonlocal failures
            bar.update(1)
            if result.error is None:
                click.echo(f"\nfiled {result.source} -> archive/{result.path}.pdf "
                           f"(id {result.doc.id})")
            else:
                failures += 1
                click.echo(f"\nfailed {result.source}: {result.error}", err=True)

        consumer = Consumer(config, serial=serial, on_result=on_result)
        consumer.open()
        try:
            consumer.claim_files(files)
            consumer.consume_now()
        finally:
            consumer.close()
    if failures:
        ctx.exit(6)


# ---------------------------------------------------------------- show / edit


def _open_reader(config: Config) -> Any:
    from paperfs.index.sqlite import SqliteIndex
    from paperfs.archive.layout import DataRoot

    root = DataRoot(config.data_root)
    root.check_initialised()
    return root, SqliteIndex(root.index_db)


def _resolve(root: Any, index: Any, ident: str) -> tuple[int, str]:
    """An id, or a path to a document's .pdf/.yml -> (id, archive-relative path)."""
    if ident.isdigit():
        ref = index.ref(int(ident))
        if ref is None:
            raise NotFoundError(f"no document with id {ident}")
        return ref.id, ref.path
    path = Path(ident).resolve()
    try:
        rel = path.relative_to(root.archive.resolve()).with_suffix("").as_posix()
    except ValueError:
        raise NotFoundError(f"{ident} is not inside {root.archive}") from None
    ref = index.ref_by_path(rel)
    if ref is None:
        raise NotFoundError(f"{ident} is not a filed document (try 'paperfs reindex')")
    return ref.id, ref.path


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(type(value))


@cli.command()
@click.argument("ident", metavar="ID|PATH")
@click.option("--json", "as_json", is_flag=True, help="All fields as JSON.")
@click.option("--content", is_flag=True, help="Print the full text too.")
@click.pass_context
def show(ctx: click.Context, ident: str, as_json: bool, content: bool) -> None:
    """Show a document's metadata."""
    from paperfs.archive.document import read_sidecar, to_mapping

    config = _config(ctx)
    root, index = _open_reader(config)
    doc_id, rel = _resolve(root, index, ident)
    doc = read_sidecar(root.archive / (rel + ".yml"))
    data = to_mapping(doc)
    data["path"] = f"archive/{rel}.pdf"
    if as_json:
        data["content"] = doc.content
        click.echo(json.dumps(data, default=_json_default, ensure_ascii=False, indent=1))
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
    if content:
        click.echo("\n" + doc.content)


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


def apply_edit(ctx: click.Context, doc_id: int, change: Change) -> Any:
    """Apply *change* to document *doc_id* (or hand it to the running daemon)."""
    from paperfs.daemon.consumer import edit_document

    doc, rel, applied_now = edit_document(_config(ctx), doc_id, change)
    if applied_now:
        click.echo(f"doc {doc.id}: archive/{rel}.pdf")
    else:
        click.echo(f"doc {doc.id}: sidecar updated; the running daemon applies it")
    return doc


@cli.command()
@click.argument("doc_id", type=int)
@click.option("--title")
@click.option("--tag", "tags", multiple=True, metavar="+TAG|-TAG",
              help="Add (+tag or tag) or remove (-tag) a tag; repeatable.")
@click.option("--correspondent", help="Set the correspondent ('' clears it).")
@click.option("--type", "document_type", help="Set the document type ('' clears it).")
@click.option("--created", help="Set the created date (YYYY-MM-DD).")
@click.option("--asn", help="Set the archive serial number ('' clears it).")
@click.pass_context
def edit(ctx: click.Context, doc_id: int, **options: Any) -> None:
    """Change a document's metadata; the pair moves if its path template says so."""
    change = metadata_change(**options)
    if change is None:
        raise UsageError(NOTHING_TO_CHANGE)
    apply_edit(ctx, doc_id, change)


# ---------------------------------------------------------------- status / retry


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Queue, documents in progress, failed files and counts."""
    from paperfs.daemon.status import collect_status

    data = collect_status(_config(ctx))
    if as_json:
        click.echo(json.dumps(data, indent=1, default=_json_default))
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
    if data.get("storage"):  # disk full / read-only: what the daemon waits for
        click.echo(f"storage:     {data['storage']}")
    click.echo(f"inbox:       {data['inbox_files']} file(s)")
    click.echo(f"work queue:  {data['work_queue']} claimed job(s)")
    click.echo(f"documents:   {data['documents']}")
    index = data.get("index") or {}
    if index.get("backend") == "solr":
        click.echo(f"index:       {index.get('where')}"
                   + (" (fallback: embedded index)" if index.get("fallback") else ""))
        click.echo(f"backlog:     {index.get('backlog', 0)} index update(s) waiting to be "
                   "sent to Solr")
    else:
        click.echo(f"index:       {index.get('backend', 'sqlite')} (embedded)")
    click.echo(f"failed:      {len(data['failed'])}")
    for item in data["failed"]:
        click.echo(f"  failed/{item['file']}: {item.get('reason')}: {item.get('message')}")


@cli.command()
@click.pass_context
def retry(ctx: click.Context) -> None:
    """Move every file in failed/ back into the inbox to be consumed again."""
    from paperfs.archive.store import retry_failed
    from paperfs.archive.layout import DataRoot

    root = DataRoot(_config(ctx).data_root)
    root.check_initialised()
    moved = retry_failed(root)
    for path in moved:
        click.echo(f"back in the inbox: {path}")
    if not moved:
        click.echo("nothing in failed/")
