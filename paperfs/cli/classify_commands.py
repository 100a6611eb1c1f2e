"""``paperfs classify --explain ID|FILE`` and ``paperfs retag`` (registered on import).

Both call what the consume stage calls (paperfs/classify/classifier.py
``classify``), so what they show or apply is what consumption does.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Any

import click

from paperfs.cli.app import cli, progress_bar, runtime_of
from paperfs.errors import NotFoundError



# ---------------------------------------------------------------- classify --explain


def _document_text(runtime: Any, target: str) -> tuple[str, dict[str, Any]]:
    """A filed document's text and current values (by id)."""
    from paperfs.archive.document import read_sidecar

    catalog = runtime.open_catalog()
    try:
        ref = catalog.ref(int(target))
    finally:
        catalog.close()
    if ref is None:
        raise NotFoundError(f"no document with id {target}")
    doc = read_sidecar(runtime.root.archive / (ref.path + ".yml"))
    return doc.content, {"id": doc.id, "title": doc.title, "path": f"archive/{ref.path}.pdf",
                         "correspondent": doc.correspondent, "document_type": doc.document_type,
                         "tags": list(doc.tags)}


def _file_text(runtime: Any, path: Path, ocr: bool) -> tuple[str, dict[str, Any]]:
    """A file's text as the text stage gets it: a text file's own text, a PDF's text
    layer; OCR (as configured) only with ``ocr``."""
    # imported here: only this command loads the OCR stack
    from paperfs.consume.stages.ocr import produce_archive

    settings = runtime.config.ocr
    settings = dataclasses.replace(settings, mode=settings.mode if ocr else "never",
                                   pdfa_born_digital=False)
    with tempfile.TemporaryDirectory(prefix="paperfs-explain-") as scratch:
        result = produce_archive(path, Path(scratch), settings)
    info = {"file": str(path), "type": result.mime_type, "pages": result.pages,
            "ocr": result.ocr_performed}
    return result.text, info


@cli.command("classify")
@click.option("--explain", "target", required=True, metavar="ID|FILE",
              help="A filed document's id, or a file (text, PDF; images and scans with --ocr).")
@click.option("--ocr", is_flag=True,
              help="For a FILE without text (a scan, an image): run OCR as configured.")
@click.option("--as-new", is_flag=True,
              help="For an ID: ignore its current correspondent, type and tags (what "
                   "consuming it now would give).")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@click.pass_context
def classify_command(ctx: click.Context, target: str, ocr: bool, as_new: bool,
                     as_json: bool) -> None:
    """Explain what one document gets: every rule that fired, every prediction with its
    probability, what is applied and why, and any problem."""
    from paperfs.classify.classifier import ClassifySettings, classify
    from paperfs.classify.labels import load_labels

    runtime = runtime_of(ctx)
    # read directly: an invalid file gives its message and stops
    settings = ClassifySettings.of(runtime, load_labels(runtime.root.labels_file))
    given: dict[str, Any] = {}
    if target.isdigit():
        text, about = _document_text(runtime, target)
        if not as_new:
            given = {"correspondent": about["correspondent"],
                     "document_type": about["document_type"], "tags": about["tags"]}
    else:
        path = Path(target)
        if not path.is_file():
            raise NotFoundError(f"{target} is neither a document id nor a file")
        text, about = _file_text(runtime.initialised(), path, ocr)
    decision = classify(settings, text, **given)
    model = _model_state(settings)
    notes = []
    if not text.strip():
        notes.append("no text: a scan or an image needs OCR (run again with --ocr)"
                     if "file" in about and not ocr else "the document has no text")
    data = {
        "document": about, "characters": len(text), "model": model, "threshold": settings.threshold,
        "result": {"correspondent": decision.correspondent,
                   "document_type": decision.document_type, "tags": list(decision.tags)},
        "reasons": [dataclasses.asdict(r) | {"text": str(r)} for r in decision.reasons],
        "problems": [str(p) for p in decision.problems], "notes": notes,
    }
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=1))
        return
    _print_explanation(data)


def _model_state(settings: Any) -> str:
    if not settings.learns:
        return "no label uses algorithm auto: no predictions"
    if settings.model is None or not settings.model.exists():
        return "not trained yet: no predictions"
    return f"trained ({settings.model})"


def _print_explanation(data: dict[str, Any]) -> None:
    about = data["document"]
    if "id" in about:
        click.echo(f"document {about['id']}: {about['title']} ({about['path']})")
        click.echo(f"  now: correspondent {about['correspondent'] or '-'}, type "
                   f"{about['document_type'] or '-'}, tags {', '.join(about['tags']) or '-'}")
    else:
        click.echo(f"file {about['file']}: {about['type']}, {about['pages']} page(s)"
                   + (", OCRed" if about["ocr"] else ""))
    click.echo(f"text: {data['characters']:,} characters; learned model: {data['model']}; "
               f"threshold {data['threshold']:g}")
    for note in data["notes"]:
        click.echo(f"note: {note}")
    click.echo("rules and predictions:")
    for reason in data["reasons"]:
        click.echo(f"  {reason['text']}")
    if not data["reasons"]:
        click.echo("  none fired")
    result = data["result"]
    click.echo("result:")
    click.echo(f"  correspondent: {result['correspondent'] or '-'}")
    click.echo(f"  document type: {result['document_type'] or '-'}")
    click.echo(f"  tags:          {', '.join(result['tags']) or '-'}")
    for problem in data["problems"]:
        click.echo(f"problem: {problem}")


# ---------------------------------------------------------------- retag


@cli.command()
@click.option("--tags", "tags", is_flag=True,
              help="Tags (with the other kind options: only those kinds; default: all).")
@click.option("--correspondent", "correspondents", is_flag=True, help="Correspondents.")
@click.option("--document-type", "document_types", is_flag=True, help="Document types.")
@click.option("--id-range", metavar="FIRST-LAST", help="Only ids in this range (inclusive).")
@click.option("--ids", metavar="ID,ID,…", help="Only these ids.")
@click.option("--inbox-only", is_flag=True, help="Only documents that carry an inbox tag.")
@click.option("--overwrite", is_flag=True,
              help="Replace correspondent and type, drop tags no rule or prediction gives "
                   "any more (values set by hand and inbox tags stay).")
@click.option("--dry-run", is_flag=True, help="Print the changes as a table; change nothing.")
@click.pass_context
def retag(ctx: click.Context, tags: bool, correspondents: bool, document_types: bool,
          id_range: str | None, ids: str | None,
          inbox_only: bool, overwrite: bool, dry_run: bool) -> None:
    """Apply the labels' rules and the classifier to filed documents again.

    Without --overwrite only empty correspondents and types are filled and tags
    are added. Changes go through the writer (pairs move as the path rules say);
    beside a running daemon they are handed to it.
    """
    from paperfs.classify.labels import KINDS
    from paperfs.classify.retag import Selection, parse_id_range, parse_ids, retag as run

    selection = Selection(
        kinds=frozenset(kind for kind, chosen in (("tags", tags), ("correspondents", correspondents),
                                                  ("document_types", document_types)) if chosen)
        or frozenset(KINDS),
        ids=parse_ids(ids) if ids is not None else None,
        id_range=parse_id_range(id_range) if id_range is not None else None,
        inbox_only=inbox_only)
    runtime = runtime_of(ctx).initialised()
    bar: Any = None

    def on_total(total: int) -> None:
        nonlocal bar
        bar = progress_bar(total, "retagging" + (" (dry run)" if dry_run else ""))
        bar.__enter__()

    try:
        report = run(runtime, selection, overwrite=overwrite, dry_run=dry_run,
                     on_total=on_total, progress=lambda n: bar.update(n) if bar else None)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    if dry_run:
        _print_table(report.changes)
    for problem in report.problems:
        click.echo(f"problem: {problem}", err=True)
    verb = "would change" if dry_run else "changed"
    summary = f"{report.examined:,} document(s) examined, {verb} {report.documents:,}"
    if report.handed_off:
        summary += f" ({report.handed_off:,} handed to the running daemon, which applies them)"
    click.echo(summary)
    if report.problems:
        ctx.exit(1)


def _print_table(changes: list[Any]) -> None:
    if not changes:
        return
    rows = [("ID", "TITLE", "FIELD", "BEFORE → AFTER")] + [
        (str(c.doc_id), c.title, c.field, f"{c.before or '-'} → {c.after or '-'}")
        for c in changes]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    widths[1] = min(widths[1], 40)
    for row in rows:
        title = row[1] if len(row[1]) <= widths[1] else row[1][:widths[1] - 1] + "…"
        click.echo(f"{row[0].rjust(widths[0])}  {title.ljust(widths[1])}  "
                   f"{row[2].ljust(widths[2])}  {row[3]}")

