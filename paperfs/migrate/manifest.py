"""A paperless-ngx export read whole: the manifests, the version, the files.

``document_exporter`` (1.x–3.x) writes a folder, or a zip of it: ``manifest.json``
(Django's serialisation, one record ``{model, pk, fields}`` per row), with
``--split-manifest`` one ``*-manifest.json`` per document beside it (the
document, its notes, its custom field values), ``version.json`` (1.x) or
``metadata.json`` (2.x, 3.x) with the version, and the files each document
record names in ``__exported_file_name__`` / ``__exported_archive_name__``
(``-p`` puts them under originals/, archive/, json/; ``-f`` names them by the
filename format; both only change these names).

Everything is read before anything is imported: a manifest cut in the middle,
an unknown model or a record without its fields is an ``ExportError`` naming
the file and the record.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from paperfs.errors import UsageError
from paperfs.migrate.scratch import scratch_folder

FILE_NAME = "__exported_file_name__"
ARCHIVE_NAME = "__exported_archive_name__"
THUMBNAIL_NAME = "__exported_thumbnail_name__"
#: the folders a zip is unpacked into under .paperfs/migrate/ (migrate/scratch.py)
UNPACKED = "paperless-export-"
#: paperless' matching_algorithm 0–6 → paperfs' algorithms (classify/matching.py)
ALGORITHMS = {0: "none", 1: "any", 2: "all", 3: "exact", 4: "regex", 5: "fuzzy", 6: "auto"}

#: every model a 1.x–3.x export holds; the importer maps some, lists the rest
KNOWN_MODELS = frozenset({
    "documents.correspondent", "documents.tag", "documents.documenttype",
    "documents.storagepath", "documents.document", "documents.note",
    "documents.savedview", "documents.savedviewfilterrule", "documents.uisettings",
    "documents.customfield", "documents.customfieldinstance", "documents.sharelink",
    "documents.sharelinkbundle", "documents.workflow", "documents.workflowtrigger",
    "documents.workflowaction", "documents.workflowactionemail",
    "documents.workflowactionwebhook", "documents.consumptiontemplate",
    "documents.paperlesstask", "documents.log",
    "paperless_mail.mailaccount", "paperless_mail.mailrule",
    "paperless.applicationconfiguration",
    "auth.user", "auth.group", "auth.permission", "contenttypes.contenttype",
    "guardian.userobjectpermission", "guardian.groupobjectpermission",
    "account.emailaddress", "socialaccount.socialaccount", "socialaccount.socialapp",
    "socialaccount.socialtoken", "mfa.authenticator", "auditlog.logentry",
})


#: fields that hold secrets in plain text (or encrypted with --passphrase): never read,
#: and blanked before a zip's manifests touch the disk
SECRET_FIELDS = {"paperless_mail.mailaccount": ("password", "refresh_token"),
                 "socialaccount.socialtoken": ("token", "token_secret")}


class ExportError(UsageError):
    """The export cannot be imported as it is; the message names the file or record."""


@dataclass
class Export:
    """The records of one export, by model, in manifest order."""

    folder: Path
    #: paperless-ngx's version as the export states it ("" when it states none)
    version: str = ""
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: the manifest each document record came from (messages name it)
    where: dict[int, str] = field(default_factory=dict)
    split: bool = False
    #: made with --passphrase (its secrets are encrypted; they are not read anyway)
    encrypted: bool = False

    def of(self, model: str) -> list[dict[str, Any]]:
        return self.records.get(model, [])

    def by_pk(self, model: str) -> dict[Any, dict[str, Any]]:
        return {record["pk"]: record for record in self.of(model)}

    @property
    def major(self) -> int:
        """1, 2 or 3 (by the stated version, else by what the records hold)."""
        digits = self.version.lstrip("v").split(".")[0]
        if digits.isdigit():
            return int(digits)
        docs = self.of("documents.document")
        if any("root_document" in d["fields"] for d in docs):
            return 3
        return 2 if self.of("documents.customfield") or any(
            "deleted_at" in d["fields"] for d in docs) else 1


@contextlib.contextmanager
def opened(path: Path, scratch: Path | None = None) -> Iterator[Export]:
    """The export at *path* (a folder or a zip), read and checked; a zip is unpacked
    into a temporary folder under *scratch* for as long as the block runs."""
    if path.is_dir():
        yield read_export(path)
        return
    if not path.is_file():
        raise ExportError(f"{path}: no such folder or zip file; give the folder (or the "
                          "zip) that paperless-ngx's document_exporter wrote")
    if not zipfile.is_zipfile(path):
        raise ExportError(f"{path}: neither a folder nor a zip file")
    unpacked = (scratch_folder(scratch, UNPACKED) if scratch is not None
                else tempfile.TemporaryDirectory(prefix=UNPACKED))
    with unpacked as tmp:
        try:
            with zipfile.ZipFile(path) as archive:
                _check_members(path, archive)
                for member in archive.infolist():
                    if member.filename.endswith("manifest.json"):
                        _extract_without_secrets(archive, member, Path(tmp))
                    else:
                        archive.extract(member, tmp)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ExportError(f"{path}: the zip cannot be read ({exc})") from None
        yield read_export(Path(tmp))


def _check_members(path: Path, archive: zipfile.ZipFile) -> None:
    for name in archive.namelist():
        if name.startswith("/") or ".." in Path(name).parts:
            raise ExportError(f"{path}: member {name!r} points outside the export")


def _extract_without_secrets(archive: zipfile.ZipFile, member: zipfile.ZipInfo,
                             folder: Path) -> None:
    """A manifest unpacked with its secret fields blanked: the mail passwords of an
    export never land in the data root (where the zip is unpacked), even for a moment."""
    data = archive.read(member)
    try:
        records = json.loads(data)
    except ValueError:
        records = None  # read_export reports where it breaks
    if isinstance(records, list):
        for record in records:
            secret = SECRET_FIELDS.get(str(record.get("model", "")).lower()) \
                if isinstance(record, dict) else None
            if secret and isinstance(record.get("fields"), dict):
                record["fields"].update({name: None for name in secret
                                         if name in record["fields"]})
        data = json.dumps(records, ensure_ascii=False).encode("utf-8")
    target = folder / member.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def read_export(folder: Path) -> Export:
    main = folder / "manifest.json"
    if not main.is_file():
        raise ExportError(f"{folder}: no manifest.json; this is not a paperless-ngx export "
                          "(made by 'document_exporter')")
    export = Export(folder=folder, version=_version(folder), encrypted=_encrypted(folder))
    _add(export, main, folder)
    for split in sorted(folder.glob("**/*-manifest.json")):
        export.split = True
        _add(export, split, folder)
    return export


def _version(folder: Path) -> str:
    for name in ("metadata.json", "version.json"):
        path = folder / name
        if path.is_file():
            data = _load_json(path, folder)
            if not isinstance(data, dict):
                raise ExportError(f"{path}: expected an object with 'version'")
            return str(data.get("version") or "")
    return ""


def _encrypted(folder: Path) -> bool:
    """--passphrase encrypts only secrets (mail passwords, OAuth and social tokens),
    which are never imported: such an export imports like any other."""
    path = folder / "metadata.json"
    return path.is_file() and "__crypto__" in (_load_json(path, folder) or {})


def _load_json(path: Path, folder: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        cut = " (the file ends in the middle: it was cut)" if exc.pos >= len(text.rstrip()) else ""
        raise ExportError(f"{path.relative_to(folder)}: not valid JSON at line {exc.lineno}, "
                          f"column {exc.colno}: {exc.msg}{cut}; export again") from None


def _inside(folder: Path, name: str) -> bool:
    """A file name of the manifest stays in the export (no ../, no absolute path, no link
    out): the importer copies what it names into the archive."""
    try:
        (folder / name).resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return not Path(name).is_absolute()


def _add(export: Export, path: Path, folder: Path) -> None:
    name = path.relative_to(folder).as_posix()
    data = _load_json(path, folder)
    if not isinstance(data, list):
        raise ExportError(f"{name}: expected a list of records")
    for number, record in enumerate(data, 1):
        if not isinstance(record, dict) or not isinstance(record.get("fields"), dict) \
                or "model" not in record:
            raise ExportError(f"{name}: record {number} has no 'model' and 'fields'")
        model = str(record["model"]).lower()
        if model not in KNOWN_MODELS:
            raise ExportError(f"{name}: record {number} (pk {record.get('pk')!r}) is of an "
                              f"unknown model {model!r}; this importer reads paperless-ngx "
                              "1.x–3.x exports")
        record["model"] = model
        if model == "documents.document":
            if not record.get(FILE_NAME):
                raise ExportError(f"{name}: document {record.get('pk')} names no file "
                                  f"({FILE_NAME}); an export made with --data-only cannot be "
                                  "imported")
            for key in (FILE_NAME, ARCHIVE_NAME):
                if record.get(key) and not _inside(folder, str(record[key])):
                    raise ExportError(f"{name}: document {record.get('pk')}: {key} "
                                      f"{record[key]!r} points outside the export; "
                                      "this manifest was not written by document_exporter")
            export.where[record["pk"]] = name
        export.records.setdefault(model, []).append(record)
