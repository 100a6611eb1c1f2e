"""Virtual folders: documents listed from the index, metadata changed by file operations.

    /tags/<tag>/            MOVE/COPY in adds the tag (MOVE from /tags/y replaces y);
                            DELETE of a document removes only the tag
    /correspondents/<c>/    MOVE/COPY in sets the correspondent
    /types/<t>/             MOVE/COPY in sets the document type
    /years/<yyyy>/          by created year
    /saved/<name>/          saved searches (MKCOL /saved/<query> makes one)
    /search/<query>/        any folder name is a query
    /asn/<n>.pdf            the document with that archive serial number
    /by-id/<id>.pdf         the document with that id

In every document folder: renaming a document changes its title (and its
created date when the new name starts with another YYYY-MM-DD); DELETE moves
it to the trash (except in /tags, see above).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Callable, Iterator

from wsgidav import util
from wsgidav.dav_error import HTTP_BAD_REQUEST, DAVError

from paperfs.dav import names
from paperfs.dav.base import Collection, DocFile
from paperfs.dav.catalog import DocEntry
from paperfs.dav.context import forbidden
from paperfs.archive.document import Document
from paperfs.errors import NotFoundError, UsageError
from paperfs.index.model import Hit
from paperfs.search.parser import parse
from paperfs.search.query_string import quote
from paperfs.search.syntax_error import QuerySyntaxError
from paperfs.search.tree import And, DateRange, Exists, MatchAll, Node

Change = Callable[[Document], Document]


def field_query(field: str, value: str) -> Node:
    """Documents whose ``field`` may equal ``value`` (text fields: filter exactly after)."""
    if not re.search(r"\w", value):
        return Exists(field)
    try:
        return parse(f"{field}:{quote(value)}")
    except QuerySyntaxError:
        return Exists(field)


def and_(*nodes: Node) -> Node:
    parts: list[Node] = []
    for node in nodes:
        if isinstance(node, MatchAll):
            continue
        parts.extend(node.children if isinstance(node, And) else (node,))
    if not parts:
        return MatchAll()
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def day_query(day: dt.date) -> Node:
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
    return DateRange("created", start, start + dt.timedelta(days=1))


def valid_folder_name(name: str) -> str:
    if not name.strip() or any(ord(c) < 32 for c in name) or len(name.encode()) > 200:
        raise forbidden(f"{name!r} cannot be a folder name")
    return name.strip()


# ---------------------------------------------------------------- changes


def add_tag(tag: str) -> Change:
    def change(doc: Document) -> Document:
        if tag.casefold() in (t.casefold() for t in doc.tags):
            return doc
        return doc.replace(tags=(*doc.tags, tag))
    return change


def remove_tag(tag: str) -> Change:
    def change(doc: Document) -> Document:
        return doc.replace(tags=tuple(t for t in doc.tags if t.casefold() != tag.casefold()))
    return change


def set_field(field: str, value: str | None) -> Change:
    return lambda doc: doc.replace(**{field: value})


def compose(*changes: Change) -> Change:
    def change(doc: Document) -> Document:
        for one in changes:
            doc = one(doc)
        return doc
    return change


def rename_change(doc: DocFile, new_name: str) -> Change | None:
    """The change a new file name asks for, or None when the name is kept.

    A document moved to another folder under the name it had (its archive
    name, or its name in a virtual folder) keeps its title.
    """
    entry = doc.entry
    if new_name == doc.name:
        return None
    max_bytes = doc.ctx.services.max_name_bytes
    base = names.base_name(entry.created, entry.title, max_bytes)
    if new_name.casefold() in {(base + names.EXT).casefold(),
                               (names.suffixed(base, entry.id) + names.EXT).casefold()}:
        return None
    if not new_name.lower().endswith(names.EXT):
        raise forbidden("documents are PDFs: keep the .pdf extension when renaming")
    title, created = names.parse_rename(new_name, entry.id)
    if not title:
        raise forbidden("the new name has no title")
    updates: dict[str, Any] = {}
    if title != entry.title and names.base_name(entry.created, title, max_bytes) != base:
        updates["title"] = title
    if created is not None and created != entry.created:
        updates["created"] = created
    if not updates:
        return None
    return lambda d: d.replace(**updates)


# ---------------------------------------------------------------- document folders


class DocFolder(Collection):
    """A folder whose members are the documents matching a query (that the user may view)."""

    def node(self) -> Node:
        raise NotImplementedError

    def keep(self, hit: Hit) -> bool:
        return True

    def _keep(self) -> Callable[[Hit], bool] | None:
        return self.keep if type(self).keep is not DocFolder.keep else None

    def _named(self, node: Node, *, exact: bool = False) -> Iterator[tuple[str, DocEntry]]:
        """(name, document) of the documents matching ``node``: a listing (from Solr
        with the Solr backend), or with ``exact`` from the catalog (exact and
        immediate: resolving a name, changing every document of the folder)."""
        ctx = self.ctx
        entries = ctx.catalog.stream(node, ctx.user, self._keep(), exact=exact)
        return names.assign(entries, max_bytes=ctx.services.max_name_bytes)

    def _file(self, name: str, entry: DocEntry) -> DocFile:
        return DocFile(util.join_uri(self.path, name), self.environ, entry, self, name)

    def iter_members(self) -> Iterator[DocFile]:
        for name, entry in self.named_members():
            yield self._file(name, entry)

    def named_members(self) -> Iterator[tuple[str, DocEntry]]:
        """(file name, document) of every member: what PROPFIND streams."""
        return self._named(self.node())

    def first(self) -> Hit | None:
        """One document in this folder (cheap: does the folder exist?)."""
        ctx = self.ctx
        return ctx.catalog.first_hit(self.node(), ctx.user, self._keep())

    def get_member(self, name: str) -> DocFile | None:
        day = names.date_of(name)
        if day is None:
            return None
        key = name.casefold()
        for listed, entry in self._named(and_(self.node(), day_query(day)), exact=True):
            if listed.casefold() == key:
                return self._file(listed, entry)
        return None

    # ------------------------------------------------------------ changes

    def apply(self, doc: DocFile, *changes: Change | None) -> None:
        real = [c for c in changes if c is not None]
        if not real:
            return
        ctx = self.ctx
        ctx.services.editor.update(ctx, doc.entry.id, compose(*real))

    def receive(self, doc: DocFile, name: str, *, move: bool) -> None:
        # Only a rename within this folder (title change) by default.
        if doc.folder.path.rstrip("/") != self.path.rstrip("/"):
            super().receive(doc, name, move=move)
        if not move:
            raise forbidden("copying a document within a folder makes no sense here")
        self.apply(doc, rename_change(doc, name))

    def bulk(self, change: Change) -> None:
        """Apply a change to every document in this folder (all must be changeable,
        and none locked by someone else)."""
        ctx = self.ctx
        entries = [entry for _name, entry in self._named(self.node(), exact=True)]
        for entry in entries:
            if not ctx.catalog.can_change(entry, ctx.user):
                raise forbidden(f"you may not change every document in {self.path} "
                                f"({entry.title!r} is read-only for you); nothing was changed")
            ctx.check_unlocked(entry.id)  # 423 before the first change, not half-way
        for entry in entries:
            ctx.services.editor.update(ctx, entry.id, change)


class FacetFolder(DocFolder):
    """/tags/<tag>, /correspondents/<c>, /types/<t>: one value of one field."""

    kind = ""  # the FolderRegistry kind
    field = ""  # Document field
    query_field = ""

    def __init__(self, path: str, environ: dict, value: str) -> None:
        super().__init__(path, environ, names.folder_name(value))
        self.value = value

    def node(self) -> Node:
        return field_query(self.query_field, self.value)

    def keep(self, hit: Hit) -> bool:
        got = hit.correspondent if self.field == "correspondent" else hit.document_type
        return got is not None and got.casefold() == self.value.casefold()

    def set_change(self) -> Change:
        return set_field(self.field, self.value)

    def clear_change(self) -> Change:
        return set_field(self.field, None)

    def receive(self, doc: DocFile, name: str, *, move: bool) -> None:
        same = isinstance(doc.folder, FacetFolder) and doc.folder.kind == self.kind \
            and doc.folder.value.casefold() == self.value.casefold()
        if same and not move:
            raise forbidden("the document is in this folder already")
        changes: list[Change | None] = [self.set_change()]
        if move and isinstance(doc.folder, TagFolder) and self.kind == "tags" and not same:
            changes.insert(0, remove_tag(doc.folder.value))
        changes.append(rename_change(doc, name))
        self.apply(doc, *changes)

    def delete_member(self, doc: DocFile) -> None:
        super().delete_member(doc)  # to the trash (tags override this)

    def handle_delete(self) -> bool:
        """Removes the value from every document in the folder (and the empty folder)."""
        self.bulk(self.clear_change())
        ctx = self.ctx
        ctx.services.folders.remove(ctx.user.name, self.kind, self.value)
        return True

    def handle_move(self, dest_path: str) -> bool:
        """Renaming the folder renames the value in every document in it."""
        parent = util.get_uri_parent(dest_path).rstrip("/")
        if parent != util.get_uri_parent(self.path).rstrip("/"):
            raise forbidden(f"{self.path} can only be renamed within its parent folder")
        new_value = names.folder_value(valid_folder_name(util.get_uri_name(dest_path)))
        renamed = type(self)(dest_path, self.environ, new_value)
        self.bulk(compose(self.clear_change(), renamed.set_change()))
        ctx = self.ctx
        if ctx.services.folders.has(ctx.user.name, self.kind, self.value):
            ctx.services.folders.remove(ctx.user.name, self.kind, self.value)
            ctx.services.folders.add(ctx.user.name, self.kind, new_value)
        return True


class TagFolder(FacetFolder):
    kind = "tags"
    field = "tags"
    query_field = "tag"

    def keep(self, hit: Hit) -> bool:
        return True

    def _keep(self) -> None:
        return None  # tag:x matches whole values already

    def set_change(self) -> Change:
        return add_tag(self.value)

    def clear_change(self) -> Change:
        return remove_tag(self.value)

    def delete_member(self, doc: DocFile) -> None:
        self.apply(doc, remove_tag(self.value))


class CorrespondentFolder(FacetFolder):
    kind = "correspondents"
    field = "correspondent"
    query_field = "correspondent"


class TypeFolder(FacetFolder):
    kind = "types"
    field = "document_type"
    query_field = "type"


class YearFolder(DocFolder):
    def __init__(self, path: str, environ: dict, year: int) -> None:
        super().__init__(path, environ, str(year))
        self.year = year

    def node(self) -> Node:
        start = dt.datetime(self.year, 1, 1, tzinfo=dt.timezone.utc)
        return DateRange("created", start, start.replace(year=self.year + 1))


class QueryFolder(DocFolder):
    def __init__(self, path: str, environ: dict, name: str, query: Node) -> None:
        super().__init__(path, environ, name)
        self.query = query

    def node(self) -> Node:
        return self.query


class SavedFolder(QueryFolder):
    def __init__(self, path: str, environ: dict, saved: Any, query: Node) -> None:
        super().__init__(path, environ, saved.name, query)
        self.saved = saved

    def _may_change(self) -> None:
        if not self.saved.changeable_by(self.ctx.user):
            raise forbidden(f"the saved search {self.saved.name!r} is shared; only a "
                            "superuser can change it with 'paperfs saved'")

    def handle_delete(self) -> bool:
        self._may_change()
        ctx = self.ctx
        ctx.services.saved.remove(self.saved.name, self.saved.owner)
        return True

    def handle_move(self, dest_path: str) -> bool:
        if util.get_uri_parent(dest_path).rstrip("/") != "/saved":
            raise forbidden("a saved search can only be renamed within /saved")
        self._may_change()
        try:
            self.ctx.services.saved.rename(self.saved.name, util.get_uri_name(dest_path),
                                           self.saved.owner)
        except (UsageError, NotFoundError) as exc:
            raise forbidden(str(exc)) from None
        return True


# ---------------------------------------------------------------- the roots


class FacetRoot(Collection):
    """/tags, /correspondents, /types: one folder per value the user can see, and per
    label declared in labels.yml (empty until a document has it)."""

    folder_class: type[FacetFolder] = TagFolder
    facet = "tags"
    labels_kind = "tags"  # the section of labels.yml

    def values(self) -> list[str]:
        ctx = self.ctx
        facets = ctx.index.facets(MatchAll(), user=ctx.user)
        seen: dict[str, str] = {}
        for count in getattr(facets, self.facet):
            seen.setdefault(count.value.casefold(), count.value)
        for name in ctx.services.folders.names(ctx.user.name, self.folder_class.kind):
            seen.setdefault(name.casefold(), name)
        for name in self.declared():
            seen.setdefault(name.casefold(), name)
        return sorted(seen.values(), key=str.casefold)

    def declared(self) -> list[str]:
        """The labels of this kind in labels.yml (the last valid version)."""
        return list(self.ctx.services.labels.current().of(self.labels_kind))

    def iter_members(self) -> Iterator[FacetFolder]:
        for value in self.values():
            yield self.folder_class(util.join_uri(self.path, names.folder_name(value)),
                                    self.environ, value)

    def get_member(self, name: str) -> FacetFolder | None:
        value = names.folder_value(name)
        folder = self.folder_class(util.join_uri(self.path, name), self.environ, value)
        entry = folder.first()
        if entry is not None:
            canonical = self._canonical(entry, value)
            if canonical != value:
                folder = self.folder_class(util.join_uri(self.path, name), self.environ,
                                           canonical)
            return folder
        ctx = self.ctx
        registered = ctx.services.folders.has(ctx.user.name, self.folder_class.kind, value)
        if registered is not None:
            return self.folder_class(util.join_uri(self.path, name), self.environ, registered)
        label = ctx.services.labels.current().find(self.labels_kind, value)
        if label is not None:
            return self.folder_class(util.join_uri(self.path, name), self.environ, label.name)
        return None

    def _canonical(self, entry: Hit, value: str) -> str:
        if self.folder_class is TagFolder:
            for tag in entry.tags:
                if tag.casefold() == value.casefold():
                    return tag
        return value

    def create_collection(self, name: str) -> None:
        ctx = self.ctx
        value = names.folder_value(valid_folder_name(name))
        ctx.services.folders.add(ctx.user.name, self.folder_class.kind, value)


class TagsRoot(FacetRoot):
    folder_class = TagFolder
    facet = "tags"


class CorrespondentsRoot(FacetRoot):
    folder_class = CorrespondentFolder
    facet = "correspondents"
    labels_kind = "correspondents"


class TypesRoot(FacetRoot):
    folder_class = TypeFolder
    facet = "types"
    labels_kind = "document_types"


class YearsRoot(Collection):
    def iter_members(self) -> Iterator[YearFolder]:
        ctx = self.ctx
        facets = ctx.index.facets(MatchAll(), user=ctx.user)
        for count in facets.years:
            if count.value.isdigit():
                yield YearFolder(util.join_uri(self.path, count.value), self.environ,
                                 int(count.value))

    def get_member(self, name: str) -> YearFolder | None:
        if not re.fullmatch(r"\d{4}", name):
            return None
        folder = YearFolder(util.join_uri(self.path, name), self.environ, int(name))
        return folder if folder.first() is not None else None


class SavedRoot(Collection):
    def iter_members(self) -> Iterator[SavedFolder]:
        for saved in self.ctx.services.saved.visible(self.ctx.user):
            folder = self._folder(saved)
            if folder is not None:
                yield folder

    def _folder(self, saved: Any) -> SavedFolder | None:
        try:
            node = parse(saved.query, custom=self.ctx.services.fields.types())
        except QuerySyntaxError:
            return None
        return SavedFolder(util.join_uri(self.path, saved.name), self.environ, saved, node)

    def get_member(self, name: str) -> SavedFolder | None:
        saved = self.ctx.services.saved.get(name, self.ctx.user)
        return self._folder(saved) if saved is not None else None

    def create_collection(self, name: str) -> None:
        """MKCOL /saved/<query>: a saved search of this user, named and searching <query>."""
        ctx = self.ctx
        try:
            ctx.services.saved.add(name, name, owner=ctx.user.name)
        except UsageError as exc:
            raise DAVError(HTTP_BAD_REQUEST, str(exc)) from None


class SearchRoot(Collection):
    """/search/<query>/: every folder name is a query; nothing is listed here."""

    def get_member(self, name: str) -> QueryFolder | None:
        try:
            node = parse(name, custom=self.ctx.services.fields.types())
        except QuerySyntaxError:
            return None
        return QueryFolder(util.join_uri(self.path, name), self.environ, name, node)

    def create_collection(self, name: str) -> None:
        try:
            parse(name, custom=self.ctx.services.fields.types())
        except QuerySyntaxError as exc:
            raise DAVError(HTTP_BAD_REQUEST, f"not a valid search: {exc}") from None


class NumberedRoot(Collection):
    """/asn and /by-id: stable addresses ``<n>.pdf``; not listed (there are too many)."""

    def lookup(self, number: int) -> DocEntry | None:
        raise NotImplementedError

    def get_member(self, name: str) -> DocFile | None:
        match = re.fullmatch(r"([1-9][0-9]{0,17}|0)\.pdf", name)
        if not match:
            return None
        entry = self.lookup(int(match.group(1)))
        if entry is None:
            return None
        return DocFile(util.join_uri(self.path, name), self.environ, entry, self, name)


class AsnRoot(NumberedRoot):
    def lookup(self, number: int) -> DocEntry | None:
        ctx = self.ctx
        for entry in ctx.catalog.stream(parse(f"asn:{number}"), ctx.user, exact=True):
            return entry
        return None


class ByIdRoot(NumberedRoot):
    def lookup(self, number: int) -> DocEntry | None:
        ctx = self.ctx
        return ctx.catalog.get(number, ctx.user)
