"""A mail as an archive PDF (WeasyPrint) and as text for the index.

The page starts with a header block (from, to, cc, date, subject, the
attachment list, and what was not consumed and why), then the body:

- HTML is rendered by WeasyPrint as the mail program would show it. Nothing
  is ever fetched: the URL fetcher answers ``cid:`` from the mail's own parts
  (inline images show) and ``data:`` URLs, and refuses everything else
  (http, https, file, ftp…), so a tracking pixel or a ``file:///etc/passwd``
  stays out. WeasyPrint runs no scripts; ``<script>`` elements and the other
  active content are removed anyway.
- plain text is rendered preformatted, wrapped at the page width.

WeasyPrint is imported here only, when a mail is rendered (a worker).
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Sequence

from paperfs.mail_documents.message import Mail

_ACTIVE = re.compile(r"<(script|iframe|object|embed|applet|frame|frameset)\b.*?(</\1\s*>|$)",
                     re.IGNORECASE | re.DOTALL)
_LONE_ACTIVE = re.compile(r"<(script|iframe|object|embed|applet|frame|meta|base|link)\b[^>]*>",
                          re.IGNORECASE)
_EVENT_ATTRIBUTES = re.compile(r"\son[a-z]+\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+)", re.IGNORECASE)
_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.IGNORECASE)

_HEADER_CSS = """
.paperfs-mail-header { font-family: 'DejaVu Sans', sans-serif; font-size: 9pt; color: #000;
  border-bottom: 1px solid #888; margin: 0 0 12pt 0; padding: 0 0 6pt 0; }
.paperfs-mail-header table { border-collapse: collapse; }
.paperfs-mail-header th { text-align: left; vertical-align: top; padding: 1pt 8pt 1pt 0;
  white-space: nowrap; }
.paperfs-mail-header td { padding: 1pt 0; }
.paperfs-mail-header .subject { font-size: 12pt; font-weight: bold; }
"""
_PLAIN_CSS = """
@page { size: A4; margin: 18mm; }
pre { font-family: 'DejaVu Sans Mono', monospace; font-size: 9pt; white-space: pre-wrap;
  overflow-wrap: anywhere; margin: 0; }
"""


@dataclass(frozen=True)
class Listed:
    """A part as the header block lists it: its name, and why it was not consumed."""

    name: str
    note: str = ""


def header_fields(mail: Mail) -> list[tuple[str, str]]:
    date = mail.date.strftime("%Y-%m-%d %H:%M %z").strip() if mail.date else ""
    fields = [("From", mail.sender), ("To", mail.to), ("Cc", mail.cc), ("Date", date),
              ("Subject", mail.subject)]
    return [(k, v) for k, v in fields if v]


def mail_text(mail: Mail, listed: Sequence[Listed]) -> str:
    """The text indexed for the mail document: the header lines, then the body."""
    lines = [f"{k}: {v}" for k, v in header_fields(mail)]
    if listed:
        lines.append("Attachments: " + ", ".join(_listed(p) for p in listed))
    body = mail.text if mail.text is not None else html_to_text(mail.html or "")
    return "\n".join(lines) + "\n\n" + body.replace("\r\n", "\n").strip()


def _listed(part: Listed) -> str:
    return f"{part.name} ({part.note})" if part.note else part.name


def header_html(mail: Mail, listed: Sequence[Listed]) -> str:
    rows = []
    for key, value in header_fields(mail):
        css = ' class="subject"' if key == "Subject" else ""
        rows.append(f"<tr><th>{key}</th><td{css}>{html_lib.escape(value)}</td></tr>")
    if listed:
        items = "<br>".join(html_lib.escape(_listed(p)) for p in listed)
        rows.append(f"<tr><th>Attachments</th><td>{items}</td></tr>")
    return f'<div class="paperfs-mail-header"><table>{"".join(rows)}</table></div>'


def page_html(mail: Mail, listed: Sequence[Listed]) -> str:
    """One HTML document: the header block, then the body (scripts removed)."""
    header = f"<style>{_HEADER_CSS}</style>{header_html(mail, listed)}"
    if mail.html is not None and mail.html.strip():
        body = strip_active(mail.html)
        opened = _BODY_OPEN.search(body)
        if opened:
            return body[:opened.end()] + header + body[opened.end():]
        return f"<html><body>{header}{body}</body></html>"
    text = html_lib.escape(mail.text or "")
    return (f"<html><head><meta charset='utf-8'><style>{_PLAIN_CSS}</style></head>"
            f"<body>{header}<pre>{text}</pre></body></html>")


def strip_active(markup: str) -> str:
    """The HTML without scripts, frames, plug-ins, event handlers, <base> and <link>."""
    markup = _ACTIVE.sub("", markup)
    markup = _LONE_ACTIVE.sub("", markup)
    return _EVENT_ATTRIBUTES.sub("", markup)


def render_pdf(mail: Mail, listed: Sequence[Listed], target: Path) -> int:
    """Write the mail's archive PDF to *target*; return its page count."""
    import weasyprint
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    inline = {p.content_id: p for p in mail.parts if p.content_id}

    class MailParts(URLFetcher):
        """cid: from the mail's parts, data: as given; nothing else, ever."""

        def fetch(self, url: str, headers=None):  # noqa: ANN001 - WeasyPrint's signature
            if url.lower().startswith("cid:"):
                part = inline.get(url[4:].strip("<>"))
                if part is None:
                    raise ValueError(f"{url}: no part of the mail has this Content-ID")
                return URLFetcherResponse(url, part.payload(),
                                          {"Content-Type": part.content_type})
            if url.lower().startswith("data:"):
                return super().fetch(url, headers)
            raise ValueError(f"{url[:80]}: remote and local resources are never fetched")

    document = weasyprint.HTML(string=page_html(mail, listed), url_fetcher=MailParts(),
                               base_url=None).render()
    document.write_pdf(target)
    return len(document.pages)


class _TextOfHtml(HTMLParser):
    _SKIP = {"script", "style", "head", "title"}
    _BREAKS = {"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs) -> None:  # noqa: ANN001
        if tag in self._SKIP:
            self.skipping += 1
        elif tag in self._BREAKS:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self.skipping:
            self.skipping -= 1
        elif tag in self._BREAKS:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.append(data)


def html_to_text(markup: str) -> str:
    parser = _TextOfHtml()
    parser.feed(markup)
    parser.close()
    text = re.sub(r"[ \t\xa0]+", " ", "".join(parser.out))
    return re.sub(r"\n\s*\n+", "\n\n", text).strip()
