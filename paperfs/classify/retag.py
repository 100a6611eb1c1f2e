"""``paperfs retag``: the labels' rules and the classifier applied again to filed documents.

Like paperless-ngx's ``document_retagger``. Each selected document is
classified from its text alone (``classify`` with nothing given, the same
call the consume stage makes), then, per selected kind:

* without ``overwrite``: a correspondent or document type is only filled in
  when the document has none; tags are only added (with their parents).
  Nothing is ever removed.
* with ``overwrite``: the correspondent and type are replaced by what the
  rules and predictions give; when they give nothing, a value that a rule or
  the classifier could have given (a declared label whose algorithm is not
  ``none``) is cleared, and any other value (set by hand: undeclared, or
  algorithm ``none``) is kept. Tags that a rule or the classifier could have
  given but no longer does are dropped; tags set by hand (undeclared, or
  algorithm ``none``), inbox tags, and the parents of the tags kept stay.
  paperless keeps hand tags and inbox tags alike, but clears a hand-set
  correspondent or type when nothing matches; paperfs keeps those too.

Inbox tags are never added (they mark *new* documents). Every change goes
through the writer (``DocumentWriter.update``), so the pair moves as its
path rules say; beside a running daemon the change is handed to it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable

from paperfs.archive.document import Document, read_sidecar
from paperfs.classify.assign import Decision
from paperfs.classify.classifier import ClassifySettings, classify
from paperfs.classify.labels import KINDS, LabelSet, LabelsError, load_labels
from paperfs.errors import PaperfsError, UsageError
from paperfs.index.model import LOCAL_ADMIN
from paperfs.search.tree import MatchAll

if TYPE_CHECKING:
    from paperfs.runtime import Runtime

log = logging.getLogger(__name__)

#: the kind of label -> the document's field
FIELDS = {"correspondents": "correspondent", "document_types": "document_type", "tags": "tags"}


@dataclass(frozen=True)
class Selection:
    """Which documents and which of their fields."""

    kinds: frozenset[str] = frozenset(KINDS)
    #: only these ids (None: all)
    ids: frozenset[int] | None = None
    #: only ids in this inclusive range (None: all)
    id_range: tuple[int, int] | None = None
    #: only documents carrying an inbox tag
    inbox_only: bool = False

    def wants(self, doc_id: int) -> bool:
        if self.ids is not None and doc_id not in self.ids:
            return False
        return self.id_range is None or self.id_range[0] <= doc_id <= self.id_range[1]


def parse_id_range(text: str) -> tuple[int, int]:
    """'10-20' -> (10, 20); '7' -> (7, 7)."""
    low, sep, high = text.strip().partition("-")
    try:
        first, last = int(low), int(high if sep else low)
    except ValueError:
        raise UsageError(f"--id-range {text!r}: write FIRST-LAST, e.g. 100-200") from None
    if first > last:
        raise UsageError(f"--id-range {text!r}: the first id is greater than the last")
    return first, last


def parse_ids(text: str) -> frozenset[int]:
    """'1,5,9' -> {1, 5, 9}."""
    try:
        return frozenset(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        raise UsageError(f"--ids {text!r}: write ids separated by commas, e.g. 3,17,42") from None


@dataclass(frozen=True)
class FieldChange:
    """One row of the dry-run table."""

    doc_id: int
    title: str
    field: str
    before: str
    after: str


@dataclass
class RetagReport:
    examined: int = 0
    changes: list[FieldChange] = field(default_factory=list)
    #: documents changed (or, dry run, that would be)
    documents: int = 0
    #: changes handed to the running daemon instead of applied here
    handed_off: int = 0
    #: documents that could not be read or changed, with the reason
    problems: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- one document


def _automatic(labels: LabelSet, kind: str, name: str) -> bool:
    """Whether a rule or the classifier can give this value (so overwrite may drop it)."""
    label = labels.find(kind, name)
    return label is not None and label.algorithm != "none"


def _single(current: str | None, found: str | None, labels: LabelSet, kind: str,
            overwrite: bool) -> str | None:
    if not overwrite:
        return current or found
    if found:
        return found
    return None if current and _automatic(labels, kind, current) else current


def _declared_name(labels: LabelSet, tag: str) -> str:
    label = labels.find("tags", tag)
    return label.name if label is not None else tag


def _tags(current: tuple[str, ...], found: Iterable[str], labels: LabelSet,
          overwrite: bool) -> tuple[str, ...]:
    given = labels.with_parents(found)
    given_folded = {tag.casefold() for tag in given}
    inbox = {tag.casefold() for tag in labels.inbox_tags()}
    if overwrite:
        by_hand = [t for t in current if not _automatic(labels, "tags", t) or t.casefold() in inbox]
        # …and their parents, which they imply
        implied = {t.casefold() for t in labels.with_parents(_declared_name(labels, t)
                                                             for t in by_hand)}
        kept = [t for t in current if t.casefold() in implied or t.casefold() in given_folded]
    else:
        kept = list(current)
    out: dict[str, str] = {t.casefold(): t for t in kept}
    for tag in given:
        out.setdefault(tag.casefold(), tag)
    return tuple(out.values())


def found_tags(decision: Decision) -> list[str]:
    """The tags a rule or a prediction gave (not inbox tags, not parents: added after)."""
    return [r.name for r in decision.reasons
            if r.kind == "tags" and r.applied and r.source in ("rule", "prediction")]


def retagged(doc: Document, decision: Decision, labels: LabelSet, kinds: Iterable[str],
             overwrite: bool) -> Document:
    """The document with the decision applied to the selected kinds (see the module doc)."""
    kinds = set(kinds)
    changes: dict[str, object] = {}
    if "correspondents" in kinds:
        changes["correspondent"] = _single(doc.correspondent, decision.correspondent, labels,
                                           "correspondents", overwrite)
    if "document_types" in kinds:
        changes["document_type"] = _single(doc.document_type, decision.document_type, labels,
                                           "document_types", overwrite)
    if "tags" in kinds:
        changes["tags"] = _tags(doc.tags, found_tags(decision), labels, overwrite)
    return doc.replace(**changes)


def field_changes(before: Document, after: Document, kinds: Iterable[str]) -> list[FieldChange]:
    out = []
    for kind in KINDS:
        if kind not in kinds:
            continue
        name = FIELDS[kind]
        old, new = getattr(before, name), getattr(after, name)
        if kind == "tags":
            if tuple(old) == tuple(new):
                continue
            old, new = ", ".join(old), ", ".join(new)
        elif old == new:
            continue
        out.append(FieldChange(before.id, before.title, name, old or "", new or ""))
    return out


# ---------------------------------------------------------------- the archive


def selected_documents(runtime: "Runtime", selection: Selection) -> list[tuple[int, str]]:
    """(id, archive path) of the selected documents, by id (read before any change)."""
    catalog = runtime.open_catalog()
    try:
        refs = [(entry.id, entry.path) for entry in catalog.stream(MatchAll(), LOCAL_ADMIN)
                if selection.wants(entry.id)]
    finally:
        catalog.close()
    return sorted(refs)


def retag(runtime: "Runtime", selection: Selection, *, overwrite: bool = False,
          dry_run: bool = False, on_total: Callable[[int], None] | None = None,
          progress: Callable[[int], None] | None = None) -> RetagReport:
    """Classify the selected documents again and apply (or, dry run, only list) the changes."""
    try:
        labels = load_labels(runtime.root.labels_file)
    except LabelsError as exc:
        raise LabelsError(f"{exc}; nothing was retagged") from None
    settings = ClassifySettings.of(runtime, labels)
    refs = selected_documents(runtime, selection)
    if on_total:
        on_total(len(refs))
    report = RetagReport()
    if dry_run:
        for doc_id, rel in refs:
            _one(runtime, settings, selection, overwrite, doc_id, rel, report, None)
            if progress:
                progress(1)
        return report
    with runtime.document_writer() as writer:
        for doc_id, rel in refs:
            _one(runtime, settings, selection, overwrite, doc_id, rel, report, writer)
            if progress:
                progress(1)
    return report


def _one(runtime: "Runtime", settings: ClassifySettings, selection: Selection, overwrite: bool,
         doc_id: int, rel: str, report: RetagReport, writer: object | None) -> None:
    try:
        doc = read_sidecar(runtime.root.archive / (rel + ".yml"))
    except (PaperfsError, OSError) as exc:
        report.problems.append(f"document {doc_id}: not read ({exc})")
        return
    labels = settings.labels
    if selection.inbox_only:
        inbox = {tag.casefold() for tag in labels.inbox_tags()}
        if not any(tag.casefold() in inbox for tag in doc.tags):
            return
    report.examined += 1
    decision = classify(settings, doc.content)
    changes = field_changes(doc, retagged(doc, decision, labels, selection.kinds, overwrite),
                            selection.kinds)
    if not changes:
        return
    report.documents += 1
    report.changes.extend(changes)
    if writer is None:
        return
    try:
        # Applied to the document as it is when the writer reads it.
        edited = writer.update(doc_id, lambda current: retagged(  # type: ignore[attr-defined]
            current, decision, labels, selection.kinds, overwrite))
    except PaperfsError as exc:
        report.problems.append(f"document {doc_id}: not changed ({exc})")
        return
    if not edited.applied:
        report.handed_off += 1
