"""paperfs search / reindex / check from the command line, and end to end with OCR."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from benchmarks.gen_archive import Spec, generate, tiny_pdf
from paperfs.cli import cli
from paperfs.archive.lock import WriterLock
from paperfs.index.model import LOCAL_ADMIN
from paperfs.index.sqlite import SqliteIndex
from paperfs.archive.layout import DataRoot
from tests.index_contract import (HAND_FIRST, SIGNATURE_QUERIES, hand_documents,
                                  search_signature, write_hand_documents)

PAPERFS = [sys.executable, "-m", "paperfs"]


def run(root: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--root", str(root), *args], catch_exceptions=False)
    return result


def make_archive(root: Path, count: int) -> DataRoot:
    generate(root, Spec(count=count, seed=3))
    write_hand_documents(root, hand_documents())
    (root / ".paperfs" / "next_id").write_text(f"{HAND_FIRST + 100}\n")
    return DataRoot(root)


@pytest.fixture
def archive(tmp_path: Path) -> DataRoot:
    root = make_archive(tmp_path / "data", 150)
    result = run(root.root, "reindex")
    assert result.exit_code == 0, result.output
    return root


def signature(root: DataRoot) -> list:
    index = SqliteIndex(root.index_db, create=False)
    try:
        return search_signature(index, SIGNATURE_QUERIES)
    finally:
        index.close()


# ---------------------------------------------------------------- search


def test_search_prints_ranked_results_with_snippets(archive: DataRoot) -> None:
    result = run(archive.root, "search", "quokka")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "3 documents match 'quokka' (1–3, by relevance)" in out
    assert out.index("Quokka habitat report") < out.index("Annual summary")
    assert "archive/Hand/2023/Quokka habitat report [900001].pdf" in out
    assert "**quokka**" in out  # plain markers: not a terminal
    assert "\x1b[" not in out


def test_search_words_and_exclusions_as_arguments(archive: DataRoot) -> None:
    both = run(archive.root, "search", "electricity", "bill")
    assert both.exit_code == 0 and "2 documents match" in both.output
    excluded = run(archive.root, "search", "electricity", "-reversed")
    assert "1 document matches" in excluded.output and "Electricity bill" in excluded.output
    only_not = run(archive.root, "search", "-tag:paid", "--limit", "1", "--json")
    assert only_not.exit_code == 0, only_not.output
    assert json.loads(only_not.output)["total"] > 0


def test_search_json_paging_and_sort(archive: DataRoot) -> None:
    result = run(archive.root, "search", "*", "--json", "--limit", "5", "--offset", "2",
                 "--sort", "-created", "--facets")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["total"] == 150 + len(hand_documents())
    assert len(data["hits"]) == 5 and data["offset"] == 2 and data["sort"] == "-created"
    created = [h["created"] for h in data["hits"]]
    assert created == sorted(created, reverse=True)
    hit = data["hits"][0]
    assert set(hit) >= {"id", "title", "correspondent", "document_type", "created", "tags",
                        "path", "score", "snippet"}
    assert hit["path"].startswith("archive/") and hit["path"].endswith(".pdf")
    assert sum(data["facets"]["years"].values()) == data["total"]


def test_search_syntax_error_shows_a_caret_and_exits_2(archive: DataRoot) -> None:
    result = CliRunner().invoke(cli, ["--root", str(archive.root), "search",
                                      "invoice AND (acme"])
    assert result.exit_code == 2
    assert "invoice AND (acme\n            ^ unclosed parenthesis" in result.output


def test_search_without_an_index_says_what_to_do(archive: DataRoot) -> None:
    archive.index_db.unlink()
    result = CliRunner().invoke(cli, ["--root", str(archive.root), "search", "quokka"])
    assert result.exit_code == 3
    assert "paperfs reindex" in result.output


def test_bold_highlights_on_a_terminal(archive: DataRoot,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import paperfs.cli.index_commands as cli_index

    monkeypatch.setattr(cli_index, "_stdout_is_tty", lambda: True)
    result = CliRunner().invoke(cli, ["--root", str(archive.root), "search", "quokka"],
                                color=True)
    assert "\x1b[1mquokka\x1b[0m" in result.output


# ---------------------------------------------------------------- reindex


def test_reindex_after_deleting_the_index_gives_the_same_results(archive: DataRoot) -> None:
    before = signature(archive)
    for path in archive.state.glob("index.sqlite3*"):
        path.unlink()
    result = run(archive.root, "reindex")
    assert result.exit_code == 0, result.output
    assert f"indexed {150 + len(hand_documents())} documents" in result.output
    assert signature(archive) == before


def test_reindex_changed_picks_up_edits_and_deletions(archive: DataRoot) -> None:
    sidecar = next(archive.archive.rglob("Quokka habitat report*.yml"))
    text = sidecar.read_text().replace('title: "Quokka habitat report"',
                                       'title: "Numbat habitat report"')
    sidecar.write_text(text)
    gone = next(archive.archive.rglob("Garden hose warranty*.yml"))
    gone.unlink()
    gone.with_suffix(".pdf").unlink()
    result = run(archive.root, "reindex", "--changed")
    assert result.exit_code == 0, result.output
    assert "1 removed" in result.output  # the edit is applied like the daemon would
    index = SqliteIndex(archive.index_db, create=False)
    assert index.search("title:numbat", user=LOCAL_ADMIN).total == 1
    assert index.search("sprinkler", user=LOCAL_ADMIN).total == 0
    index.close()


def test_reindex_builds_the_champion_lists_and_changed_refreshes_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from paperfs.index import sqlite_champions

    monkeypatch.setattr(sqlite_champions, "MIN_DF", 40)  # production: 10,000
    monkeypatch.setattr(sqlite_champions, "SIZE", 10)
    root = make_archive(tmp_path / "data", 150)
    assert run(root.root, "reindex").exit_code == 0

    def built() -> tuple[int, str]:
        index = SqliteIndex(root.index_db, create=False)
        try:
            return (index.db.execute("SELECT count(*) FROM champion_terms").fetchone()[0],
                    index.db.execute("SELECT value FROM meta WHERE key = 'champions_documents'"
                                     ).fetchone()[0])
        finally:
            index.close()

    words, documents = built()
    assert words > 5 and documents == str(150 + len(hand_documents()))
    for sidecar in sorted(root.archive.rglob("*.yml"))[:30]:  # more than a tenth
        sidecar.unlink()
        sidecar.with_suffix(".pdf").unlink()
    assert run(root.root, "reindex", "--changed").exit_code == 0
    assert built()[1] == str(120 + len(hand_documents()))


def test_reindex_refuses_while_the_daemon_holds_the_lock(archive: DataRoot) -> None:
    lock = WriterLock(archive.lock_file)
    lock.acquire()
    try:
        result = CliRunner().invoke(cli, ["--root", str(archive.root), "reindex"])
    finally:
        lock.release()
    assert result.exit_code == 4
    assert "another paperfs process" in result.output and "stop the daemon" in result.output


def test_reindex_killed_midway_leaves_the_old_index_and_can_run_again(tmp_path: Path) -> None:
    root = make_archive(tmp_path / "data", 4000)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    subprocess.run(PAPERFS + ["--root", str(root.root), "reindex"], check=True, env=env,
                   capture_output=True)
    before = signature(root)
    rebuild = root.state / "index.sqlite3.rebuild"
    proc = subprocess.Popen(PAPERFS + ["--root", str(root.root), "reindex"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if rebuild.exists() and rebuild.stat().st_size > 2_000_000:
                break
            assert proc.poll() is None, "reindex finished before it could be killed"
            time.sleep(0.02)
        else:
            pytest.fail("the rebuild file never grew")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the reindex and its parser processes
        proc.wait()
    assert signature(root) == before, "a killed rebuild must not touch the live index"
    again = subprocess.run(PAPERFS + ["--root", str(root.root), "reindex"], env=env,
                           capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert not rebuild.exists()
    assert signature(root) == before


# ---------------------------------------------------------------- check


def check_json(root: Path, *args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, ["--root", str(root), "check", "--json", *args])
    return result.exit_code, json.loads(result.stdout)


def test_check_a_sound_archive(archive: DataRoot) -> None:
    result = run(archive.root, "check")
    assert result.exit_code == 0, result.output
    assert "documents checked: no problems" in result.output


def test_check_finds_every_kind_of_problem_and_fix_repairs_the_safe_ones(
        archive: DataRoot) -> None:
    a = archive.archive
    # a stray PDF without sidecar
    (a / "Stray").mkdir()
    (a / "Stray" / "lost scan.pdf").write_bytes(tiny_pdf(777_777))
    (a / "Stray" / "lost scan.paperfs-error.txt").write_text("ignored")
    # a damaged archive PDF (written anew: never modify a shared inode in place)
    damaged = next(a.rglob("Field notes*.pdf"))
    damaged.unlink()
    damaged.write_bytes(tiny_pdf(1))
    # a missing original
    quokka = next(a.rglob("Quokka habitat report*.yml"))
    from paperfs.archive.document import read_sidecar

    (archive.root / read_sidecar(quokka).original.path).unlink()
    # an invalid sidecar, a sidecar without PDF, a copied pair (duplicate id)
    broken = next(a.rglob("Annual summary*.yml"))
    broken.write_text("id: [unclosed\n")
    lonely = next(a.rglob("Empty scan*.pdf"))
    lonely.unlink()
    copied = next(a.rglob("Marimba repair*.yml"))
    shutil.copy(copied, a / "Stray" / "Marimba copy.yml")
    shutil.copy(copied.with_suffix(".pdf"), a / "Stray" / "Marimba copy.pdf")
    # a hand edit not yet applied
    note = next(a.rglob("Note holder*.yml"))
    note.write_text(note.read_text().replace("kiwifruit", "passionfruit"))

    code, report = check_json(archive.root)
    assert code == 1
    kinds = {(p["kind"], Path(p["path"]).name) for p in report["problems"]}
    assert ("orphan-pdf", "lost scan.pdf") in kinds
    assert ("archive-checksum", damaged.name) in kinds
    assert ("missing-original", Path(read_sidecar(quokka).original.path).name) in kinds
    assert ("invalid-sidecar", broken.name) in kinds
    assert ("missing-pdf", lonely.name) in kinds
    assert ("duplicate-id", "Marimba copy.yml") in kinds
    assert ("index-stale", note.name) in kinds
    assert ("index-extra", broken.name) not in kinds  # the index keeps its last valid state
    assert all(p["fix"] for p in report["problems"])
    assert not any("error.txt" in p["path"] for p in report["problems"])

    code, quick = check_json(archive.root, "--quick")
    assert not any(p["kind"] == "archive-checksum" for p in quick["problems"])

    code, fixed = check_json(archive.root, "--fix")
    assert code == 1  # what cannot be repaired safely is still there
    by_kind = {p["kind"]: p for p in fixed["problems"]}
    assert by_kind["orphan-pdf"]["fixed"] and "inbox/lost scan.pdf" in by_kind["orphan-pdf"][
        "message"]
    assert by_kind["index-stale"]["fixed"]
    assert not by_kind["missing-original"]["fixed"]
    assert (archive.inbox / "lost scan.pdf").read_bytes() == tiny_pdf(777_777)
    assert (a / "Stray" / "lost scan.pdf").exists(), "never deletes the user's file"
    index = SqliteIndex(archive.index_db, create=False)
    assert index.search("passionfruit", user=LOCAL_ADMIN).total == 1
    index.close()

    code, again = check_json(archive.root, "--fix")
    assert sorted(p.name for p in archive.inbox.iterdir()) == ["lost scan.pdf"], \
        "an orphan is adopted once"
    assert not any(p["kind"].startswith("index-") and not p["fixed"]
                   for p in again["problems"])


def test_check_text_output_names_path_and_fix(archive: DataRoot) -> None:
    (archive.archive / "stray.pdf").write_bytes(tiny_pdf(5))
    result = run(archive.root, "check", "--quick")
    assert result.exit_code == 1
    assert "error: archive/stray.pdf: a PDF without a sidecar" in result.output
    assert "  fix: 'paperfs check --fix' adopts it" in result.output
    assert "(checksums skipped: --quick)" in result.output


# ---------------------------------------------------------------- end to end with OCR


@pytest.mark.slow
def test_a_consumed_scan_is_found_by_a_word_only_in_its_ocr_text(tmp_path: Path,
                                                                 corpus: Path) -> None:
    from paperfs.daemon.consumer import Consumer
    from tests.helpers import config_for, init_root

    root = init_root(tmp_path)
    scan = corpus / "scans" / "skew.pdf"
    consumer = Consumer(config_for(root), serial=True)
    consumer.open()
    try:
        consumer.claim_files([scan])
        [filed] = consumer.consume_now()
    finally:
        consumer.close()
    assert filed.error is None, filed.error
    assert filed.doc.archive.ocr
    result = run(root.root, "search", "polyphonic", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [h["id"] for h in data["hits"]] == [filed.doc.id]
    assert "**polyphonic**" in data["hits"][0]["snippet"].lower()
    assert run(root.root, "search", "synthesizers", "title:skew").output.startswith(
        "1 document matches")
