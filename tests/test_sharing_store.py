"""shares.json (paperfs/sharing/store.py): create, find, list, revoke, expiry on a fake
clock, what the file holds (hashes, never tokens), broken files named."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from paperfs.errors import ConfigError, NotFoundError, UsageError
from paperfs.sharing.store import (KEEP_ENDED, SHARES_FILE, TOKEN_RE, ShareStore,
                                   parse_duration, token_hash)

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(tmp_path, clock):
    return ShareStore(tmp_path, tmp_path / ".paperfs", max_days=30, now=clock)


def test_create_find_and_the_file_holds_only_a_hash(store, tmp_path):
    link, token = store.create("document", "7", "alice", dt.timedelta(days=7))
    assert TOKEN_RE.fullmatch(token)
    assert store.find(token) == link
    assert (link.kind, link.target, link.creator) == ("document", "7", "alice")
    assert link.expires - link.created == dt.timedelta(days=7)
    text = (tmp_path / SHARES_FILE).read_text()
    assert token not in text and token_hash(token) in text
    assert (tmp_path / SHARES_FILE).stat().st_mode & 0o077 == 0
    # a fresh store (another process) reads the same link back
    other = ShareStore(tmp_path, tmp_path / ".paperfs", max_days=30)
    assert other.find(token) == link and other.links() == [link]


def test_wrong_and_malformed_tokens_find_nothing(store):
    _, token = store.create("search", "Bills", "alice", dt.timedelta(hours=1))
    wrong = ("A" if token[0] != "A" else "B") + token[1:]
    for guess in (wrong, token[:-1], token + "x", "", "../" + token, token.upper()
                  if token.upper() != token else token.lower()):
        assert store.find(guess) is None, guess


def test_two_links_to_the_same_target_are_separate(store):
    a, ta = store.create("document", "1", "alice", dt.timedelta(days=1))
    b, tb = store.create("document", "1", "alice", dt.timedelta(days=1))
    assert a.id != b.id and ta != tb
    store.revoke(a.id)
    assert store.find(ta).state(store.now()) == "revoked"
    assert store.find(tb).state(store.now()) == "active"


def test_expiry_on_a_fake_clock(store, clock):
    link, token = store.create("document", "3", "bob", dt.timedelta(hours=2))
    clock.now = T0 + dt.timedelta(hours=1, minutes=59)
    assert store.find(token).state(clock()) == "active"
    clock.now = T0 + dt.timedelta(hours=2)
    assert store.find(token).state(clock()) == "expired"


def test_revoke_by_id_token_or_url(store):
    for how in ("id", "token", "url"):
        link, token = store.create("document", "1", "alice", dt.timedelta(days=1))
        key = {"id": link.id, "token": token, "url": f"https://x.example/s/{token}"}[how]
        revoked = store.revoke(key)
        assert revoked.revoked == T0 and store.find(token).state(T0) == "revoked"
        assert store.revoke(key).revoked == T0  # again: unchanged
    with pytest.raises(NotFoundError, match="paperfs share list"):
        store.revoke("nosuchid")


def test_expiry_limits(store):
    with pytest.raises(UsageError, match="at most 30 days.*share_max_days"):
        store.create("document", "1", "alice", dt.timedelta(days=31))
    with pytest.raises(UsageError, match="future"):
        store.create("document", "1", "alice", dt.timedelta(0))
    with pytest.raises(UsageError, match="document or a search"):
        store.create("folder", "1", "alice", dt.timedelta(days=1))
    assert store.links() == []


@pytest.mark.parametrize("text,expected", [
    ("7d", dt.timedelta(days=7)), ("12h", dt.timedelta(hours=12)),
    ("30m", dt.timedelta(minutes=30)), ("2w", dt.timedelta(weeks=2)),
    ("3", dt.timedelta(days=3)), ("1.5d", dt.timedelta(hours=36))])
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "0d", "-1d", "7y", "d", "7 days"])
def test_bad_durations_are_explained(text):
    with pytest.raises(UsageError, match="7d, 12h"):
        parse_duration(text)


def test_ended_links_are_dropped_after_a_while(store, clock):
    old, old_token = store.create("document", "1", "alice", dt.timedelta(days=1))
    store.revoke(old.id)
    clock.now = T0 + KEEP_ENDED + dt.timedelta(hours=1)
    store.create("document", "2", "alice", dt.timedelta(days=1))
    assert [s.target for s in store.links()] == ["2"]
    assert store.find(old_token) is None


def test_a_broken_file_is_named_with_the_entry(store, tmp_path):
    path = tmp_path / SHARES_FILE
    path.write_text('{"shares": [{"id": "x", "kind": "document"}]}')
    with pytest.raises(ConfigError, match=re.escape(f"{path}: shares[0]: missing")):
        store.links()
    path.write_text('{"shares": [\n')
    with pytest.raises(ConfigError, match="not valid JSON"):
        store.links()
    path.write_text('{"shares": [{"id": "a", "token_sha256": "b", "kind": "folder", '
                    '"target": "1", "creator": "c", "created": "2026-01-01T00:00:00", '
                    '"expires": "2026-02-01T00:00:00"}]}')
    with pytest.raises(ConfigError, match="kind 'folder'"):
        store.links()
