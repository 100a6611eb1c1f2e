"""CLI commands around the index: ``search``, ``reindex``, ``check`` (registered on import)."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable

import click

from paperfs.cli.app import cli, json_default, progress_bar, runtime_of
from paperfs.index.base import SORTS
from paperfs.index.model import LOCAL_ADMIN, SearchResult
from paperfs.search.syntax_error import QuerySyntaxError

_BOLD, _RESET = "\x1b[1m", "\x1b[0m"
_DIM = "\x1b[2m"


def _stdout_is_tty() -> bool:
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty()) and "NO_COLOR" not in os.environ


def _render_text(result: SearchResult, query: str, tty: bool) -> None:
    start, end = (_BOLD, _RESET) if tty else ("**", "**")
    if result.total == 0:
        click.echo(f"no documents match {query!r}")
        return
    first = result.offset + 1
    last = result.offset + len(result.hits)
    shown = f"{first}–{last}" if result.hits else f"none on this page (offset {result.offset})"
    noun = "document matches" if result.total == 1 else "documents match"
    click.echo(f"{result.total:,} {noun} {query!r} ({shown}, by {result.sort})\n")
    width = len(str(last))
    for n, hit in enumerate(result.hits, start=first):
        title = f"{_BOLD}{hit.title}{_RESET}" if tty else hit.title
        click.echo(f"{n:>{width}}. {title}  [{hit.created.isoformat()}]  id {hit.id}")
        pad = " " * (width + 2)
        facts = [x for x in (hit.correspondent, hit.document_type) if x]
        if hit.tags:
            facts.append("tags: " + ", ".join(hit.tags))
        if hit.asn is not None:
            facts.append(f"asn {hit.asn}")
        if facts:
            click.echo(pad + " · ".join(facts))
        path = f"archive/{hit.path}.pdf"
        click.echo(pad + (f"{_DIM}{path}{_RESET}" if tty else path))
        if hit.snippet:
            click.echo(pad + hit.marked(start, end))
        click.echo("")


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("query", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Results as JSON (snippets marked **so**).")
@click.option("--limit", type=click.IntRange(0, 1000), default=25, show_default=True,
              help="Results per page.")
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True,
              help="Skip this many results (paging).")
@click.option("--sort", type=click.Choice(SORTS), default="relevance", show_default=True,
              help="Order: relevance, or a field (created, added, modified, title, id); "
                   "'-' in front for descending.")
@click.option("--facets", is_flag=True,
              help="Also count the matches by tag, correspondent, type and year.")
@click.pass_context
def search(ctx: click.Context, query: tuple[str, ...], as_json: bool, limit: int, offset: int,
           sort: str, facets: bool) -> None:
    """Search the archive (the query language is in docs/search.md).

    \b
    paperfs search 'invoice AND (acme OR globex) created:[2023 to 2024] -tag:paid'
    paperfs search tag:unpaid --sort -created --json
    paperfs search invoice -acme        (words joined by spaces; -word excludes)
    """
    text = " ".join(query)
    with runtime_of(ctx).initialised().reading() as index:
        try:
            result = index.search(text, user=LOCAL_ADMIN, sort=sort, limit=limit,
                                  offset=offset)
            counts = index.facets(text, user=LOCAL_ADMIN) if facets else None
        except QuerySyntaxError as exc:
            # The query and a caret under the problem, aligned: no prefix on the line.
            click.echo(str(exc), err=True)
            ctx.exit(exc.exit_code)
            return
    if as_json:
        data: dict[str, Any] = {"query": text, "total": result.total, "offset": result.offset,
                                "limit": result.limit, "sort": result.sort,
                                "hits": [hit.to_json() for hit in result.hits]}
        if counts is not None:
            data["facets"] = counts.as_dicts()
        click.echo(json.dumps(data, ensure_ascii=False, indent=1, default=json_default))
        return
    _render_text(result, text, _stdout_is_tty())
    if counts is not None:
        for name, label in (("tags", "tags"), ("correspondents", "correspondents"),
                            ("types", "types"), ("years", "years")):
            values = getattr(counts, name)
            if values:
                listed = ", ".join(f"{c.value} ({c.count:,})" for c in values[:15])
                more = f", … {len(values) - 15} more" if len(values) > 15 else ""
                click.echo(f"{label}: {listed}{more}")


@cli.command()
@click.option("--changed", is_flag=True,
              help="Only what changed since it was indexed (by mtime and size), and drop "
                   "what is gone; hand edits are applied as the daemon does at start-up.")
@click.option("--stemming", type=click.Choice(["none", "porter"]), default=None,
              help="Build the new index with this stemming (porter: English word endings, "
                   "'invoices' finds 'invoice'). Default: what the index has now.")
@click.option("--no-thumbnails", "no_thumbnails", is_flag=True,
              help="Do not make the web page's missing thumbnails (first pages, WebP).")
@click.pass_context
def reindex(ctx: click.Context, changed: bool, stemming: str | None,
            no_thumbnails: bool = False) -> None:
    """Rebuild the index from the sidecars in archive/ (no OCR, no PDF reading).

    A full rebuild writes a new index file and puts it in place at the end:
    interrupting it leaves the old index as it was. Needs the writer lock, so
    stop the daemon first.
    """
    from paperfs.errors import UsageError
    from paperfs.archive.reindex import reindex as run_reindex

    if changed and stemming:
        raise UsageError("--stemming needs a full rebuild; leave out --changed")
    runtime = runtime_of(ctx)
    bar: Any = None

    def on_total(total: int) -> None:
        nonlocal bar
        bar = progress_bar(total, "reindex" + (" --changed" if changed else ""))
        bar.__enter__()

    def on_maintain() -> None:
        nonlocal bar
        if bar is not None:
            bar.__exit__(None, None, None)
            bar = None
        click.echo("ranking lists for frequent words (seconds per 100,000 documents)…",
                   err=True)

    def on_thumbnails(total: int) -> Callable[[int], None]:
        nonlocal bar
        if bar is not None:
            bar.__exit__(None, None, None)
        bar = progress_bar(total, "thumbnails")
        bar.__enter__()
        return bar.update

    try:
        report = run_reindex(runtime, changed=changed, stemming=stemming,
                             progress=lambda n: bar.update(n) if bar is not None else None,
                             on_total=on_total, on_maintain=on_maintain,
                             thumbnails=None if no_thumbnails else on_thumbnails)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    if changed:
        click.echo(f"{report.scanned:,} sidecars checked: {report.indexed:,} indexed, "
                   f"{report.removed:,} removed in {report.seconds:.1f} s")
    else:
        lists = (f"; ranking lists {report.maintain_seconds:.1f} s of it"
                 if report.maintain_seconds >= 0.1 else "")
        click.echo(f"indexed {report.indexed:,} documents in {report.seconds:.1f} s "
                   f"({report.rate:,.0f}/s; stemming: {report.stemming}{lists})")
    if report.thumbnails[0] or report.thumbnails[1]:
        click.echo(f"thumbnails: {report.thumbnails[0]:,} made"
                   + (f", {report.thumbnails[1]:,} PDF(s) could not be rendered"
                      if report.thumbnails[1] else ""))
    for problem in report.problems:
        click.echo(f"problem: {problem}", err=True)
    if report.problems:
        click.echo(f"{len(report.problems)} sidecar(s) could not be indexed; "
                   "'paperfs check' explains each", err=True)
        ctx.exit(1)


@cli.command()
@click.option("--fix", is_flag=True,
              help="Repair what is safe: bring the index in step, adopt orphan PDFs "
                   "(a copy goes into the inbox). Never deletes or overwrites your files.")
@click.option("--quick", is_flag=True,
              help="Skip the SHA-256 comparison of every PDF and original (the slow part).")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
@click.pass_context
def check(ctx: click.Context, fix: bool, quick: bool, as_json: bool) -> None:
    """Check the archive: files present and intact, sidecars valid, no orphans or
    duplicate ids, index in step with the tree. Exit code 1 while errors remain."""
    from paperfs.archive.check import check as run_check

    runtime = runtime_of(ctx)
    bar: Any = None

    def on_total(total: int) -> None:
        nonlocal bar
        if not as_json:
            bar = progress_bar(total, "checking" + ("" if quick else " (with checksums)"))
            bar.__enter__()

    try:
        report = run_check(runtime, fix=fix, quick=quick,
                           progress=lambda n: bar.update(n) if bar is not None else None,
                           on_total=on_total)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=1))
    else:
        for problem in report.problems:
            status = "fixed" if problem.fixed else problem.severity
            click.echo(f"{status}: {problem.path}: {problem.message}")
            if not problem.fixed:
                click.echo(f"  fix: {problem.fix}")
        for note in report.notes:
            click.echo(f"note: {note}")
        fixed = sum(p.fixed for p in report.problems)
        warnings = sum(p.severity != "error" and not p.fixed for p in report.problems)
        summary = (f"{report.documents:,} documents checked"
                   f"{'' if report.checksums else ' (checksums skipped: --quick)'}: ")
        if not report.problems:
            summary += "no problems"
        else:
            summary += (f"{len(report.left)} error(s) left, {fixed} fixed, "
                        f"{warnings} warning(s)")
        click.echo(summary)
    if not report.ok:
        ctx.exit(1)
