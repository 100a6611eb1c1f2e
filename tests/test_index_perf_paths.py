"""The SQLite index's fast paths give the same answers as the plain ones.

Facet counts come from per-document facet codes held in memory (counted per
match for small match sets, with one bitset per facet value for large ones);
the plain SQL counting is the reference.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from paperfs.index.base import IndexEntry
from paperfs.index.model import LOCAL_ADMIN
from paperfs.index.sqlite import SqliteIndex, _FacetCodes
from paperfs.archive.layout import DataRoot
from paperfs.search.match import fold
from paperfs.archive.reindex import rebuild_into
from tests.index_contract import ALICE, BOB, NOW, Corpus, _hand, build_corpus

QUERIES = ["*", "invoice", "zebra", "tag:paid", "tag:paid created:[2018 to 2020]",
           "invoice -tag:paid", "correspondent:acme OR title:report", "produ*zzzz"]


@pytest.fixture(scope="module")
def perf_corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    root = tmp_path_factory.mktemp("perf") / "data"
    corpus = build_corpus(root, count=1500)
    index = SqliteIndex(DataRoot(root).index_db)
    rebuild_into(index, DataRoot(root), workers=0)
    index.facet_cache_size = 0
    corpus.index = index
    yield corpus
    index.close()


def _reference(index: SqliteIndex, query: str, user) -> object:
    c = index.compile(index._parse(query, NOW))
    return index._facets_sql(c, user) if not c.never else None


@pytest.mark.parametrize("bitsets_from", [0, 10**9], ids=["bitsets", "per-match"])
@pytest.mark.parametrize("user", [LOCAL_ADMIN, ALICE, BOB], ids=lambda u: u.name)
@pytest.mark.parametrize("query", QUERIES)
def test_facets_in_memory_equal_sql(perf_corpus: Corpus, query: str, user, bitsets_from: int,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    index: SqliteIndex = perf_corpus.index
    monkeypatch.setattr(_FacetCodes, "BITSETS_FROM", bitsets_from)
    monkeypatch.setattr("paperfs.index.sqlite.FACET_CODES_FROM", 0)  # always the codes
    reference = _reference(index, query, user)
    index.facets("invoice", user=LOCAL_ADMIN)  # loads the codes ("*" alone would not)
    assert index._codes is not None
    got = index.facets(query, user=user, now=NOW)
    if reference is None:
        assert got.total == 0
    else:
        assert _same(got, reference)


def _same(got, reference) -> bool:
    """Equal facets; a tag spelled several ways ("Büro", "büro") is one tag, named by
    the smallest spelling in the whole index (SQL: among the matches)."""
    a, b = got.as_dicts(), reference.as_dicts()
    a["tags"] = {fold(k): v for k, v in a["tags"].items()}
    b["tags"] = {fold(k): v for k, v in b["tags"].items()}
    return (got.total == reference.total and a == b
            and [c.count for c in got.tags] == [c.count for c in reference.tags])


def test_facets_without_bitsets(perf_corpus: Corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    index: SqliteIndex = perf_corpus.index
    monkeypatch.setattr(_FacetCodes, "BITSETS_MAX_BYTES", 0)
    monkeypatch.setattr("paperfs.index.sqlite.FACET_CODES_FROM", 0)
    index._codes = None
    for query in QUERIES[:5]:
        assert _same(index.facets(query, user=LOCAL_ADMIN, now=NOW),
                     _reference(index, query, LOCAL_ADMIN))
    assert index._codes is not None and index._codes.bitsets is None
    index._codes = None


def test_facet_codes_follow_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writes by this connection and by another one both invalidate the codes."""
    monkeypatch.setattr("paperfs.index.sqlite.FACET_CODES_FROM", 0)
    path = tmp_path / "index.sqlite3"
    writer = SqliteIndex(path)
    reader = SqliteIndex(path, create=False)
    reader.facet_cache_size = writer.facet_cache_size = 0
    try:
        docs = [_hand(i, f"Doc {i}", "alpha text", tags=("Büro", "paid") if i % 2 else ("büro",))
                for i in range(1, 40)]
        writer.upsert([IndexEntry(doc=d, path=f"a/{d.id}", mtime_ns=1, size=1) for d in docs])
        for index in (writer, reader):
            assert index.facets("*", user=LOCAL_ADMIN).total == 39  # SQL: no codes yet
            assert index._codes is None
            tags = index.facets("alpha", user=LOCAL_ADMIN).as_dicts()["tags"]
            assert tags == {"Büro": 39, "paid": 20}
            assert index._codes is not None
            assert index.facets("*", user=LOCAL_ADMIN).total == 39  # from the codes
        new = _hand(1000, "Doc 1000", "alpha", tags=("new",))
        writer.upsert([IndexEntry(doc=new, path="a/1000", mtime_ns=1, size=1)])
        for index in (writer, reader):
            assert index.facets("*", user=LOCAL_ADMIN).total == 40
            assert index.facets("alpha", user=LOCAL_ADMIN).as_dicts()["tags"]["new"] == 1
            assert index.facets("*", user=LOCAL_ADMIN).total == 40
        writer.delete([1000, 1])
        for index in (writer, reader):
            facets = index.facets("alpha", user=LOCAL_ADMIN)
            assert facets.total == 38 and "new" not in facets.as_dicts()["tags"]
    finally:
        writer.close()
        reader.close()


# ---------------------------------------------------------------- the fast sidecar reader

import datetime as dt  # noqa: E402
import random  # noqa: E402

import yaml  # noqa: E402

from benchmarks.gen_archive import Generator, Spec, sidecar_text  # noqa: E402
from paperfs.archive.document import (ArchiveInfo, Document, Grants, OriginalInfo,  # noqa: E402
                              Permissions, dumps, loads, loads_fast)
from paperfs.errors import SidecarError  # noqa: E402

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
        notes=tuple(rng.choices(words, k=rng.randint(0, 2))),
        source={"kind": "generated", "path": "x.pdf"}, language=rng.choice([None, "deu"]),
        content=content)


def _same_reading(text: str) -> None:
    try:
        expected = loads(text, "x.yml")
    except SidecarError as exc:
        with pytest.raises(SidecarError) as info:
            loads_fast(text, "x.yml")
        assert str(info.value) == str(exc)
        return
    assert loads_fast(text, "x.yml") == expected


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
    from paperfs.archive.document import _fast_mapping

    doc, _, _ = Generator(Spec(count=5, seed=1)).document(2)
    for text in (sidecar_text(doc), dumps(doc)):
        assert _fast_mapping(text) == yaml.load(text, Loader=yaml.CSafeLoader)


PLAN_QUERIES = ["invoice", "invoice tag:paid created:[2018 to 2020]", "invoice OR tag:paid",
                "invoice -tag:paid", "(invoice OR tag:paid) created:2019",
                "correspondent:acme OR title:report", "zebra asn:4242", "created:2019 -invoice"]


@pytest.mark.parametrize("query", PLAN_QUERIES)
def test_the_full_text_match_is_never_run_once_per_row(perf_corpus: Corpus, query: str) -> None:
    """A MATCH evaluated inside a join loop (FTS5 looked up by rowid per row)
    recounts BM25's statistics every time: seconds on a large index. Every
    statement a search or facet count runs (apart from the snippet look-up,
    which is per page row by design) must scan the full-text index at most
    once per MATCH."""
    index: SqliteIndex = perf_corpus.index
    statements: list[str] = []
    index.db.set_trace_callback(statements.append)
    try:
        for user in (LOCAL_ADMIN, ALICE):
            for sort in ("relevance", "-created"):
                index.search(query, user=user, sort=sort, now=NOW)
            index.facets(query, user=user, now=NOW)
    finally:
        index.db.set_trace_callback(None)
    checked = 0
    for sql in statements:
        if not sql.lstrip().upper().startswith(("SELECT", "WITH")) or "snippet(" in sql:
            continue
        plan = [row[3] for row in index.db.execute("EXPLAIN QUERY PLAN " + sql)]
        # FTS5's plan string: "M" a MATCH, "=" a rowid equality (one row at a time)
        per_row = [line for line in plan if "VIRTUAL TABLE INDEX" in line
                   and {"=", "M"} <= set(line.split("INDEX", 1)[1])]
        assert not per_row, f"{query!r}: {sql}\n" + "\n".join(plan)
        checked += 1
    assert checked
