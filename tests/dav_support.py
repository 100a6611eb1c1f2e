"""Helpers for the WebDAV tests: small archives without OCR, a server per test, requests."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import http.client
import socket
import ssl
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator
from xml.etree import ElementTree

import yaml

from paperfs.archive.store import Archive
from paperfs.config import Config, load_config
from paperfs.archive.document import (ArchiveInfo, Document, Grants, OriginalInfo, Permissions,
                              read_sidecar)
from paperfs.archive.layout import DataRoot
from paperfs.access.users import UserAdmin, users_path
from paperfs.archive.trash import INFO, Trash
from paperfs.archive.writer import LocalWriter
from paperfs.daemon.housekeeping import trash_expiry
from paperfs.daemon.intake import webdav_uploads
from paperfs.daemon.scheduler import Scheduler
from paperfs.runtime import Runtime

PASSWORDS = {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw", "root": "root-pw"}
#: request bodies: an exclusive write lock, and setting one dead property
LOCKINFO = ('<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
            '</D:lockscope><D:locktype><D:write/></D:locktype><D:owner>t</D:owner></D:lockinfo>')
PROPPATCH = ('<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x">'
             '<D:set><D:prop><Z:color>red</Z:color></D:prop></D:set></D:propertyupdate>')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tiny_pdf(doc_id: int, pad: int = 0) -> bytes:
    """A valid one-page PDF, unique per id (optionally padded to a size)."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"]
    out = b"%PDF-1.4\n% paperfs test document " + str(doc_id).encode() + b"\n"
    if pad:
        out += b"%" + b"x" * pad + b"\n"
    offsets = []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 4\n0000000000 65535 f \n"
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return out


def init_root(tmp_path: Path, extra: str = "", port: int | None = None) -> tuple[DataRoot, Config]:
    root = DataRoot(tmp_path / "data")
    root.create()
    (root.root / "paperfs.yml").write_text(
        "data_root: .\n"
        "inbox:\n  stable_seconds: 0.2\n  incomplete_seconds: 2\n  poll_seconds: 0.05\n"
        "consume:\n  workers: 1\n"
        f"dav:\n  port: {port or free_port()}\n  inbox_idle_seconds: 0.5\n  threads: 8\n"
        + extra)
    return root, load_config(root.root / "paperfs.yml", environ={})


_USERS_FILES: dict[bool, str] = {}


def add_users(root: DataRoot, *, digest: bool = False) -> None:
    """alice, bob, carol, root (superuser); group family = alice, carol.

    argon2 hashing takes a few hundred ms per password here, so the file is
    made once per test session and copied.
    """
    path = users_path(root.root)
    if digest not in _USERS_FILES:
        admin = UserAdmin(path, digest=digest)
        for name in ("alice", "bob", "carol"):
            admin.add_user(name, PASSWORDS[name])
        admin.add_user("root", PASSWORDS["root"], superuser=True)
        admin.add_group("family", ["alice", "carol"])
        _USERS_FILES[digest] = path.read_text()
    else:
        path.write_text(_USERS_FILES[digest])
        path.chmod(0o600)


def add_doc(archive: Archive, doc_id: int, title: str, created: dt.date, *,
            pad: int = 0, view: Grants = Grants(), change: Grants = Grants(),
            pdf: bytes | None = None, **fields: Any) -> Document:
    root = archive.root
    pdf = pdf or tiny_pdf(doc_id, pad)
    sha = hashlib.sha256(pdf).hexdigest()
    original = root.original_path(doc_id, ".pdf")
    original.parent.mkdir(parents=True, exist_ok=True)
    original.write_bytes(pdf)
    stamp = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=doc_id)
    doc = Document(id=doc_id, title=title, created=created, added=stamp, modified=stamp,
                   original=OriginalInfo(f"scan{doc_id}.pdf", "application/pdf", sha,
                                         original.relative_to(root.root).as_posix()),
                   archive=ArchiveInfo(sha, 1), permissions=Permissions(view, change),
                   **{"content": f"document {doc_id} {title}", **fields})
    rel = archive.choose_path(doc)
    target = archive.pdf_path(rel)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(pdf)
    archive.apply(doc, rel)
    counter = root.id_counter
    counter.write_text(f"{max(doc_id + 1, int(counter.read_text() or 0) if counter.exists() else 0)}\n")
    return doc


def trashed_long_ago(archive) -> None:
    """Document 1 in the trash, deleted in 2020 (long expired)."""
    doc = add_doc(archive, 1, "Old bill", dt.date(2020, 1, 1))
    entry = Trash(archive.root).put(archive, doc.id, archive.index.ref(doc.id).path, "alice")
    record = entry.folder / INFO
    data = yaml.safe_load(record.read_text())
    data["deleted_at"] = "2020-02-01T00:00:00+00:00"
    record.write_text(yaml.safe_dump(data))


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def xml(self) -> ElementTree.Element:
        return ElementTree.fromstring(self.body)

    def hrefs(self) -> list[str]:
        return [urllib.parse.unquote(r.findtext("{DAV:}href") or "")
                for r in self.xml().iter("{DAV:}response")]

    def names(self) -> list[str]:
        """Member names of a depth-1 PROPFIND (without the folder itself)."""
        hrefs = self.hrefs()
        return [h.rstrip("/").rsplit("/", 1)[-1] for h in hrefs[1:]]


def auth_header(user: str, password: str | None = None) -> str:
    password = PASSWORDS[user] if password is None else password
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass
class Dav:
    """A running server and a way to talk to it."""

    root: DataRoot
    config: Config
    server: Any
    archive: Archive | None = None
    tls_context: ssl.SSLContext | None = None
    extra: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    def connection(self) -> http.client.HTTPConnection:
        if self.tls_context is not None:
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=30,
                                               context=self.tls_context)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def request(self, method: str, path: str, user: str | None = "alice", *,
                body: bytes | str | None = None, headers: dict[str, str] | None = None,
                password: str | None = None) -> Response:
        conn = self.connection()
        try:
            h = {}
            if user is not None:
                h["Authorization"] = auth_header(user, password)
            h.update(headers or {})
            if isinstance(body, str):
                body = body.encode()
            conn.request(method, quote(path), body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            conn.close()

    def propfind(self, path: str, user: str = "alice", depth: str = "1",
                 body: str | None = None) -> Response:
        return self.request("PROPFIND", path, user, headers={"Depth": depth}, body=body)

    def names(self, path: str, user: str = "alice") -> list[str]:
        r = self.propfind(path, user)
        assert r.status == 207, (path, r.status, r.body[:300])
        return r.names()

    def move(self, src: str, dest: str, user: str = "alice", overwrite: str = "T",
             copy: bool = False) -> Response:
        return self.request("COPY" if copy else "MOVE", src, user,
                            headers={"Destination": quote(dest), "Overwrite": overwrite})

    def answers(self) -> bool:
        """Whether the server answers requests yet."""
        try:
            return self.propfind("/", "alice", "0").status == 207
        except OSError:
            return False

    def sidecar(self, doc_id: int) -> Document:
        for path in self.root.archive.rglob("*.yml"):
            doc = read_sidecar(path)
            if doc.id == doc_id:
                return doc
        raise AssertionError(f"no sidecar for {doc_id}")


def wait_for(predicate: Any, timeout: float = 15.0) -> bool:
    """Whether ``predicate()`` became true within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def quote(path: str) -> str:
    return urllib.parse.quote(path, safe="/:@!$&'()*+,;=~")


@contextlib.contextmanager
def running(tmp_path: Path, docs: Any = None, *, extra: str = "", writer: bool = True,
            digest: bool = False, tls: tuple[Path, Path] | None = None) -> Iterator[Dav]:
    """A data root with users and documents (``docs(archive)`` adds them) and a server,
    with the jobs of the process that serves it: the hand-over of uploads, and with
    the writer (``paperfs run``) trash expiry; without it, as ``paperfs dav``."""
    from paperfs.dav.server import DavServer

    tls_extra = ""
    if tls is not None:
        tls_extra = f"  tls_cert: {tls[0]}\n  tls_key: {tls[1]}\n"
    root, config = init_root(tmp_path, tls_extra + extra)
    add_users(root, digest=digest)
    runtime = Runtime(config)
    archive = runtime.open_archive()
    try:
        if docs is not None:
            docs(archive)
        if not writer:
            runtime.close_archive(archive)
        local = LocalWriter(archive) if writer else None
        server = DavServer(runtime, local)
        jobs = [webdav_uploads(server)]
        if local is not None:
            jobs.append(trash_expiry(local, config.dav.trash_days))
        scheduler = Scheduler(jobs)
        server.start()
        scheduler.start()
        context = None
        if tls is not None:
            context = ssl.create_default_context(cafile=str(tls[0]))
            context.check_hostname = False
        try:
            yield Dav(root, config, server, archive if writer else None, context)
        finally:
            scheduler.stop()
            server.stop()
    finally:
        if writer:
            runtime.close_archive(archive)


@contextlib.contextmanager
def daemon_serving(tmp_path: Path, extra: str = "", *,
                   prepare: Callable[[DataRoot], None] | None = None
                   ) -> Iterator[tuple[Any, Dav]]:
    """The whole daemon (``paperfs run``: consumer, its scheduled jobs, WebDAV) in a
    thread of this process, serial (no worker processes), with the test users;
    ``prepare(root)`` runs before it starts (files it reads at start)."""
    import threading

    from paperfs.daemon.service import Daemon

    root, config = init_root(tmp_path, extra)
    add_users(root)
    if prepare is not None:
        prepare(root)
    service = Daemon(Runtime(config), serial=True)
    ready = threading.Event()
    loop = threading.Thread(target=service.run, daemon=True,
                            kwargs={"notify": lambda s: s == "READY=1" and ready.set()})
    loop.start()
    assert ready.wait(60), "the daemon did not get ready"
    try:
        yield service, Dav(root, config, service.dav)
    finally:
        service.stop()
        loop.join(30)


def request_once(port: int, method: str, path: str, user: str,
                 headers: dict[str, str] | None = None, password: str | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, headers={"Authorization": auth_header(user, password),
                                            **(headers or {})})
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


# ---------------------------------------------------------------- raw requests


def raw(dav: Dav, request: bytes, timeout: float = 10) -> tuple[int, bytes]:
    """Send bytes as they are; return (status, whole response)."""
    request = request.replace(b"Host: 127.0.0.1\r\n", b"Host: 127.0.0.1:%d\r\n" % dav.port, 1)
    with socket.create_connection(("127.0.0.1", dav.port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
                if b"\r\n\r\n" in data and _complete(data):
                    break
        except (socket.timeout, ConnectionResetError):
            pass
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data


def send_and_hang_up(dav: Dav, request: bytes) -> None:
    """Send bytes as they are and close the connection at once (a client that goes away)."""
    request = request.replace(b"Host: 127.0.0.1\r\n", b"Host: 127.0.0.1:%d\r\n" % dav.port, 1)
    with socket.create_connection(("127.0.0.1", dav.port), timeout=10) as s:
        s.sendall(request)


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def req(method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b"",
        user: str = "alice") -> bytes:
    h = {"Host": "127.0.0.1", "Authorization": auth_header(user), "Connection": "close"}
    h.update(headers or {})
    if body and "Content-Length" not in h and "Transfer-Encoding" not in h:
        h["Content-Length"] = str(len(body))
    lines = [f"{method} {target} HTTP/1.1"] + [f"{k}: {v}" for k, v in h.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
