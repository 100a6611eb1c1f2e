"""The one sidecar reader: its fast path for the plain YAML paperfs writes reads
every sidecar exactly as PyYAML does (the same document, or the same error).

Moved here from test_index_perf_paths.py with the reader (issue 12).
"""

from __future__ import annotations

import datetime as dt
import random

import pytest
import yaml

from benchmarks.gen_archive import Generator, Spec, sidecar_text
from paperfs.archive.notes import Note
from paperfs.archive.document import (ArchiveInfo, Document, Grants, OriginalInfo,
                                      Permissions, dumps, from_mapping, loads, yaml_mapping)
from paperfs.archive.sidecar_yaml import plain_mapping
from paperfs.errors import SidecarError

_UTC = dt.timezone.utc
_AWKWARD = ["yes", "No", "on", "null", "~", "123", "0o17", "012", "1_000", "1e5", "1.5", ".inf",
            "2024-01-01", "2024-01-01T10:00:00Z", "a: b", "#hash", "x #y", "- dash", "[x]",
            "{y}", "it's", 'say "hi"', "back\\slash", "tab\there", "trailing ", " leading",
            "März Größe", "日本語", "a,b", "x:", "@at", "`tick`", "%pct", "!bang", "&amp",
            "*star", "|pipe", ">gt", "?q", "='eq'", "<<", "=", "", "0x1F", "+1", "-7", "1:30"]


def _doc(rng: random.Random, n: int) -> Document:
    words = _AWKWARD + ["invoice", "paid", "ACME Corp", "tax"]
    title = rng.choice(words + [" ".join(rng.choices(words, k=30))]).strip() or "t"
    content = rng.choice([
        "", "one line", "line\n\n\nafter blanks\n", "  indented first\nsecond\n",
        "\n".join(rng.choices(words, k=50)), "x\n" + "    deeper\n" + "back\n",
        "ends with newlines\n\n\n", "trailing spaces  \nand tabs\t\n", "form\ffeed",
    ])
    return Document(
        id=n, title=title, created=dt.date(2000 + n % 30, 1 + n % 12, 1 + n % 28),
        added=dt.datetime(2024, 3, 20, 10, n % 60, tzinfo=_UTC),
        modified=dt.datetime(2024, 3, 20, 10, 0, 0, 123456 * (n % 2), tzinfo=_UTC),
        original=OriginalInfo(rng.choice(words) or "f.pdf", "application/pdf", "0b" + "1" * 62,
                              f"originals/{n}.pdf"),
        archive=ArchiveInfo("7561bf" + "0" * 58, n % 5, pdfa=bool(n % 2)),
        correspondent=rng.choice(words + [None]) or None,
        document_type=rng.choice(words + [None]) or None,
        tags=tuple(dict.fromkeys(t for t in rng.choices(words, k=rng.randint(0, 4)) if t.strip())),
        asn=rng.choice([None, 0, 7, 123456]), owner=rng.choice([None, "alice", "yes"]),
        permissions=Permissions(view=Grants(("bob",), ("family",)) if n % 3 else Grants()),
        custom_fields=rng.choice([{}, {"amount": 12.5, "due": "2024-01-01"}]),
        notes=tuple(rng.choices(words, k=rng.randint(0, 2))) + rng.choice([(), (Note(
            rng.choice(words) or "n", rng.choice([None, "anna", "yes"]),
            rng.choice([None, dt.datetime(2025, 1, 31, 10, 0, tzinfo=_UTC)])),)]),
        source={"kind": "generated", "path": "x.pdf"}, language=rng.choice([None, "deu"]),
        content=content)


def _same_reading(text: str) -> None:
    """The sidecar reader gives what PyYAML alone gives: the document, or the error."""
    try:
        expected = from_mapping(yaml_mapping(text, "x.yml"), "x.yml")
    except SidecarError as exc:
        with pytest.raises(SidecarError) as info:
            loads(text, "x.yml")
        assert str(info.value) == str(exc)
        return
    assert loads(text, "x.yml") == expected


@pytest.mark.parametrize("seed", range(6))
def test_fast_reader_equals_yaml_for_written_sidecars(seed: int) -> None:
    rng = random.Random(seed)
    for n in range(1, 80):
        _same_reading(dumps(_doc(rng, n)))


def test_fast_reader_equals_yaml_for_generated_sidecars() -> None:
    gen = Generator(Spec(count=200, seed=3))
    for n in range(1, 200):
        doc, _, _ = gen.document(n)
        _same_reading(sidecar_text(doc))


@pytest.mark.parametrize("edit", [
    lambda t: t.replace("tags:", "# a comment\ntags:", 1),
    lambda t: t.replace("\ncontent:", "\nx_extra: {a: 1, b: [1, 2]}\ncontent:", 1),
    lambda t: t + "after_content: 1\n",
    lambda t: t.replace("content: |", "content: |2", 1),
    lambda t: t.replace("title:", "title: &anchor", 1),
    lambda t: t.replace("\n", "\r\n"),
    lambda t: "---\n" + t,
    lambda t: t.replace("asn: null", "asn: 0o17"),
    lambda t: t.replace("asn: null", "asn: 1_000"),
    lambda t: t.replace("asn: null", "asn: yes"),
    lambda t: t.replace("asn: null", "asn:"),
    lambda t: t.replace("id: ", "id: 0"),
    lambda t: t.replace("tags: []", "tags: paid, tax"),
    lambda t: t.replace("tags: []", "tags:\n- paid\n-  tax\n- 2024"),
    lambda t: t.replace("tags: []", "tags:\n  - paid\n  - 'it''s'"),
    lambda t: t.replace("tags: []", 'tags: ["a, b", c]'),
    lambda t: t.replace("tags: []", "tags: [a, [b]]"),
    lambda t: t.replace("tags: []", "tags: [a,]"),
    lambda t: t.replace("tags: []", "tags: {a: 1}"),
    lambda t: t.replace("users: []", "users: [alice, bob]", 1),
    lambda t: t.replace("modified: ", "modified: 2024-01-01 10:00:00 #", 1),
    lambda t: t.replace("created: ", "created: '", 1),
    lambda t: t.replace("  view:", "  view:\n    users: [x]\n    groups: []\n  view2:", 1),
    lambda t: t.replace("content: |-\n", "content: |-\n\n  \n", 1),
    lambda t: t.replace("content: |-\n", "content: |+\n", 1),
    lambda t: t.replace("content: |-\n", "content: |\n", 1) + "\n\n",
    lambda t: t.replace("content: |-\n", "content: >\n", 1),
    lambda t: t.split("content:")[0],
    lambda t: t.split("content:")[0] + "content:\n",
    lambda t: t.split("content:")[0] + "content: |\n",
    lambda t: t.split("content:")[0] + "content: |\nnot indented\n",
    lambda t: t.replace("schema_version: 1", "schema_version: 2"),
    lambda t: t.replace("title: ", "title: [", 1),
    lambda t: t.replace("  pages: ", "  pages:  ", 1),
    lambda t: t.replace("original:\n", "original:\n\n", 1),
    lambda t: t.replace("\n  filename:", "\n   filename:", 1),
    lambda t: t.replace("added: ", "added: &a1 ", 1).replace("modified: ", "modified: *a1 #", 1),
    lambda t: t.replace("added: ", "added: &a1 ", 1).split("modified:")[0]
    + "modified: *a1\n" + "correspondent:" + t.split("correspondent:", 1)[1],
    lambda t: t.replace("modified: ", "modified: *undefined\nx: ", 1),
    lambda t: t.replace("title: ", "title: &t ", 1).replace("notes: []", "notes: [*t]"),
    lambda t: t.replace("language: ", "language: &l [a]\nl2: *l\nx: ", 1),
    lambda t: t.replace("added: 20", "added: 19", 1).replace("T", " ", 1),
])
def test_fast_reader_equals_yaml_for_hand_edits(edit) -> None:
    doc, _, _ = Generator(Spec(count=5, seed=1)).document(3)
    _same_reading(edit(sidecar_text(doc)))
    _same_reading(edit(dumps(doc)))


def test_generated_sidecars_take_the_fast_path() -> None:
    doc, _, _ = Generator(Spec(count=5, seed=1)).document(2)
    for text in (sidecar_text(doc), dumps(doc)):
        assert plain_mapping(text) == yaml.load(text, Loader=yaml.CSafeLoader)
