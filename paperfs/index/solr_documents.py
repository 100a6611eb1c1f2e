"""What Solr holds for a document: written (``solr_document``) and read back exactly.

Besides the schema's named fields (config/solr/README.md), the configset's
dynamic fields make both backends answer alike:

* ``tags_fold_lc`` / ``owner_fold_lc``: ``fold(value)`` (search.match.fold):
  whole-value, case- and accent-insensitive ``tag:`` / ``owner:``;
* ``title_fold_s``: ``fold(title)``, the title sort (code point order, as the
  embedded index sorts);
* ``path_t``: the sidecar path as text (``path:`` searches words in it);
* ``has_ss``: the fields the document has a value in (``field:*``);
* ``added_s`` / ``modified_s``: the timestamps exactly as in the sidecar;
* ``paperfs_rebuild_l``: the generation of the last full rebuild;
* ``cf_NAME_lc`` / ``cf_NAME_ds`` / ``cf_NAME_dts``: a custom field's values as
  folded texts, numbers and days (archive/custom_fields.py ``readings``), and
  ``cf_NAME`` in ``has_ss`` when it has one.

``SolrLookups``: the writer's exact lookups (``FiledLookups``) answered by
Solr (the Solr backend alone; with ``index.backend: solr`` the catalog
answers them, paperfs/index/mirrored.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterator

from paperfs.archive.custom_fields import indexed_names
from paperfs.archive.document import Grants, Permissions
from paperfs.index.base import FiledRef, IndexEntry
from paperfs.index.catalog import CatalogEntry
from paperfs.index.model import MARK_END, MARK_START
from paperfs.index.solr_client import SolrConnection
from paperfs.index.solr_query import (MATCH_ALL, custom_field_name, quoted, solr_day,
                                      solr_instant)
from paperfs.search.match import fold

_REF_FIELDS = "doc_id,path,original_sha256,archive_sha256,mtime_ns,size"
#: a CatalogEntry with owner and permissions
ENTRY_FIELDS = ("doc_id,title,created,added,added_s,path,correspondent,document_type,asn,"
                "archive_sha256,mtime_ns,owner,view_users,view_groups,change_users,"
                "change_groups")


def _clean(text: str) -> str:
    return text.replace(MARK_START, "").replace(MARK_END, "").replace("\x00", "")


def solr_document(entry: IndexEntry, generation: int | None = None) -> dict[str, Any]:
    """The Solr document for an index entry (plain JSON types)."""
    doc = entry.doc
    perms = doc.permissions
    content = _clean(doc.content)
    notes = [_clean(n.text) for n in doc.notes]
    has = ["title"] if doc.title else []
    if content.strip():
        has.append("content")
    if doc.correspondent is not None:
        has.append("correspondent")
    if doc.document_type is not None:
        has.append("type")
    if "\n".join(notes):
        has.append("note")
    if doc.tags:
        has.append("tag")
    if doc.owner is not None:
        has.append("owner")
    if doc.asn is not None:
        has.append("asn")
    out: dict[str, Any] = {
        "id": str(doc.id),
        "doc_id": doc.id,
        "title": _clean(doc.title),
        "title_fold_s": fold(doc.title),
        "tags": list(doc.tags),
        "tags_fold_lc": [fold(t) for t in doc.tags],
        "view_users": list(perms.view.users),
        "view_groups": list(perms.view.groups),
        "change_users": list(perms.change.users),
        "change_groups": list(perms.change.groups),
        "created": solr_day(doc.created),
        "year": doc.created.year,
        "added": solr_instant(doc.added),
        "added_s": doc.added.isoformat(),
        "modified": solr_instant(doc.modified),
        "modified_s": doc.modified.isoformat(),
        "path": entry.path,
        "path_t": [entry.path],
        "checksum": sorted({doc.original.sha256, doc.archive.sha256}),
        "original_sha256": doc.original.sha256,
        "archive_sha256": doc.archive.sha256,
        "original_filename": doc.original.filename,
        "mime_type": doc.original.mime_type,
        "pages": doc.archive.pages,
        "mtime_ns": entry.mtime_ns,
        "size": entry.size,
        "content": content,
        "notes": notes,
        "has_ss": has,
    }
    for name, value in (("correspondent", doc.correspondent),
                        ("document_type", doc.document_type), ("asn", doc.asn),
                        ("language", doc.language), ("owner", doc.owner)):
        if value is not None:
            out[name] = value
    if doc.owner is not None:
        out["owner_fold_lc"] = [fold(doc.owner)]
    for name, found in indexed_names(doc.custom_fields):
        if found:
            has.append(f"cf_{name}")
            out[custom_field_name(name, "lc")] = [fold(r.text) for r in found]
            out[custom_field_name(name, "ds")] = [r.number for r in found if r.number is not None]
            out[custom_field_name(name, "dts")] = [f"{r.day}T00:00:00Z" for r in found
                                                   if r.day is not None]
    if generation is not None:
        out["paperfs_rebuild_l"] = generation
    # Solr rejects an empty value for a point (number/date) field, and pysolr
    # drops empty strings and lists anyway.
    return {k: v for k, v in out.items() if v != [] and v != ""}


def read_first(value: Any) -> Any:
    """A stored value, the first of a list."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def read_date(value: str) -> dt.date:
    return dt.date.fromisoformat(value[:10])


def read_instant(exact: Any, solr_value: Any) -> dt.datetime:
    """A timestamp as the sidecar had it (``*_s``), else as Solr stored it."""
    exact = read_first(exact)
    if exact:
        return dt.datetime.fromisoformat(exact)
    return dt.datetime.fromisoformat(str(solr_value).replace("Z", "+00:00"))


def _ref(d: dict[str, Any]) -> FiledRef:
    return FiledRef(id=int(d["doc_id"]), path=d["path"],
                    original_sha256=d.get("original_sha256", ""),
                    archive_sha256=d.get("archive_sha256", ""),
                    mtime_ns=int(d.get("mtime_ns", 0)), size=int(d.get("size", 0)))


def catalog_entry(d: dict[str, Any]) -> CatalogEntry:
    """A CatalogEntry from a document with ``ENTRY_FIELDS``."""
    return CatalogEntry(
        id=int(d["doc_id"]), title=d.get("title", ""), created=read_date(read_first(d["created"])),
        added=read_instant(d.get("added_s"), d["added"]), path=d["path"],
        correspondent=d.get("correspondent"), document_type=d.get("document_type"),
        asn=d.get("asn"), sha256=d.get("archive_sha256", ""),
        mtime=int(d.get("mtime_ns", 0)) / 1e9, owner=d.get("owner"),
        permissions=Permissions(
            view=Grants(tuple(d.get("view_users", ())), tuple(d.get("view_groups", ()))),
            change=Grants(tuple(d.get("change_users", ())),
                          tuple(d.get("change_groups", ())))))


class SolrLookups(SolrConnection):
    """The writer's exact lookups, answered by Solr."""

    def ref(self, doc_id: int) -> FiledRef | None:
        data = self._get_json("get", {"id": str(int(doc_id)), "fl": _REF_FIELDS})
        return _ref(data["doc"]) if data.get("doc") else None

    def _one(self, fq: str) -> FiledRef | None:
        data = self._select({"q": MATCH_ALL, "fq": fq, "rows": 1, "fl": _REF_FIELDS,
                             "sort": "doc_id asc"})
        docs = data["response"]["docs"]
        return _ref(docs[0]) if docs else None

    def ref_by_path(self, path: str) -> FiledRef | None:
        return self._one(f"path:{quoted(path)}")

    def find_checksum(self, sha256: str) -> FiledRef | None:
        return self._one(f"checksum:{quoted(sha256)}")

    def find_asn(self, asn: int) -> FiledRef | None:
        return self._one(f"asn:{int(asn)}")

    def refs(self) -> Iterator[FiledRef]:
        for docs in self._pages({"q": MATCH_ALL, "rows": 1000, "fl": _REF_FIELDS,
                                 "sort": "doc_id asc,id asc"}):
            yield from (_ref(d) for d in docs)

    def ids(self, fq: str | None = None) -> Iterator[int]:
        params: dict[str, Any] = {"q": MATCH_ALL, "rows": 5000, "fl": "doc_id",
                                  "sort": "id asc"}
        if fq:
            params["fq"] = fq
        for docs in self._pages(params):
            yield from (int(d["doc_id"]) for d in docs)

    def count(self) -> int:
        return int(self._select({"q": MATCH_ALL, "rows": 0})["response"]["numFound"])

    def max_id(self) -> int:
        docs = self._select({"q": MATCH_ALL, "rows": 1, "fl": "doc_id",
                             "sort": "doc_id desc"})["response"]["docs"]
        return int(docs[0]["doc_id"]) if docs else 0
