"""Building blocks of the namespace: collections, document files, properties.

Every resource answers ``get_properties`` itself (the live properties it
knows, plus wsgidav's lock and dead-property handling) so that a listing of
thousands of documents costs a few dictionary lookups per document.
"""

from __future__ import annotations

import datetime as dt
import os
import posixpath
from typing import TYPE_CHECKING, Any, Iterator
from urllib.parse import quote

from lxml import etree
from wsgidav import util, xml_tools
from wsgidav.dav_error import (HTTP_FORBIDDEN, HTTP_NOT_FOUND, DAVError,
                               PRECONDITION_CODE_ProtectedProperty)
from wsgidav.dav_provider import DAVCollection, DAVNonCollection

from paperfs.dav.context import Ctx, ctx_of, forbidden, lock_key, not_found

if TYPE_CHECKING:
    from paperfs.dav.catalog import DocEntry

LOCK_NAMES = ("{DAV:}lockdiscovery", "{DAV:}supportedlock")
PDF_TYPE = "application/pdf"
BLOCK = 256 * 1024
_HREF_SAFE = "/!*'(),$-_|."


def rfc1123(seconds: float) -> str:
    return util.get_rfc1123_time(seconds)


def rfc3339(seconds: float) -> str:
    return util.get_rfc3339_time(seconds)


def _collection_type() -> Any:
    el = etree.Element("{DAV:}resourcetype")
    etree.SubElement(el, "{DAV:}collection")
    return el


class Props:
    """Property answers shared by all paperfs resources (mixed into wsgidav's classes)."""

    environ: dict
    path: str
    is_collection: bool
    provider: Any

    @property
    def ctx(self) -> Ctx:
        return ctx_of(self.environ)

    def live_props(self) -> dict[str, Any]:
        """The live properties this resource has, by Clark name."""
        props: dict[str, Any] = {}
        props["{DAV:}resourcetype"] = _collection_type() if self.is_collection else ""
        created = self.get_creation_date()  # type: ignore[attr-defined]
        if created is not None:
            props["{DAV:}creationdate"] = rfc3339(created)
        if not self.is_collection:
            length = self.get_content_length()  # type: ignore[attr-defined]
            if length is not None:
                props["{DAV:}getcontentlength"] = str(length)
            ctype = self.get_content_type()  # type: ignore[attr-defined]
            if ctype:
                props["{DAV:}getcontenttype"] = ctype
        modified = self.get_last_modified()  # type: ignore[attr-defined]
        if modified is not None:
            props["{DAV:}getlastmodified"] = rfc1123(modified)
        props["{DAV:}displayname"] = self.get_display_name()  # type: ignore[attr-defined]
        etag = self.get_etag()  # type: ignore[attr-defined]
        if etag is not None:
            props["{DAV:}getetag"] = f'"{etag}"'
        return props

    def get_properties(self, mode: str, *, name_list: list[str] | None = None) -> list:
        live = self.live_props()
        lm = self.provider.lock_manager
        pm = self.provider.prop_manager
        if mode in ("allprop", "name"):
            names = list(live)
            if lm is not None and not self.prevent_locking():  # type: ignore[attr-defined]
                names.extend(LOCK_NAMES)
            if pm is not None:
                names.extend(pm.get_properties(self.props_key(), self.environ) or ())
            if mode == "name":
                return [(n, None) for n in names]
            name_list = names
        assert name_list is not None
        out = []
        for name in name_list:
            if name in live:
                out.append((name, live[name]))
            elif name.startswith("{DAV:}") and name not in LOCK_NAMES:
                out.append((name, DAVError(HTTP_NOT_FOUND)))
            else:
                try:
                    out.append((name, self._stored_value(name)))
                except DAVError as exc:
                    out.append((name, exc))
        return out

    def get_property_value(self, name: str) -> Any:
        live = self.live_props()
        if name in live:
            return live[name]
        return self._stored_value(name)

    def props_key(self) -> str:
        """The key of this resource's dead properties (usually its lock key)."""
        return self.get_ref_url()  # type: ignore[attr-defined]

    def _stored_value(self, name: str) -> Any:
        """A lock property (wsgidav) or a dead property (under props_key)."""
        if name.startswith("{DAV:}"):
            return super().get_property_value(name)  # type: ignore[misc]
        pm = self.provider.prop_manager
        value = pm.get_property(self.props_key(), name, self.environ) if pm else None
        if value is None:
            raise DAVError(HTTP_NOT_FOUND)
        return xml_tools.string_to_xml(value)

    def get_href(self) -> str:
        return quote(self.provider.mount_path + self.get_preferred_path(),  # type: ignore[attr-defined]
                     safe=_HREF_SAFE)


class Collection(Props, DAVCollection):
    """A folder of the namespace. By default read-only: no locks, no dead properties."""

    def __init__(self, path: str, environ: dict, name: str | None = None) -> None:
        super().__init__(path, environ)
        self.name = name if name is not None else posixpath.basename(path.rstrip("/"))

    def get_display_name(self) -> str:
        return self.name

    def get_creation_date(self) -> float | None:
        return None

    def get_last_modified(self) -> float | None:
        return None

    def get_etag(self) -> str | None:
        return None

    def prevent_locking(self) -> bool:
        return True

    def get_member_names(self) -> list[str]:
        return [m.name for m in self.iter_members()]

    def get_member_list(self) -> list:
        return list(self.iter_members())

    def iter_members(self) -> Iterator[Any]:
        """Member resources, lazily (PROPFIND streams them)."""
        return iter(())

    def get_member(self, name: str) -> Any:
        return self.provider.get_resource_inst(util.join_uri(self.path, name), self.environ)

    # Writes: refused unless a subclass says otherwise.

    def set_property_value(self, name: str, value: Any, *, dry_run: bool = False) -> Any:
        raise DAVError(HTTP_FORBIDDEN, err_condition=PRECONDITION_CODE_ProtectedProperty)

    def create_empty_resource(self, name: str) -> Any:
        if self.environ.get("REQUEST_METHOD") == "LOCK":
            raise not_found(util.join_uri(self.path, name))
        raise forbidden(f"{self.path} does not take new files; upload documents into /inbox/")

    def create_collection(self, name: str) -> None:
        raise forbidden(f"no new folders in {self.path}")

    def handle_delete(self) -> bool:
        raise forbidden(f"{self.path} cannot be deleted")

    def handle_move(self, dest_path: str) -> bool:
        raise forbidden(f"{self.path} cannot be moved or renamed")

    def handle_copy(self, dest_path: str, *, depth_infinity: bool) -> bool:
        raise forbidden(f"{self.path} cannot be copied")

    def receive(self, doc: "DocFile", name: str, *, move: bool) -> None:
        """A document is moved (or copied) into this folder under ``name``."""
        raise forbidden(f"documents cannot be {'moved' if move else 'copied'} into "
                        f"{self.path}; move them into a folder under /tags, "
                        "/correspondents or /types, or into /trash")

    def delete_member(self, doc: "DocFile") -> None:
        """DELETE of a document listed in this folder: to the trash (by default)."""
        ctx = self.ctx
        ctx.services.editor.trash(ctx, doc.entry.id)
        doc.forget()


class DocFile(Props, DAVNonCollection):
    """A document (its archive PDF) as listed in some folder.

    The same document has many addresses (/archive/…, /tags/x/…, /by-id/7.pdf);
    they share one lock and property key, ``/by-id/<id>.pdf``.
    """

    def __init__(self, path: str, environ: dict, entry: "DocEntry", folder: Collection,
                 name: str) -> None:
        super().__init__(path, environ)
        self.entry = entry
        self.folder = folder
        self.name = name
        self._size: int | None = None

    # ------------------------------------------------------------ reading

    @property
    def file_path(self) -> str:
        return os.path.join(self.ctx.services.root.archive, self.entry.path + ".pdf")

    def get_content_length(self) -> int:
        # The file itself (not the size cache listings use): a GET must announce
        # exactly the bytes it sends.
        if self._size is None:
            try:
                self._size = os.stat(self.file_path).st_size
            except FileNotFoundError:
                self._size = 0
        return self._size

    def get_content_type(self) -> str:
        return PDF_TYPE

    def get_creation_date(self) -> float:
        return self.entry.added.timestamp()

    def get_display_name(self) -> str:
        return self.name

    def get_etag(self) -> str:
        return self.entry.sha256

    def get_last_modified(self) -> float:
        return self.entry.mtime

    def support_etag(self) -> bool:
        return True

    def support_ranges(self) -> bool:
        return True

    def support_modified(self) -> bool:
        return True

    def get_ref_url(self) -> str:
        return lock_key(self.entry.id)

    def get_content(self) -> Any:
        try:
            return open(self.file_path, "rb", buffering=BLOCK)
        except FileNotFoundError:
            # Moved since it was looked up (a metadata change): look again once.
            ctx = self.ctx
            fresh = ctx.catalog.get(self.entry.id, ctx.user)
            if fresh is None:
                raise not_found(self.path) from None
            self.entry = fresh
            return open(self.file_path, "rb", buffering=BLOCK)

    # ------------------------------------------------------------ writing

    def may_change(self) -> bool:
        return self.ctx.catalog.can_change(self.entry, self.ctx.user)

    def prevent_locking(self) -> bool:
        return False  # LOCK itself checks change permission (provider.custom_request_handler)

    def set_property_value(self, name: str, value: Any, *, dry_run: bool = False) -> Any:
        if not self.may_change():
            raise forbidden("you may view this document but not change it")
        return super().set_property_value(name, value, dry_run=dry_run)

    def begin_write(self, *, content_type: str | None = None) -> Any:
        # A PDF over a document's PDF is its new version (dav/version_upload.py).
        from paperfs.dav.version_upload import VersionUpload

        self._version = VersionUpload(self)
        return self._version.begin()

    def end_write(self, *, with_errors: bool) -> None:
        version = getattr(self, "_version", None)  # None: begin_write refused it
        if version is not None:
            version.end(with_errors=with_errors)

    def handle_delete(self) -> bool:
        self.folder.delete_member(self)
        return True

    def handle_move(self, dest_path: str) -> bool:
        self._send(dest_path, move=True)
        return True

    def handle_copy(self, dest_path: str, *, depth_infinity: bool) -> bool:
        self._send(dest_path, move=False)
        return True

    def _send(self, dest_path: str, *, move: bool) -> None:
        parent_path, name = util.get_uri_parent(dest_path), util.get_uri_name(dest_path)
        parent = self.provider.get_resource_inst(parent_path, self.environ)
        if parent is None or not isinstance(parent, Collection):
            raise forbidden(f"documents cannot be moved into {parent_path}")
        existing = self.provider.get_resource_inst(dest_path, self.environ)
        if isinstance(existing, DocFile) and existing.entry.id != self.entry.id:
            raise forbidden(f"another document is called {name!r} in {parent_path}; "
                            "rename one of them first")
        if existing is not None and not isinstance(existing, DocFile):
            raise forbidden(f"{dest_path} exists and is not a document")
        parent.receive(self, name, move=move)

    def forget(self) -> None:
        """Drop locks and properties after the document left this address for good."""
        if self.provider.lock_manager is not None:
            self.provider.lock_manager.remove_all_locks_from_url(self.get_ref_url())
        if self.provider.prop_manager is not None:
            self.provider.prop_manager.remove_properties(self.get_ref_url(), self.environ)


class FileOnDisk(Props, DAVNonCollection):
    """A file of the data root served as it is: its size, dates and ETag from its
    stat (taken once per request), its bytes from the file."""

    content_type = "application/octet-stream"

    def __init__(self, path: str, environ: dict, name: str, fs_path: str, *,
                 exists: bool = True) -> None:
        super().__init__(path, environ)
        self.name = name
        self.fs_path = fs_path
        self._stat: os.stat_result | None = None
        if exists:
            try:
                self._stat = os.stat(fs_path)
            except FileNotFoundError:
                pass

    def get_content_length(self) -> int:
        return self._stat.st_size if self._stat else 0

    def get_content_type(self) -> str:
        return self.content_type

    def get_creation_date(self) -> float | None:
        return self._stat.st_ctime if self._stat else None

    def get_display_name(self) -> str:
        return self.name

    def get_etag(self) -> str | None:
        if self._stat is None:
            return None
        return f"{self._stat.st_mtime_ns:x}-{self._stat.st_size:x}"

    def get_last_modified(self) -> float | None:
        return self._stat.st_mtime if self._stat else None

    def support_etag(self) -> bool:
        return True

    def support_ranges(self) -> bool:
        return True

    def get_content(self) -> Any:
        try:
            return open(self.fs_path, "rb", buffering=BLOCK)
        except FileNotFoundError:
            raise not_found(self.path) from None


class ReadOnlyFile(FileOnDisk):
    """A file no one changes over WebDAV: no locks, no properties, no writes,
    deletes, moves or copies (each refused with its ``refuse_*`` message, 403).
    Subclasses allow what they need."""

    refuse_props = "properties of this file cannot be set"
    refuse_write = "this file cannot be changed"
    refuse_delete = "this file cannot be deleted"
    refuse_move = "this file cannot be moved or renamed"
    refuse_copy = "this file cannot be copied"

    def prevent_locking(self) -> bool:
        return True

    def set_property_value(self, name: str, value: Any, *, dry_run: bool = False) -> Any:
        raise forbidden(self.refuse_props)

    def begin_write(self, *, content_type: str | None = None) -> Any:
        raise forbidden(self.refuse_write)

    def handle_delete(self) -> bool:
        raise forbidden(self.refuse_delete)

    def handle_move(self, dest_path: str) -> bool:
        raise forbidden(self.refuse_move)

    def handle_copy(self, dest_path: str, *, depth_infinity: bool) -> bool:
        raise forbidden(self.refuse_copy)


def timestamp(value: dt.datetime | None) -> float | None:
    return value.timestamp() if value is not None else None
