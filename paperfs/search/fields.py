"""The fields a query can name, their kinds, and the other spellings accepted.

* Text fields are searched word by word (``correspondent:acme`` finds "ACME
  Corp", as in paperless).
* Keyword fields (``tag``, ``owner``) match whole values (``tag:"tax 2024"``
  is the one tag).
* Date and number fields take values, ranges and comparisons.
"""

from __future__ import annotations

import enum
from types import MappingProxyType
from typing import Final, Mapping






class FieldKind(enum.Enum):
    TEXT = "text"  # tokenised full text: Term, Phrase, Prefix, Wildcard
    KEYWORD = "keyword"  # whole values, case-insensitive: FieldEquals, Prefix, Wildcard
    DATE = "date"  # DateRange
    NUMBER = "number"  # NumberRange (non-negative integers)


FIELDS: Final[Mapping[str, FieldKind]] = MappingProxyType(
    {
        "title": FieldKind.TEXT,
        "content": FieldKind.TEXT,
        "correspondent": FieldKind.TEXT,
        "type": FieldKind.TEXT,
        "note": FieldKind.TEXT,
        "path": FieldKind.TEXT,
        "tag": FieldKind.KEYWORD,
        "owner": FieldKind.KEYWORD,
        "created": FieldKind.DATE,
        "added": FieldKind.DATE,
        "modified": FieldKind.DATE,
        "asn": FieldKind.NUMBER,
        "id": FieldKind.NUMBER,
    }
)

#: Other spellings users bring from paperless-ngx (API names, plurals).
ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "tags": "tag",
        "document_type": "type",
        "notes": "note",
        "storage_path": "path",
        "archive_serial_number": "asn",
    }
)

#: What a word without a field searches (Term/Phrase/Prefix/Wildcard field=None).
DEFAULT_FIELDS: Final[tuple[str, ...]] = (
    "title",
    "content",
    "tag",
    "correspondent",
    "type",
    "note",
)
