"""The search query language: a table of queries and the trees they parse to.

The clock is frozen at Friday 2024-03-15 10:30 in Europe/Berlin, so that
"this month" spans the DST change of 2024-03-31 and weeks are visibly
Monday-based.
"""

from __future__ import annotations

import pickle
import random
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from paperfs.errors import PaperfsError
from paperfs.search import date_ranges as dates
from paperfs.search.parser import MAX_CLAUSES, MAX_DEPTH, MAX_QUERY_LENGTH, parse
from paperfs.search.query_string import to_query_string
from paperfs.search.syntax_error import QuerySyntaxError
from paperfs.search.tree import (
    And,
    DateRange,
    Exists,
    FieldEquals,
    MatchAll,
    Node,
    Not,
    NumberRange,
    Or,
    Phrase,
    Prefix,
    Term,
    Wildcard,
    walk,
)

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2024, 3, 15, 10, 30, tzinfo=BERLIN)  # a Friday


def D(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


def T(text: str, field: str | None = None) -> Term:
    return Term(field, text)


def P(*words: str, field: str | None = None) -> Phrase:
    return Phrase(field, tuple(words))


def A(*children: Node) -> And:
    return And(tuple(children))


def O(*children: Node) -> Or:
    return Or(tuple(children))


def DR(field: str, start: datetime | None, end: datetime | None) -> DateRange:
    return DateRange(field, start, end)


CASES: list[tuple[str, Node]] = [
    # --- empty, words, implicit AND --------------------------------------
    ("", MatchAll()),
    ("   \t\n ", MatchAll()),
    ("*", MatchAll()),
    ("invoice", T("invoice")),
    ("Invoice", T("invoice")),
    ("invoice electricity", A(T("invoice"), T("electricity"))),
    ("invoice  electricity\t2024", A(T("invoice"), T("electricity"), T("2024"))),
    ("Müller Straße", A(T("müller"), T("straße"))),
    ("e-mail", T("e-mail")),
    ("10:30", T("10:30")),
    ("invoice *", T("invoice")),
    # --- operators and precedence ----------------------------------------
    ("invoice AND acme", A(T("invoice"), T("acme"))),
    ("invoice OR receipt", O(T("invoice"), T("receipt"))),
    ("invoice and acme", A(T("invoice"), T("and"), T("acme"))),
    ("invoice or acme", A(T("invoice"), T("or"), T("acme"))),
    ("NOT draft", Not(T("draft"))),
    ("invoice NOT draft", A(T("invoice"), Not(T("draft")))),
    ("invoice AND NOT draft", A(T("invoice"), Not(T("draft")))),
    ("a AND b OR c", O(A(T("a"), T("b")), T("c"))),
    ("a OR b AND c", O(T("a"), A(T("b"), T("c")))),
    ("NOT a AND b", A(Not(T("a")), T("b"))),
    ("NOT a OR b", O(Not(T("a")), T("b"))),
    # juxtaposition binds loosest, as in Whoosh
    ("invoice acme OR globex", A(T("invoice"), O(T("acme"), T("globex")))),
    ("a OR b c OR d", A(O(T("a"), T("b")), O(T("c"), T("d")))),
    ("a OR b OR c", O(T("a"), T("b"), T("c"))),
    ("a AND b AND c d", A(T("a"), T("b"), T("c"), T("d"))),
    ("NOT NOT a", T("a")),
    ("-draft", Not(T("draft"))),
    ("+invoice -draft", A(T("invoice"), Not(T("draft")))),
    ("--a", T("a")),
    ("-(a OR b)", Not(O(T("a"), T("b")))),
    ('-"old draft"', Not(P("old", "draft"))),
    ("a OR -b", O(T("a"), Not(T("b")))),
    # --- parentheses ------------------------------------------------------
    ("(a OR b) c", A(O(T("a"), T("b")), T("c"))),
    ("(a OR b) AND (c OR d)", A(O(T("a"), T("b")), O(T("c"), T("d")))),
    ("((a))", T("a")),
    ("(a b) c", A(T("a"), T("b"), T("c"))),
    ("(a OR (b OR c))", O(T("a"), T("b"), T("c"))),
    ("a AND(b)", A(T("a"), T("b"))),
    ("NOT (a b)", Not(A(T("a"), T("b")))),
    # --- phrases ----------------------------------------------------------
    ('"electricity bill"', P("electricity", "bill")),
    ('"Electricity   Bill"', P("electricity", "bill")),
    ('"acme"', T("acme")),
    ('"acme*"', T("acme*")),
    ('"AND"', T("and")),
    ('"re:invoice"', T("re:invoice")),
    ('"say \\"hi\\" now"', P("say", '"hi"', "now")),
    ('"C:\\docs\\x"', T("c:\\docs\\x")),
    ('ab"cd ef"', A(T("ab"), P("cd", "ef"))),
    # --- wildcards --------------------------------------------------------
    ("acme*", Prefix(None, "acme")),
    ("produ*name", Wildcard(None, "produ*name")),
    ("inv?ice", Wildcard(None, "inv?ice")),
    ("*voice", Wildcard(None, "*voice")),
    ("ac**me**", Wildcard(None, "ac*me*")),
    ("acme**", Prefix(None, "acme")),
    # --- text fields ------------------------------------------------------
    ("title:invoice", T("invoice", "title")),
    ("TITLE:Invoice", T("invoice", "title")),
    ("title: invoice", T("invoice", "title")),
    ('title:"electricity bill"', P("electricity", "bill", field="title")),
    ("content:acme*", Prefix("content", "acme")),
    ('correspondent:"ACME Corp"', P("acme", "corp", field="correspondent")),
    ("correspondent:acme", T("acme", "correspondent")),
    ("type:invoice", T("invoice", "type")),
    ("document_type:Invoice", T("invoice", "type")),
    ("note:call", T("call", "note")),
    ("notes:call", T("call", "note")),
    ("path:acme/2024", T("acme/2024", "path")),
    ("storage_path:acme", T("acme", "path")),
    ("title:AND", T("and", "title")),
    ("title:a:b", T("a:b", "title")),
    ("title:-x", T("-x", "title")),
    ("title:(electricity OR gas)", O(T("electricity", "title"), T("gas", "title"))),
    (
        "title:(bill -draft tag:paid)",
        A(T("bill", "title"), Not(T("draft", "title")), FieldEquals("tag", "paid")),
    ),
    ("title:*", Exists("title")),
    # --- keyword fields ---------------------------------------------------
    ("tag:paid", FieldEquals("tag", "paid")),
    ("Tag:Paid", FieldEquals("tag", "paid")),
    ("tags:paid", FieldEquals("tag", "paid")),
    ('tag:"Tax  2024"', FieldEquals("tag", "tax 2024")),
    ('tag:"inv*"', FieldEquals("tag", "inv*")),
    ("tag:inv*", Prefix("tag", "inv")),
    ("tag:in?", Wildcard("tag", "in?")),
    ("tag:(paid OR open)", O(FieldEquals("tag", "paid"), FieldEquals("tag", "open"))),
    ("tag:(paid open)", A(FieldEquals("tag", "paid"), FieldEquals("tag", "open"))),
    ("tag:((a OR b) c)", A(O(FieldEquals("tag", "a"), FieldEquals("tag", "b")), FieldEquals("tag", "c"))),
    ("-tag:paid", Not(FieldEquals("tag", "paid"))),
    ("NOT tag:*", Not(Exists("tag"))),
    ("owner:Alice", FieldEquals("owner", "alice")),
    (
        "invoice tag:unpaid -tag:disputed correspondent:acme",
        A(
            T("invoice"),
            FieldEquals("tag", "unpaid"),
            Not(FieldEquals("tag", "disputed")),
            T("acme", "correspondent"),
        ),
    ),
    # --- numbers ----------------------------------------------------------
    ("asn:123", NumberRange("asn", 123, 123)),
    ("asn:007", NumberRange("asn", 7, 7)),
    ('asn:"12"', NumberRange("asn", 12, 12)),
    ("id:5", NumberRange("id", 5, 5)),
    ("archive_serial_number:5", NumberRange("asn", 5, 5)),
    ("asn:[10 to 20]", NumberRange("asn", 10, 20)),
    ("asn:[10 TO 20]", NumberRange("asn", 10, 20)),
    ("asn:{10 to 20}", NumberRange("asn", 11, 19)),
    ("asn:[10 to 20}", NumberRange("asn", 10, 19)),
    ("asn:[10 to]", NumberRange("asn", 10, None)),
    ("asn:[to 20]", NumberRange("asn", None, 20)),
    ("asn:[10 to *]", NumberRange("asn", 10, None)),
    ("asn:>5", NumberRange("asn", 6, None)),
    ("asn:>=5", NumberRange("asn", 5, None)),
    ("asn:<5", NumberRange("asn", None, 4)),
    ("asn:<=5", NumberRange("asn", None, 5)),
    ("asn:(1 OR 2)", O(NumberRange("asn", 1, 1), NumberRange("asn", 2, 2))),
    ("asn:*", Exists("asn")),
    ("asn:[* to *]", Exists("asn")),
    # --- absolute dates ---------------------------------------------------
    ("created:2024", DR("created", D(2024, 1, 1), D(2025, 1, 1))),
    ("created:2024-03", DR("created", D(2024, 3, 1), D(2024, 4, 1))),
    ("created:202403", DR("created", D(2024, 3, 1), D(2024, 4, 1))),
    ("created:2024-03-15", DR("created", D(2024, 3, 15), D(2024, 3, 16))),
    ("created:20240315", DR("created", D(2024, 3, 15), D(2024, 3, 16))),
    ("created:2024-12", DR("created", D(2024, 12, 1), D(2025, 1, 1))),
    ("created:2024-02-29", DR("created", D(2024, 2, 29), D(2024, 3, 1))),
    ("created:20240315103000", DR("created", D(2024, 3, 15, 10, 30), D(2024, 3, 15, 10, 30, 1))),
    ("created:2024-03-15T10:30", DR("created", D(2024, 3, 15, 10, 30), D(2024, 3, 15, 10, 31))),
    (
        "added:2024-03-15T09:30:00Z",
        DR(
            "added",
            datetime(2024, 3, 15, 9, 30, tzinfo=timezone.utc),
            datetime(2024, 3, 15, 9, 30, 1, tzinfo=timezone.utc),
        ),
    ),
    ('created:"2024-03"', DR("created", D(2024, 3, 1), D(2024, 4, 1))),
    ("CREATED:2024", DR("created", D(2024, 1, 1), D(2025, 1, 1))),
    ("created:[2005 to 2009]", DR("created", D(2005, 1, 1), D(2010, 1, 1))),
    ("created:[2005 TO 2009]", DR("created", D(2005, 1, 1), D(2010, 1, 1))),
    ("created:[2005 To 2009}", DR("created", D(2005, 1, 1), D(2009, 1, 1))),
    ("created:{2005 to 2009]", DR("created", D(2006, 1, 1), D(2010, 1, 1))),
    ("created:[2024-01 to 2024-03]", DR("created", D(2024, 1, 1), D(2024, 4, 1))),
    ("created:[2020 to]", DR("created", D(2020, 1, 1), None)),
    ("created:[to 2020]", DR("created", None, D(2021, 1, 1))),
    ("created:[2020 to *]", DR("created", D(2020, 1, 1), None)),
    ("created:[* to *]", Exists("created")),
    ("created:*", Exists("created")),
    ("created:>2024-01-01", DR("created", D(2024, 1, 2), None)),
    ("created:>=2024-01-01", DR("created", D(2024, 1, 1), None)),
    ("created:<2024-01-01", DR("created", None, D(2024, 1, 1))),
    ("created:<=2024-01-01", DR("created", None, D(2024, 1, 2))),
    ("created:>2023", DR("created", D(2024, 1, 1), None)),
    (
        "created:(2023 OR 2024-01)",
        O(DR("created", D(2023, 1, 1), D(2024, 1, 1)), DR("created", D(2024, 1, 1), D(2024, 2, 1))),
    ),
    # --- relative dates (now = Fri 2024-03-15 10:30 Berlin) ---------------
    ("added:today", DR("added", D(2024, 3, 15), D(2024, 3, 16))),
    ("modified:TODAY", DR("modified", D(2024, 3, 15), D(2024, 3, 16))),
    ("added:yesterday", DR("added", D(2024, 3, 14), D(2024, 3, 15))),
    ('created:"this week"', DR("created", D(2024, 3, 11), D(2024, 3, 18))),
    ('created:"last week"', DR("created", D(2024, 3, 4), D(2024, 3, 11))),
    ('created:"previous week"', DR("created", D(2024, 3, 4), D(2024, 3, 11))),
    ("created:last week", DR("created", D(2024, 3, 4), D(2024, 3, 11))),
    ("added:previous month", DR("added", D(2024, 2, 1), D(2024, 3, 1))),
    ('created:"this month"', DR("created", D(2024, 3, 1), D(2024, 4, 1))),
    ('created:"last month"', DR("created", D(2024, 2, 1), D(2024, 3, 1))),
    ('created:"this quarter"', DR("created", D(2024, 1, 1), D(2024, 4, 1))),
    ('created:"previous quarter"', DR("created", D(2023, 10, 1), D(2024, 1, 1))),
    ('created:"This  Year"', DR("created", D(2024, 1, 1), D(2025, 1, 1))),
    ('created:"last year"', DR("created", D(2023, 1, 1), D(2024, 1, 1))),
    ("added:[-1 week to now]", DR("added", D(2024, 3, 8, 10, 30), D(2024, 3, 15, 10, 30))),
    ("added:[-1 WEEK TO NOW]", DR("added", D(2024, 3, 8, 10, 30), D(2024, 3, 15, 10, 30))),
    ("added:[-1 month to now]", DR("added", D(2024, 2, 15, 10, 30), D(2024, 3, 15, 10, 30))),
    ("added:[-3 hours to now]", DR("added", D(2024, 3, 15, 7, 30), D(2024, 3, 15, 10, 30))),
    ("added:[now-7d to now]", DR("added", D(2024, 3, 8, 10, 30), D(2024, 3, 15, 10, 30))),
    ("added:[-1 year to]", DR("added", D(2023, 3, 15, 10, 30), None)),
    ('added:["last week" to now]', DR("added", D(2024, 3, 4), D(2024, 3, 15, 10, 30))),
    ("added:[yesterday to today]", DR("added", D(2024, 3, 14), D(2024, 3, 16))),
    ("added:>-7d", DR("added", D(2024, 3, 8, 10, 30), None)),
    ('added:>"-2 days"', DR("added", D(2024, 3, 13, 10, 30), None)),
    ("modified:<yesterday", DR("modified", None, D(2024, 3, 14))),
    (
        "created:(today OR last week)",
        O(DR("created", D(2024, 3, 15), D(2024, 3, 16)), DR("created", D(2024, 3, 4), D(2024, 3, 11))),
    ),
    # --- everything together ---------------------------------------------
    (
        "invoice AND (acme OR globex) -tag:paid created:[2005 to 2009]",
        A(
            T("invoice"),
            O(T("acme"), T("globex")),
            Not(FieldEquals("tag", "paid")),
            DR("created", D(2005, 1, 1), D(2010, 1, 1)),
        ),
    ),
    (
        'type:invoice correspondent:"ACME Corp" created:"previous quarter" NOT tag:void',
        A(
            T("invoice", "type"),
            P("acme", "corp", field="correspondent"),
            DR("created", D(2023, 10, 1), D(2024, 1, 1)),
            Not(FieldEquals("tag", "void")),
        ),
    ),
]


ERRORS: list[tuple[str, int, str]] = [
    # (query, position, a part of the reason)
    ("invoice AND (acme", 12, "unclosed parenthesis"),
    ("(a OR (b)", 0, "unclosed parenthesis"),
    ("a)", 1, "unmatched closing parenthesis"),
    ("()", 0, "empty parentheses"),
    ("tag:()", 4, "empty parentheses"),
    ('say "hello', 4, "unclosed quote"),
    ('""', 0, "empty quotes"),
    ("a AND", 2, "'AND' needs a search term after it"),
    ("AND a", 0, "'AND' needs a search term before it"),
    ("a OR OR b", 2, "'OR' needs a search term after it"),
    ("(a OR)", 3, "'OR' needs a search term after it"),
    ("a NOT", 2, "'NOT' needs a search term after it"),
    ("x - y", 2, "directly before the word"),
    ("x -", 2, "directly before the word"),
    ("(a -)", 3, "'-' needs a search term after it"),
    ("foo:bar", 0, "unknown field 'foo'"),
    ("corespondent:acme", 0, "did you mean 'correspondent'?"),
    ("invoice tga:paid", 8, "did you mean 'tag'?"),
    ("title:", 0, "'title:' needs a value after it"),
    ("title: OR x", 0, "'title:' needs a value after it"),
    ("created:2024-13", 8, "'2024-13' is not a valid date"),
    ("created:2023-02-29", 8, "is not a valid date"),
    ("created:20241301", 8, "is not a valid date"),
    ("created:soon", 8, "'soon' is not a date"),
    ("created:2024*", 8, "wildcards do not work on dates"),
    ("created:last", 8, "'last' is not a date"),
    ('added:"-1 week"', 6, "is a point in time"),
    ("added:now", 6, "is a point in time"),
    ("added:[-1 fortnight to now]", 7, "unknown time unit 'fortnight'"),
    ("added:[-1 m to now]", 7, "'m' is ambiguous"),
    ("created:[2009 to 2005]", 8, "this range is empty"),
    ("created:{2024 to 2025}", 8, "this range is empty"),
    ("created:[2005 2009]", 8, "a range needs 'to'"),
    ("created:[2005 to 2009", 8, "unclosed range"),
    ("created:[to]", 8, "empty range"),
    ("created:[2005 to soon]", 17, "'soon' is not a date"),
    ("created:[2005 to 2009 to 2010]", 22, "only one 'to'"),
    ("created:>", 8, "'>' needs a value"),
    ("created:9999", 8, "is not a valid date"),
    ("asn:abc", 4, "'asn' needs a whole number"),
    ("asn:12*", 4, "'asn' needs a whole number"),
    ("asn:-5", 4, "'asn' needs a whole number"),
    ("asn:[20 to 10]", 4, "this range is empty"),
    ("asn:<0", 4, "this range is empty"),
    ("asn:[1 to x]", 10, "'asn' needs a whole number"),
    ("asn:99999999999999999999", 4, "number too large"),
    ("title:[a to b]", 6, "not on 'title'"),
    ("tag:>b", 4, "not on 'tag'"),
    ("tag:[x]", 4, "not on 'tag'"),
    ("[draft]", 0, "put it in quotes"),
    ("[2005 to 2009]", 0, "needs a date or number field in front of it"),
    (">5", 0, "needs a date or number field in front of it"),
]


def _ids(cases: list[tuple]) -> list[str]:
    return [c[0] or "<empty>" for c in cases]


@pytest.mark.parametrize(("query", "expected"), CASES, ids=_ids(CASES))
def test_parse(query: str, expected: Node) -> None:
    assert parse(query, now=NOW) == expected


@pytest.mark.parametrize(("query", "expected"), CASES, ids=_ids(CASES))
def test_round_trip(query: str, expected: Node) -> None:
    tree = parse(query, now=NOW)
    text = to_query_string(tree)
    assert parse(text, now=NOW) == tree, text
    assert to_query_string(parse(text, now=NOW)) == text  # printing is a fixed point


@pytest.mark.parametrize(("query", "position", "reason"), ERRORS, ids=_ids(ERRORS))
def test_errors(query: str, position: int, reason: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse(query, now=NOW)
    err = info.value
    assert reason in err.reason
    assert err.position == position, str(err)
    # The message shows the query with a caret under the position.
    line, caret = str(err).split("\n")
    assert line == query
    assert caret == " " * position + "^ " + err.reason


def test_error_message_shape() -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse("invoice AND (acme", now=NOW)
    assert str(info.value) == "invoice AND (acme\n            ^ unclosed parenthesis"
    assert info.value.exit_code == 2
    assert isinstance(info.value, PaperfsError)


def test_error_lists_valid_fields() -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse("foo:bar", now=NOW)
    for name in ("title", "content", "tag", "type", "correspondent", "asn", "created"):
        assert name in info.value.reason
    assert '"foo:' in info.value.reason  # tells how to search for the text itself


def test_error_in_long_query_shows_a_window() -> None:
    query = "word " * 40 + "(" + " other" * 40
    with pytest.raises(QuerySyntaxError) as info:
        parse(query, now=NOW)
    line, caret = str(info.value).split("\n")
    assert len(line) <= 80
    assert line[caret.index("^")] == "("


def test_error_with_newline_keeps_caret_aligned() -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse("a\nb )", now=NOW)
    line, caret = str(info.value).split("\n")
    assert line == "a b )"
    assert caret.index("^") == 4


def test_error_pickles() -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse("a AND", now=NOW)
    copy = pickle.loads(pickle.dumps(info.value))
    assert (copy.query, copy.position, copy.reason) == ("a AND", 2, info.value.reason)
    assert str(copy) == str(info.value)


# --- hostile input -----------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["(" * 10_000 + "a" + ")" * 10_000, "(" * 10_000, "tag:(" * 5_000 + "a", "-(" * 5_000 + "a"],
    ids=["balanced", "unclosed", "field-groups", "negated"],
)
def test_deep_nesting_is_refused(query: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse(query, now=NOW)
    assert "nesting too deep" in info.value.reason
    assert query[info.value.position] == "("


def test_nesting_up_to_the_limit_is_fine() -> None:
    query = "(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH
    assert parse(query, now=NOW) == T("a")
    deep = "tag:(" * (MAX_DEPTH // 2) + "a" + ")" * (MAX_DEPTH // 2)
    assert parse(deep, now=NOW) == FieldEquals("tag", "a")


def test_long_negation_chains_do_not_recurse() -> None:
    assert parse("NOT " * 2001 + "a", now=NOW) == Not(T("a"))
    assert parse("-" * 5000 + "a", now=NOW) == T("a")


def test_huge_query_is_a_clean_error() -> None:
    query = "invoice " * 12_800  # 100 KB
    started = time.monotonic()
    with pytest.raises(QuerySyntaxError) as info:
        parse(query, now=NOW)
    assert time.monotonic() - started < 1
    assert "query too long" in info.value.reason
    assert info.value.position == MAX_QUERY_LENGTH


def test_too_many_terms() -> None:
    query = " ".join(f"w{i}" for i in range(MAX_CLAUSES + 1))
    with pytest.raises(QuerySyntaxError) as info:
        parse(query, now=NOW)
    assert "too many search terms" in info.value.reason
    assert len(parse(" ".join(["w"] * MAX_CLAUSES), now=NOW).children) == MAX_CLAUSES  # type: ignore[union-attr]


def test_unclosed_quote_across_a_long_query_is_fast() -> None:
    query = '"' + "a" * (MAX_QUERY_LENGTH - 1)
    with pytest.raises(QuerySyntaxError, match="unclosed quote"):
        parse(query, now=NOW)


def test_fuzz_only_query_errors_and_round_trips() -> None:
    rng = random.Random(20240315)
    pieces = [
        "a", "B", "tag:", "title:", "created:", "asn:", "foo:", "AND", "OR", "NOT",
        "and", "(", ")", '"', "-", "+", "*", "?", "[", "]", "{", "}", " to ", "<", ">=",
        "2024", "2024-03", "today", "last", "week", "-1", " ", " ", " ", "\\", ":", "é",
    ]
    for _ in range(3000):
        query = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        try:
            tree = parse(query, now=NOW)
        except QuerySyntaxError as err:
            assert 0 <= err.position <= len(query), query
            continue
        text = to_query_string(tree)
        assert parse(text, now=NOW) == tree, (query, text)


# --- trees, printing, walking ------------------------------------------------


def test_canonical_strings() -> None:
    assert to_query_string(parse("invoice acme OR globex", now=NOW)) == "invoice AND (acme OR globex)"
    assert to_query_string(parse("-tag:(paid OR open)", now=NOW)) == "NOT (tag:paid OR tag:open)"
    assert to_query_string(parse('tag:"tax 2024"', now=NOW)) == 'tag:"tax 2024"'
    assert to_query_string(parse("asn:>5", now=NOW)) == "asn:[6 to]"
    assert (
        to_query_string(parse("created:2024-03", now=NOW))
        == "created:[2024-03-01T00:00:00+01:00 to 2024-04-01T00:00:00+02:00}"
    )


def test_printing_quotes_what_would_parse_differently() -> None:
    for text in ("and", "x*", "x?", "-x", "+x", "a:b", "[x", "{x", "<x", ">x", "(x", 'say"x"', "c:\\d"):
        tree = Term("title", text)
        assert parse(to_query_string(tree), now=NOW) == tree
        assert parse(to_query_string(Term(None, text)), now=NOW) == Term(None, text)
    assert to_query_string(FieldEquals("tag", "a*")) == 'tag:"a*"'


def test_nodes_are_frozen_and_hashable() -> None:
    tree = parse("invoice (acme OR globex) created:2024", now=NOW)
    assert hash(tree) == hash(parse("invoice (acme OR globex) created:2024", now=NOW))
    with pytest.raises(AttributeError):
        tree.children = ()  # type: ignore[misc,union-attr]


def test_walk_is_preorder() -> None:
    tree = parse("a (b OR -c) d", now=NOW)
    assert list(walk(tree)) == [
        tree,
        T("a"),
        O(T("b"), Not(T("c"))),
        T("b"),
        Not(T("c")),
        T("c"),
        T("d"),
    ]
    assert [n for n in walk(tree) if isinstance(n, Term)] == [T("a"), T("b"), T("c"), T("d")]


def test_default_clock_is_aware() -> None:
    tree = parse("added:today")
    assert isinstance(tree, DateRange)
    assert tree.start is not None and tree.start.tzinfo is not None


# --- dates.py ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "expr", "start", "end"),
    [
        # a Sunday belongs to the week that started on the Monday before
        (D(2024, 3, 17, 23, 59), "this week", D(2024, 3, 11), D(2024, 3, 18)),
        # a Monday starts its own week
        (D(2024, 3, 18, 0, 0), "this week", D(2024, 3, 18), D(2024, 3, 25)),
        (D(2024, 1, 3), "last week", D(2023, 12, 25), D(2024, 1, 1)),
        (D(2024, 1, 15), "last month", D(2023, 12, 1), D(2024, 1, 1)),
        (D(2024, 12, 15), "this month", D(2024, 12, 1), D(2025, 1, 1)),
        (D(2024, 2, 10), "previous quarter", D(2023, 10, 1), D(2024, 1, 1)),
        (D(2024, 11, 30), "this quarter", D(2024, 10, 1), D(2025, 1, 1)),
        (D(2024, 1, 1, 0, 0), "yesterday", D(2023, 12, 31), D(2024, 1, 1)),
    ],
)
def test_keyword_periods(now: datetime, expr: str, start: datetime, end: datetime) -> None:
    assert dates.resolve_value(expr, now) == (start, end)


def test_month_arithmetic_clamps_the_day() -> None:
    span = dates.resolve_span("-1 month", D(2024, 3, 31, 12, 0))
    assert span.instant and span.start == D(2024, 2, 29, 12, 0)
    assert dates.resolve_span("-1 year", D(2024, 2, 29)).start == D(2023, 2, 28)


def test_hours_count_elapsed_time_across_dst() -> None:
    # Clocks jumped from 02:00 to 03:00 on 2024-03-31: two real hours before
    # 03:30 CEST is 00:30 CET, three hours on the wall clock.
    now = D(2024, 3, 31, 3, 30)
    before = dates.resolve_span("-2 hours", now).start
    assert before == D(2024, 3, 31, 0, 30)
    assert now.astimezone(timezone.utc) - before.astimezone(timezone.utc) == timedelta(hours=2)
    # Days are calendar days: one day before is the same wall-clock time.
    assert dates.resolve_span("-1 day", now).start == D(2024, 3, 30, 3, 30)


def test_naive_clock_gives_naive_ranges() -> None:
    naive_now = datetime(2024, 3, 15, 10, 30)
    assert parse("created:2024-03", now=naive_now) == DR(
        "created", datetime(2024, 3, 1), datetime(2024, 4, 1)
    )
    with pytest.raises(QuerySyntaxError, match="aware clock"):
        parse("added:2024-03-15T10:00Z", now=naive_now)
    tree = parse("added:[-1 week to now]", now=naive_now)
    assert parse(to_query_string(tree), now=naive_now) == tree


def test_comparison_and_range_helpers() -> None:
    assert dates.resolve_comparison(">", "2024", NOW) == (D(2025, 1, 1), None)
    assert dates.resolve_comparison("<=", "2024-03", NOW) == (None, D(2024, 4, 1))
    lo = dates.resolve_span("2005", NOW)
    hi = dates.resolve_span("2009", NOW)
    assert dates.range_from_spans(lo, hi, True, True) == (D(2005, 1, 1), D(2010, 1, 1))
    assert dates.range_from_spans(lo, None, False, True) == (D(2006, 1, 1), None)
    with pytest.raises(dates.DateError):
        dates.range_from_spans(hi, lo, True, True)


@pytest.mark.parametrize(
    "bad", ["", "2024-00", "2024-02-30", "2024-03-15T25:00", "2024-03-15T10:00+25:00", "-1", "now+"]
)
def test_bad_date_expressions(bad: str) -> None:
    with pytest.raises(dates.DateError):
        dates.resolve_span(bad, NOW)
