"""The page's HTML: Jinja templates from paperfs/web/templates/, autoescaped."""

from __future__ import annotations

import functools
from typing import Any

import jinja2
from markupsafe import Markup, escape

from paperfs.index.model import MARK_END, MARK_START


def snippet(text: str) -> Markup:
    """A hit's snippet, escaped, with its matched words in <mark>."""
    return Markup(str(escape(text)).replace(MARK_START, "<mark>").replace(MARK_END, "</mark>"))


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("paperfs.web", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["snippet"] = snippet
    return env


def render(name: str, **values: Any) -> str:
    return environment().get_template(name).render(**values)
