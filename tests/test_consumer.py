"""The consume pipeline in one process (serial pool): filing, failures, edits, recovery."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
import yaml

from paperfs.archive.lock import WriterLock
from paperfs.daemon.consumer import Consumer
from paperfs.runtime import open_archive
from paperfs.archive.document import read_sidecar, write_sidecar
from paperfs.errors import DataRootError
from paperfs.index.sqlite import SqliteIndex
from paperfs.consume.jobs import Job, Part
from tests.samples import make_text_pdf
from tests.helpers import archive_state, config_for, failed_state, init_root, sha256


def consume(root, paths, **env):
    consumer = Consumer(config_for(root, **env), serial=True)
    consumer.open()
    try:
        consumer.claim_files(paths)
        return consumer.consume_now()
    finally:
        consumer.close()


@pytest.fixture
def root(tmp_path):
    return init_root(tmp_path)


def test_born_digital_pdf_is_filed_with_sidecar_and_original(root, tmp_path):
    src = make_text_pdf(tmp_path / "ACME_invoice_2023.pdf",
                        ["ACME Corp invoice 4711", "Date: 15.03.2023", "Total 12.00 EUR"])
    [result] = consume(root, [src])
    assert result.error is None, result.error
    docs = archive_state(root)
    doc = docs[result.doc.id]
    assert doc.title == "ACME invoice 2023"
    assert doc.created == dt.date(2023, 3, 15)  # from the content, not the file time
    assert "invoice 4711" in doc.content
    assert doc.original.sha256 == sha256(src)  # byte-identical original
    assert (root.archive / "Unknown/2023/2023-03-15 ACME invoice 2023.pdf").exists()
    assert doc.original.mime_type == "application/pdf"
    assert doc.archive.pages == 1
    assert src.exists(), "one-shot consume copies, it does not take the user's file"
    assert not any(root.work.iterdir()), "finished jobs leave nothing behind"


def test_duplicate_is_not_filed_twice(root, tmp_path):
    src = make_text_pdf(tmp_path / "a.pdf", ["Some unique text for duplicates 1"])
    copy = tmp_path / "copy of a.pdf"
    shutil.copy(src, copy)
    first, second = consume(root, [src, copy])
    assert first.error is None
    assert second.error is not None and second.error.reason == "duplicate"
    assert first.path in str(second.error) and f"document {first.doc.id}" in str(second.error)
    assert len(archive_state(root)) == 1
    failed = failed_state(root)
    assert failed["copy of a.pdf"]["reason"] == "duplicate"


def test_collisions_get_stable_id_suffix(root, tmp_path):
    a = make_text_pdf(tmp_path / "letter.pdf",
                      ["Letter 01.02.2020 one"])
    (tmp_path / "other").mkdir()
    b = make_text_pdf(tmp_path / "other" / "letter.pdf", ["Letter 01.02.2020 two"])
    r1, r2 = consume(root, [a, b])
    assert r1.path == "Unknown/2020/2020-02-01 letter"
    assert r2.path == f"Unknown/2020/2020-02-01 letter [{r2.doc.id}]"


def test_unsupported_and_empty_files_fail_with_reason(root, tmp_path):
    (tmp_path / "empty.pdf").write_bytes(b"")
    (tmp_path / "program.exe").write_bytes(b"MZ\x90\x00" + b"\x00" * 200)
    results = consume(root, [tmp_path / "empty.pdf", tmp_path / "program.exe"])
    assert all(r.error is not None for r in results)
    failed = failed_state(root)
    assert failed["empty.pdf"]["reason"] == "empty"
    assert failed["program.exe"]["reason"] == "unsupported"
    assert "program.exe" in failed["program.exe"]["message"]
    assert archive_state(root) == {}


def test_text_file_becomes_pdf(root, tmp_path):
    src = tmp_path / "note.txt"
    src.write_text("Grüße aus München\nam 3. Mai 2021\n", encoding="utf-8")
    [result] = consume(root, [src])
    assert result.error is None, result.error
    doc = archive_state(root)[result.doc.id]
    assert "München" in doc.content
    assert doc.created == dt.date(2021, 5, 3)
    assert doc.original.path.endswith(".txt")


def test_edit_moves_pair_and_prunes_folders(root, tmp_path):
    src = make_text_pdf(tmp_path / "bill.pdf", ["Bill of 10.10.2019"])
    [result] = consume(root, [src])
    config = config_for(root)
    lock = WriterLock(root.lock_file)
    archive = open_archive(config, lock)
    try:
        archive.update(result.doc.id, lambda d: d.replace(correspondent="Globex", tags=("x",)))
    finally:
        archive.index.close()
        lock.release()
    doc = archive_state(root)[result.doc.id]
    assert doc.correspondent == "Globex" and doc.tags == ("x",)
    assert doc.modified > result.doc.modified or doc.modified >= result.doc.added
    assert (root.archive / "Globex/2019/2019-10-10 bill.pdf").exists()
    assert not (root.archive / "Unknown").exists(), "emptied folders are removed"


def _open(root, extra_env=None):
    lock = WriterLock(root.lock_file)
    return open_archive(config_for(root, **(extra_env or {})), lock), lock


def test_hand_edit_applied_and_invalid_edit_reported(tmp_path):
    root = init_root(tmp_path, "archive:\n  paths:\n    - when: 'tag:tax'\n"
                               "      path: 'Taxes/{created:%Y}/{title}'\n")
    src = make_text_pdf(tmp_path / "return.pdf", ["Tax return 2022 filed 01.04.2023"])
    [result] = consume(root, [src])
    sidecar = root.archive / (result.path + ".yml")
    archive, lock = _open(root)
    try:
        text = sidecar.read_text().replace("tags: []", "tags: [tax]")
        sidecar.write_text(text)
        assert archive.sidecar_changed(sidecar) == "applied"
        moved = root.archive / "Taxes/2023/return.yml"
        assert read_sidecar(moved).tags == ("tax",)
        assert moved.with_suffix(".pdf").exists() and not sidecar.exists()
        before = moved.read_text()
        moved.write_text(before.replace("tags:\n- tax", "tags: {oops: 1}"))
        assert archive.sidecar_changed(moved) == "invalid"
        note = root.archive / "Taxes/2023/return.paperfs-error.txt"
        assert "tags: expected a list" in note.read_text()
        assert archive.index.ref(result.doc.id).path == "Taxes/2023/return"
        moved.write_text(before.replace("title: return", "title: Return 2022"))
        assert archive.sidecar_changed(moved) == "applied"
        assert not note.exists(), "the note goes away once the sidecar is valid"
        assert (root.archive / "Taxes/2023/Return 2022.pdf").exists()
    finally:
        archive.index.close()
        lock.release()
    archive_state(root)


def test_edits_made_while_stopped_are_applied_at_start(root, tmp_path):
    [result] = consume(root, [make_text_pdf(tmp_path / "a.pdf", ["memo 02.02.2002"])])
    sidecar = root.archive / (result.path + ".yml")
    sidecar.write_text(sidecar.read_text().replace("correspondent: null",
                                                   "correspondent: Initech"))
    archive, lock = _open(root)
    archive.index.close()
    lock.release()
    assert (root.archive / "Initech/2002/2002-02-02 a.yml").exists()


def test_second_writer_is_refused(root):
    archive, lock = _open(root)
    try:
        with pytest.raises(DataRootError, match="another paperfs process"):
            _open(root)
    finally:
        archive.index.close()
        lock.release()


def test_resume_after_crash_between_sidecar_and_cleanup(root, tmp_path):
    """Simulate the worst moment: the sidecar is written, the job is not finished."""
    src = make_text_pdf(tmp_path / "r.pdf", ["resume me 05.05.2005"])
    consumer = Consumer(config_for(root), serial=True)
    consumer.open()
    consumer.claim_files([src])
    job = consumer.jobs.popleft()
    proposals = consumer.pool.func(consumer._task(job))
    job, [(doc, _path)] = consumer.archive.commit(job, proposals)  # crash right after this
    consumer.index.close()
    consumer.lock.release()
    assert Job.load(job.folder).parts[0].doc_id == doc.id
    results = consume(root, [])
    assert results == []
    docs = archive_state(root)
    assert list(docs) == [doc.id]
    assert not any(root.work.iterdir())


def test_resume_after_crash_before_sidecar(root, tmp_path):
    src = make_text_pdf(tmp_path / "r.pdf", ["resume me too 06.06.2006"])
    consumer = Consumer(config_for(root), serial=True)
    consumer.open()
    consumer.claim_files([src])
    job = consumer.jobs.popleft()
    # id and path recorded, PDF moved in, then the crash (no sidecar yet)
    job = job.record(parts=(Part(doc_id=consumer.archive.next_id(),
                                 archive_path="Unknown/2006/partial"),))
    (root.archive / "Unknown/2006").mkdir(parents=True)
    (root.archive / "Unknown/2006/partial.pdf").write_bytes(b"%PDF-1.4 partial")
    consumer.index.close()
    consumer.lock.release()
    consume(root, [])
    docs = archive_state(root)
    [doc] = docs.values()
    assert doc.id == job.parts[0].doc_id and "resume me too" in doc.content
    assert (root.archive / "Unknown/2006/partial.yml").exists()


def test_interrupted_move_is_completed(root, tmp_path):
    [result] = consume(root, [make_text_pdf(tmp_path / "m.pdf", ["move 07.07.2007"])])
    old = result.path
    new = "Elsewhere/m"
    (root.archive / "Elsewhere").mkdir()
    # journal written and the PDF moved; the crash comes before the sidecar moves
    (root.journal / f"move-{result.doc.id}.yml").write_text(
        yaml.safe_dump({"id": result.doc.id, "from": old, "to": new}))
    (root.archive / (old + ".pdf")).rename(root.archive / (new + ".pdf"))
    consume(root, [])
    assert (root.archive / (new + ".yml")).exists()
    assert not (root.archive / (old + ".yml")).exists()
    assert not list(root.journal.iterdir())
    archive_state(root)


def test_interrupted_claim_is_dropped(root, tmp_path):
    src = root.inbox / "in.pdf"
    make_text_pdf(src, ["claimed 08.08.2008"])
    # job record written, the file never moved in
    folder = root.work / "20240101T000000-deadbeef"
    folder.mkdir()
    Job(job_id=folder.name, folder=folder, filename="in.pdf", source="inbox/in.pdf",
        claimed_at=dt.datetime.now(dt.timezone.utc), file_mtime=0.0).save()
    consume(root, [])
    assert not folder.exists()
    assert src.exists(), "the file stays in the inbox for the watcher"


def test_sidecar_deleted_by_hand_leaves_the_index(root, tmp_path):
    [result] = consume(root, [make_text_pdf(tmp_path / "d.pdf", ["delete me 09.09.2009"])])
    (root.archive / (result.path + ".yml")).unlink()
    (root.archive / (result.path + ".pdf")).unlink()
    archive, lock = _open(root)
    try:
        assert archive.index.ref(result.doc.id) is None
    finally:
        archive.index.close()
        lock.release()


def test_ids_are_never_reused(root, tmp_path):
    [a] = consume(root, [make_text_pdf(tmp_path / "1.pdf", ["one 01.01.2001"])])
    (root.archive / (a.path + ".yml")).unlink()
    (root.archive / (a.path + ".pdf")).unlink()
    [b] = consume(root, [make_text_pdf(tmp_path / "2.pdf", ["two 01.01.2001"])])
    assert b.doc.id == a.doc.id + 1


def test_sidecar_write_is_what_index_sees(root, tmp_path):
    [r] = consume(root, [make_text_pdf(tmp_path / "s.pdf", ["same 03.03.2003"])])
    archive, lock = _open(root)
    try:
        sidecar = root.archive / (r.path + ".yml")
        assert archive.sidecar_changed(sidecar) == "unchanged"
        doc = read_sidecar(sidecar)
        write_sidecar(sidecar, doc.replace(title="Renamed"))
        assert archive.sidecar_changed(sidecar) == "applied"
    finally:
        archive.index.close()
        lock.release()


def test_the_idle_daemon_refreshes_the_champion_lists(root, tmp_path):
    import threading
    import time

    words = ["invoice alpha 01.02.2020", "invoice beta 02.02.2020", "invoice gamma 03.02.2020"]
    consume(root, [make_text_pdf(tmp_path / f"{n}.pdf", [w]) for n, w in enumerate(words)])
    consumer = Consumer(config_for(root), serial=True)
    consumer.open()
    index = consumer.archive.index
    index.champion_min_df, index.champion_size = 3, 2  # "invoice" is in all three
    runner = threading.Thread(target=consumer.run)
    runner.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not index.db.execute(
                "SELECT term FROM champion_terms").fetchall():
            time.sleep(0.1)
    finally:
        consumer.stop()
        runner.join(30)
        consumer.close()
    assert not runner.is_alive()
    reader = SqliteIndex(root.index_db, create=False)
    try:
        assert ("invoice",) in reader.db.execute("SELECT term FROM champion_terms").fetchall()
    finally:
        reader.close()
