"""paperfs import-paperless: the driver.

read the export (manifest.py) → map it (mapping.py) → check every file and
the merged labels/fields (checks.py, user_files.py) → only then write: the
user files, then the documents in batches through the writer's archive
(filing.py), trashed ones into the trash, and the classifier retrained when a
label is ``auto``.

Reruns continue: the paperless id → paperfs id table is written once, before
the first document, under ``.paperfs/migrate/<export>/``; a document whose id
is in the index or the trash is done, the batch a crash interrupted is
completed or undone (``BulkFiler.recover_batch``). A document whose original
the archive already holds (filed before the import) is skipped and listed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from paperfs.archive.atomic import atomic_copy, atomic_write_text
from paperfs.archive.document import ArchiveInfo, Document, OriginalInfo
from paperfs.archive.trash import Trash
from paperfs.archive.versions import Version as PaperfsVersion, version_file, with_history
from paperfs.migrate import checks, mail_files, user_files
from paperfs.migrate.filing import BulkFiler, Prepared
from paperfs.migrate.manifest import ExportError, opened
from paperfs.migrate.scratch import scratch_folder
from paperfs.migrate.mapping import Mapper, Plan, PlannedDoc

if TYPE_CHECKING:
    from paperfs.archive.store import Archive
    from paperfs.runtime import Runtime

BATCH = 250
IMPORTED_BY = "import-paperless"


@dataclass
class Summary:
    plan: Plan
    dry_run: bool
    imported: int = 0
    already: int = 0
    trashed: int = 0
    skipped: list[str] = field(default_factory=list)
    added: dict[str, int] = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)
    retrained: bool = False
    #: the users this import creates (without passwords); those users.yml has are kept
    new_users: list[str] = field(default_factory=list)
    #: the mail accounts and rules merged (None: the export has none)
    mail: "mail_files.MailMerge | None" = None


def _key(export_folder: Path) -> str:
    digest = hashlib.sha256((export_folder / "manifest.json").read_bytes()).hexdigest()
    return digest[:16]


def run_import(runtime: "Runtime", source: Path, *, dry_run: bool = False,
               progress: Callable[[str, int], Callable[[int], None]] | None = None) -> Summary:
    """Import the export at *source*; *progress(label, total)* gives an update(n) callback."""
    runtime = runtime.initialised()
    scratch = runtime.root.state / "migrate"
    scratch.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        export = stack.enter_context(opened(source, scratch))
        plan = Mapper(export).build()
        merge = user_files.prepare(runtime.root, plan)
        rules_path = runtime.root.root / mail_files.RULES_NAME
        mail = mail_files.prepare(runtime.config.source, rules_path, plan.mail)
        pages = {r["pk"]: r["fields"].get("page_count") for r in export.of("documents.document")
                 if r["fields"].get("page_count")}
        tick = progress("checking files", len(plan.documents)) if progress else None
        converted = stack.enter_context(scratch_folder(scratch, "converted-"))
        checked = checks.check_plan(plan, pages, (lambda: tick(1)) if tick else None,
                                    converted)
        _check_values(plan, merge.fields_text)
        summary = Summary(plan, dry_run, kept=merge.kept + (mail.kept if mail else []),
                          mail=mail, new_users=user_files.new_users(runtime.root, plan))
        if dry_run:
            return summary
        state = scratch / _key(export.folder)
        with runtime.archive(command="import-paperless") as archive:
            _check_asns(archive, plan, _known_ids(state))  # before any id is taken
            ids = _ids(archive, state, plan)
            summary.added = user_files.write(runtime.root, plan, merge)
            mail_files.write(mail, rules_path)
            if mail is not None:
                summary.added.update({"mail accounts": mail.added_accounts,
                                      "mail rules": mail.added_rules})
            _file_all(archive, state, plan, checked, ids, summary, progress)
        if any(s.get("algorithm") == "auto" for kind in plan.labels.values()
               for s in kind.values()):
            from paperfs.classify.training import retrain_if_changed

            try:
                summary.retrained = retrain_if_changed(runtime)
            except Exception as exc:  # noqa: BLE001 - the import stands; training is redone later
                summary.skipped.append(f"the classifier was not retrained ({exc!r}); the "
                                       "daemon retrains it, or run 'paperfs train'")
        return summary


def _check_values(plan: Plan, fields_text: str) -> None:
    """Every custom field value fits its declared type (before anything is written)."""
    from paperfs.archive.custom_fields import parse_fields

    declared = parse_fields(fields_text, "fields.yml")
    for doc in plan.documents:
        problems = declared.validate(doc.custom_fields)[1]
        if problems:
            raise ExportError(f"{doc.where}: custom fields: {'; '.join(problems)}")


def _check_asns(archive: "Archive", plan: Plan, ids: dict[int, int]) -> None:
    """An ASN another document of this archive holds: refused before anything is written."""
    ours = set(ids.values())
    for doc in plan.documents:
        if doc.asn is None:
            continue
        holder = archive.index.find_asn(doc.asn)
        if holder is not None and holder.id not in ours:
            raise ExportError(f"{doc.where} ({doc.title}): ASN {doc.asn} is already held by "
                              f"document {holder.id} (archive/{holder.path}.pdf); remove it "
                              "from one of them, then import again")


def _known_ids(state: Path) -> dict[int, int]:
    """The id table an earlier run of this export wrote (empty: none)."""
    table = state / "ids.json"
    if not table.exists():
        return {}
    return {int(k): v for k, v in json.loads(table.read_text("utf-8")).items()}


def _ids(archive: "Archive", state: Path, plan: Plan) -> dict[int, int]:
    """paperless pk → paperfs id, decided once (a rerun reads it back). An empty
    archive keeps paperless' ids (links and habits stay), else new ids follow on."""
    known = _known_ids(state)
    table = state / "ids.json"
    root = archive.root
    pks = [doc.pk for doc in plan.documents]
    if known:
        # another export of the same instance can share the key (a split export's
        # manifest.json holds no documents): its new documents get new ids
        new = [pk for pk in pks if pk not in known]
        if new:
            first = archive.next_id()
            known.update({pk: first + n for n, pk in enumerate(new)})
            atomic_write_text(root.id_counter, f"{first + len(new)}\n")
            atomic_write_text(table, json.dumps({str(k): v for k, v in known.items()}))
        return known
    empty = archive.index.max_id() == 0 and not any(Trash(root).entries()) \
        and not root.id_counter.exists()
    if empty and pks:
        ids = {pk: pk for pk in pks}
        next_free = max(pks) + 1
    else:
        first = archive.next_id() if pks else 0
        ids = {pk: first + n for n, pk in enumerate(pks)}
        next_free = first + len(pks)
    if pks:
        atomic_write_text(root.id_counter, f"{next_free}\n")
    state.mkdir(parents=True, exist_ok=True)
    atomic_write_text(table, json.dumps({str(k): v for k, v in ids.items()}))
    return ids


def _document(archive: "Archive", doc: PlannedDoc, checked: checks.Checked, doc_id: int,
              ids: dict[int, int], version: str) -> Document:
    original = archive.root.original_path(doc_id, Path(doc.original_name).suffix.lower()[:16]
                                          or doc.original.suffix or ".bin")
    values = dict(doc.custom_fields)
    for name, decl in archive.fields.current().fields.items():
        if decl.type == "document_link" and isinstance(values.get(name), list):
            values[name] = [ids.get(pk, pk) for pk in values[name]]
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    return Document(
        id=doc_id, title=doc.title, created=doc.created, added=doc.added, modified=now,
        original=OriginalInfo(filename=doc.original_name, mime_type=doc.mime_type,
                              sha256=checked.original_sha256,
                              path=original.relative_to(archive.root.root).as_posix()),
        archive=ArchiveInfo(sha256=checked.pdf_sha256, pages=checked.pages),
        correspondent=doc.correspondent, document_type=doc.document_type, tags=doc.tags,
        asn=doc.asn, owner=doc.owner, permissions=doc.permissions, custom_fields=values,
        notes=doc.notes, content=doc.content,
        source={"kind": "paperless", "paperless_id": doc.pk, "paperless_version": version,
                **({"storage_path": doc.storage_path} if doc.storage_path else {})})


def _with_versions(archive: "Archive", doc: Document, planned: PlannedDoc,
                   checked: checks.Checked) -> tuple[Document, Path]:
    """A 3.x document with versions: the newest PDF is filed, the earlier ones kept."""
    pdfs = [(checked.pdf, checked.pdf_sha256, checked.pages, planned.added, "filed")]
    for version, (sha, pages) in zip(planned.versions, checked.versions):
        pdfs.append((version.pdf, sha, pages, version.added, version.label or "new version"))
    history = []
    for number, (pdf, sha, pages, made, operation) in enumerate(pdfs, 1):
        history.append(PaperfsVersion(number, sha, pages, made, None, operation))
        if number < len(pdfs):
            kept = version_file(archive.root, doc.id, number)
            kept.parent.mkdir(parents=True, exist_ok=True)
            if not kept.exists():
                atomic_copy(pdf, kept)
    last = pdfs[-1]
    doc = doc.replace(archive=ArchiveInfo(sha256=last[1], pages=last[2]))
    return with_history(doc, history), last[0]


def _file_all(archive: "Archive", state: Path, plan: Plan,
              checked: dict[int, checks.Checked], ids: dict[int, int], summary: Summary,
              progress: Callable[[str, int], Callable[[int], None]] | None) -> None:
    filer = BulkFiler(archive, state / "batch.json")
    filer.recover_batch()
    trash = Trash(archive.root)
    tick = progress("importing documents", len(plan.documents)) if progress else None
    pending: list[tuple[PlannedDoc, Prepared]] = []

    def flush() -> None:
        filer.file_batch([item for _, item in pending])
        summary.imported += len(pending)
        for planned, item in pending:
            if planned.trashed is not None:
                _trash(archive, trash, item.doc.id)
                summary.trashed += 1
        if tick:
            tick(len(pending))
        pending.clear()

    for planned in plan.documents:
        doc_id = ids[planned.pk]
        if trash.get(doc_id) is not None or archive.index.ref(doc_id) is not None:
            if planned.trashed is not None and trash.get(doc_id) is None:
                _trash(archive, trash, doc_id)  # filed before a crash, not yet trashed
            summary.already += 1
            if tick:
                tick(1)
            continue
        check = checked[planned.pk]
        holder = archive.index.find_checksum(check.original_sha256)
        if holder is not None:
            summary.skipped.append(f"{planned.where} ({planned.title}): its original is "
                                   f"already document {holder.id} (archive/{holder.path}.pdf)")
            if tick:
                tick(1)
            continue
        doc = _document(archive, planned, check, doc_id, ids, summary.plan.version)
        pdf = check.pdf
        if planned.versions:
            doc, pdf = _with_versions(archive, doc, planned, check)
        doc = archive.checked_fields(doc, planned.where)
        pending.append((planned, Prepared(doc, pdf, planned.original)))
        if len(pending) >= BATCH:
            flush()
    if pending:
        flush()


def _trash(archive: "Archive", trash: Trash, doc_id: int) -> None:
    ref = archive.index.ref(doc_id)
    if ref is None:
        raise ExportError(f"document {doc_id} was to go into the trash but is not filed")
    trash.put(archive, doc_id, ref.path, IMPORTED_BY)
