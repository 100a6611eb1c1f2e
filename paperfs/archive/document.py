"""The document model and its sidecar (schema version 1).

A sidecar is YAML beside the archived PDF. The short, hand-editable metadata
comes first, the full text content last. Keys this version does not know are
kept as they are (extend, never break).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from paperfs.archive.atomic import atomic_write_text
from paperfs.archive.notes import Note, note_from
from paperfs.archive.sidecar_yaml import plain_mapping
from paperfs.errors import SidecarError

SCHEMA_VERSION = 1
SIDECAR_SUFFIX = ".yml"
ARCHIVE_SUFFIX = ".pdf"

# Keys a person may change by hand; everything else is paperfs's bookkeeping.
EDITABLE = ("title", "created", "correspondent", "document_type", "tags", "asn",
            "owner", "permissions", "custom_fields", "notes", "language")


@dataclass(frozen=True)
class Grants:
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Permissions:
    view: Grants = field(default_factory=Grants)
    change: Grants = field(default_factory=Grants)


@dataclass(frozen=True)
class OriginalInfo:
    filename: str
    mime_type: str
    sha256: str
    path: str  # relative to the data root


@dataclass(frozen=True)
class ArchiveInfo:
    sha256: str
    pages: int
    pdfa: bool = False
    ocr: bool = False


@dataclass(frozen=True)
class Document:
    id: int
    title: str
    created: dt.date
    added: dt.datetime
    modified: dt.datetime
    original: OriginalInfo
    archive: ArchiveInfo
    correspondent: str | None = None
    document_type: str | None = None
    tags: tuple[str, ...] = ()
    asn: int | None = None
    owner: str | None = None
    permissions: Permissions = field(default_factory=Permissions)
    custom_fields: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[Note, ...] = ()
    source: Mapping[str, Any] = field(default_factory=dict)
    language: str | None = None
    content: str = ""
    #: keys from a newer schema or added by hand; written back untouched
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Code that builds documents may give notes as plain texts (author, time unknown).
        if any(isinstance(note, str) for note in self.notes):
            object.__setattr__(self, "notes", tuple(
                Note(note) if isinstance(note, str) else note for note in self.notes))

    def metadata_equals(self, other: "Document") -> bool:
        """Same user-visible metadata (ignores modified)."""
        return all(getattr(self, k) == getattr(other, k) for k in EDITABLE)

    def replace(self, **changes: Any) -> "Document":
        return dataclasses.replace(self, **changes)


# ---------------------------------------------------------------- writing


class _SidecarDumper(yaml.CSafeDumper):
    # A sidecar is edited by hand: the same timestamp object in `added` and `modified`
    # must be written out twice, not as an anchor and an alias (&id001 / *id001).
    def ignore_aliases(self, data: object) -> bool:
        return True


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_SidecarDumper.add_representer(str, _str_representer)

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff]")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")


def clean_content(text: str) -> str:
    """Make text representable as a YAML literal block (readable by people).

    Page breaks (form feeds) and other control characters would force
    PyYAML into an escaped one-line string; pages are separated by a blank
    line instead.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")
    text = text.replace("\t", "    ")
    text = _CONTROL.sub("", text)
    text = _TRAILING_SPACE.sub("\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip() + "\n" if text.strip() else ""


def _grants(g: Grants) -> dict[str, list[str]]:
    return {"users": list(g.users), "groups": list(g.groups)}


def to_mapping(doc: Document) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "id": doc.id,
        "title": doc.title,
        "created": doc.created,
        "added": doc.added,
        "modified": doc.modified,
        "correspondent": doc.correspondent,
        "document_type": doc.document_type,
        "tags": list(doc.tags),
        "asn": doc.asn,
        "owner": doc.owner,
        "permissions": {"view": _grants(doc.permissions.view),
                        "change": _grants(doc.permissions.change)},
        "custom_fields": dict(doc.custom_fields),
        "notes": [note.to_yaml() for note in doc.notes],
        "language": doc.language,
        "source": dict(doc.source),
        "original": dataclasses.asdict(doc.original),
        "archive": dataclasses.asdict(doc.archive),
    }
    data.update(doc.extra)
    data["content"] = clean_content(doc.content)
    return data


HEADER = "# paperfs sidecar: edit the fields above 'content' by hand; paperfs applies valid edits.\n"


def dumps(doc: Document) -> str:
    return HEADER + yaml.dump(to_mapping(doc), Dumper=_SidecarDumper, sort_keys=False,
                              allow_unicode=True, default_flow_style=False, width=100)


def write_sidecar(path: Path, doc: Document) -> str:
    text = dumps(doc)
    atomic_write_text(path, text)
    return text


# ---------------------------------------------------------------- reading

_KNOWN = {"schema_version", "id", "title", "created", "added", "modified",
          "correspondent", "document_type", "tags", "asn", "owner", "permissions",
          "custom_fields", "notes", "language", "source", "original", "archive", "content"}


def _fail(where: str, key: str, problem: str) -> SidecarError:
    return SidecarError(f"{where}: {key}: {problem}")


def _opt_str(data: Mapping[str, Any], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise _fail(where, key, f"expected text, got {value!r}")
    return value.strip() or None


def _str_list(value: Any, key: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [v for v in (part.strip() for part in value.split(",")) if v]
    if not isinstance(value, list):
        raise _fail(where, key, f"expected a list, got {value!r}")
    out: list[str] = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise _fail(where, key, f"expected a list of names, found {item!r}")
        text = str(item).strip()
        if text and text not in out:
            out.append(text)
    return tuple(out)


def as_date(value: Any) -> dt.date | None:
    """The day of a sidecar value (a date, a timestamp, an ISO text), or None."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    return None


def _to_date(value: Any, key: str, where: str) -> dt.date:
    day = as_date(value)
    if day is None:
        raise _fail(where, key, f"expected a date like 2024-03-15, got {value!r}")
    return day


def _to_datetime(value: Any, key: str, where: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    if isinstance(value, str):
        try:
            return _to_datetime(dt.datetime.fromisoformat(value.strip()), key, where)
        except ValueError:
            pass
    raise _fail(where, key, f"expected a timestamp like 2024-03-15T10:00:00+00:00, got {value!r}")


def _grants_from(value: Any, key: str, where: str) -> Grants:
    if value is None:
        return Grants()
    if not isinstance(value, Mapping):
        raise _fail(where, key, "expected a mapping with 'users' and 'groups' lists")
    unknown = set(value) - {"users", "groups"}
    if unknown:
        raise _fail(where, key, f"unknown key {sorted(unknown)[0]!r}; use 'users' and 'groups'")
    return Grants(users=_str_list(value.get("users"), f"{key}.users", where),
                  groups=_str_list(value.get("groups"), f"{key}.groups", where))


def from_mapping(data: Any, where: str) -> Document:
    if not isinstance(data, Mapping):
        raise SidecarError(f"{where}: expected a mapping of fields, got {type(data).__name__}")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise _fail(where, "schema_version",
                    f"this paperfs reads schema version {SCHEMA_VERSION}, found {version!r}")
    doc_id = data.get("id")
    if isinstance(doc_id, bool) or not isinstance(doc_id, int) or doc_id <= 0:
        raise _fail(where, "id", f"expected a positive whole number, got {doc_id!r}")
    title = _opt_str(data, "title", where)
    if not title:
        raise _fail(where, "title", "must not be empty")
    asn = data.get("asn")
    if asn is not None and (isinstance(asn, bool) or not isinstance(asn, int) or asn < 0):
        raise _fail(where, "asn", f"expected a whole number ≥ 0 or nothing, got {asn!r}")
    perms = data.get("permissions") or {}
    if not isinstance(perms, Mapping) or set(perms) - {"view", "change"}:
        raise _fail(where, "permissions", "expected a mapping with 'view' and 'change'")
    custom = data.get("custom_fields") or {}
    if not isinstance(custom, Mapping):
        raise _fail(where, "custom_fields", f"expected a mapping, got {custom!r}")
    notes = data.get("notes") or []
    if isinstance(notes, str):
        notes = [notes]
    if not isinstance(notes, list):
        raise _fail(where, "notes", "expected a list of notes (texts or {text, author, time})")
    try:
        parsed_notes = tuple(note_from(n) for n in notes)
    except ValueError as exc:
        raise _fail(where, "notes", str(exc)) from None
    original = data.get("original")
    archive = data.get("archive")
    try:
        original_info = OriginalInfo(**original)
        archive_info = ArchiveInfo(**archive)
    except TypeError as exc:
        raise SidecarError(f"{where}: original/archive: {exc}") from None
    source = data.get("source") or {}
    content = data.get("content") or ""
    if not isinstance(content, str):
        raise _fail(where, "content", "expected text")
    return Document(
        id=doc_id,
        title=title,
        created=_to_date(data.get("created"), "created", where),
        added=_to_datetime(data.get("added"), "added", where),
        modified=_to_datetime(data.get("modified"), "modified", where),
        original=original_info,
        archive=archive_info,
        correspondent=_opt_str(data, "correspondent", where),
        document_type=_opt_str(data, "document_type", where),
        tags=_str_list(data.get("tags"), "tags", where),
        asn=asn,
        owner=_opt_str(data, "owner", where),
        permissions=Permissions(view=_grants_from(perms.get("view"), "permissions.view", where),
                                change=_grants_from(perms.get("change"), "permissions.change", where)),
        custom_fields=dict(custom),
        notes=parsed_notes,
        source=dict(source) if isinstance(source, Mapping) else {"path": str(source)},
        language=_opt_str(data, "language", where),
        content=content,
        extra={k: v for k, v in data.items() if k not in _KNOWN},
    )


def loads(text: str, where: str) -> Document:
    """The document in a sidecar's text. The plain YAML paperfs writes is read by
    sidecar_yaml (several times faster), anything else by PyYAML: the same document."""
    data = plain_mapping(text)
    return from_mapping(yaml_mapping(text, where) if data is None else data, where)


def yaml_mapping(text: str, where: str) -> Any:
    """What PyYAML reads from *text*; a syntax error is a SidecarError naming line and column."""
    try:
        return yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise SidecarError(f"{where}: {at}not valid YAML: {getattr(exc, 'problem', None) or exc}")


def read_sidecar(path: Path) -> Document:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SidecarError(f"{path}: not UTF-8 text")
    return loads(text, str(path))


def pdf_for(sidecar: Path) -> Path:
    return sidecar.with_suffix(ARCHIVE_SUFFIX)


def sidecar_for(pdf: Path) -> Path:
    return pdf.with_suffix(SIDECAR_SUFFIX)


def sha256_file(path: Path) -> str:
    """The checksum a sidecar records for its PDF and its original."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()
