"""Compile a parsed query tree (paperfs.search.tree) to Solr ``q`` + ``fq`` for SolrIndex.

The same semantics as the SQLite compiler (paperfs/index/sqlite_query.py),
so the contract suite gives the same answers on both backends:

* A bare word searches title, content, tags, correspondent, type and notes,
  weighted like the embedded index's bm25 (title ×10, tags and correspondent
  ×4, type ×3, notes ×2, content ×1). A word or phrase is always sent as a
  quoted Lucene phrase, so a "word" the analyser splits (``e-mail``,
  ``12.50``) must match as consecutive words, as in FTS5.
* ``tag:`` / ``owner:`` match whole values, case- and accent-insensitively:
  the backend indexes ``fold(value)`` (paperfs.search.match.fold, the same
  function the SQLite backend uses) into ``tags_fold_lc`` / ``owner_fold_lc``
  and the compiler folds the query value the same way.
* ``created`` is compared by day (a day matches when its midnight, in the time
  zone of the query's clock, lies in the range), ``added`` / ``modified`` by
  instant, numbers inclusive.
* ``field:*`` (Exists) uses ``has_ss``, a list of the fields a document has a
  value in (filled by the backend with the SQLite backend's rules).
* Text the query parser could not turn into a word (``"..."``) matches
  nothing, as in FTS5 (Lucene would silently drop the clause).

Ranking and filtering: the conjuncts of the top level that contain a word
(not under NOT) go into ``q`` and rank (``score desc, doc_id asc``); every
other conjunct becomes its own ``fq`` (cached by Solr, no score). Inside
``q``, non-word parts (e.g. ``invoice OR tag:paid``) are wrapped as
constant score 0 (``(...)^=0``), so a document that matches only through
them ranks with score 0, like the embedded index's ``coalesce(r.s, 0)``.
``hl_q`` is an OR of the positive word leaves, for the unified highlighter.

Escaping: every piece of user text becomes either a quoted string (only
``\\`` and ``"`` escaped) or, for prefixes and wildcards, a term in which
every character that is not a letter or digit is backslash-escaped (``*``
and ``?`` of a wildcard pattern are the only operators left). Field names,
boosts and operators come from constants in this module; nothing the user
typed reaches Solr unescaped, and the local-params syntax ``{!...}`` can
never start a query string this module builds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from paperfs.index.model import User
from paperfs.search.match import fold
from paperfs.search.tree import (And, CustomDate, CustomEquals, CustomExists, CustomNumber,
                                 DateRange, Exists, FieldEquals, MatchAll, Node, Not,
                                 NumberRange, Or, Phrase, Prefix, Term, Wildcard, walk)

#: Solr fields and boosts a bare word searches (the bm25 weights of the SQLite backend).
DEFAULT_TEXT_FIELDS: tuple[tuple[str, float], ...] = (
    ("title", 10.0),
    ("content", 1.0),
    ("tags_txt", 4.0),
    ("correspondent_txt", 4.0),
    ("document_type_txt", 3.0),
    ("notes", 2.0),
)
#: query-language text field -> Solr field(s) with boost
TEXT_FIELDS: dict[str | None, tuple[tuple[str, float], ...]] = {
    None: DEFAULT_TEXT_FIELDS,
    "title": (("title", 1.0),),
    "content": (("content", 1.0),),
    "correspondent": (("correspondent_txt", 1.0),),
    "type": (("document_type_txt", 1.0),),
    "note": (("notes", 1.0),),
    "path": (("path_t", 1.0),),
}
#: keyword fields: folded whole values
KEYWORD_FIELDS = {"tag": "tags_fold_lc", "owner": "owner_fold_lc"}
#: ``field:*`` -> value in ``has_ss`` (None: every document has it)
EXISTS_FIELDS: dict[str, str | None] = {
    "title": "title", "content": "content", "correspondent": "correspondent",
    "type": "type", "note": "note", "tag": "tag", "owner": "owner", "asn": "asn",
    "path": None, "created": None, "added": None, "modified": None, "id": None,
}
#: fields the highlighter marks words in (``hl.fl``) and may take them from
HIGHLIGHT_FIELDS = ("content",)
HIGHLIGHT_QUERY_FIELDS: tuple[tuple[str, float], ...] = (("content", 1.0),)

MATCH_ALL = "*:*"


def quoted(text: str) -> str:
    """A Lucene quoted string: everything inside is text (a phrase after analysis)."""
    return '"' + text.replace("\x00", "").replace("\\", "\\\\").replace('"', '\\"') + '"'


def escape_term(text: str, *, wildcards: bool = False) -> str:
    """An unquoted Lucene term: every character but letters and digits escaped.

    With ``wildcards``, ``*`` and ``?`` stay operators (a wildcard pattern).
    """
    out = []
    for ch in text.replace("\x00", ""):
        if ch.isalnum() or (wildcards and ch in "*?"):
            out.append(ch)
        else:
            out.append("\\" + ch)
    return "".join(out)


def _has_word(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def solr_instant(value: dt.datetime) -> str:
    """A point in time as a Solr date (UTC, millisecond precision)."""
    if value.tzinfo is None:
        value = value.astimezone()
    utc = value.astimezone(dt.timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def solr_day(day: dt.date) -> str:
    """A calendar date as a Solr date: its midnight in UTC."""
    return f"{day.isoformat()}T00:00:00Z"


@dataclass(frozen=True)
class Frag:
    """A compiled part of a query: Lucene syntax, or the constants ALWAYS / NEVER."""

    text: str
    #: contains a word (not under NOT) that ranks
    ranked: bool = False

    def scored(self) -> str:
        """As a clause of a scored query: non-word parts score 0."""
        return f"({self.text})" if self.ranked else f"({self.text})^=0"


ALWAYS = Frag("*:*")
NEVER = Frag("-*:*")


@dataclass
class SolrQuery:
    #: the main query (MATCH_ALL when nothing ranks)
    q: str
    #: filter queries (each cached by Solr on its own)
    fq: list[str] = field(default_factory=list)
    #: positive words, for the highlighter (``hl.q``); None: nothing to mark
    hl_q: str | None = None
    #: the query has words to rank by (sort "relevance" = by score)
    ranked: bool = False
    #: the query can match nothing at all
    never: bool = False


def _day_bounds(start: dt.datetime | None, end: dt.datetime | None,
                field: str = "created") -> Frag:
    """Days (Solr dates at midnight UTC in *field*) whose midnight (in the range's
    time zone) lies in [start, end)."""
    lo = hi = "*"
    close = "]"
    if start is not None:
        day = start.date()
        if start.timetz().replace(tzinfo=None) != dt.time(0):
            day += dt.timedelta(days=1)
        lo = solr_day(day)
    if end is not None:
        midnight = end.timetz().replace(tzinfo=None) == dt.time(0)
        hi = solr_day(end.date())
        close = "}" if midnight else "]"
    if lo == "*" and hi == "*":
        return ALWAYS
    return Frag(f"{field}:[{lo} TO {hi}{close}")


def custom_field_name(name: str, kind: str) -> str:
    """The dynamic field that holds a custom field's readings (solr_documents.py):
    ``lc`` folded texts, ``ds`` numbers, ``dts`` days; ``has_ss`` lists ``cf_NAME``."""
    return f"cf_{name}_{kind}"


def _custom_frag(node: CustomEquals | CustomExists | CustomNumber | CustomDate) -> Frag:
    if isinstance(node, CustomEquals):
        return Frag(f"{custom_field_name(node.field, 'lc')}:{quoted(fold(node.value))}")
    if isinstance(node, CustomExists):
        return Frag(f"has_ss:{quoted('cf_' + node.field)}")
    if isinstance(node, CustomNumber):
        lo = "*" if node.lo is None else repr(float(node.lo))
        hi = "*" if node.hi is None else repr(float(node.hi))
        return Frag(f"{custom_field_name(node.field, 'ds')}:{'[' if node.lo_inclusive else '{'}"
                    f"{lo} TO {hi}{']' if node.hi_inclusive else '}'}")
    frag = _day_bounds(node.start, node.end, custom_field_name(node.field, "dts"))
    return Frag(f"{custom_field_name(node.field, 'dts')}:*") if frag is ALWAYS else frag


#: Solr refuses a query with more leaf clauses than maxBooleanClauses (1024 by
#: default, counted over the whole tree since Lucene 9); above this many, bare
#: words search the catch-all field ``text`` (the same fields, one clause each)
#: instead of six weighted fields.
COMPACT_ABOVE = 900
COMPACT_TEXT_FIELDS: tuple[tuple[str, float], ...] = (("text", 1.0),)


def _clauses(node: Node) -> int:
    n = 0
    for part in walk(node):
        if isinstance(part, (Term, Phrase, Prefix, Wildcard)) and part.field is None:
            n += len(DEFAULT_TEXT_FIELDS)
        elif not isinstance(part, (And, Or, Not, MatchAll)):
            n += 1
    return n


class Compiler:
    """Compiles one tree; stateless apart from the highlight words it collects.

    ``compact``: bare words search ``text`` only (for very long queries).
    """

    def __init__(self, *, compact: bool = False) -> None:
        self._highlight: list[str] = []
        self._fields = dict(TEXT_FIELDS)
        if compact:
            self._fields[None] = COMPACT_TEXT_FIELDS

    def compile(self, node: Node) -> SolrQuery:
        children = node.children if isinstance(node, And) else (node,)
        ranked: list[Frag] = []
        filters: list[str] = []
        for child in children:
            frag = self.frag(child)
            if frag is NEVER:
                return SolrQuery(MATCH_ALL, never=True)
            if frag is ALWAYS:
                continue
            if frag.ranked:
                ranked.append(frag)
            else:
                filters.append(frag.text)
        self._collect_highlight(node, negated=False)
        if not ranked:
            q = MATCH_ALL
        elif len(ranked) == 1:
            q = ranked[0].text
        else:
            q = " ".join(f"+({f.text})" for f in ranked)
        hl_q = " OR ".join(f"({h})" for h in self._highlight) or None
        return SolrQuery(q=q, fq=filters, hl_q=hl_q, ranked=bool(ranked))

    # ------------------------------------------------------------ nodes

    def frag(self, node: Node) -> Frag:
        if isinstance(node, MatchAll):
            return ALWAYS
        if isinstance(node, (Term, Phrase, Prefix, Wildcard)):
            if node.field in KEYWORD_FIELDS:
                return self._keyword_pattern(node)
            return self._text(node)
        if isinstance(node, FieldEquals):
            return Frag(f"{KEYWORD_FIELDS[node.field]}:{quoted(fold(node.value))}")
        if isinstance(node, Exists):
            value = EXISTS_FIELDS[node.field]
            return ALWAYS if value is None else Frag(f"has_ss:{value}")
        if isinstance(node, DateRange):
            if node.field == "created":
                return _day_bounds(node.start, node.end)
            lo = "*" if node.start is None else solr_instant(node.start)
            hi = "*" if node.end is None else solr_instant(node.end)
            if lo == "*" and hi == "*":
                return ALWAYS
            return Frag(f"{node.field}:[{lo} TO {hi}}}")
        if isinstance(node, (CustomEquals, CustomExists, CustomNumber, CustomDate)):
            return _custom_frag(node)
        if isinstance(node, NumberRange):
            name = "asn" if node.field == "asn" else "doc_id"
            lo = "*" if node.lo is None else str(int(node.lo))
            hi = "*" if node.hi is None else str(int(node.hi))
            return Frag(f"{name}:[{lo} TO {hi}]")
        if isinstance(node, Not):
            inner = self.frag(node.child)
            if inner is NEVER:
                return ALWAYS
            if inner is ALWAYS:
                return NEVER
            return Frag(f"*:* -({inner.text})")
        if isinstance(node, And):
            parts: list[Frag] = []
            for child in node.children:
                frag = self.frag(child)
                if frag is NEVER:
                    return NEVER
                if frag is not ALWAYS:
                    parts.append(frag)
            if not parts:
                return ALWAYS
            if len(parts) == 1:
                return parts[0]
            ranked = any(p.ranked for p in parts)
            if ranked:
                return Frag(" ".join(f"+{p.scored()}" for p in parts), ranked=True)
            return Frag(" ".join(f"+({p.text})" for p in parts))
        if isinstance(node, Or):
            parts = []
            for child in node.children:
                frag = self.frag(child)
                if frag is ALWAYS:
                    return ALWAYS
                if frag is not NEVER:
                    parts.append(frag)
            if not parts:
                return NEVER
            if len(parts) == 1:
                return parts[0]
            ranked = any(p.ranked for p in parts)
            if ranked:
                return Frag(" OR ".join(p.scored() for p in parts), ranked=True)
            return Frag(" OR ".join(f"({p.text})" for p in parts))
        raise TypeError(f"unknown query node {node!r}")

    def _text(self, node: Term | Phrase | Prefix | Wildcard) -> Frag:
        expr = self.text_expr(node, self._fields[node.field])
        return NEVER if expr is None else Frag(expr, ranked=True)

    @staticmethod
    def text_expr(node: Term | Phrase | Prefix | Wildcard,
                  fields: tuple[tuple[str, float], ...] | None = None) -> str | None:
        """The word as Lucene syntax over its Solr fields; None: it can match nothing."""
        if fields is None:
            fields = TEXT_FIELDS[node.field]
        if isinstance(node, Term):
            if not _has_word(node.text):
                return None
            value = quoted(node.text)
        elif isinstance(node, Phrase):
            text = " ".join(node.words)
            if not _has_word(text):
                return None
            value = quoted(text)
        elif isinstance(node, Prefix):
            if not _has_word(node.prefix):
                return None
            value = escape_term(node.prefix) + "*"
        else:
            # "?" alone is a one-letter word; only the expansion can say whether one exists
            value = escape_term(node.pattern, wildcards=True)
        clauses = [f"{name}:{value}" + (f"^{boost:g}" if boost != 1.0 else "")
                   for name, boost in fields]
        return clauses[0] if len(clauses) == 1 else " OR ".join(clauses)

    def _keyword_pattern(self, node: Term | Phrase | Prefix | Wildcard) -> Frag:
        name = KEYWORD_FIELDS[node.field]  # type: ignore[index]
        if isinstance(node, Prefix):
            return Frag(f"{name}:{escape_term(fold(node.prefix))}*")
        if isinstance(node, Wildcard):
            return Frag(f"{name}:{escape_term(fold(node.pattern), wildcards=True)}")
        # the parser makes FieldEquals of these; accept them anyway
        text = node.text if isinstance(node, Term) else " ".join(node.words)
        return Frag(f"{name}:{quoted(fold(text))}")

    # ------------------------------------------------------------ highlighting

    def _collect_highlight(self, node: Node, negated: bool) -> None:
        stack: list[tuple[Node, bool]] = [(node, negated)]
        while stack:
            current, neg = stack.pop()
            if isinstance(current, (And, Or)):
                stack.extend((c, neg) for c in reversed(current.children))
            elif isinstance(current, Not):
                stack.append((current.child, not neg))
            elif (isinstance(current, (Term, Phrase, Prefix, Wildcard)) and not neg
                  and current.field in (None, "content")):
                # Snippets come from the content; a word searched in another
                # field marks nothing there (as FTS5's column filter).
                expr = self.text_expr(current, HIGHLIGHT_QUERY_FIELDS)
                if expr is not None and expr not in self._highlight:
                    self._highlight.append(expr)


def compile_query(node: Node) -> SolrQuery:
    return Compiler(compact=_clauses(node) > COMPACT_ABOVE).compile(node)


def permission_filter(name: str, groups: tuple[str, ...], superuser: bool) -> str | None:
    """The ``fq`` for what a user may view (model.User's rules); None for a superuser.

    Visible: no owner, owned by the user, or the user (or one of the user's
    groups) named in the view or change permissions.
    """
    if superuser:
        return None
    user = quoted(name)
    parts = ["(*:* -owner:[* TO *])", f"owner:{user}", f"view_users:{user}",
             f"change_users:{user}"]
    if groups:
        any_group = " OR ".join(quoted(g) for g in groups)
        parts += [f"view_groups:({any_group})", f"change_groups:({any_group})"]
    return " OR ".join(parts)


def user_filters(user: User) -> list[str]:
    """The ``fq`` list that keeps a request to what ``user`` may view."""
    perm = permission_filter(user.name, tuple(user.groups), user.superuser)
    return [perm] if perm else []


__all__ = ["Compiler", "SolrQuery", "compile_query", "permission_filter", "user_filters",
           "quoted",
           "escape_term", "solr_instant", "solr_day", "TEXT_FIELDS", "KEYWORD_FIELDS",
           "DEFAULT_TEXT_FIELDS", "HIGHLIGHT_FIELDS", "MATCH_ALL"]
