"""paperfs pages ID rotate|delete|move|split|merge|versions|restore.

Each edit writes the new PDF(s) into a page-edit request (archive/versions.py)
and hands it to the writer: with no daemon running this command is the writer
and carries it out itself (the text of changed pages made in a worker
process); beside a running daemon it waits for the daemon to do it.
"""

from __future__ import annotations

import getpass
import json
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import click

from paperfs.cli.app import cli, json_default, progress_bar, runtime_of
from paperfs.errors import NotFoundError, PaperfsError, UsageError, WriterLockedError

#: how long a command beside a running daemon waits for it to do the edit
DAEMON_WAIT_SECONDS = 600.0


class _IdFirst(click.Group):
    """Takes the document's id before the operation too: ``pages 5 rotate 2 90`` is
    ``pages rotate 5 2 90``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if len(args) > 1 and args[0].isdigit() and args[1] in self.commands:
            args = [args[1], args[0], *args[2:]]
        return super().parse_args(ctx, args)


#: page specs and degrees may start with "-" (-1: the last page; -90)
NUMBERS = {"ignore_unknown_options": True}


@cli.group(cls=_IdFirst)
def pages() -> None:
    """Edit a document's pages: paperfs pages ID rotate|delete|move|split|merge|
    versions|restore … (or: paperfs pages rotate ID …).

    Every edit makes a new version; the earlier ones are kept and can be
    restored. PAGES are numbers from 1, ranges and negative numbers from the
    end: '1,3-5,-1'. Only the pages that changed get new text (OCR); the others
    keep theirs.
    """


def _current(ctx: click.Context, doc_id: int) -> tuple[Any, str, Path]:
    """The document, its archive path and its PDF, from the catalog."""
    from paperfs.archive.document import read_sidecar

    runtime = runtime_of(ctx)
    catalog = runtime.open_catalog()
    try:
        ref = catalog.ref(doc_id)
    finally:
        catalog.close()
    if ref is None:
        raise NotFoundError(f"no document with id {doc_id}")
    archive = runtime.root.archive
    return read_sidecar(archive / (ref.path + ".yml")), ref.path, archive / (ref.path + ".pdf")


def _edit(ctx: click.Context, doc_id: int, operation: str,
          make: Callable[[Any, Path, Path], list[tuple[str, Any, str]]],
          merged: tuple[int, ...] = ()) -> None:
    """Build a request with *make(doc, pdf, folder)* → [(file, redo pages, pages_from)],
    and see it done."""
    from paperfs.archive import versions

    runtime = runtime_of(ctx)
    doc, _, pdf = _current(ctx, doc_id)
    folder = versions.new_request_folder(runtime.root)
    try:
        outputs = make(doc, pdf, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    request = versions.submit(versions.EditRequest(
        folder, doc.id, doc.archive.sha256, operation, getpass.getuser(),
        tuple(versions.Output(file, None if redo is None else tuple(redo), pages_from)
              for file, redo, pages_from in outputs), merged))
    _carry_out(ctx, request)


def _carry_out(ctx: click.Context, request: Any) -> None:
    """Do the request here (no daemon) or wait for the daemon to do it."""
    from paperfs.daemon.page_edits import PageEdits

    runtime = runtime_of(ctx)
    name = request.folder.name
    try:
        writer = runtime.open_writer()
    except WriterLockedError:
        click.echo(f"doc {request.doc_id}: handed to the running daemon; waiting", err=True)
        _wait_for_daemon(ctx, request)
        return
    outcome: dict[str, Any] = {}
    edits = PageEdits(runtime.config, writer)
    edits.on_done = lambda done, result: outcome.setdefault(done, result)
    redo = sum(len(o.redo or ()) for o in request.outputs)
    try:
        with progress_bar(1, f"{request.operation}: {redo} page(s) to OCR") as bar:
            while name not in outcome:
                edits.run_pass(timeout=0.5)
            bar.update(1)
    finally:
        edits.close()
        runtime.close()
    _report(request, outcome[name])


def _wait_for_daemon(ctx: click.Context, request: Any) -> None:
    runtime = runtime_of(ctx)
    deadline = time.monotonic() + DAEMON_WAIT_SECONDS
    while request.folder.exists():
        if time.monotonic() > deadline:
            raise PaperfsError(f"the daemon has not done the edit after "
                               f"{DAEMON_WAIT_SECONDS:g}s; it stays queued in {request.folder}")
        time.sleep(0.2)
    doc, _, _ = _current(ctx, request.doc_id)
    if doc.archive.sha256 == request.base_sha256:
        for info in sorted(runtime.root.failed.glob("*.error.yml")):
            text = info.read_text("utf-8")
            if request.folder.name in text:
                raise PaperfsError(f"not done: see failed/{info.name}")
        raise PaperfsError("the daemon did not make the new version; see its log")
    _report(request, doc)


def _report(request: Any, result: Any) -> None:
    if isinstance(result, Exception):
        raise PaperfsError(f"not done: {result}") from None
    from paperfs.archive.versions import history

    current = history(result)[-1]
    click.echo(f"doc {result.id}: version {current.version} ({request.operation}), "
               f"{result.archive.pages} page(s)")


def _pages(doc: Any, spec: str) -> list[int]:
    from paperfs.archive.pages import parse_pages

    return parse_pages(spec, doc.archive.pages, f"document {doc.id}")


# ------------------------------------------------------------------ operations


@pages.command(context_settings=NUMBERS)
@click.argument("doc_id", type=int)
@click.argument("page_spec", metavar="PAGES")
@click.argument("degrees", type=int)
@click.pass_context
def rotate(ctx: click.Context, doc_id: int, page_spec: str, degrees: int) -> None:
    """Turn PAGES clockwise by DEGREES (90, 180, 270, or negative)."""
    from paperfs.archive import pages as ops

    def make(doc: Any, pdf: Path, folder: Path) -> list[tuple[str, Any, str]]:
        redo = ops.rotate(pdf, folder / "new.pdf", _pages(doc, page_spec), degrees)
        return [("new.pdf", redo, "")]

    _edit(ctx, doc_id, f"rotate {page_spec} {degrees}", make)


@pages.command(context_settings=NUMBERS)
@click.argument("doc_id", type=int)
@click.argument("page_spec", metavar="PAGES")
@click.pass_context
def delete(ctx: click.Context, doc_id: int, page_spec: str) -> None:
    """Remove PAGES (kept in the earlier version)."""
    from paperfs.archive import pages as ops

    def make(doc: Any, pdf: Path, folder: Path) -> list[tuple[str, Any, str]]:
        return [("new.pdf", ops.delete(pdf, folder / "new.pdf", _pages(doc, page_spec)), "")]

    _edit(ctx, doc_id, f"delete {page_spec}", make)


@pages.command(context_settings=NUMBERS)
@click.argument("doc_id", type=int)
@click.argument("page_spec", metavar="PAGES")
@click.option("--to", "to", type=int, required=True, help="Where the first of PAGES goes.")
@click.pass_context
def move(ctx: click.Context, doc_id: int, page_spec: str, to: int) -> None:
    """Move PAGES so that the first of them becomes page --to N."""
    from paperfs.archive import pages as ops

    def make(doc: Any, pdf: Path, folder: Path) -> list[tuple[str, Any, str]]:
        return [("new.pdf", ops.move(pdf, folder / "new.pdf", _pages(doc, page_spec), to), "")]

    _edit(ctx, doc_id, f"move {page_spec} --to {to}", make)


@pages.command()
@click.argument("doc_id", type=int)
@click.argument("at", nargs=-1, type=int, required=True)
@click.pass_context
def split(ctx: click.Context, doc_id: int, at: tuple[int, ...]) -> None:
    """Cut the document before each page AT: the first part stays this document,
    each other part becomes a new document (provenance in its sidecar)."""
    from paperfs.archive import pages as ops

    def make(doc: Any, pdf: Path, folder: Path) -> list[tuple[str, Any, str]]:
        count = doc.archive.pages
        cuts = sorted(set(at))
        if not cuts or cuts[0] < 2 or cuts[-1] > count:
            raise UsageError(f"split AT: pages 2 to {count} (document {doc.id} has {count} "
                             "pages); the document is cut before each")
        bounds = [1, *cuts, count + 1]
        outputs = []
        for number, (first, end) in enumerate(zip(bounds, bounds[1:])):
            file = f"part-{number + 1}.pdf"
            ops.extract(pdf, folder / file, list(range(first - 1, end - 1)))
            label = f"{first}-{end - 1}" if end - 1 > first else f"{first}"
            outputs.append((file, [], label))
        return outputs

    _edit(ctx, doc_id, "split " + " ".join(str(a) for a in at), make)


@pages.command()
@click.argument("doc_id", type=int)
@click.argument("others", nargs=-1, type=int, required=True)
@click.pass_context
def merge(ctx: click.Context, doc_id: int, others: tuple[int, ...]) -> None:
    """Append the pages of the documents OTHERS; they go to the trash (restorable)."""
    from paperfs.archive import pages as ops
    from paperfs.archive.document import read_sidecar

    runtime = runtime_of(ctx)
    if doc_id in others or len(set(others)) != len(others):
        raise UsageError("merge: name each other document once, and not this one")
    catalog = runtime.open_catalog()
    try:
        refs = [catalog.ref(other) for other in others]
    finally:
        catalog.close()
    missing = [other for other, ref in zip(others, refs) if ref is None]
    if missing:
        raise NotFoundError(f"no document with id {missing[0]}")
    sources = [runtime.root.archive / (ref.path + ".pdf") for ref in refs]
    for ref in refs:  # each must be readable before anything is written
        read_sidecar(runtime.root.archive / (ref.path + ".yml"))

    def make(doc: Any, pdf: Path, folder: Path) -> list[tuple[str, Any, str]]:
        return [("new.pdf", ops.concatenate([pdf, *sources], folder / "new.pdf"), "")]

    _edit(ctx, doc_id, "merge " + " ".join(str(o) for o in others), make, merged=others)


@pages.command()
@click.argument("doc_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def versions(ctx: click.Context, doc_id: int, as_json: bool) -> None:
    """List the document's versions, the current one last."""
    from paperfs.archive.versions import history

    doc, _, _ = _current(ctx, doc_id)
    past = history(doc)
    if as_json:
        click.echo(json.dumps([v.to_yaml() for v in past], default=json_default, indent=1))
        return
    for version in past:
        mark = "*" if version is past[-1] else " "
        click.echo(f"{mark} {version.version:>3}  {version.made.isoformat()}  "
                   f"{version.pages:>4} page(s)  {version.by or '-':<12} {version.operation}")


@pages.command()
@click.argument("doc_id", type=int)
@click.argument("number", type=int)
@click.pass_context
def restore(ctx: click.Context, doc_id: int, number: int) -> None:
    """Make version NUMBER current again (as a new version: nothing is lost)."""
    from paperfs.archive.versions import history, version_file

    runtime = runtime_of(ctx)

    def make(doc: Any, pdf: Path, folder: Path) -> list[tuple[str, Any, str]]:
        past = history(doc)
        numbers = [v.version for v in past]
        if number not in numbers:
            raise UsageError(f"document {doc.id} has versions {numbers[0]} to {numbers[-1]}, "
                             f"not {number}")
        if number == numbers[-1]:
            raise UsageError(f"version {number} of document {doc.id} is already current")
        shutil.copyfile(version_file(runtime.root, doc.id, number), folder / "new.pdf")
        return [("new.pdf", [], "")]

    _edit(ctx, doc_id, f"restore {number}", make)
