"""The HTML of share links: the shared views (public) and the creation answers.

What a shared document shows (docs/sharing.md, "What a link shows"): its
title, created date, correspondent and document type, and the PDF. Not its
tags, notes, custom fields, ASN, owner, path or id: they are the owner's
filing, may name other people and other documents, and a recipient needs
none of them to read what was shared. Links point only below the link's own
address (relative: ``<token>/document.pdf``), never elsewhere.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Iterable

from paperfs.index.catalog import CatalogEntry

STYLE = ("body{font:16px/1.4 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem}"
         "h1{font-size:1.4rem;margin:.2rem 0}.meta,.note{color:#555}"
         "iframe{width:100%;height:80vh;border:1px solid #ccc}"
         "li{margin:.3rem 0}form p{margin:.6rem 0}code{word-break:break-all}")


def _page(title: str, body: str) -> bytes:
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"robots\" content=\"noindex, nofollow\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
            f"<body>{body}</body></html>\n").encode("utf-8")


def _meta(entry: CatalogEntry) -> str:
    parts = [entry.created.isoformat()]
    parts += [p for p in (entry.correspondent, entry.document_type) if p]
    return " · ".join(escape(p) for p in parts)


def _until(expires: dt.datetime) -> str:
    return f"Shared until {expires.strftime('%Y-%m-%d %H:%M')} UTC."


def document_page(token: str, entry: CatalogEntry, expires: dt.datetime) -> bytes:
    pdf = f"{token}/document.pdf"
    title = entry.title or "Document"
    return _page(title, (
        f"<h1>{escape(title)}</h1><p class=\"meta\">{_meta(entry)}</p>"
        f"<p class=\"note\">{_until(expires)} <a href=\"{pdf}\">Open the PDF</a></p>"
        f"<iframe src=\"{pdf}\" title=\"{escape(title)}\"></iframe>"))


def search_page(token: str, name: str, entries: list[CatalogEntry], expires: dt.datetime,
                limit: int) -> bytes:
    items = "".join(
        f"<li><a href=\"{token}/{n}.pdf\">{escape(e.title or 'Document')}</a> "
        f"<span class=\"meta\">{_meta(e)}</span></li>"
        for n, e in enumerate(entries, 1))
    count = f"{len(entries)} document{'s' if len(entries) != 1 else ''}"
    if len(entries) >= limit:
        count = f"the first {limit} documents"
    body = (f"<h1>{escape(name)}</h1><p class=\"note\">{count}. {_until(expires)}</p>"
            + (f"<ol>{items}</ol>" if entries else "<p>Nothing found at the moment.</p>"))
    return _page(name, body)


def message_page(title: str, message: str) -> bytes:
    return _page(title, f"<h1>{escape(title)}</h1><p>{escape(message)}</p>")


# ---------------------------------------------------------------- creation (logged in)


def created_page(url: str, what: str, expires: dt.datetime) -> bytes:
    return _page("Share link", (
        f"<h1>Share link</h1><p>Anyone with this link can read {escape(what)} without "
        f"logging in, until {expires.strftime('%Y-%m-%d %H:%M')} UTC:</p>"
        f"<p><code>{escape(url)}</code></p>"
        "<p class=\"note\">It is shown only now (only a hash of it is kept). Revoke it "
        "with <code>paperfs share revoke</code>.</p>"))


def creation_form(kind: str, target: str, csrf: str, days: Iterable[int],
                  default_days: int) -> bytes:
    options = "".join(f"<option value=\"{d}\"{' selected' if d == default_days else ''}>"
                      f"{d} day{'s' if d != 1 else ''}</option>" for d in days)
    what = f"document {target}" if kind == "document" else f"saved search {target}"
    return _page("Share", (
        f"<h1>Share {escape(what)}</h1><form method=\"post\" action=\"_share\">"
        f"<input type=\"hidden\" name=\"kind\" value=\"{escape(kind)}\">"
        f"<input type=\"hidden\" name=\"target\" value=\"{escape(target)}\">"
        f"<input type=\"hidden\" name=\"csrf\" value=\"{escape(csrf)}\">"
        f"<p><label>Expires after <select name=\"expires_days\">{options}</select></label></p>"
        "<p><button type=\"submit\">Make a link</button></p></form>"))
