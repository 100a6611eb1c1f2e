"""Titles, e-mail subjects and bodies, webhook bodies: sandboxed Jinja templates.

A template sees the document's fields (``variables``) and nothing else:
jinja2's SandboxedEnvironment refuses attribute access that could reach
Python internals (``{{ ''.__class__ }}``), and a template that fails while
rendering raises ``TemplateError`` with a message for the run record, never
an exception from deep inside Jinja.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping

import jinja2
from jinja2.sandbox import SandboxedEnvironment

#: longest rendered text kept (a runaway loop in a template must not fill memory)
MAX_RENDERED = 100_000


class TemplateError(ValueError):
    """A template that does not compile or cannot be rendered."""


class _Sandbox(SandboxedEnvironment):
    """Refuses an unsafe attribute outright: the default renders it as an empty text,
    which would hide the mistake (or the attempt) from the user."""

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        raise jinja2.exceptions.SecurityError(
            f"access to attribute {attribute!r} of a {type(obj).__name__} is not allowed")


# A missing field renders as nothing (paperless does the same), even a.b of a missing a.
_ENV = _Sandbox(autoescape=False, undefined=jinja2.ChainableUndefined)


@dataclass(frozen=True)
class Template:
    source: str
    compiled: jinja2.Template

    def render(self, variables: Mapping[str, Any]) -> str:
        try:
            text = self.compiled.render(**variables)
        except jinja2.exceptions.SecurityError as exc:
            raise TemplateError(f"template {self.source!r} was refused by the sandbox: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - any failure inside a user's template
            raise TemplateError(f"template {self.source!r} failed: {exc}") from None
        return text[:MAX_RENDERED]


def compile_template(source: str) -> Template:
    try:
        return Template(source, _ENV.from_string(source))
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template {source!r}: {exc.message} (template line {exc.lineno})") from None


def variables(doc: Any, *, path: str | None = None, filename: str | None = None,
              source: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a template can use: a Document, or a ProposedDocument at consumption.

    ``path``: the archive path without suffix (None before filing)."""
    added = getattr(doc, "added", None) or dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    created = doc.created
    original = getattr(doc, "original", None)
    original_filename = filename or (original.filename if original is not None
                                     else getattr(doc, "original_filename", ""))
    return {
        "id": getattr(doc, "id", None),
        "title": doc.title,
        "correspondent": doc.correspondent or "",
        "document_type": doc.document_type or "",
        "tags": list(doc.tags),
        "created": created.isoformat() if created else "",
        "created_year": created.year if created else "",
        "created_month": f"{created.month:02d}" if created else "",
        "created_day": f"{created.day:02d}" if created else "",
        "added": added.isoformat(),
        "added_date": added.date().isoformat(),
        "asn": getattr(doc, "asn", None) or "",
        "owner": doc.owner or "",
        "original_filename": original_filename,
        "custom_fields": dict(getattr(doc, "custom_fields", {}) or {}),
        "archive_path": f"archive/{path}.pdf" if path else "",
        "source": dict(source if source is not None else getattr(doc, "source", {}) or {}),
    }
