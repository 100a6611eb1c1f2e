"""mail-records.jsonl: compaction (one line per record), safe beside another writer."""

from __future__ import annotations

import dataclasses

from paperfs.mail.records import COMPACT_MIN_LINES, MailRecord, MailRecords, record_key


def handed(uid: int) -> dict:
    """The line MailRecords.handed writes (many at once here: one fsync, not hundreds)."""
    key = record_key("work", "INBOX", 7, str(uid), "all")
    return {"e": "handed", "key": key, "account": "work", "folder": "INBOX",
            "uidvalidity": 7, "uid": str(uid), "rule": "all", "message_id": f"<{uid}@x>",
            "sha256": f"{uid:064x}", "name": f"Mail {uid}.eml",
            "settings": {"mail": {"record": key}}, "first_id": uid}


def state(records: MailRecords) -> dict:
    return {r.key: dataclasses.asdict(r) for r in records}


def lines(path) -> int:
    return len(path.read_text().splitlines())


def test_compaction_keeps_every_record_and_a_writer_beside_it(tmp_path):
    path = tmp_path / "mail-records.jsonl"
    records = MailRecords(path)
    count = COMPACT_MIN_LINES // 2 + 100
    handed_events = [handed(uid) for uid in range(1, count + 1)]
    records.append(handed_events, sync=False)
    keys = [event["key"] for event in handed_events]
    events = [{"e": "acted", "key": key} for key in keys]
    events += [{"e": "done", "key": key, "documents": [n, n + 1]}
               for n, key in enumerate(keys[:-3])]
    # one failed twice and handed again (pending, 2 failures), one failed for now,
    # one never acted and still pending, one seen under a new UIDVALIDITY
    events += [{"e": "failed", "key": keys[-3], "failures": 1, "reason": "timeout",
                "message": "slow", "file": "Mail.eml"},
               {"e": "handed_again", "key": keys[-3], "reset": False, "first_id": 9},
               {"e": "failed", "key": keys[-3], "failures": 2, "reason": "broken",
                "message": "bad", "file": "Mail.eml"},
               {"e": "handed_again", "key": keys[-3], "reset": False, "first_id": 10},
               {"e": "failed", "key": keys[-2], "failures": 1, "reason": "timeout",
                "message": "slow", "file": "Mail 2.eml"}]
    records.append(events)
    records.append([{"e": "done", "key": keys[0], "documents": []}])  # supersedes one
    records.seen(MailRecord(key="work/INBOX/8/1/all", account="work", folder="INBOX",
                            uidvalidity=8, uid="1", rule="all", message_id="<1@x>",
                            sha256=f"{1:064x}"))
    beside = MailRecords(path)  # another process (paperfs mail retry) with the old file
    before = state(records)
    assert records.superseded >= COMPACT_MIN_LINES

    assert records.compact_if_due()
    assert lines(path) == count + 1  # one line per record
    assert state(records) == before == state(MailRecords(path))
    again = MailRecords(path)
    assert again.get(keys[-3]).failures == 2 and again.get(keys[-3]).pending
    assert again.get(keys[-3]).first_id == 10
    assert {r.key for r in again.select(unacted=True)} == set()
    assert again.get(keys[0]).state == "no documents"
    assert again.get(keys[1]).documents == [1, 2] and again.get(keys[1]).state == "filed"
    assert again.known_uids("work", "INBOX", 7, "all") == {str(u) for u in range(1, count + 1)}
    assert again.has_mail("work", "all", "<1@x>", f"{1:064x}")

    # the writer beside it appends to the new file, and reads it anew
    beside.done(keys[-3], [77])
    assert lines(path) == count + 2
    assert beside.get(keys[-3]).documents == [77] and len(list(beside)) == count + 1
    assert MailRecords(path).get(keys[-3]).state == "filed"
    assert not records.compact_if_due()  # a few superseded lines: not worth a rewrite


def test_a_small_file_is_not_compacted(tmp_path):
    path = tmp_path / "mail-records.jsonl"
    records = MailRecords(path)
    events = [handed(uid) for uid in range(1, 51)]
    events += [{"e": "acted", "key": e["key"]} for e in events] + \
        [{"e": "done", "key": e["key"], "documents": [n]} for n, e in enumerate(events)]
    records.append(events)
    assert records.superseded == 100
    assert not records.compact_if_due() and lines(path) == 150
