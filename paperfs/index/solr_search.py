"""Searching Solr: ranked pages with snippets, listings with a cursor, single documents.

Scores are Lucene BM25 numbers (larger is better, like the embedded index);
in SolrCloud the configset's ExactStatsCache makes every shard score with
the collection's term statistics (distributed IDF), so the ranking does not
depend on how documents are spread over shards. Requests that score
nothing send ``distrib.statsCache=false`` to skip that extra round trip
(paperfs/index/solr_client.py ``_select``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterator

from paperfs.errors import UsageError
from paperfs.index.base import Keep, check_page, parse_query
from paperfs.index.catalog import CatalogEntry
from paperfs.index.model import (MARK_END, MARK_START, Hit, SearchResult, StoredDocument,
                                 User, fallback_snippet, snippet_text)
from paperfs.index.solr_client import SolrConnection
from paperfs.index.solr_documents import (ENTRY_FIELDS, catalog_entry, read_date, read_first,
                                          read_instant)
from paperfs.index.solr_query import HIGHLIGHT_FIELDS, compile_query, user_filters
from paperfs.search.tree import Node

MAX_LIMIT = 1000
_HIT_FIELDS = ("doc_id", "title", "correspondent", "document_type", "created", "added",
               "added_s", "tags", "asn", "path")
_STORED_FIELDS = ("doc_id,title,correspondent,document_type,created,added,added_s,modified,"
                  "modified_s,tags,asn,owner,path,notes,content")
_SORTS = {
    "created": "created asc,doc_id asc",
    "-created": "created desc,doc_id desc",
    "added": "added asc,doc_id asc",
    "-added": "added desc,doc_id desc",
    "modified": "modified asc,doc_id asc",
    "-modified": "modified desc,doc_id desc",
    "title": "title_fold_s asc,doc_id asc",
    "-title": "title_fold_s desc,doc_id desc",
    "id": "doc_id asc",
    "-id": "doc_id desc",
}
_RANKED_SORT = "score desc,doc_id asc"
_UNRANKED_SORT = _SORTS["-created"]
#: a listing's order (``id`` last: the cursor needs a unique field)
_LISTING_SORT = "created asc,doc_id asc,id asc"


class SolrSearch(SolrConnection):
    """Searching ``SolrIndex``: ranked pages, listings, single documents."""

    def search(self, query: str | Node, *, user: User, sort: str = "relevance",
               limit: int = 25, offset: int = 0, highlight: bool = True,
               now: dt.datetime | None = None) -> SearchResult:
        check_page(sort, limit, offset, MAX_LIMIT)
        sq = compile_query(parse_query(query, now, self.fields))
        if sq.never:
            return SearchResult(0, offset, limit, sort, ())
        if sort == "relevance":
            order = _RANKED_SORT if sq.ranked else _UNRANKED_SORT
        else:
            order = _SORTS[sort]
        params: dict[str, Any] = {
            "q": sq.q, "fq": sq.fq + user_filters(user), "rows": limit, "start": offset,
            "fl": ",".join(_HIT_FIELDS) + (",score" if sq.ranked else ""), "sort": order,
        }
        if highlight and limit:
            params.update(self._highlight_params(sq.hl_q))
        data = self._select(params)
        return SearchResult(int(data["response"]["numFound"]), offset, limit, sort,
                            tuple(self._hits(data, sq.ranked, highlight)))


    def listing_pages(self, query: str | Node, *, user: User, page: int = MAX_LIMIT,
                      now: dt.datetime | None = None) -> Iterator[list[Hit]]:
        """Every document matching ``query`` that ``user`` may view, by (created, id),
        in pages of ``page`` hits (which documents a WebDAV folder lists, and in which
        order, with ``index.backend: solr``: paperfs/index/mirrored.py).

        The same matching as ``search``; no scores, no snippets. Paged with a
        cursor: no document skipped or repeated when the collection changes
        between pages.
        """
        for docs in self._listed(query, user, page, now, ",".join(_HIT_FIELDS)):
            yield [_hit(d) for d in docs]

    def listing(self, node: Node, user: User,
                keep: Keep | None = None) -> Iterator[CatalogEntry]:
        """The listing as Solr stores the documents (Solr alone: with
        ``index.backend: solr`` the catalog completes it, paperfs/index/mirrored.py)."""
        for docs in self._listed(node, user, MAX_LIMIT, None, ENTRY_FIELDS):
            for d in docs:
                entry = catalog_entry(d)
                if keep is None or keep(entry):
                    yield entry

    def _listed(self, query: str | Node, user: User, page: int, now: dt.datetime | None,
                fields: str) -> Iterator[list[dict[str, Any]]]:
        if not 1 <= page <= MAX_LIMIT:
            raise UsageError(f"page must be between 1 and {MAX_LIMIT}, not {page}")
        sq = compile_query(parse_query(query, now, self.fields))
        if sq.never:
            return
        yield from self._pages({"q": sq.q, "fq": sq.fq + user_filters(user), "rows": page,
                                "fl": fields, "sort": _LISTING_SORT}, "a listing")

    @staticmethod
    def _highlight_params(hl_q: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {
            "hl": "true", "hl.method": "unified", "hl.fl": ",".join(HIGHLIGHT_FIELDS),
            "hl.requireFieldMatch": "true", "hl.snippets": 1, "hl.fragsize": 160,
            "hl.tag.pre": MARK_START, "hl.tag.post": MARK_END, "hl.defaultSummary": "true",
            "hl.maxAnalyzedChars": 200_000,
        }
        if hl_q:
            params["hl.q"] = hl_q
            params["hl.qparser"] = "lucene"
        return params

    @staticmethod
    def _hits(data: dict[str, Any], ranked: bool, highlight: bool) -> list[Hit]:
        marked = data.get("highlighting", {}) or {}
        hits = []
        for d in data["response"]["docs"]:
            snippet = ""
            if highlight:
                parts = (marked.get(str(d["doc_id"])) or {}).get("content") or []
                text = parts[0] if parts else ""
                snippet = (snippet_text(text) if MARK_START in text
                           else fallback_snippet(text))
            hits.append(_hit(d, float(d.get("score", 0.0)) if ranked else 0.0, snippet))
        return hits

    # ------------------------------------------------------------ single documents

    def get(self, doc_id: int, user: User) -> StoredDocument | None:
        params: dict[str, Any] = {"id": str(int(doc_id)), "fl": _STORED_FIELDS}
        filters = user_filters(user)
        if filters:
            params["fq"] = filters
        d = self._get_json("get", params).get("doc")
        if not d:
            return None
        notes = d.get("notes") or []
        joined = "\n".join(notes)
        return StoredDocument(
            id=int(d["doc_id"]), title=d.get("title", ""),
            correspondent=d.get("correspondent"), document_type=d.get("document_type"),
            created=read_date(read_first(d["created"])),
            added=read_instant(d.get("added_s"), d["added"]),
            modified=read_instant(d.get("modified_s"), d["modified"]),
            tags=tuple(d.get("tags", ())), asn=d.get("asn"), owner=d.get("owner"),
            path=d["path"], notes=tuple(n for n in joined.split("\n") if n),
            content=d.get("content", ""))

    def more_like_this(self, doc_id: int, user: User, limit: int = 10) -> SearchResult:
        if self.get(doc_id, user) is None:
            return SearchResult(0, 0, limit, "relevance", ())
        mlt = (f"{{!mlt qf=title,content mintf=1 mindf=2 minwl=3 maxqt=12 "
               f"boost=true}}{int(doc_id)}")
        params: dict[str, Any] = {
            "q": mlt, "fq": [f"-doc_id:{int(doc_id)}"] + user_filters(user),
            "rows": limit, "fl": ",".join(_HIT_FIELDS) + ",score", "sort": _RANKED_SORT,
        }
        params.update(self._highlight_params(None))
        data = self._select(params, "more like this")
        return SearchResult(int(data["response"]["numFound"]), 0, limit, "relevance",
                            tuple(self._hits(data, True, True)))


def _hit(d: dict[str, Any], score: float = 0.0, snippet: str = "") -> Hit:
    return Hit(id=int(d["doc_id"]), title=d.get("title", ""),
               correspondent=d.get("correspondent"), document_type=d.get("document_type"),
               created=read_date(d["created"]), added=read_instant(d.get("added_s"), d["added"]),
               tags=tuple(d.get("tags", ())), asn=d.get("asn"), path=d["path"], score=score,
               snippet=snippet)
