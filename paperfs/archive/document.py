"""The document model and its sidecar (schema version 1).

A sidecar is YAML beside the archived PDF. The short, hand-editable metadata
comes first, the full text content last. Keys this version does not know are
kept as they are (extend, never break).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from paperfs.archive.atomic import atomic_write_text
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
    notes: tuple[str, ...] = ()
    source: Mapping[str, Any] = field(default_factory=dict)
    language: str | None = None
    content: str = ""
    #: keys from a newer schema or added by hand; written back untouched
    extra: Mapping[str, Any] = field(default_factory=dict)

    def metadata_equals(self, other: "Document") -> bool:
        """Same user-visible metadata (ignores modified)."""
        return all(getattr(self, k) == getattr(other, k) for k in EDITABLE)

    def replace(self, **changes: Any) -> "Document":
        return dataclasses.replace(self, **changes)


# ---------------------------------------------------------------- writing


class _SidecarDumper(yaml.CSafeDumper):
    pass


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
        "notes": list(doc.notes),
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


def _to_date(value: Any, key: str, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _fail(where, key, f"expected a date like 2024-03-15, got {value!r}")


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
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise _fail(where, "notes", "expected a list of texts")
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
        notes=tuple(notes),
        source=dict(source) if isinstance(source, Mapping) else {"path": str(source)},
        language=_opt_str(data, "language", where),
        content=content,
        extra={k: v for k, v in data.items() if k not in _KNOWN},
    )


def loads(text: str, where: str) -> Document:
    try:
        data = yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise SidecarError(f"{where}: {at}not valid YAML: {getattr(exc, 'problem', None) or exc}")
    return from_mapping(data, where)


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


# ---------------------------------------------------------------- fast reading
#
# PyYAML's constructor is Python even with the C parser: about 0.3 ms for the
# thirty-odd small nodes of a sidecar's metadata, most of a rebuild's time.
# ``loads_fast`` reads the plain shapes paperfs and its tools write (block
# mappings, ``key: scalar``, ``[]``/``{}`` and simple flow collections,
# quoted strings without escapes, a literal block for the content) by hand,
# resolving plain scalars with PyYAML's own resolver, and hands anything else
# to ``loads``: the result is the same document either way.

_RESOLVER = yaml.resolver.Resolver()
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z")
_DATE = re.compile(r"\d{4}-\d\d-\d\d\Z")
_ANCHOR = re.compile(r"[A-Za-z0-9_-]+\Z")
_STAMP = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d{6})?[+-]\d\d:\d\d\Z")
_PLAIN_BAD_START = frozenset("-?:,[]{}#&*!|>'\"%@`")
_FLOW_ITEM = re.compile(r'\s*(?:"([^"\\]*)"|\'((?:[^\']|\'\')*)\'|([^\s,\[\]{}:#"\'][^,\[\]{}:#"\']*?))\s*(,|\Z)')
_FLOW_KEY = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*): +")


class _Unsure(Exception):
    """A shape the fast reader does not handle: use PyYAML."""


def _plain(text: str, flow: bool = False) -> Any:
    if not text:
        return None
    if (text[0] in _PLAIN_BAD_START or ": " in text or " #" in text or text.endswith(":")
            or "\t" in text or (flow and any(c in text for c in ",[]{}"))):
        raise _Unsure
    tag = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))
    if tag == "tag:yaml.org,2002:str":
        return text
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:bool":
        return text.lower() in ("yes", "true", "on")
    if tag == "tag:yaml.org,2002:int" and _INT.match(text):
        return int(text)
    if tag == "tag:yaml.org,2002:timestamp":
        if _DATE.match(text):
            return dt.date.fromisoformat(text)
        if _STAMP.match(text):
            return dt.datetime.fromisoformat(text)
    raise _Unsure


def _scalar(text: str, flow: bool = False) -> Any:
    """A one-line scalar (already stripped of surrounding spaces)."""
    if not text:
        return None
    first = text[0]
    if first == '"':
        if len(text) < 2 or text[-1] != '"' or "\\" in text or '"' in text[1:-1]:
            raise _Unsure
        return text[1:-1]
    if first == "'":
        inner = text[1:-1]
        if len(text) < 2 or text[-1] != "'" or "'" in inner.replace("''", ""):
            raise _Unsure
        return inner.replace("''", "'")
    if first == "[":
        return _flow(text[1:-1], "]", text)
    if first == "{":
        return _flow(text[1:-1], "}", text)
    return _plain_memo(text, flow)


def _flow(inner: str, close: str, text: str) -> Any:
    """A one-line flow collection of scalars: ``[a, "b c"]``, ``{kind: x, path: "y"}``."""
    if text[-1] != close:
        raise _Unsure
    mapping = close == "}"
    out_map: dict[str, Any] = {}
    out_list: list[Any] = []
    pos, end = 0, len(inner)
    if not inner.strip():
        return out_map if mapping else out_list
    while True:
        key = None
        if mapping:
            m = _FLOW_KEY.match(inner, pos)
            if m is None:
                raise _Unsure
            key = m.group(1)
            if _plain_memo(key) != key:
                raise _Unsure
            pos = m.end()
        m = _FLOW_ITEM.match(inner, pos)
        if m is None:
            raise _Unsure
        if m.group(1) is not None:
            value: Any = m.group(1)
        elif m.group(2) is not None:
            value = m.group(2).replace("''", "'")
        else:
            value = _plain_memo(m.group(3).strip(), flow=True)
        if mapping:
            out_map[key] = value  # type: ignore[index]
        else:
            out_list.append(value)
        pos = m.end()
        if m.group(4) == "":
            break
        if pos >= end:
            raise _Unsure  # a trailing comma
    return out_map if mapping else out_list


def _fast_mapping(text: str) -> dict[str, Any]:
    lines = text.split("\n")
    n = len(lines)
    # (indent, container) of the open block collections; the top one is innermost
    root: dict[str, Any] = {}
    stack: list[tuple[int, Any]] = [(0, root)]
    pending: tuple[int, dict, str] | None = None  # a "key:" waiting for its block
    anchors: dict[str, Any] = {}
    i = 0
    while i < n:
        line = lines[i]
        i += 1
        stripped = line.strip()
        if not stripped or (stripped[0] == "#" and line[0] == "#"):
            continue
        if "\t" in line or stripped in ("---", "..."):
            raise _Unsure
        indent = len(line) - len(line.lstrip(" "))
        if pending is not None:
            p_indent, p_parent, p_key = pending
            pending = None
            if stripped.startswith("- ") or stripped == "-":
                if indent < p_indent:
                    raise _Unsure
                seq: list[Any] = []
                p_parent[p_key] = seq
                stack.append((indent, seq))
            elif indent > p_indent:
                child: dict[str, Any] = {}
                p_parent[p_key] = child
                stack.append((indent, child))
            else:
                p_parent[p_key] = None
        while stack and indent < stack[-1][0]:
            stack.pop()
        if not stack or indent != stack[-1][0]:
            raise _Unsure
        container = stack[-1][1]
        if isinstance(container, list):
            if not (stripped.startswith("- ") or stripped == "-"):
                # a sequence at the same indent as its key ends here
                stack.pop()
                if not stack or indent != stack[-1][0] or isinstance(stack[-1][1], list):
                    raise _Unsure
                container = stack[-1][1]
            else:
                item = stripped[1:].strip()
                if not item or item[0] in "-?" or (": " in item and item[0] not in "\"'"):
                    raise _Unsure
                container.append(_scalar(item))
                continue
        if stripped.startswith("- "):
            raise _Unsure
        key, sep, rest = stripped.partition(":")
        if not _KEY.match(key) or (sep and rest and rest[0] != " ") or not sep:
            raise _Unsure
        if _plain_memo(key) != key:
            raise _Unsure
        rest = rest.strip()
        if rest.startswith("#"):
            raise _Unsure
        if rest in ("|", "|-", "|+"):
            if len(stack) != 1:
                raise _Unsure
            value, i = _literal(lines, i, rest[1:])
            container[key] = value
            continue
        if not rest:
            pending = (indent, container, key)
            continue
        first = rest[0]
        if first == "&" or first == "*":
            # an anchor on a scalar, and its alias (the dumper writes them when
            # added and modified are the same timestamp)
            name, _, value = rest[1:].partition(" ")
            if not _ANCHOR.match(name):
                raise _Unsure
            if first == "*":
                if value or name not in anchors:
                    raise _Unsure
                container[key] = anchors[name]
                continue
            value = value.strip()
            if not value or value[0] in "|>&*!":
                raise _Unsure
            container[key] = anchors[name] = _scalar(value)
            continue
        if first in "|>!":
            raise _Unsure
        container[key] = _scalar(rest)
    if pending is not None:
        pending[1][pending[2]] = None
    return root


def _literal(lines: list[str], i: int, chomp: str) -> tuple[str, int]:
    """A literal block from line ``i`` that runs to the end of the text (the
    content, written last): (text, the line after it). Dedented with string
    replacement; anything unusual (more keys after it, spaces at line ends,
    blank lines with spaces, tabs) is left to PyYAML."""
    rest = "\n".join(lines[i:])
    if " \n" in rest or "\t" in rest or rest.endswith(" "):
        raise _Unsure
    start = rest.lstrip("\n")
    if not start:
        return ("\n" * rest.count("\n") if chomp == "+" else ""), len(lines)
    width = len(start) - len(start.lstrip(" "))
    if width == 0:
        raise _Unsure  # an empty block followed by more keys
    body = "\n" + rest
    if _less_indented(width).search(body):
        raise _Unsure  # a line less indented: the block ends before the text does
    body = body.replace("\n" + " " * width, "\n")[1:]
    if chomp == "-":
        return body.rstrip("\n"), len(lines)
    if chomp == "":
        kept = body.rstrip("\n")
        return (kept + "\n" if kept else ""), len(lines)
    return body, len(lines)


@functools.lru_cache(maxsize=16)
def _less_indented(width: int) -> re.Pattern:
    return re.compile(r"\n {0,%d}[^ \n]" % (width - 1))


_PLAIN_MEMO: dict[tuple[str, bool], Any] = {}


def _plain_memo(text: str, flow: bool = False) -> Any:
    """``_plain`` remembered for short values (keys, null, false, mime types)."""
    key = (text, flow)
    try:
        return _PLAIN_MEMO[key]
    except KeyError:
        value = _plain(text, flow)
        if len(text) <= 40 and len(_PLAIN_MEMO) < 4096:
            _PLAIN_MEMO[key] = value
        return value


def loads_fast(text: str, where: str) -> Document:
    """``loads`` for the plain sidecars paperfs writes (the same document, several
    times faster); anything else is read by ``loads``."""
    if "\r" not in text and "\ufeff" not in text:
        try:
            data = _fast_mapping(text)
        except (_Unsure, ValueError, IndexError):
            pass
        else:
            return from_mapping(data, where)
    return loads(text, where)


def read_sidecar_fast(path: Path) -> Document:
    """``read_sidecar`` through ``loads_fast``."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SidecarError(f"{path}: not UTF-8 text")
    return loads_fast(text, str(path))
