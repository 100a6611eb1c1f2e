"""Counting in Solr: facets of the matches, and suggestions (values and words).

Tag values are grouped by their folded form (``tags_fold_lc`` is what
``tag:`` matches) and shown as their smallest spelling, as the embedded
index does (``min(tag)``). Word suggestions come from the terms component
and are then counted again among the documents the user may view.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any, Iterable, Iterator

from paperfs.index.base import parse_query, suggestion_query
from paperfs.index.model import Facets, Suggestion, User
from paperfs.index.solr_client import SolrConnection
from paperfs.index.solr_query import MATCH_ALL, compile_query, user_filters
from paperfs.search.match import fold
from paperfs.search.tree import Node

#: the Solr field of each value field and word field of ``suggest``
_FIELD_SUGGEST = {"tag": "tags", "correspondent": "correspondent", "type": "document_type",
                  "owner": "owner"}
_WORD_SUGGEST: dict[str | None, str] = {None: "text", "title": "title", "content": "content",
                                        "note": "notes", "path": "path_t"}


def _pairs(flat: list[Any]) -> Iterator[tuple[str, int]]:
    for i in range(0, len(flat) - 1, 2):
        yield str(flat[i]), int(flat[i + 1])


def _by_folded_value(pairs: Iterable[tuple[str, int]]) -> Counter[str]:
    """Counts of values that fold alike added up, each under its smallest spelling."""
    counts: Counter[str] = Counter()
    display: dict[str, str] = {}
    for value, n in pairs:
        key = fold(value)
        counts[key] += n
        display[key] = min(display.get(key, value), value)
    return Counter({display[key]: n for key, n in counts.items()})


class SolrFacets(SolrConnection):
    """The facet counts and suggestions of ``SolrIndex``."""

    def facets(self, query: str | Node, *, user: User,
               now: dt.datetime | None = None) -> Facets:
        sq = compile_query(parse_query(query, now, self.fields))
        if sq.never:
            return Facets(0)
        fq = ([] if sq.q == MATCH_ALL else [sq.q]) + sq.fq + user_filters(user)
        data = self._select({
            "q": MATCH_ALL, "fq": fq, "rows": 0, "facet": "true",
            "facet.field": ["tags", "correspondent", "document_type", "year"],
            "facet.limit": -1, "facet.mincount": 1, "facet.sort": "count",
            "facet.missing": "false",
        }, "facets")
        fields = data.get("facet_counts", {}).get("facet_fields", {})
        return Facets.counted(
            int(data["response"]["numFound"]),
            correspondents=dict(_pairs(fields.get("correspondent", []))),
            types=dict(_pairs(fields.get("document_type", []))),
            years={str(int(y)).zfill(4): n for y, n in _pairs(fields.get("year", []))},
            tags=_by_folded_value(_pairs(fields.get("tags", []))))

    def _suggest_values(self, head: str, names: list[str], limit: int,
                        user: User) -> list[Suggestion]:
        data = self._select({
            "q": MATCH_ALL, "fq": user_filters(user), "rows": 0, "facet": "true",
            "facet.field": [_FIELD_SUGGEST[n] for n in names], "facet.limit": -1,
            "facet.mincount": 1,
        }, "suggestions")
        fields = data.get("facet_counts", {}).get("facet_fields", {})
        out = []
        for name in names:
            counts = _by_folded_value((value, n) for value, n in
                                      _pairs(fields.get(_FIELD_SUGGEST[name], []))
                                      if fold(value).startswith(head))
            best = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
            for value, n in best[:limit]:
                out.append(Suggestion(value, name, n, suggestion_query(name, value)))
        return out

    def _suggest_words(self, head: str, field: str | None, limit: int,
                       user: User) -> list[Suggestion]:
        solr_field = _WORD_SUGGEST[field]
        data = self._get_json("terms", {
            "terms": "true", "terms.fl": solr_field, "terms.prefix": head,
            "terms.sort": "count", "terms.limit": limit * 4 + 10, "terms.mincount": 1,
        })
        flat = (data.get("terms") or {}).get(solr_field) or []
        # The index keeps unfolded forms too ("müller" beside "muller"): suggest
        # the folded word only, as the embedded index does.
        words = [t for t, _ in _pairs(flat) if t == fold(t)][:limit * 3]
        if not words:
            return []
        # Exact counts among the documents the user may view (terms counts
        # include deleted documents until segments merge, and everyone's).
        facet_queries = [f"{{!term f={solr_field}}}{w}" for w in words]
        counted = self._select({
            "q": MATCH_ALL, "fq": user_filters(user), "rows": 0, "facet": "true",
            "facet.query": facet_queries,
        }, "suggestions")
        counts = counted.get("facet_counts", {}).get("facet_queries", {})
        out = []
        for word, fq in zip(words, facet_queries):
            n = int(counts.get(fq, 0))
            if n:
                out.append(Suggestion(word, None, n, word))
        return out
