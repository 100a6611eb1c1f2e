"""Storage failures on real small filesystems: a full disk, a read-only data root.

Each test mounts a tmpfs of its own (the test machine runs as root), makes it
full by shrinking it to what is in use plus a little room
(``mount -o remount,size=``), and gives the space back the same way, or
remounts it read-only. The daemon is the real ``paperfs run`` with WebDAV,
the commands are the real CLI.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from paperfs.archive.layout import DataRoot
from tests.daemon import Daemon
from tests.dav_support import add_users, auth_header, free_port
from tests.helpers import archive_state, drop, failed_state, init_root, sha256
from tests.samples import make_text_pdf

pytestmark = pytest.mark.slow

PAGE = os.sysconf("SC_PAGE_SIZE")
#: the size a squeezed filesystem gets back ("space returns")
ROOMY = 512 * 1024 * 1024


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kwargs)


class SmallFs:
    """A tmpfs on a folder: squeezed to what it holds plus some room, relieved, made read-only."""

    def __init__(self, where: Path) -> None:
        self.where = where

    def mount(self, size: int) -> None:
        self.where.mkdir(parents=True, exist_ok=True)
        done = run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(self.where)])
        if done.returncode != 0:
            pytest.skip(f"STORAGE-FAILURE TESTS NOT RUN: cannot mount a tmpfs on {self.where} "
                        f"({done.stderr.strip() or done.returncode}); they need root "
                        "(CAP_SYS_ADMIN) to make a small filesystem")

    def _remount(self, options: str) -> subprocess.CompletedProcess:
        return run(["mount", "-o", f"remount,{options}", str(self.where)])

    def free(self) -> int:
        st = os.statvfs(self.where)
        return st.f_bavail * st.f_frsize

    def used(self) -> int:
        st = os.statvfs(self.where)
        return (st.f_blocks - st.f_bfree) * st.f_frsize

    def squeeze(self, room: int) -> None:
        """Shrink to the bytes in use plus room (whole pages): the disk is (nearly) full."""
        pages = -(-room // PAGE)
        for _attempt in range(50):  # the daemon writes its status file meanwhile
            # (at least one page: size=0 would mean "no limit")
            size = max(self.used() + pages * PAGE, PAGE)
            if self._remount(f"size={size}").returncode == 0 \
                    and self.free() <= (pages + 1) * PAGE:
                return
            time.sleep(0.05)
        raise AssertionError(f"could not squeeze {self.where} to {room} bytes free")

    def relieve(self) -> None:
        done = self._remount(f"size={ROOMY}")
        assert done.returncode == 0, done.stderr

    def read_only(self) -> None:
        done = self._remount("ro")
        assert done.returncode == 0, done.stderr

    def umount(self) -> None:
        if run(["umount", str(self.where)]).returncode != 0:
            run(["umount", "-l", str(self.where)])  # still busy: detach now, free later


@pytest.fixture
def small_fs():
    """mount(folder, size) -> SmallFs; everything mounted is unmounted afterwards."""
    mounted: list[SmallFs] = []

    def mount(where: Path, size: int = 64 * 1024 * 1024) -> SmallFs:
        fs = SmallFs(where)
        fs.mount(size)
        mounted.append(fs)
        return fs

    yield mount
    for fs in reversed(mounted):
        fs.umount()


@pytest.fixture
def daemons():
    started: list[Daemon] = []

    def make(root: DataRoot, log: Path, **env: str) -> Daemon:
        daemon = Daemon(root, log, **env)
        started.append(daemon)
        return daemon

    yield make
    for daemon in started:
        if daemon.proc is not None and daemon.proc.poll() is None:
            daemon.stop()


def big_pdf(path: Path, title: str, size: int = 1_000_000) -> Path:
    """A born-digital PDF of about size bytes (text plus a noise image: incompressible).
    Born-digital PDFs are filed byte for byte, so every copy of it costs its size."""
    from fpdf import FPDF
    from PIL import Image

    side = int(size ** 0.5)
    noise = Image.frombytes("L", (side, side), random.Random(title).randbytes(side * side))
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    pdf.add_page()
    for line in (title, "Invoice of 03.04.2021", "with a photograph of the goods"):
        pdf.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    pdf.image(noise, x=10, y=60, w=150)
    pdf.output(str(path))
    return path


def stage(src: Path, inbox: Path) -> Path:
    """src copied into the inbox under an ignored name: there, but not consumed until it
    is renamed (so a test can fill the disk in between)."""
    part = inbox / (src.name + ".part")
    part.write_bytes(src.read_bytes())
    return part


def paperfs(root: DataRoot, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PAPERFS_DAV__ENABLED": "false"}
    return run([sys.executable, "-m", "paperfs", "--root", str(root.root), *args], env=env,
               timeout=120)


def dav_get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Authorization": auth_header("root")}
        if path.endswith("/"):
            conn.request("PROPFIND", path, headers={**headers, "Depth": "1"})
        else:
            conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def start_with_webdav(daemons, root: DataRoot, tmp_path: Path) -> tuple[Daemon, int]:
    add_users(root)
    port = free_port()
    daemon = daemons(root, tmp_path / "daemon.log", dav__enabled="true", dav__port=str(port),
                     consume__workers="1")
    daemon.start()
    return daemon, port


def file_first_document(daemon: Daemon, tmp_path: Path) -> Path:
    first = make_text_pdf(tmp_path / "first.pdf", ["Already filed 01.02.2020"])
    drop(first, daemon.root.inbox)
    daemon.wait_settled(60)
    assert len(archive_state(daemon.root)) == 1
    return first


def wait_until_paused(daemon: Daemon, where: str) -> dict:
    daemon.wait_for(lambda: daemon.status().get("storage"), 60, "the daemon to report disk full")
    problem = daemon.status()["storage"]
    assert problem["problem"] == "disk full", problem
    assert where in problem["path"], (where, problem)
    return problem


def assert_still_serving(daemon: Daemon, port: int, first: Path, problem: dict) -> None:
    """While the disk is full: the daemon runs, says why, and WebDAV answers reads."""
    time.sleep(2)  # a few rounds of the loop, retries included: nothing may give up
    assert daemon.proc.poll() is None, daemon.log()[-3000:]
    assert daemon.status().get("storage"), "still full: still paused"
    status, body = dav_get(port, "/by-id/1.pdf")
    assert status == 200 and hashlib.sha256(body).hexdigest() == sha256(first), status
    status, _listing = dav_get(port, "/archive/")
    assert status == 207
    shown = paperfs(daemon.root, "status")
    assert shown.returncode == 0, shown.stderr
    assert "disk full" in shown.stdout and problem["path"] in shown.stdout, shown.stdout
    log = daemon.log()
    assert "disk full" in log and problem["path"] in log
    assert "Traceback" not in log, log[-3000:]
    assert failed_state(daemon.root) == {}, "a full disk is not the document's fault"


def sidecars(root: DataRoot) -> list[Path]:
    """The filed documents (the sidecar is written last: the commit point)."""
    return list(root.archive.rglob("*.yml"))


def assert_filed_without_restart(daemon: Daemon, pid: int, inputs: list[Path]) -> None:
    daemon.wait_for(lambda: len(sidecars(daemon.root)) == len(inputs), 90,
                    "the waiting document to be filed once there is room")
    daemon.wait_settled(60)
    daemon.wait_for(lambda: not daemon.status().get("storage"), 10, "the pause to end")
    assert daemon.proc.pid == pid and daemon.proc.poll() is None, "no restart"
    filed = {doc.original.sha256 for doc in archive_state(daemon.root).values()}
    assert filed == {sha256(path) for path in inputs}
    assert failed_state(daemon.root) == {}
    assert "can be written again (disk full is over)" in daemon.log()


# ---------------------------------------------------------------- a full disk


#: free bytes left once the file is in the inbox, and the file that then does not fit
FULL_AT = {
    "claim": (lambda size: 0, "/.paperfs/work/"),
    "worker": (lambda size: size // 2, "/scratch"),
    "original": (lambda size: size + 24 * PAGE, "/originals/"),
}


@pytest.mark.parametrize("full_at", sorted(FULL_AT))
def test_full_disk_pauses_the_daemon_until_there_is_room(full_at, small_fs, daemons, tmp_path):
    """The whole data root on one small filesystem; the next document does not fit.
    The daemon keeps running and serving WebDAV, says 'disk full' with the path,
    and files the document by itself once there is room again."""
    fs = small_fs(tmp_path / "fs")
    root = init_root(tmp_path / "fs")
    daemon, port = start_with_webdav(daemons, root, tmp_path)
    first = file_first_document(daemon, tmp_path)
    pid = daemon.proc.pid
    big = big_pdf(tmp_path / "big.pdf", "Big document")
    room, where = FULL_AT[full_at]
    part = stage(big, root.inbox)
    fs.squeeze(room(big.stat().st_size))
    part.rename(root.inbox / big.name)
    problem = wait_until_paused(daemon, where)
    assert_still_serving(daemon, port, first, problem)
    fs.relieve()
    assert_filed_without_restart(daemon, pid, [first, big])
    assert daemon.stop() == 0


def test_daemon_restarted_on_a_full_disk_comes_up_and_waits(small_fs, daemons, tmp_path):
    """systemd restarts a daemon that stopped while the disk was full: it must come up
    (no restart loop), serve WebDAV, wait, and file the document once there is room."""
    fs = small_fs(tmp_path / "fs")
    root = init_root(tmp_path / "fs")
    daemon, port = start_with_webdav(daemons, root, tmp_path)
    first = file_first_document(daemon, tmp_path)
    big = big_pdf(tmp_path / "big.pdf", "Big document")
    part = stage(big, root.inbox)
    fs.squeeze(big.stat().st_size + 24 * PAGE)
    part.rename(root.inbox / big.name)
    wait_until_paused(daemon, "/originals/")
    assert daemon.stop() == 0
    assert [p.name for p in root.work.iterdir()], "the job stays claimed"
    daemon.start()
    problem = wait_until_paused(daemon, "/originals/")
    assert_still_serving(daemon, port, first, problem)
    pid = daemon.proc.pid
    fs.relieve()
    assert_filed_without_restart(daemon, pid, [first, big])
    assert daemon.stop() == 0


def test_full_index_folder_keeps_the_document_for_later(small_fs, daemons, tmp_path):
    """.paperfs/ (index, id counter, status) on a full filesystem of its own, the work
    queue elsewhere: SQLite's 'database or disk is full' pauses the daemon too."""
    root = init_root(tmp_path)
    state = small_fs(root.state)
    small_fs(root.work)
    daemon, port = start_with_webdav(daemons, root, tmp_path)
    first = file_first_document(daemon, tmp_path)
    pid = daemon.proc.pid
    state.squeeze(2 * PAGE)
    second = make_text_pdf(tmp_path / "second.pdf", ["Second document 02.03.2021"] * 30)
    drop(second, root.inbox)
    problem = wait_until_paused(daemon, "/.paperfs/index.sqlite3")
    assert_still_serving(daemon, port, first, problem)
    state.relieve()
    assert_filed_without_restart(daemon, pid, [first, second])
    assert daemon.stop() == 0


def test_archive_folder_full_after_the_pdf_completes_the_commit(small_fs, daemons, tmp_path):
    """archive/ on a filesystem of its own with room for the PDF but not its sidecar:
    the retry finds the PDF already in place (moved by the failed attempt) and writes
    the sidecar beside it; nothing is processed twice, no PDF is left alone."""
    root = init_root(tmp_path)
    archive = small_fs(root.archive)
    daemon, port = start_with_webdav(daemons, root, tmp_path)
    first = file_first_document(daemon, tmp_path)
    pid = daemon.proc.pid
    big = big_pdf(tmp_path / "big.pdf", "Big document")
    archive.squeeze(big.stat().st_size)
    drop(big, root.inbox)
    problem = wait_until_paused(daemon, "/archive/")
    assert problem["path"].endswith(".yml"), problem
    pdf = Path(problem["path"]).with_suffix(".pdf")
    assert sha256(pdf) == sha256(big), "the PDF is in place, its sidecar is not"
    assert_still_serving(daemon, port, first, problem)
    archive.relieve()
    assert_filed_without_restart(daemon, pid, [first, big])
    assert daemon.stop() == 0


def test_hand_edit_on_a_full_disk_is_applied_once_there_is_room(small_fs, daemons, tmp_path):
    """A sidecar edited by hand while .paperfs/ is full: moving the pair needs its journal
    record there. The edit waits (it is in the sidecar on disk) and is applied later."""
    root = init_root(tmp_path)
    state = small_fs(root.state)
    small_fs(root.work)
    daemon, port = start_with_webdav(daemons, root, tmp_path)
    first = file_first_document(daemon, tmp_path)
    pid = daemon.proc.pid
    [sidecar] = sidecars(root)
    state.squeeze(0)
    sidecar.write_text(sidecar.read_text().replace("correspondent: null",
                                                   "correspondent: Umbrella"))
    problem = wait_until_paused(daemon, "/.paperfs/journal/move-1.yml")
    assert_still_serving(daemon, port, first, problem)
    assert sidecar.exists(), "nothing moved yet"
    state.relieve()
    moved = root.archive / "Umbrella/2020/2020-02-01 first.yml"
    daemon.wait_for(moved.exists, 30, "the pair to move once there is room")
    daemon.wait_for(lambda: not daemon.status().get("storage"), 10, "the pause to end")
    assert not sidecar.exists() and moved.with_suffix(".pdf").exists()
    assert daemon.proc.pid == pid
    found = paperfs(root, "search", "correspondent:Umbrella", "--json")
    assert json.loads(found.stdout)["total"] == 1, "the index has the edit"
    assert not list(root.journal.iterdir())
    assert daemon.stop() == 0


def test_full_failed_folder_keeps_the_reason(small_fs, daemons, tmp_path):
    """A file that cannot be consumed goes to failed/ with its reason, also when failed/
    was full at first: it waits, then gets its NAME.error.yml."""
    root = init_root(tmp_path)
    failed = small_fs(root.failed)
    daemon, port = start_with_webdav(daemons, root, tmp_path)
    first = file_first_document(daemon, tmp_path)
    pid = daemon.proc.pid
    failed.squeeze(0)
    junk = tmp_path / "junk.xyz"
    junk.write_bytes(random.Random(7).randbytes(20_000))
    drop(junk, root.inbox)
    problem = wait_until_paused(daemon, "/failed/")
    time.sleep(2)
    assert daemon.proc.poll() is None and daemon.status().get("storage")
    assert dav_get(port, "/by-id/1.pdf")[0] == 200
    assert "disk full" in paperfs(root, "status").stdout
    assert problem["path"] in daemon.log()
    failed.relieve()
    daemon.wait_for((root.failed / "junk.xyz").exists, 60, "junk.xyz in failed/")
    daemon.wait_settled(60)
    assert failed_state(root)["junk.xyz"]["reason"] == "unsupported"
    assert sha256(root.failed / "junk.xyz") == sha256(junk)
    assert daemon.proc.pid == pid and not daemon.status().get("storage")
    assert len(archive_state(root)) == 1
    assert daemon.stop() == 0


def test_one_shot_consume_on_a_full_disk_says_so_in_one_line(small_fs, daemons, tmp_path):
    """`paperfs consume` does not wait for space: one line, and what it had claimed is
    filed by the next start (not lost, not twice)."""
    fs = small_fs(tmp_path / "fs")
    root = init_root(tmp_path / "fs")
    first = make_text_pdf(tmp_path / "first.pdf", ["Already filed 01.02.2020"])
    assert paperfs(root, "consume", str(first)).returncode == 0  # an archive in use
    big = big_pdf(tmp_path / "big.pdf", "Big document")
    # room for the claimed copy and the worker's output, not for the original
    fs.squeeze(2 * big.stat().st_size + 24 * PAGE)
    done = paperfs(root, "consume", str(big))
    assert done.returncode == 10, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    [line] = [l for l in done.stderr.splitlines() if "error" in l]
    assert "disk full" in line and str(root.originals) in line, line
    assert len(archive_state(root)) == 1 and failed_state(root) == {}
    assert len(list(root.work.iterdir())) == 1, "the claimed copy waits in the queue"
    fs.relieve()
    daemon = daemons(root, tmp_path / "daemon.log")
    daemon.start()
    daemon.wait_settled(60)
    assert sorted(doc.original.sha256 for doc in archive_state(root).values()) == \
        sorted([sha256(first), sha256(big)])
    assert daemon.stop() == 0


# ---------------------------------------------------------------- a read-only data root


@pytest.fixture
def read_only_root(small_fs, tmp_path) -> DataRoot:
    """A data root with one filed document, on a filesystem then remounted read-only."""
    fs = small_fs(tmp_path / "fs")
    root = init_root(tmp_path / "fs")
    pdf = make_text_pdf(tmp_path / "memo.pdf", ["Quarterly zeppelin memo 01.02.2020"])
    done = paperfs(root, "consume", str(pdf))
    assert done.returncode == 0, done.stderr
    fs.read_only()
    return root


def one_line_error(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 10, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    [line] = [l for l in done.stderr.splitlines() if l.strip()]
    return line


@pytest.mark.parametrize("command", [["run"], ["edit", "1", "--title", "New"],
                                     ["consume", "NEW_FILE"]])
def test_read_only_data_root_refuses_changes_in_one_line(command, read_only_root, tmp_path):
    pdf = make_text_pdf(tmp_path / "new.pdf", ["another 02.02.2021"])
    command = [str(pdf) if arg == "NEW_FILE" else arg for arg in command]
    line = one_line_error(paperfs(read_only_root, *command))
    assert "read-only" in line and "remount" in line, line
    assert str(read_only_root.state) in line, line


def test_read_only_data_root_still_answers_status_and_search(read_only_root):
    shown = paperfs(read_only_root, "status")
    assert shown.returncode == 0, shown.stderr
    assert "documents:   1" in shown.stdout
    assert "read-only" in shown.stdout, shown.stdout
    found = paperfs(read_only_root, "search", "zeppelin", "--json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["total"] == 1
    assert paperfs(read_only_root, "show", "1").returncode == 0


def test_read_only_after_a_crash_sees_what_the_daemon_wrote(small_fs, daemons, tmp_path):
    """A daemon killed outright leaves the index's write-ahead log behind; a read-only
    reader must still see what is in it (not only the main database file)."""
    fs = small_fs(tmp_path / "fs")
    root = init_root(tmp_path / "fs")
    daemon = daemons(root, tmp_path / "daemon.log")
    daemon.start()
    drop(make_text_pdf(tmp_path / "memo.pdf", ["Quarterly zeppelin memo 01.02.2020"]),
         root.inbox)
    daemon.wait_settled(60)
    daemon.kill()
    assert (root.index_db.parent / (root.index_db.name + "-wal")).stat().st_size > 0
    fs.read_only()
    found = paperfs(root, "search", "zeppelin", "--json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["total"] == 1
    assert "documents:   1" in paperfs(root, "status").stdout
