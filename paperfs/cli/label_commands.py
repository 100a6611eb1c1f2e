"""``paperfs label list|add|edit|rm``: labels.yml edited from the command line.

The file stays the user's: it is edited in ruamel.yaml's round-trip mode, so
comments, order, flow or block style and quoting survive. Every edit is
validated whole with ``parse_labels`` before anything is written (an edit
that would make the file invalid is refused with the same message, the file
untouched) and written atomically. Labels live only in labels.yml:
renaming or removing one does not change documents.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import click
import yaml

from paperfs.archive.atomic import atomic_write_text
from paperfs.classify.labels import KINDS, SINGULAR, Label, LabelSet, LabelsError, parse_labels
from paperfs.classify.matching import ALGORITHMS, ALIASES
from paperfs.cli.app import cli, runtime_of
from paperfs.errors import NotFoundError, UsageError

#: what the KIND argument accepts (singular, plural, paperless' names)
KIND_NAMES = {
    "tag": "tags", "tags": "tags",
    "correspondent": "correspondents", "correspondents": "correspondents",
    "type": "document_types", "types": "document_types", "document_type": "document_types",
    "document_types": "document_types", "document-type": "document_types",
    "document-types": "document_types",
}
NEW_FILE_HEADER = ("# paperfs labels: tags, correspondents and document types with their "
                   "matching rules.\n# Schema and examples: docs/classification.md\n")
DOCUMENTS_UNCHANGED = ("documents are not changed: {name!r} stays on the documents that have "
                       "it (rename it on all of them by renaming its folder under /{folder} "
                       "over WebDAV; 'paperfs retag' applies the rules again)")
_FOLDER = {"tags": "tags", "correspondents": "correspondents", "document_types": "types"}


def kind_of(value: str) -> str:
    kind = KIND_NAMES.get(value.strip().lower())
    if kind is None:
        raise UsageError(f"unknown kind {value!r}: use tag, correspondent or type")
    return kind


# ---------------------------------------------------------------- the file, round trip


def _round_trip() -> Any:
    from ruamel.yaml import YAML

    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 4096  # never fold a long match string
    rt.indent(mapping=2, sequence=4, offset=2)
    return rt


class LabelsDocument:
    """labels.yml loaded for editing; ``save`` validates and writes it atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.original = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self.original = None
        except (OSError, UnicodeDecodeError) as exc:
            raise LabelsError(f"{path}: cannot read the labels file: {exc}") from None
        self.rt = _round_trip()
        from ruamel.yaml.comments import CommentedMap
        from ruamel.yaml.error import YAMLError

        try:
            data = self.rt.load(self.original or "")
        except YAMLError as exc:
            raise LabelsError(f"{path}: not valid YAML, fix it by hand first: {exc}") from None
        #: what precedes the sections in a file that has none yet (its comments, or ours)
        self.prefix = ""
        if data is None:
            data = CommentedMap()
            self.prefix = (self.original or "").rstrip("\n") or NEW_FILE_HEADER.rstrip("\n")
            self.prefix += "\n"
        if not isinstance(data, dict):
            raise LabelsError(f"{path}: the top level must be a mapping of the sections "
                              f"{', '.join(KINDS)}; fix it by hand first")
        self.data = data

    def section(self, kind: str, *, create: bool = False) -> Any:
        from ruamel.yaml.comments import CommentedMap

        section = self.data.get(kind)
        if section is None and create:
            section = self.data[kind] = CommentedMap()
        return section

    def key_of(self, kind: str, name: str) -> str | None:
        """The key naming the label in the file (names compare without case)."""
        section = self.section(kind)
        if not isinstance(section, dict):
            return None
        folded = name.strip().casefold()
        return next((key for key in section if str(key).strip().casefold() == folded), None)

    def text(self) -> str:
        out = io.StringIO()
        self.rt.dump(self.data, out)
        body = out.getvalue()
        return self.prefix + ("" if body.strip() == "{}" else body)

    def save(self) -> LabelSet:
        """Validate the edited file whole, then write it atomically (else nothing)."""
        text = self.text()
        try:
            labels = parse_labels(text, str(self.path))
        except LabelsError as exc:
            raise LabelsError(f"refused, {self.path.name} was not changed: {exc}") from None
        current = self.path.read_text(encoding="utf-8") if self.path.exists() else None
        if current != self.original:
            raise UsageError(f"{self.path} changed while it was being edited; nothing was "
                             "written: run the command again")
        atomic_write_text(self.path, text)
        return labels


def _text(value: str) -> Any:
    """A string as it must be written so that PyYAML (YAML 1.1, which paperfs reads
    the file with) reads it back as that string: ``yes``, ``010`` or ``"x"`` quoted."""
    from ruamel.yaml.scalarstring import SingleQuotedScalarString

    try:
        plain = yaml.safe_load(value)
    except yaml.YAMLError:
        return value  # not a plain scalar: ruamel quotes it itself
    return value if plain == value else SingleQuotedScalarString(value)


def _settings(doc: LabelsDocument, kind: str, key: str) -> Any:
    """The label's settings mapping, made one if it has none (``Name:``)."""
    from ruamel.yaml.comments import CommentedMap

    section = doc.section(kind)
    value = section[key]
    if not isinstance(value, dict):
        value = CommentedMap()
        value.fa.set_flow_style()  # like the examples: Name: {match: …}
        section[key] = value
    return value


def _apply(settings: Any, changes: dict[str, Any]) -> None:
    """Set (or, at the default, remove) each given setting."""
    defaults = {"match": "", "algorithm": None, "case_sensitive": False, "priority": 0,
                "parent": "", "inbox": False}
    for setting, value in changes.items():
        if value is None:
            continue
        if value == defaults[setting]:
            settings.pop(setting, None)
        else:
            settings[setting] = _text(value) if isinstance(value, str) else value


def _collapse(doc: LabelsDocument, kind: str, key: str) -> None:
    """A label left without settings is written ``Name:``."""
    section = doc.section(kind)
    if isinstance(section[key], dict) and not section[key]:
        section[key] = None


# ---------------------------------------------------------------- options


def _label_options(func: Any) -> Any:
    options = [
        click.option("--match", help="The match string ('' removes it)."),
        click.option("--algorithm", type=click.Choice([*ALGORITHMS, *ALIASES]),
                     help="How the match string is applied (default: any with a match "
                          "string, else none; auto: learned)."),
        click.option("--case-sensitive/--case-insensitive", "case_sensitive", default=None,
                     help="Compare case (default: case-insensitive)."),
        click.option("--priority", type=click.IntRange(-1000, 1000),
                     help="Decides between several matching correspondents or types "
                          "(higher first; default 0)."),
        click.option("--parent", help="Tags: the parent tag ('' removes it)."),
        click.option("--inbox/--no-inbox", "inbox", default=None,
                     help="Tags: added to every new document."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _changes(kind: str, options: dict[str, Any]) -> dict[str, Any]:
    changes = {k: options[k] for k in ("match", "algorithm", "case_sensitive", "priority",
                                       "parent", "inbox")}
    if changes["algorithm"]:
        changes["algorithm"] = ALIASES.get(changes["algorithm"], changes["algorithm"])
    if kind != "tags":
        for tag_only in ("parent", "inbox"):
            if changes[tag_only] is not None:
                raise UsageError(f"--{tag_only} is for tags only, not for a "
                                 f"{SINGULAR[kind]}")
    if changes["parent"] is not None:
        changes["parent"] = changes["parent"].strip()
    return changes


def _described(label: Label | None) -> str:
    if label is None:
        return ""
    settings = label.settings()
    return " (" + ", ".join(f"{k}: {v}" for k, v in settings.items()) + ")" if settings else ""


# ---------------------------------------------------------------- commands


@cli.group("label")
def label_group() -> None:
    """Tags, correspondents and document types in labels.yml, with their matching rules.

    KIND is tag, correspondent or type (plurals work too). The file keeps its
    comments and layout; an edit that would make it invalid is refused.
    Documents are never changed here: 'paperfs retag' applies the rules to
    the archive.
    """


@label_group.command("list")
@click.option("--kind", "kind_name", metavar="KIND", help="Only tags, correspondents or types.")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@click.pass_context
def label_list(ctx: click.Context, kind_name: str | None, as_json: bool) -> None:
    """The declared labels, with how many documents carry each."""
    from paperfs.classify.labels import load_labels

    runtime = runtime_of(ctx)
    labels = load_labels(runtime.root.labels_file)
    kinds = [kind_of(kind_name)] if kind_name else list(KINDS)
    counts = _document_counts(runtime)
    rows = []
    for kind in kinds:
        for name, label in labels.of(kind).items():
            count = counts.get(kind, {}).get(name.casefold(), 0) if counts is not None else None
            rows.append({"kind": SINGULAR[kind], "name": name, "algorithm": label.algorithm,
                         "match": label.match, "case_sensitive": label.case_sensitive,
                         "priority": label.priority, "parent": label.parent,
                         "inbox": label.inbox, "documents": count})
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    if not rows:
        click.echo(f"no labels declared in {runtime.root.labels_file} "
                   "(add one: paperfs label add tag NAME --match WORDS)")
        return
    header = ("KIND", "NAME", "ALGORITHM", "MATCH", "PRIORITY", "PARENT", "INBOX", "DOCUMENTS")
    table = [header] + [(
        r["kind"], r["name"], r["algorithm"] + (" (case)" if r["case_sensitive"] else ""),
        r["match"], str(r["priority"]) if r["priority"] else "", r["parent"] or "",
        "yes" if r["inbox"] else "", "?" if r["documents"] is None else str(r["documents"]),
    ) for r in rows]
    widths = [min(40, max(len(row[i]) for row in table)) for i in range(len(header))]
    for row in table:
        cells = [cell if len(cell) <= widths[i] else cell[:widths[i] - 1] + "…"
                 for i, cell in enumerate(row)]
        click.echo("  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip())


def _document_counts(runtime: Any) -> dict[str, dict[str, int]] | None:
    """Documents per label value (case-insensitive), from the index's facets; None when
    there is no index yet or it cannot answer."""
    from paperfs.errors import PaperfsError
    from paperfs.index.model import LOCAL_ADMIN
    from paperfs.search.tree import MatchAll

    if not runtime.root.index_db.exists():
        return None
    try:
        with runtime.reading() as index:
            facets = index.facets(MatchAll(), user=LOCAL_ADMIN)
    except PaperfsError:
        return None
    out: dict[str, dict[str, int]] = {}
    for kind, facet in (("tags", facets.tags), ("correspondents", facets.correspondents),
                        ("document_types", facets.types)):
        counts = out.setdefault(kind, {})
        for count in facet:
            counts[count.value.casefold()] = counts.get(count.value.casefold(), 0) + count.count
    return out


@label_group.command("add")
@click.argument("kind_name", metavar="KIND")
@click.argument("name")
@_label_options
@click.pass_context
def label_add(ctx: click.Context, kind_name: str, name: str, **options: Any) -> None:
    """Declare a label: paperfs label add tag Finance --match "invoice receipt"."""
    kind = kind_of(kind_name)
    changes = _changes(kind, options)
    name = name.strip()
    if not name:
        raise UsageError("NAME must not be empty")
    doc = LabelsDocument(runtime_of(ctx).root.labels_file)
    existing = doc.key_of(kind, name)
    if existing is not None:
        raise UsageError(f"{SINGULAR[kind]} {str(existing)!r} is declared already; change it "
                         f"with 'paperfs label edit {kind_name} {name} …'")
    section = doc.section(kind, create=True)
    key = _text(name)
    section[key] = None
    _apply(_settings(doc, kind, key), changes)
    _collapse(doc, kind, key)
    labels = doc.save()
    click.echo(f"added {SINGULAR[kind]} {name!r}{_described(labels.find(kind, name))} to "
               f"{doc.path}")


@label_group.command("edit")
@click.argument("kind_name", metavar="KIND")
@click.argument("name")
@_label_options
@click.option("--rename", metavar="NEW", help="A new name (tags naming it as parent follow).")
@click.pass_context
def label_edit(ctx: click.Context, kind_name: str, name: str, rename: str | None,
               **options: Any) -> None:
    """Change a label's settings or name; settings not given stay as they are."""
    kind = kind_of(kind_name)
    changes = _changes(kind, options)
    doc = LabelsDocument(runtime_of(ctx).root.labels_file)
    key = doc.key_of(kind, name)
    if key is None:
        raise NotFoundError(f"no {SINGULAR[kind]} {name!r} in {doc.path}")
    if rename is not None and not rename.strip():
        raise UsageError("--rename must not be empty")
    if all(v is None for v in changes.values()) and rename is None:
        raise UsageError("nothing to change: give --match, --algorithm, --priority, --parent, "
                         "--inbox, --case-sensitive or --rename")
    old_name = str(key).strip()
    _apply(_settings(doc, kind, key), changes)
    _collapse(doc, kind, key)
    new_name = old_name
    if rename is not None and rename.strip() != old_name:
        new_name = rename.strip()
        other = doc.key_of(kind, new_name)
        if other is not None and other != key:
            raise UsageError(f"{SINGULAR[kind]} {str(other)!r} is declared already")
        key = _rename_key(doc.section(kind), key, _text(new_name))
        if kind == "tags":
            _follow_parent(doc, old_name, new_name)
    labels = doc.save()
    click.echo(f"changed {SINGULAR[kind]} {new_name!r}{_described(labels.find(kind, new_name))}")
    if new_name != old_name:
        click.echo(f"renamed from {old_name!r}; "
                   + DOCUMENTS_UNCHANGED.format(name=old_name, folder=_FOLDER[kind]))


def _rename_key(section: Any, old: Any, new: Any) -> Any:
    """Rename a key where it is, with its comments."""
    position = list(section).index(old)
    value = section[old]
    comment = section.ca.items.pop(old, None)
    del section[old]
    section.insert(position, new, value)
    if comment is not None:
        section.ca.items[new] = comment
    return new


def _follow_parent(doc: LabelsDocument, old: str, new: str) -> None:
    tags = doc.section("tags")
    for key, settings in tags.items():
        if isinstance(settings, dict) and str(settings.get("parent", "")).strip() == old:
            settings["parent"] = _text(new)


@label_group.command("rm")
@click.argument("kind_name", metavar="KIND")
@click.argument("name")
@click.pass_context
def label_rm(ctx: click.Context, kind_name: str, name: str) -> None:
    """Remove a label from labels.yml (documents keep it as a plain value)."""
    kind = kind_of(kind_name)
    doc = LabelsDocument(runtime_of(ctx).root.labels_file)
    key = doc.key_of(kind, name)
    if key is None:
        raise NotFoundError(f"no {SINGULAR[kind]} {name!r} in {doc.path}")
    if kind == "tags":
        children = [str(k) for k, v in doc.section("tags").items()
                    if isinstance(v, dict) and str(v.get("parent", "")).strip() == str(key).strip()]
        if children:
            raise UsageError(f"refused, {doc.path.name} was not changed: tag {str(key)!r} is "
                             f"the parent of {', '.join(map(repr, children))}; remove them or "
                             "change their parent first")
    section = doc.section(kind)
    section.ca.items.pop(key, None)
    del section[key]
    doc.save()
    click.echo(f"removed {SINGULAR[kind]} {str(key)!r} from {doc.path}; "
               + DOCUMENTS_UNCHANGED.format(name=str(key), folder=_FOLDER[kind]))
