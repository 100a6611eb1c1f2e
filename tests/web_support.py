"""Helpers for the web page's tests: an archive of two users' documents and a
small HTTP client that logs in and keeps its session cookie like a browser."""

from __future__ import annotations

import datetime as dt
import http.client
import re
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from paperfs.archive.document import Grants

from tests.dav_support import PASSWORDS, Response
from tests.dav_support import add_doc as add_blank_doc
from tests.samples import make_text_pdf


def letter(title: str, content: str) -> bytes:
    """A one-page PDF with the document's words on it (thumbnails show something)."""
    with tempfile.TemporaryDirectory() as folder:
        path = make_text_pdf(Path(folder) / "letter.pdf", [title, "", *content.split(" ")[:12]])
        return path.read_bytes()


def two_users_docs(archive: Any, *, real_pdfs: bool = False) -> None:
    """alice: 1-3 (2 shared with bob to view); bob: 4; 5 has no owner (everyone's).
    ``real_pdfs``: PDFs with their text on the page instead of blank ones."""
    if real_pdfs:
        def add_doc(archive: Any, doc_id: int, title: str, created: dt.date, **fields: Any):
            pdf = letter(title, fields.get("content", ""))
            return add_blank_doc(archive, doc_id, title, created, pdf=pdf, **fields)
    else:
        add_doc = add_blank_doc
    add_doc(archive, 1, "Invoice ACME March", dt.date(2024, 3, 1), owner="alice",
            tags=("paid", "alicesecret"), correspondent="ACME Corp", document_type="invoice",
            content="invoice electricity alicesecretword march")
    add_doc(archive, 2, "Invoice ACME April", dt.date(2024, 4, 1), owner="alice",
            tags=("unpaid",), correspondent="ACME Corp", document_type="invoice",
            view=Grants(users=("bob",)), content="invoice electricity april")
    add_doc(archive, 3, "Tax return", dt.date(2023, 5, 2), owner="alice", tags=("tax",),
            content="tax return alicesecretword")
    add_doc(archive, 4, "Bob's bank letter", dt.date(2022, 1, 9), owner="bob",
            correspondent="Bob Bank", tags=("bobsecret",), content="bank letter bobsecretword")
    add_doc(archive, 5, "House rules", dt.date(2021, 7, 7), content="house rules for everyone")


@dataclass
class Browser:
    """Requests as a browser makes them: Accept text/html, the session cookie kept."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)
    user_agent: str = "Mozilla/5.0 (X11; Linux x86_64) Chrome/120 paperfs-test"

    def request(self, method: str, target: str, *, body: bytes = b"",
                headers: dict[str, str] | None = None) -> Response:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            h = {"Accept": "text/html,application/xhtml+xml", "User-Agent": self.user_agent,
                 "Host": f"127.0.0.1:{self.port}"}
            if self.cookies:
                h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            h.update(headers or {})
            conn.request(method, target, body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
            for key, value in r.getheaders():
                if key.lower() == "set-cookie":
                    name, _, rest = value.partition("=")
                    token = rest.split(";", 1)[0]
                    if token and "Max-Age=0" not in value:
                        self.cookies[name] = token
                    else:
                        self.cookies.pop(name, None)
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            conn.close()

    def get(self, target: str, **kw: Any) -> Response:
        return self.request("GET", target, **kw)

    def post(self, target: str, fields: dict[str, str], headers: dict[str, str] | None = None
             ) -> Response:
        return self.request("POST", target, body=urlencode(fields).encode(), headers={
            "Content-Type": "application/x-www-form-urlencoded", **(headers or {})})

    def login(self, user: str, password: str | None = None) -> Response:
        return self.post("/_/login?next=/", {"user": user,
                                             "password": password or PASSWORDS[user]})

    def csrf(self, page: str = "/") -> str:
        match = re.search(r'name="csrf" value="([0-9a-f]+)"', self.get(page).body.decode())
        assert match, "no CSRF token on the page"
        return match.group(1)

    def upload(self, target: str, files: dict[str, bytes], headers: dict[str, str] | None = None
               ) -> Response:
        boundary = "----paperfs" + secrets.token_hex(8)
        body = b""
        for name, data in files.items():
            body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                     f"filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                     ).encode() + data + b"\r\n"
        body += f"--{boundary}--\r\n".encode()
        return self.request("POST", target, body=body, headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}", **(headers or {})})
