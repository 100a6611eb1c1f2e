"""The page's HTML: Jinja templates from paperfs/web/templates/, autoescaped."""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any, Iterator

import jinja2
from markupsafe import Markup, escape

from paperfs.index.model import MARK_END, MARK_START


def snippet(text: str) -> Markup:
    """A hit's snippet, escaped, with its matched words in <mark>."""
    return Markup(str(escape(text)).replace(MARK_START, "<mark>").replace(MARK_END, "</mark>"))


def field_text(value: Any) -> str:
    """A custom field's value as the form shows it, and reads it back unchanged
    (paperfs/archive/custom_fields.py ``parse_value``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def form_stamp(doc: Any) -> str:
    """A fingerprint of what the metadata form shows of a document: sent with the
    form and compared when it is saved, so a form opened before someone else's change
    (a user, a workflow, a hand edit) cannot silently undo it."""
    shown = [doc.title, doc.created.isoformat(), list(doc.tags), doc.correspondent,
             doc.document_type, sorted((k, field_text(v)) for k, v in doc.custom_fields.items())]
    return hashlib.sha256(json.dumps(shown).encode("utf-8")).hexdigest()[:32]


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("paperfs.web", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["snippet"] = snippet
    env.filters["field_text"] = field_text
    env.filters["form_stamp"] = form_stamp
    return env


#: what a template writes where the page may be sent so far (``{{ flush }}``)
FLUSH = Markup("<!--flush-->")


def render(name: str, **values: Any) -> str:
    return environment().get_template(name).render(flush="", **values)


def stream(name: str, **values: Any) -> Iterator[bytes]:
    """The page in parts, each sent where the template says ``{{ flush }}``: what
    comes later (the facets) is computed only after the part before it is on its
    way (Jinja renders lazily)."""
    part: list[str] = []
    for piece in environment().get_template(name).generate(flush=FLUSH, **values):
        if piece == FLUSH:
            yield "".join(part).encode("utf-8")
            part = []
        else:
            part.append(piece)
    yield "".join(part).encode("utf-8")
