"""Real WebDAV clients from Debian against a real server: litmus, rclone, cadaver."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.dav_support import PASSWORDS, Dav, add_doc, running, tiny_pdf


def need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed (Debian package {program})")
    return path


def litmus(dav: Dav, path: str) -> dict[str, tuple[int, int]]:
    """{suite: (passed, run)} of ``litmus -k URL user pass``."""
    need("litmus")
    result = subprocess.run(["litmus", "-k", dav.url.rstrip("/") + path, "alice",
                             PASSWORDS["alice"]], capture_output=True, text=True, timeout=120)
    summary = {}
    for suite, run, passed in re.findall(
            r"summary for `(\w+)': of (\d+) tests run: (\d+) passed", result.stdout):
        summary[suite] = (int(passed), int(run))
    assert summary, result.stdout + result.stderr
    return summary


def test_litmus_passes_in_inbox_and_nothing_is_consumed(tmp_path):
    with running(tmp_path, None, extra="  inbox_idle_seconds: 1.0\n") as dav:
        summary = litmus(dav, "/inbox/")
        failed = {s: r for s, r in summary.items() if r[0] != r[1]}
        assert not failed, summary
        assert sum(r[1] for r in summary.values()) == 104
        time.sleep(2.5)  # longer than dav.inbox_idle_seconds: would have been handed over
        handed = [p for p in (dav.root.inbox / "alice").rglob("*") if p.is_file()] \
            if (dav.root.inbox / "alice").exists() else []
        assert handed == [], "litmus' short-lived files must not reach the consumer"


def test_litmus_on_the_read_only_and_virtual_parts(tmp_path):
    """litmus needs MKCOL <url>litmus/ before any test; /archive and /tags/x refuse it by
    design, so each suite stops at its 'begin' step (recorded in docs/webdav.md)."""
    def docs(archive):
        add_doc(archive, 1, "Invoice", dt.date(2024, 3, 15), tags=("x",))

    with running(tmp_path, docs) as dav:
        for path in ("/archive/", "/tags/x/"):
            summary = litmus(dav, path)
            assert all(run == 2 and passed == 1 for passed, run in summary.values()), summary
        assert not (dav.root.archive / "litmus").exists()


def sync_docs(archive):
    for i in range(1, 11):
        add_doc(archive, i, f"Document {i}", dt.date(2024, 1, i), owner="alice",
                tags=("phone",) if i <= 3 else ())


def test_rclone_sync_of_a_saved_search(tmp_path):
    need("rclone")
    extra = "  saved:\n    - name: Phone\n      query: 'tag:phone'\n"
    with running(tmp_path, sync_docs, extra=extra) as dav:
        obscured = subprocess.run(["rclone", "obscure", PASSWORDS["alice"]], capture_output=True,
                                  text=True, check=True).stdout.strip()
        remote = f":webdav,url='{dav.url}saved/Phone',user=alice,pass={obscured}:"
        target = tmp_path / "phone"
        config = tmp_path / "rclone.conf"
        config.write_text("")

        def sync() -> list[str]:
            result = subprocess.run(["rclone", "--config", str(config), "sync", remote,
                                     str(target), "-v"], capture_output=True, text=True,
                                    timeout=60)
            assert result.returncode == 0, result.stderr
            return re.findall(r"INFO  : (.+?): Copied", result.stderr)

        first = sync()
        assert sorted(first) == [f"2024-01-0{i} Document {i}.pdf" for i in (1, 2, 3)]
        assert (target / "2024-01-01 Document 1.pdf").read_bytes() == tiny_pdf(1)
        assert sync() == []  # nothing changed: nothing transferred
        assert dav.move("/by-id/7.pdf", "/tags/phone/7.pdf").status in (201, 204)
        assert sync() == ["2024-01-07 Document 7.pdf"]
        assert sync() == []


def test_cadaver_session(tmp_path):
    need("cadaver")

    def docs(archive):
        add_doc(archive, 1, "Invoice", dt.date(2024, 3, 15), correspondent="ACME",
                owner="alice")

    with running(tmp_path, docs) as dav:
        home = tmp_path / "home"
        home.mkdir()
        netrc = home / ".netrc"
        netrc.write_text(f"machine 127.0.0.1\nlogin alice\npassword {PASSWORDS['alice']}\n")
        netrc.chmod(0o600)
        got = tmp_path / "got.pdf"
        script = "\n".join([
            "ls /",
            "ls /archive/ACME/2024/",
            f'get "/archive/ACME/2024/2024-03-15 Invoice.pdf" {got}',
            "mkcol /tags/cadaver",
            'move "/archive/ACME/2024/2024-03-15 Invoice.pdf" /tags/cadaver/',
            "ls /tags/cadaver/",
            "quit", ""])
        result = subprocess.run(["cadaver", dav.url], input=script, capture_output=True,
                                text=True, timeout=60,
                                env={**os.environ, "HOME": str(home)})
        out = result.stdout + result.stderr
        assert "2024-03-15 Invoice.pdf" in out, out
        assert "Creating `/tags/cadaver': succeeded" in out, out
        assert "succeeded" in out.split("Moving", 1)[1].split("\n", 1)[0], out
        assert got.read_bytes() == tiny_pdf(1)
        assert dav.sidecar(1).tags == ("cadaver",)


def test_davfs2_mount(tmp_path):
    """davfs2 (if installed and the kernel lets us mount): ls, read a document, copy a PDF
    into /inbox. davfs2 LOCKs the new file and uploads it on close/unmount; the upload is
    handed to the consumer only after the UNLOCK."""
    mount = need("mount.davfs")

    def docs(archive):
        add_doc(archive, 1, "Invoice", dt.date(2024, 3, 15), tags=("tax",), owner="alice")

    with running(tmp_path, docs, extra="  inbox_idle_seconds: 0.5\n") as dav:
        conf = tmp_path / "davfs2"
        conf.mkdir()
        # davfs2 works as its own user: the cache must be reachable for it (pytest's
        # tmp_path is private to root)
        cache = Path(tempfile.mkdtemp(prefix="paperfs-davfs2-"))
        cache.chmod(0o777)
        secrets = conf / "secrets"
        secrets.write_text(f"{dav.url} alice {PASSWORDS['alice']}\n")
        secrets.chmod(0o600)
        (conf / "davfs2.conf").write_text(
            f"buf_size 64\nsecrets {secrets}\ncache_dir {cache}\nuse_locks 1\n")
        point = tmp_path / "mnt"
        point.mkdir()
        result = subprocess.run([mount, "-o", f"conf={conf / 'davfs2.conf'}", dav.url,
                                 str(point)], capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            pytest.skip(f"davfs2 cannot mount here: {result.stderr.strip()}")
        try:
            assert "tags" in os.listdir(point) and "inbox" in os.listdir(point)
            assert os.listdir(point / "tags" / "tax") == ["2024-03-15 Invoice.pdf"]
            assert (point / "tags" / "tax" / "2024-03-15 Invoice.pdf").read_bytes() == tiny_pdf(1)
            shutil.copy(tmp_path / "data" / "originals" / "0000" / "0000001.pdf",
                        point / "inbox" / "copied.pdf")
        finally:
            subprocess.run(["umount", str(point)], capture_output=True, timeout=60)
            shutil.rmtree(cache, ignore_errors=True)
        released = dav.root.inbox / "alice" / "copied.pdf"
        deadline = time.monotonic() + 10
        while not released.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert released.read_bytes() == tiny_pdf(1)
