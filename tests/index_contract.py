"""The contract every index backend keeps (paperfs.index.base.Index).

A backend's test module subclasses ``IndexContract`` and provides a
class-scoped fixture ``corpus`` returning a ``Corpus`` whose ``index`` holds
every document of ``build_corpus`` (see tests/test_index_sqlite.py):

    class TestSqliteContract(IndexContract):
        @pytest.fixture(scope="class")
        def corpus(self, tmp_path_factory): ...

Expected answers come from an oracle: ``paperfs.search.match.matches`` (the
query language evaluated in Python, one document at a time) over the same
documents, plus the documented permission rule. So the contract is "the
backend finds exactly what the language says", not a list of hand-counted
numbers.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from benchmarks.gen_archive import Spec, generate, sidecar_text, tiny_pdf
from paperfs.archive.document import ArchiveInfo, Document, Grants, OriginalInfo, Permissions
from paperfs.index.base import Index
from paperfs.index.model import LOCAL_ADMIN, User
from paperfs.search.match import _Matcher, fold, matches
from paperfs.index.sqlitelib import sqlite3
from paperfs.search.parser import parse
from paperfs.search.syntax_error import QuerySyntaxError

#: the frozen clock of every relative date in the contract
NOW = dt.datetime(2024, 6, 12, 15, 30, tzinfo=ZoneInfo("Europe/Berlin"))
GENERATED = 2500
ALICE = User("alice")
BOB = User("bob", groups=("family",))
CAROL = User("carol", groups=("family",))
NOBODY = User("mallory")


def visible(doc: Document, user: User) -> bool:
    """The documented rule (paperfs/index/model.py User)."""
    if user.superuser or doc.owner is None or doc.owner == user.name:
        return True
    p = doc.permissions
    if user.name in p.view.users or user.name in p.change.users:
        return True
    return bool(set(user.groups) & (set(p.view.groups) | set(p.change.groups)))


def _hand(doc_id: int, title: str, content: str, *, created: dt.date = dt.date(2023, 5, 4),
          **kw: object) -> Document:
    pdf = tiny_pdf(doc_id)
    import hashlib

    sha = hashlib.sha256(pdf).hexdigest()
    added = kw.pop("added", dt.datetime(2023, 5, 6, 9, 0, tzinfo=dt.timezone.utc))
    return Document(
        id=doc_id, title=title, created=created, added=added, modified=added,  # type: ignore[arg-type]
        original=OriginalInfo(filename=f"hand_{doc_id}.pdf", mime_type="application/pdf",
                              sha256=sha, path=f"originals/{doc_id // 1000:04d}/{doc_id:07d}.pdf"),
        archive=ArchiveInfo(sha256=sha, pages=1), content=content,
        source={"kind": "generated", "path": f"hand_{doc_id}.pdf"}, **kw)  # type: ignore[arg-type]


HAND_FIRST = 900_001


def hand_documents() -> list[Document]:
    """Documents with known words, beside the generated ones."""
    i = iter(range(HAND_FIRST, HAND_FIRST + 100))
    filler = " ".join(["lorem ipsum dolor sit amet"] * 30)
    return [
        # ranking: a title hit must rank above body hits
        _hand(next(i), "Quokka habitat report", "A short note. " + filler),
        _hand(next(i), "Annual summary", f"{filler} quokka quokka quokka were seen. {filler}"),
        _hand(next(i), "Field notes", f"{filler} one quokka. {filler}"),
        # phrases, diacritics, wildcards
        _hand(next(i), "Electricity bill", "Your electricity bill for March. Productname "
              "Müller-Lüdenscheidt GmbH, production-name 4711.", correspondent="Müller AG",
              tags=("Büro", "tax 2024")),
        _hand(next(i), "Bill of electricity", "bill electricity reversed order"),
        # more like this: three related, one not
        _hand(next(i), "Xylophone maintenance", "xylophone marimba glockenspiel vibraphone "
              "mallets orchestra tuning resonator " * 3),
        _hand(next(i), "Marimba repair", "marimba xylophone resonator tuning mallets "
              "percussion orchestra " * 3),
        _hand(next(i), "Glockenspiel invoice", "glockenspiel vibraphone mallets xylophone "
              "orchestra invoice " * 3),
        _hand(next(i), "Garden hose warranty", "garden hose nozzle warranty sprinkler " * 5),
        # permissions
        _hand(next(i), "Alice private zebra", "zebra secret", owner="alice"),
        _hand(next(i), "Bob private zebra", "zebra secret", owner="bob"),
        _hand(next(i), "Shared with family zebra", "zebra secret", owner="alice",
              permissions=Permissions(view=Grants(groups=("family",)))),
        _hand(next(i), "Shared with carol zebra", "zebra secret", owner="bob",
              permissions=Permissions(change=Grants(users=("carol",)))),
        _hand(next(i), "Public zebra", "zebra notice for everyone"),
        # notes, asn, dates at the edge of the frozen clock
        _hand(next(i), "Note holder", "plain text", notes=("remember the kiwifruit",), asn=4242),
        _hand(next(i), "Yesterday's letter", "kumquat", created=dt.date(2024, 6, 11),
              added=dt.datetime(2024, 6, 11, 21, 59, tzinfo=dt.timezone.utc)),
        _hand(next(i), "Today's letter", "kumquat", created=dt.date(2024, 6, 12),
              added=dt.datetime(2024, 6, 12, 6, 0, tzinfo=dt.timezone.utc)),
        # untitled-looking and empty content
        _hand(next(i), "Empty scan", ""),
        # custom fields (declared for the queries as CUSTOM_FIELDS says)
        _hand(next(i), "Bandicoot invoice", "bandicoot", custom_fields={
            "amount": "EUR150.00", "due": dt.date(2024, 6, 20), "paid": True,
            "priority": "high", "related": [HAND_FIRST, HAND_FIRST + 1], "remark": "Müller"}),
        _hand(next(i), "Bandicoot reminder", "bandicoot", custom_fields={
            "amount": "EUR50.00", "due": dt.date(2024, 12, 31), "paid": False,
            "priority": "Normal", "weight": 3.5}),
        _hand(next(i), "Bandicoot receipt", "bandicoot", custom_fields={
            "amount": "USD200.50", "due": "2023-01-01", "priority": "low", "weight": 4}),
        _hand(next(i), "Bandicoot estimate", "bandicoot", custom_fields={
            "due": None, "amount": "EUR99.995", "related": []}),
        _hand(next(i), "Bandicoot legacy", "bandicoot", custom_fields={
            "Legacy Field": "kept as it is", "remark": "", "paid": "yes"}),
    ]


@dataclass
class Corpus:
    root: Path
    docs: dict[int, Document]
    paths: dict[int, str]
    index: Index | None = None
    extra: dict = field(default_factory=dict)


def write_hand_documents(root: Path, docs: list[Document]) -> dict[int, str]:
    paths = {}
    for doc in docs:
        # sidecar_text writes no custom fields; JSON is YAML flow style
        text = sidecar_text(doc).replace("custom_fields: {}\n", "custom_fields: " + json.dumps(
            dict(doc.custom_fields), default=str, ensure_ascii=False) + "\n")
        rel = f"Hand/{doc.created.year}/{doc.title} [{doc.id}]"
        sidecar = root / "archive" / (rel + ".yml")
        sidecar.parent.mkdir(parents=True, exist_ok=True)
        pdf = tiny_pdf(doc.id)
        (root / "archive" / (rel + ".pdf")).write_bytes(pdf)
        original = root / doc.original.path
        original.parent.mkdir(parents=True, exist_ok=True)
        original.write_bytes(pdf)
        sidecar.write_text(text, encoding="utf-8")
        paths[doc.id] = rel
    return paths


def build_corpus(root: Path, count: int = GENERATED) -> Corpus:
    """A data root with ``count`` generated documents plus the hand-made ones."""
    gen = generate(root, Spec(count=count, owners=("alice", "bob"), groups=("family",),
                              first_year=2015, years=10), keep_docs=True)
    hand = hand_documents()
    docs = {d.id: d for d in gen.docs}
    paths = dict(gen.paths)
    paths.update(write_hand_documents(root, hand))
    docs.update({d.id: d for d in hand})
    (root / ".paperfs" / "next_id").write_text(f"{HAND_FIRST + 100}\n")
    return Corpus(root=root, docs=docs, paths=paths)


def oracle(corpus: Corpus) -> dict[int, _Matcher]:
    """One matcher per document (each keeps its folded words between queries):
    the same as ``matches(node, doc, path=..., now=NOW)``, only faster."""
    if "matchers" not in corpus.extra:
        assert matches(parse("*"), next(iter(corpus.docs.values())), now=NOW)
        corpus.extra["matchers"] = {i: _Matcher(d, corpus.paths[i], NOW.tzinfo)
                                    for i, d in corpus.docs.items()}
    return corpus.extra["matchers"]


# ---------------------------------------------------------------- queries checked against the oracle

FIELD_QUERIES = [
    "invoice",
    "Invoice",
    "invoice electricity",
    "invoice OR receipt",
    "invoice -tag:paid",
    "-tag:paid",
    "NOT tag:*",
    "tag:*",
    "tag:paid",
    "tag:PAID",
    'tag:"tax 2024"',
    "tag:büro",
    "tag:buro",
    "tag:pa*",
    "tag:p?id",
    "tags:(paid OR unpaid)",
    "title:invoice",
    "title:(invoice receipt)",
    "content:total",
    "correspondent:acme",
    'correspondent:"müller ag"',
    "correspondent:muller",
    "correspondent:*",
    "NOT correspondent:*",
    "type:invoice",
    'type:"tax assessment"',
    "NOT type:*",
    "owner:alice",
    "owner:ALICE",
    "NOT owner:*",
    "owner:*",
    "note:kiwifruit",
    "note:*",
    "asn:4242",
    "asn:[1 to 200]",
    "asn:{1 to 200}",
    "asn:>2000",
    "asn:*",
    "NOT asn:*",
    "id:17",
    "id:[10 to 20]",
    "path:hand",
    "path:unknown",
    '"electricity bill"',
    '"bill electricity"',
    "quokka",
    "produ*",
    "produ*name",
    "inv?ice",
    "*voice",
    "müller",
    "muller",
    "lüdenscheidt",
    "created:2018",
    "created:2018-03",
    "created:2018-03-15",
    "created:[2016 to 2017]",
    "created:[2016 to 2017}",
    "created:{2016 to 2017]",
    "created:>2024-01-01",
    "created:>=2024-01-01",
    "created:<2016",
    "created:<=2015-06",
    "created:[2020 to]",
    "created:[to 2015-03]",
    "added:2019",
    "modified:[2020-01-01 to 2020-06-30]",
    'created:"last month"',
    'created:"this month"',
    'created:"this year"',
    'created:"last year"',
    'created:"last week"',
    "created:today",
    "created:yesterday",
    "added:today",
    "added:yesterday",
    "added:[-1 week to now]",
    "added:[-3 months to now]",
    "created:>-30d",
    'created:"last quarter"',
    "invoice AND (acme OR globex) created:[2019 to 2021] -tag:paid",
    "(tag:tax OR tag:car) AND NOT (correspondent:acme OR type:receipt)",
    "invoice OR tag:car",
    "NOT (invoice OR receipt)",
    "-invoice -receipt",
    "zebra",
    "kumquat",
    "*",
]


#: the custom fields the CUSTOM_QUERIES name (fields.yml types), and the queries
CUSTOM_FIELDS = {"amount": "monetary", "due": "date", "paid": "boolean", "priority": "select",
                 "related": "document_link", "remark": "text", "weight": "number"}
CUSTOM_QUERIES = [
    "amount:>100",
    "amount:>=150",
    "amount:150",
    "amount:EUR150",
    "amount:[50 to 200]",
    "amount:{50 to 200}",
    "amount:[to 99.995]",
    "amount:<100",
    "due:[now to +30d]",
    "due:<2025-01-01",
    "due:2024",
    "due:>=2024-12-31",
    "due:2023-01-01",
    "paid:true",
    "paid:false",
    "-paid:true",
    "priority:high",
    "priority:NORMAL",
    'priority:"low"',
    "has:due",
    "-has:due",
    "due:*",
    "has:amount AND NOT paid:true",
    "has:remark",
    "related:900001",
    "remark:muller",
    "remark:müller",
    "weight:[3 to 4]",
    "weight:<4",
    "bandicoot amount:>60",
    "kumquat OR amount:>100",
    "bandicoot -has:weight",
]


class IndexContract:
    """Inherit in a ``Test…`` class that provides the ``corpus`` fixture."""

    # ------------------------------------------------------------ helpers

    def expected(self, corpus: Corpus, query: str, user: User = LOCAL_ADMIN) -> set[int]:
        node = parse(query, now=NOW)
        return {i for i, m in oracle(corpus).items()
                if visible(corpus.docs[i], user) and m.match(node)}

    def all_ids(self, index: Index, query: str, user: User = LOCAL_ADMIN,
                sort: str = "relevance") -> list[int]:
        out: list[int] = []
        offset = 0
        while True:
            page = index.search(query, user=user, sort=sort, limit=1000, offset=offset,
                                highlight=False, now=NOW)
            out.extend(page.ids())
            offset += 1000
            if offset >= page.total:
                return out

    # ------------------------------------------------------------ the language

    @pytest.mark.parametrize("query", FIELD_QUERIES)
    def test_finds_what_the_language_says(self, corpus: Corpus, query: str) -> None:
        index = corpus.index
        ids = self.all_ids(index, query)
        assert len(ids) == len(set(ids)), "no document twice"
        expected = self.expected(corpus, query)
        assert set(ids) == expected, (
            f"{query!r}: missing {sorted(expected - set(ids))[:10]}, "
            f"unexpected {sorted(set(ids) - expected)[:10]}")
        first = index.search(query, user=LOCAL_ADMIN, limit=5, now=NOW)
        assert first.total == len(expected)

    @pytest.mark.parametrize("query", CUSTOM_QUERIES)
    def test_custom_field_conditions(self, corpus: Corpus, query: str) -> None:
        node = parse(query, now=NOW, custom=CUSTOM_FIELDS)
        ids = set(self.all_ids(corpus.index, node))  # type: ignore[arg-type]
        expected = {i for i, m in oracle(corpus).items() if m.match(node)}
        assert ids == expected, (f"{query!r}: missing {sorted(expected - ids)[:10]}, "
                                 f"unexpected {sorted(ids - expected)[:10]}")
        assert corpus.index.facets(node, user=LOCAL_ADMIN).total == len(expected)

    def test_custom_field_answers_are_the_documented_ones(self, corpus: Corpus) -> None:
        titles = {d.id: d.title for d in corpus.docs.values()}

        def found(query: str) -> set[str]:
            node = parse(query, now=NOW, custom=CUSTOM_FIELDS)
            return {titles[i] for i in self.all_ids(corpus.index, node)}  # type: ignore[arg-type]

        assert found("amount:>100") == {"Bandicoot invoice", "Bandicoot receipt"}
        assert found("due:[now to +30d]") == {"Bandicoot invoice"}
        assert found("bandicoot -has:due") == {"Bandicoot estimate", "Bandicoot legacy"}
        # "yes" was never checked against a declaration: a text, not true
        assert found("paid:true") == {"Bandicoot invoice"}
        assert found("remark:muller") == {"Bandicoot invoice"}
        assert found("amount:[to 99.995]") == {"Bandicoot reminder", "Bandicoot estimate"}

    def test_a_generated_corpus_is_big_enough(self, corpus: Corpus) -> None:
        assert corpus.index.count() == len(corpus.docs) >= GENERATED

    def test_node_queries_work_too(self, corpus: Corpus) -> None:
        node = parse("tag:paid created:2019", now=NOW)
        by_text = corpus.index.search("tag:paid created:2019", user=LOCAL_ADMIN, now=NOW)
        by_node = corpus.index.search(node, user=LOCAL_ADMIN)
        assert by_text.ids() == by_node.ids() and by_text.total > 0

    def test_syntax_errors_are_raised_before_the_backend(self, corpus: Corpus) -> None:
        with pytest.raises(QuerySyntaxError):
            corpus.index.search("invoice AND (acme", user=LOCAL_ADMIN)
        with pytest.raises(QuerySyntaxError):
            corpus.index.facets("foo:bar", user=LOCAL_ADMIN)

    # ------------------------------------------------------------ ranking

    def test_title_hit_ranks_above_body_hits(self, corpus: Corpus) -> None:
        result = corpus.index.search("quokka", user=LOCAL_ADMIN, now=NOW)
        titles = [h.title for h in result.hits]
        assert titles[0] == "Quokka habitat report", titles
        assert set(titles) == {"Quokka habitat report", "Annual summary", "Field notes"}
        # more occurrences in the body rank above one
        assert titles.index("Annual summary") < titles.index("Field notes")
        assert result.hits[0].score > result.hits[1].score > 0

    def test_snippets_mark_the_matched_words(self, corpus: Corpus) -> None:
        result = corpus.index.search("glockenspiel mallets", user=LOCAL_ADMIN, now=NOW)
        assert result.total >= 2
        for hit in result.hits:
            marked = hit.marked("[", "]").lower()
            assert "[glockenspiel]" in marked or "[mallets]" in marked, marked
        plain = corpus.index.search("glockenspiel", user=LOCAL_ADMIN, highlight=False)
        assert all(h.snippet == "" for h in plain.hits)

    def test_snippet_for_a_query_without_words(self, corpus: Corpus) -> None:
        result = corpus.index.search("tag:paid", user=LOCAL_ADMIN, limit=3)
        assert all(h.snippet and "\x02" not in h.snippet for h in result.hits)

    # ------------------------------------------------------------ sorting and paging

    @pytest.mark.parametrize("sort", ["created", "-created", "added", "-added", "title",
                                      "-title", "id", "-id", "modified"])
    @pytest.mark.parametrize("query", ["tag:tax OR tag:car", "invoice -tag:paid", "invoice"])
    def test_sorts(self, corpus: Corpus, sort: str, query: str) -> None:
        ids = self.all_ids(corpus.index, query, sort=sort)
        assert set(ids) == self.expected(corpus, query)
        docs = [corpus.docs[i] for i in ids]
        field = sort.lstrip("-")

        def key(d: Document) -> object:
            if field == "title":
                return fold(d.title)
            return getattr(d, field) if field != "id" else d.id

        keys = [(key(d), d.id) for d in docs]
        assert keys == sorted(keys, reverse=sort.startswith("-"))

    @pytest.mark.parametrize("query,sort", [("rupi OR invoice", "relevance"),
                                            ("tag:paid", "relevance"),
                                            ("*", "-created"), ("*", "title"),
                                            ("invoice -tag:paid", "relevance"),
                                            ("invoice -tag:paid", "-created")])
    def test_paging_has_no_gaps_or_duplicates(self, corpus: Corpus, query: str,
                                              sort: str) -> None:
        index = corpus.index
        total = index.search(query, user=LOCAL_ADMIN, limit=0, now=NOW).total
        pages: list[int] = []
        for offset in range(0, min(total, 400), 37):
            page = index.search(query, user=LOCAL_ADMIN, sort=sort, limit=37, offset=offset,
                                highlight=False, now=NOW)
            assert page.total == total
            pages.extend(page.ids())
        one = index.search(query, user=LOCAL_ADMIN, sort=sort, limit=len(pages),
                           highlight=False, now=NOW)
        assert pages == one.ids()
        assert len(set(pages)) == len(pages)

    def test_offset_beyond_the_end(self, corpus: Corpus) -> None:
        result = corpus.index.search("quokka", user=LOCAL_ADMIN, offset=50)
        assert result.total == 3 and result.hits == ()

    # ------------------------------------------------------------ permissions

    @pytest.mark.parametrize("user", [ALICE, BOB, CAROL, NOBODY], ids=lambda u: u.name)
    @pytest.mark.parametrize("query", ["zebra", "*", "invoice -tag:paid", "tag:tax",
                                       "created:2020"])
    def test_users_see_only_what_they_may(self, corpus: Corpus, user: User,
                                          query: str) -> None:
        ids = self.all_ids(corpus.index, query, user=user)
        assert set(ids) == self.expected(corpus, query, user)
        facets = corpus.index.facets(query, user=user, now=NOW)
        assert facets.total == len(ids)

    def test_zebra_permissions_in_detail(self, corpus: Corpus) -> None:
        def titles(user: User) -> set[str]:
            return {h.title for h in corpus.index.search("zebra", user=user, now=NOW).hits}

        assert titles(ALICE) == {"Alice private zebra", "Shared with family zebra",
                                 "Public zebra"}
        assert titles(BOB) == {"Bob private zebra", "Shared with family zebra",
                               "Shared with carol zebra", "Public zebra"}
        assert titles(CAROL) == {"Shared with family zebra", "Shared with carol zebra",
                                 "Public zebra"}
        assert titles(NOBODY) == {"Public zebra"}
        assert len(titles(LOCAL_ADMIN)) == 5

    def test_get_is_filtered(self, corpus: Corpus) -> None:
        bobs = next(d for d in corpus.docs.values() if d.title == "Bob private zebra")
        assert corpus.index.get(bobs.id, ALICE) is None
        got = corpus.index.get(bobs.id, BOB)
        assert got is not None and got.title == bobs.title and got.owner == "bob"
        assert "zebra secret" in got.content
        assert corpus.index.get(10**9, LOCAL_ADMIN) is None

    # ------------------------------------------------------------ listings

    @pytest.mark.parametrize("query", ["zebra", "tag:paid created:[2018 to 2020]",
                                       "invoice -tag:paid", '"..."'])
    @pytest.mark.parametrize("user", [LOCAL_ADMIN, ALICE, BOB, NOBODY], ids=lambda u: u.name)
    def test_listing_is_every_visible_match_by_created_and_id(
            self, corpus: Corpus, query: str, user: User) -> None:
        """``Search.listing`` (a WebDAV folder): the matches the user may view, streamed
        by (created, id), each with its path and archive checksum."""
        entries = list(corpus.index.listing(parse(query, now=NOW), user))
        expected = sorted(self.expected(corpus, query, user),
                          key=lambda i: (corpus.docs[i].created, i))
        assert [e.id for e in entries] == expected
        for entry in entries[:50]:
            doc = corpus.docs[entry.id]
            assert (entry.title, entry.created, entry.path, entry.sha256) == (
                doc.title, doc.created, corpus.paths[entry.id], doc.archive.sha256)

    def test_listing_keeps_what_keep_keeps(self, corpus: Corpus) -> None:
        some = Counter(d.correspondent for d in corpus.docs.values()).most_common(2)
        name = next(c for c, _ in some if c is not None)
        wanted = sorted((i for i in self.expected(corpus, "correspondent:*")
                         if corpus.docs[i].correspondent == name),
                        key=lambda i: (corpus.docs[i].created, i))
        kept = [e.id for e in corpus.index.listing(parse("correspondent:*", now=NOW),
                                                    LOCAL_ADMIN,
                                                    keep=lambda e: e.correspondent == name)]
        assert wanted and kept == wanted

    # ------------------------------------------------------------ facets

    @pytest.mark.parametrize("query", ["*", "invoice", "tag:paid created:[2018 to 2020]",
                                       "zebra"])
    @pytest.mark.parametrize("user", [LOCAL_ADMIN, ALICE], ids=lambda u: u.name)
    def test_facets_count_the_matches(self, corpus: Corpus, query: str, user: User) -> None:
        expected = [corpus.docs[i] for i in self.expected(corpus, query, user)]
        facets = corpus.index.facets(query, user=user, now=NOW)
        assert facets.total == len(expected)
        got = facets.as_dicts()
        # tags are counted case- and accent-insensitively ("Büro" and "büro" are one tag)
        tags: Counter[str] = Counter(fold(t) for d in expected for t in d.tags)
        assert {fold(k): v for k, v in got["tags"].items()} == dict(tags)
        assert len(got["tags"]) == len(tags)
        assert got["correspondents"] == dict(Counter(d.correspondent for d in expected
                                                     if d.correspondent))
        assert got["types"] == dict(Counter(d.document_type for d in expected
                                            if d.document_type))
        assert got["years"] == dict(Counter(str(d.created.year) for d in expected))
        counts = [c.count for c in facets.tags]
        assert counts == sorted(counts, reverse=True)

    def test_facets_of_nothing(self, corpus: Corpus) -> None:
        facets = corpus.index.facets("produ*zzzz", user=LOCAL_ADMIN)
        assert facets.total == 0 and facets.tags == ()

    # ------------------------------------------------------------ more like this, suggest

    def test_more_like_this(self, corpus: Corpus) -> None:
        xylo = next(d for d in corpus.docs.values() if d.title == "Xylophone maintenance")
        result = corpus.index.more_like_this(xylo.id, LOCAL_ADMIN, limit=5)
        titles = [h.title for h in result.hits]
        assert xylo.id not in result.ids()
        assert set(titles[:2]) == {"Marimba repair", "Glockenspiel invoice"}, titles
        assert "Garden hose warranty" not in titles

    def test_more_like_this_respects_permissions(self, corpus: Corpus) -> None:
        bobs = next(d for d in corpus.docs.values() if d.title == "Bob private zebra")
        assert corpus.index.more_like_this(bobs.id, ALICE).hits == ()
        for hit in corpus.index.more_like_this(bobs.id, BOB, limit=50).hits:
            assert visible(corpus.docs[hit.id], BOB)

    def test_suggest_words_and_values(self, corpus: Corpus) -> None:
        words = corpus.index.suggest("xylo", user=LOCAL_ADMIN)
        assert ("xylophone", None) in [(s.text, s.field) for s in words]
        tags = corpus.index.suggest("pa", field="tag", user=LOCAL_ADMIN)
        assert "paid" in [s.text for s in tags] and all(s.field == "tag" for s in tags)
        assert all(s.query.startswith("tag:") for s in tags)
        corr = corpus.index.suggest("mül", field="correspondent", user=LOCAL_ADMIN)
        assert "Müller AG" in [s.text for s in corr]
        assert corpus.index.suggest("mul", field="correspondent", user=LOCAL_ADMIN)
        both = corpus.index.suggest("inv", user=LOCAL_ADMIN, limit=5)
        assert {"invoice"} <= {s.text.lower() for s in both}
        assert len(both) <= 5
        counts = [s.count for s in both]
        assert counts == sorted(counts, reverse=True)

    def test_suggest_respects_permissions(self, corpus: Corpus) -> None:
        # "kiwifruit" is only in a document without owner; "secret" words of private
        # documents must not leak to others.
        assert corpus.index.suggest("secre", user=NOBODY) == []
        assert corpus.index.suggest("secre", user=ALICE)[0].count == 2

    # ------------------------------------------------------------ hostile input

    @pytest.mark.parametrize("query", [
        "NEAR(quokka report)", 'NEAR("quokka" "report", 3)', "quokka*", "^quokka",
        '"^quokka"', "'; DROP TABLE documents; --", '"\'; DROP TABLE documents; --"',
        '"title: quokka"', '"{title}: quokka"', "{title}", '"a" "b"', '"quokka" *',
        '"quokka * report"', "quokka AND", "x:y", '"NOT"', '"AND" "OR"', 'title:"NEAR"',
        '"col:*"', "rowid:1", '"\\""', '"a\\"b"', "ab'cd", "a''b", "*", "**", "?", "a?b*c",
        "\x00quokka", '"\x00"', "%_", "a%", "quo%", "[abc]*", "tag:[x", 'tag:"[x]*"',
        "tag:*]", "é*", "title:(NEAR OR quokka)", "content:-", "--", "+-quokka",
        '""', "quokka" + " OR quokka" * 20, "((((((((((quokka))))))))))",
    ])
    def test_fts_and_sql_syntax_in_queries_is_just_text(self, corpus: Corpus,
                                                        query: str) -> None:
        before = corpus.index.count()
        try:
            node = parse(query, now=NOW)
        except QuerySyntaxError:
            with pytest.raises(QuerySyntaxError):
                corpus.index.search(query, user=LOCAL_ADMIN, now=NOW)
            return
        try:
            ids = self.all_ids(corpus.index, query)
        except sqlite3.Error as exc:  # pragma: no cover - the failure we guard against
            pytest.fail(f"{query!r} reached SQLite: {exc}")
        expected = {i for i, m in oracle(corpus).items() if m.match(node)}
        assert set(ids) == expected
        assert corpus.index.count() == before

    # ------------------------------------------------------------ writing

    def test_upsert_is_searchable_at_once_and_delete_removes(self, corpus: Corpus) -> None:
        from paperfs.index.base import IndexEntry

        doc = _hand(HAND_FIRST + 99, "Freshly filed wombat", "the wombat arrived today",
                    tags=("new",))
        corpus.index.upsert([IndexEntry(doc=doc, path="Hand/fresh [x]", mtime_ns=1, size=2)])
        try:
            result = corpus.index.search("wombat", user=LOCAL_ADMIN)
            assert result.ids() == [doc.id]
            either = "title:wombat OR title:marsupial"
            assert corpus.index.facets(either, user=LOCAL_ADMIN).as_dicts()["tags"] == {
                "new": 1}
            changed = doc.replace(title="Renamed marsupial", tags=())
            corpus.index.upsert([IndexEntry(doc=changed, path="Hand/fresh [x]", mtime_ns=2,
                                            size=2)])
            assert corpus.index.search("title:wombat", user=LOCAL_ADMIN).total == 0
            assert corpus.index.search("title:marsupial", user=LOCAL_ADMIN).ids() == [doc.id]
            assert corpus.index.search("tag:new", user=LOCAL_ADMIN).total == 0
            # facet counts (cached or not) follow the change
            assert corpus.index.facets(either, user=LOCAL_ADMIN).as_dicts()["tags"] == {}
        finally:
            corpus.index.delete([doc.id])
        assert corpus.index.search("wombat OR marsupial", user=LOCAL_ADMIN).total == 0
        assert corpus.index.ref(doc.id) is None

    def test_words_split_at_every_other_character(self, corpus: Corpus) -> None:
        """A word is a run of letters and digits (FTS5 unicode61, the embedded index):
        dots, dashes, apostrophes and underscores separate words, so ``2018`` finds
        "26.11.2018" and ``58`` finds "5.58" on every backend."""
        from paperfs.index.base import IndexEntry

        doc = _hand(HAND_FIRST + 98, "Numbat receipt",
                    "Paid on 26.11.2018: 5.58 EUR by e-mail, ref numbat_kx7 (Zoë's copy), "
                    "Gru\u0308nwald")  # NFD: u + combining diaeresis
        corpus.index.upsert([IndexEntry(doc=doc, path="Hand/numbat", mtime_ns=1, size=2)])
        try:
            def found(query: str) -> list[int]:
                return corpus.index.search(f"title:numbat {query}", user=LOCAL_ADMIN).ids()

            for query in ("2018", "26", "11", "26.11.2018", '"26 11 2018"', "5.58", "58",
                          "mail", "e-mail", "kx7", "numbat_kx7", "zoe", "zoë's", "s",
                          "20?8", "?", "k?7", "grünwald", "grunwald"):
                assert found(query) == [doc.id], query
                # path rules (search/match.py) split words the same way
                assert matches(parse(query), doc, now=NOW), query
            for query in ("11.26.2018", "201", "numbatkx7", "zoes", "2018.11"):
                assert found(query) == [], query
                assert not matches(parse(query), doc, now=NOW), query
        finally:
            corpus.index.delete([doc.id])


class CatalogContract:
    """The catalog's exact lookups (paperfs.index.catalog.Catalog), for a ``corpus``
    whose ``index`` is a Catalog (the embedded index: the one implementation)."""

    def test_entry_has_owner_and_permissions(self, corpus: Corpus) -> None:
        shared = next(d for d in corpus.docs.values() if d.title == "Shared with family zebra")
        for entry in (corpus.index.entry(shared.id),
                      corpus.index.entry_by_path(corpus.paths[shared.id])):
            assert entry is not None and entry.id == shared.id
            assert entry.owner == "alice" and entry.permissions == shared.permissions
            assert entry.sha256 == shared.archive.sha256
        assert corpus.index.entry(10**9) is None
        assert corpus.index.entry_by_path("no/such/path") is None

    def test_entries_in_one_lookup(self, corpus: Corpus) -> None:
        ids = sorted(corpus.docs)[:40] + [10**9]
        got = corpus.index.entries(ids)
        assert sorted(got) == ids[:40]
        assert all(got[i].path == corpus.paths[i] and got[i].permissions is not None
                   for i in got)
        assert corpus.index.entries([]) == {}

    @pytest.mark.parametrize("user", [LOCAL_ADMIN, ALICE, BOB, NOBODY], ids=lambda u: u.name)
    def test_stream_is_every_visible_match_by_created_and_id(self, corpus: Corpus,
                                                              user: User) -> None:
        for query in ("zebra", "tag:paid", "created:2018 -invoice"):
            expected = sorted((i for i, m in oracle(corpus).items()
                               if visible(corpus.docs[i], user)
                               and m.match(parse(query, now=NOW))),
                              key=lambda i: (corpus.docs[i].created, i))
            got = [e.id for e in corpus.index.stream(parse(query, now=NOW), user)]
            assert got == expected, query

    def test_first_is_a_visible_match(self, corpus: Corpus) -> None:
        node = parse("zebra", now=NOW)
        hit = corpus.index.first(node, NOBODY)
        assert hit is not None and hit.title == "Public zebra"
        assert corpus.index.first(node, NOBODY, keep=lambda h: h.title != "Public zebra") is None
        assert corpus.index.first(parse("nosuchwordanywhere"), LOCAL_ADMIN) is None

    def test_any_visible_under_a_folder(self, corpus: Corpus) -> None:
        bobs = next(d for d in corpus.docs.values() if d.title == "Bob private zebra")
        folder = corpus.paths[bobs.id].rsplit("/", 1)[0]
        assert corpus.index.any_visible_under(folder, LOCAL_ADMIN)
        assert corpus.index.any_visible_under(folder, BOB)
        mine = [i for i, p in corpus.paths.items() if p.startswith(folder + "/")]
        assert corpus.index.any_visible_under(folder, NOBODY) == any(
            visible(corpus.docs[i], NOBODY) for i in mine)
        assert not corpus.index.any_visible_under("No such folder", LOCAL_ADMIN)


def search_signature(index: Index, queries: list[str]) -> list[tuple[int, list[int]]]:
    """What a set of queries returns (for comparing two builds of one archive)."""
    out = []
    for q in queries:
        r = index.search(q, user=LOCAL_ADMIN, limit=50, now=NOW, highlight=False)
        out.append((r.total, r.ids()))
    return out


SIGNATURE_QUERIES = ["invoice", "quokka", "tag:paid created:[2018 to 2020]", "*",
                     "produ*", "correspondent:acme -tag:tax", "zebra"]
