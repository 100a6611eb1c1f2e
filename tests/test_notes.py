"""Notes with author and time: the old shape (plain texts) still read and kept,
the new one written, `paperfs note add`, notes searchable."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import subprocess
import sys

import pytest
import yaml

from paperfs.archive.document import dumps, loads, read_sidecar
from paperfs.archive.notes import Note, new_note, note_from
from paperfs.errors import SidecarError
from tests.helpers import init_root
from tests.samples import make_text_pdf
from tests.test_sidecar import sample

UTC = dt.timezone.utc


def test_old_plain_notes_are_read_and_written_back_as_they_were():
    text = dumps(sample(notes=("call back", "paid in cash")))
    assert "notes:\n- call back\n- paid in cash\n" in text
    doc = loads(text, "x.yml")
    assert doc.notes == (Note("call back"), Note("paid in cash"))
    assert dumps(doc) == text, "unchanged notes keep their old shape"


def test_new_notes_carry_author_and_time():
    when = dt.datetime(2025, 1, 31, 10, 0, tzinfo=UTC)
    doc = sample(notes=("old one", Note("checked", "anna", when)))
    data = yaml.safe_load(dumps(doc))
    assert data["notes"] == ["old one", {"text": "checked", "author": "anna", "time": when}]
    assert loads(dumps(doc), "x.yml").notes == doc.notes


@pytest.mark.parametrize("value, expected", [
    ({"text": "hi"}, Note("hi")),
    ({"text": "hi", "author": "bob", "time": "2025-01-31T10:00:00+01:00"},
     Note("hi", "bob", dt.datetime(2025, 1, 31, 10, tzinfo=dt.timezone(dt.timedelta(hours=1))))),
    ({"text": "hi", "time": dt.datetime(2025, 1, 31, 10)},
     Note("hi", None, dt.datetime(2025, 1, 31, 10, tzinfo=UTC))),
])
def test_note_shapes(value, expected):
    assert note_from(value) == expected


@pytest.mark.parametrize("notes, words", [
    ("notes: [{author: bob}]", "needs a non-empty 'text'"),
    ("notes: [{text: hi, by: bob}]", "a note has no 'by'"),
    ("notes: [{text: hi, time: soon}]", "a note's time is like"),
    ("notes: [[a]]", "each note is a text or {text, author, time}"),
    ("notes: {text: hi}", "expected a list of notes"),
])
def test_wrong_notes_are_refused_naming_the_problem(notes, words):
    text = dumps(sample()).replace("notes: []", notes)
    with pytest.raises(SidecarError) as info:
        loads(text, "x.yml")
    assert "x.yml: notes:" in str(info.value) and words in str(info.value)


def test_new_note_defaults_to_the_os_user():
    note = new_note("seen")
    assert note.author == getpass.getuser()
    assert abs((dt.datetime.now(UTC) - note.time).total_seconds()) < 5
    with pytest.raises(ValueError):
        new_note("   ")


def test_cli_note_add_and_search(tmp_path):
    root = init_root(tmp_path)

    def paperfs(*args):
        out = subprocess.run([sys.executable, "-m", "paperfs", "--root", str(root.root),
                              *map(str, args)], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return out.stdout

    paperfs("consume", make_text_pdf(tmp_path / "Letter.pdf", ["Letter 20.01.2024"]))
    sidecar = next(root.archive.rglob("*.yml"))
    # an old sidecar's plain note
    sidecar.write_text(sidecar.read_text().replace("notes: []", "notes:\n- phoned the kiwifruit man"))
    paperfs("reindex")
    out = paperfs("note", "add", "1", "paid by transfer", "--author", "anna")
    assert "note added by anna" in out
    paperfs("note", "add", "1", "filed")
    notes = read_sidecar(next(root.archive.rglob("*.yml"))).notes
    assert [n.text for n in notes] == ["phoned the kiwifruit man", "paid by transfer", "filed"]
    assert notes[0].author is None and notes[1].author == "anna"
    assert notes[2].author == getpass.getuser() and notes[2].time is not None
    raw = yaml.safe_load(next(root.archive.rglob("*.yml")).read_text())["notes"]
    assert raw[0] == "phoned the kiwifruit man" and raw[1]["author"] == "anna"
    for query in ("note:transfer", "note:kiwifruit", "transfer"):
        hits = json.loads(paperfs("search", query, "--json"))["hits"]
        assert [h["id"] for h in hits] == [1], query
    assert "paid by transfer  (anna," in paperfs("show", "1")
