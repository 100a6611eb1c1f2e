"""Where a document lives in archive/: path templates and portable names.

A template is Python format syntax over the document's fields
(``{correspondent}/{created:%Y}/{created:%Y-%m-%d} {title}``). Field values
are cleaned before they are substituted, so a '/' in a title never makes a
folder; each path component is then made safe for Windows, macOS and Linux.
"""

from __future__ import annotations

import re
import string
import unicodedata
from pathlib import PurePosixPath
from typing import Any, Callable

from paperfs.archive.document import Document
from paperfs.errors import ConfigError

# Characters Windows (and SMB shares) refuse, plus the path separator.
_RESERVED_CHARS = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                     *(f"LPT{i}" for i in range(1, 10))}
_SPACES = re.compile(r"\s+")
# Room left in a name's byte budget for ' [123456]' and '.pdf'/'.yml'.
_SUFFIX_ROOM = 16

TEMPLATE_FIELDS = ("id", "title", "correspondent", "document_type", "type", "created",
                   "added", "modified", "asn", "owner", "tags", "tag", "original_name",
                   "language")


def clean_component(name: str, max_bytes: int) -> str:
    """One path component safe on every common filesystem."""
    name = unicodedata.normalize("NFC", name)
    name = _SPACES.sub(" ", name).strip()
    name = _RESERVED_CHARS.sub("_", name)
    # Windows drops trailing dots and spaces; a leading dot hides the file.
    name = name.rstrip(". ").lstrip(".")
    if not name:
        return "_"
    if name.split(".")[0].upper() in _WINDOWS_RESERVED:
        name = "_" + name
    return truncate_utf8(name, max_bytes).rstrip(". ") or "_"


def truncate_utf8(name: str, max_bytes: int) -> str:
    encoded = name.encode("utf-8")
    if len(encoded) <= max_bytes:
        return name
    # Cut at a character boundary, then renormalise (a cut may split a combining pair).
    return unicodedata.normalize("NFC", encoded[:max_bytes].decode("utf-8", "ignore"))


class _Formatter(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        if value is None:
            return ""
        return format(value, format_spec)


class PathTemplate:
    """A compiled template; validated once at start-up."""

    def __init__(self, template: str, *, key: str = "archive.paths") -> None:
        self.template = template
        self._formatter = _Formatter()
        try:
            parsed = list(self._formatter.parse(template))
        except ValueError as exc:
            raise ConfigError(f"{key}: template {template!r}: {exc}") from None
        for _literal, field_name, _spec, _conv in parsed:
            if field_name is None:
                continue
            base = field_name.split(".")[0].split("[")[0]
            if base not in TEMPLATE_FIELDS:
                raise ConfigError(f"{key}: template {template!r}: unknown field {{{base}}}; "
                                  f"valid fields: {', '.join(TEMPLATE_FIELDS)}")
        if template.startswith("/") or ".." in PurePosixPath(template).parts:
            raise ConfigError(f"{key}: template {template!r} must be a relative path "
                              "without '..'")

    def render(self, doc: Document, *, unknown: str, max_bytes: int) -> PurePosixPath:
        """Relative path without suffix, e.g. 'ACME/2024/2024-03-15 Invoice'."""
        values = template_values(doc, unknown=unknown)
        rendered = self._formatter.vformat(self.template, (), values)
        parts = [clean_component(p, max_bytes - _SUFFIX_ROOM) for p in rendered.split("/")
                 if p.strip()]
        if not parts:
            parts = [clean_component(doc.title, max_bytes - _SUFFIX_ROOM)]
        return PurePosixPath(*parts)


def _value(text: str | None) -> str:
    # A value never creates folders of its own.
    return (text or "").replace("/", "-").replace("\\", "-")


def template_values(doc: Document, *, unknown: str) -> dict[str, Any]:
    return {
        "id": doc.id,
        "title": _value(doc.title),
        "correspondent": _value(doc.correspondent) or unknown,
        "document_type": _value(doc.document_type) or unknown,
        "type": _value(doc.document_type) or unknown,
        "created": doc.created,
        "added": doc.added,
        "modified": doc.modified,
        "asn": doc.asn if doc.asn is not None else "",
        "owner": _value(doc.owner) or unknown,
        "tags": _value(", ".join(doc.tags)),
        "tag": _value(doc.tags[0]) if doc.tags else unknown,
        "original_name": _value(PurePosixPath(doc.original.filename).stem),
        "language": doc.language or "",
    }


Condition = Callable[[Document], bool]


class PathRules:
    """Ordered (condition, template) pairs; the first whose condition matches wins."""

    def __init__(self, rules: list[tuple[Condition | None, PathTemplate]], *,
                 unknown: str, max_bytes: int) -> None:
        if not rules or rules[-1][0] is not None:
            # A default must exist so every document has a place.
            from paperfs.config import DEFAULT_PATH_TEMPLATE
            rules = [*rules, (None, PathTemplate(DEFAULT_PATH_TEMPLATE))]
        self.rules = rules
        self.unknown = unknown
        self.max_bytes = max_bytes

    def destination(self, doc: Document) -> PurePosixPath:
        for condition, template in self.rules:
            if condition is None or condition(doc):
                return template.render(doc, unknown=self.unknown, max_bytes=self.max_bytes)
        raise AssertionError("the last rule has no condition")


def with_collision_suffix(base: PurePosixPath, doc_id: int) -> PurePosixPath:
    """The stable alternative name when base is taken by another document.

    The suffix is the document id, so it does not depend on which document
    arrived first and never changes while the metadata stays the same.
    """
    return base.with_name(f"{base.name} [{doc_id}]")

