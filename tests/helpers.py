"""Helpers shared by the consumer and daemon tests."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import yaml

from paperfs.config import load_config
from paperfs.archive.document import read_sidecar
from paperfs.archive.layout import DataRoot


def init_root(tmp_path: Path, extra: str = "") -> DataRoot:
    root = DataRoot(tmp_path / "data")
    root.create()
    (root.root / "paperfs.yml").write_text(
        "data_root: .\n"
        "inbox:\n  stable_seconds: 0.3\n  incomplete_seconds: 2\n  poll_seconds: 0.1\n"
        "consume:\n  workers: 2\n  timeout_seconds: 120\n"
        # WebDAV has tests of its own; daemon tests that want it turn it on.
        "dav:\n  enabled: false\n" + extra)
    return root


def config_for(root: DataRoot, **env: str):
    return load_config(root.root / "paperfs.yml",
                       environ={f"PAPERFS_{k.upper()}": v for k, v in env.items()})


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def archive_state(root: DataRoot) -> dict:
    """Every filed document, checked for consistency on the way."""
    docs = {}
    pdfs = sorted(root.archive.rglob("*.pdf"))
    sidecars = sorted(root.archive.rglob("*.yml"))
    assert [p.with_suffix("") for p in pdfs] == [s.with_suffix("") for s in sidecars], \
        "every PDF has a sidecar and every sidecar a PDF"
    for sidecar in sidecars:
        doc = read_sidecar(sidecar)  # every sidecar parses
        assert doc.id not in docs, f"id {doc.id} used twice"
        pdf = sidecar.with_suffix(".pdf")
        assert sha256(pdf) == doc.archive.sha256, f"{pdf} does not match its sidecar"
        original = root.root / doc.original.path
        assert sha256(original) == doc.original.sha256, f"{original} was changed"
        docs[doc.id] = doc
    # (.paperfs/ is left out: a running daemon rewrites its status file there every second)
    leftovers = [p for folder in (root.archive, root.originals, root.failed)
                 for p in folder.rglob("*") if p.name.startswith(".paperfs-tmp-")]
    assert not leftovers, f"partial files left: {leftovers}"
    return docs


def filed_count(root: DataRoot) -> int:
    """Documents filed so far (their sidecars, the commit point): safe to poll while a
    daemon files (archive_state would catch a PDF whose sidecar is yet to come)."""
    return sum(1 for _ in root.archive.rglob("*.yml"))


def failed_count(root: DataRoot) -> int:
    """Inputs failed so far, with their file and its .error.yml both there: safe to poll
    while a daemon fails one (the .error.yml is written before the file is moved)."""
    return sum(1 for info in root.failed.glob("*.error.yml")
               if os.path.lexists(info.with_name(info.name[: -len(".error.yml")])))


def failed_state(root: DataRoot) -> dict[str, dict]:
    out = {}
    for info in sorted(root.failed.glob("*.error.yml")):
        data = yaml.safe_load(info.read_text())
        name = info.name[: -len(".error.yml")]
        assert os.path.lexists(root.failed / name), info
        out[name] = data
    return out


def drop(src: Path, inbox: Path, name: str | None = None) -> Path:
    """Copy like a careful client: write under an ignored name, then rename."""
    target = inbox / (name or src.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    shutil.copyfile(src, tmp)
    os.rename(tmp, target)
    return target


def page_texts(pdf: Path) -> list[str]:
    """The text of each page of a PDF, white space folded (pages checked by their text)."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        return [" ".join(doc[i].get_textpage().get_text_range().split()) for i in range(len(doc))]
    finally:
        doc.close()
