"""The WebDAV server: the WSGI stack on cheroot.

Request path, outermost first::

    AccessLog -> web front (login form, session cookies: paperfs/web/routing.py)
      -> Authenticator (Basic/Digest, throttling) -> web dispatch (a browser's page)
      -> Guard (hostile input)
      -> StreamingPropfind (PROPFIND) -> wsgidav (ErrorPrinter, SearchUnavailable
         (Solr down: 503), DirBrowser, RequestResolver -> RequestServer
         -> PaperfsProvider)

Share links (paperfs/sharing/): ``SharedLinks`` answers /s/… in front of the
access log (no login; tokens never logged), ``ShareCreation`` answers /_share
between the Authenticator and the Guard.

``paperfs run`` starts it in the daemon with the daemon's writer
(``DavServer(runtime, runtime.writer).start()``); ``paperfs dav`` runs it
alone (a hand-off writer: changes are written to sidecars and the daemon
applies them). It runs no scheduled jobs: the process that serves it hands
finished /inbox uploads to the consumer (``release_uploads``, every second)
and the daemon expires the trash (paperfs/daemon/service.py).
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter
from wsgidav.error_printer import ErrorPrinter
from wsgidav.mw.base_mw import BaseMiddleware
from wsgidav.dir_browser import WsgiDavDirBrowser
from wsgidav.request_resolver import RequestResolver
from wsgidav.wsgidav_app import WsgiDAVApp

from paperfs.config import Config
from paperfs.runtime import Runtime
from paperfs.dav.auth import Authenticator, Throttle
from paperfs.dav.body import HIDE_INCOMPLETE_TRACEBACK
from paperfs.dav.context import Ctx, Services, search_unavailable
from paperfs.dav.guard import Guard
from paperfs.dav.propfind import StreamingPropfind
from paperfs.dav.provider import PaperfsProvider
from paperfs.errors import ConfigError, SearchBackendError
from paperfs.index.model import User
from paperfs.sharing.create import ShareCreation
from paperfs.sharing.public import SharedLinks
from paperfs.web.routing import WebSite

if TYPE_CHECKING:
    from paperfs.index.factory import Readers
    from paperfs.archive.writer import DocumentWriter

log = logging.getLogger(__name__)
access_log = logging.getLogger("paperfs.dav.access")


class DirBrowser(WsgiDavDirBrowser):
    """wsgidav's HTML folder listing for browsers, consulted for GET/HEAD only."""

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] not in ("GET", "HEAD"):
            return self.next_app(environ, start_response)
        return super().__call__(environ, start_response)


class SearchUnavailable(BaseMiddleware):
    """Inside wsgidav's ErrorPrinter: a request the search backend cannot answer (Solr
    down, misconfigured) becomes 503 with the one-line reason, not a 500 with a stack
    trace. (PROPFIND, answered before wsgidav, does the same in propfind.py.)"""

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        try:
            yield from self.next_app(environ, start_response)
        except SearchBackendError as exc:
            raise search_unavailable(exc) from None


class AccessLog:
    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.monotonic()
        seen: dict[str, str] = {}

        def record(status: str, headers: list, exc_info: Any = None) -> Any:
            seen["status"] = status
            return start_response(status, headers, exc_info)

        try:
            yield from self.app(environ, record)
        finally:
            status = seen.get("status", "-")
            level = logging.WARNING if status.startswith("5") else logging.DEBUG
            if access_log.isEnabledFor(level):
                access_log.log(level, "%s %s %s %s -> %s (%.0f ms)",
                               environ.get("REMOTE_ADDR", "?"),
                               environ.get("wsgidav.auth.user_name") or "-",
                               environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"),
                               status, (time.monotonic() - started) * 1000)


def lock_storage(config: Config) -> Any:
    """wsgidav's ``lock_storage``: in memory (True) in one process; with ``queue``, in
    the tenant's Redis, so every replica behind a load balancer sees every LOCK."""
    if not config.queue:
        return True
    from paperfs.cluster.dav_locks import TenantLockStorage

    return TenantLockStorage(config)


def default_index_factory(runtime: Runtime) -> Callable[[], Readers]:
    """A catalog and the search side on it for each request thread
    (paperfs/index/factory.py ``open_readers``; paperfs/dav/catalog.py uses both)."""
    return runtime.open_readers


class DavServer:
    """The WebDAV server; ``start()`` and ``stop()`` run it in background threads."""

    def __init__(self, runtime: Runtime | Config, writer: "DocumentWriter | None" = None,
                 index_factory: Callable[[], Readers] | None = None, *,
                 host: str | None = None, port: int | None = None) -> None:
        """``writer``: the data root's writer in this process, or None beside a
        running daemon (the daemon applies the changes)."""
        runtime = Runtime.of(runtime)
        self.config = runtime.config
        dav = self.config.dav
        self.services = Services(runtime, writer,
                                 index_factory or default_index_factory(runtime))
        self.services.uploads.check()
        self.provider = PaperfsProvider(self.services)
        self.dav_app = WsgiDAVApp({
            "provider_mapping": {"/": self.provider},
            "middleware_stack": [ErrorPrinter, SearchUnavailable, DirBrowser, RequestResolver],
            "property_manager": True,
            "lock_storage": lock_storage(self.config),
            "verbose": 1,
            "logging": {"enable": False},
            "suppress_version_info": True,
            "block_size": 256 * 1024,
            "add_header_MS_Author_Via": True,
            # authentication is ours (auth.py); this only keeps wsgidav from warning
            "http_authenticator": {"accept_basic": False, "accept_digest": False,
                                   "default_to_digest": False},
            "hotfixes": {"re_encode_path_info": False, "unquote_path_info": False,
                         "emulate_win32_lastmod": False},
            "dir_browser": {"enable": True, "response_trailer": "paperfs", "davmount": True,
                            "ms_sharepoint_support": False, "libre_office_support": False,
                            "show_user": True, "icon": False},
        })
        if not log.isEnabledFor(logging.DEBUG):
            logging.getLogger("wsgidav").setLevel(logging.WARNING)
        logging.getLogger("wsgidav.request_server").addFilter(HIDE_INCOMPLETE_TRACEBACK)
        self.services.lock_manager = self.dav_app.lock_manager
        self.services.prop_manager = self.dav_app.prop_manager
        throttle = Throttle(dav.throttle_failures, dav.throttle_window_seconds,
                            dav.throttle_block_seconds)
        app: Callable = StreamingPropfind(self.dav_app, self.dav_app, self.provider)
        app = Guard(app, max_xml_bytes=dav.max_xml_bytes)
        shares = self.services.shares  # share links: paperfs/sharing/
        app = ShareCreation(app, self.services, shares, dav.public_url)  # /_share: logged in
        # the web page for browsers (paperfs/web/routing.py): login and sessions in
        # front of the Authenticator, the page (and /_share) or WebDAV behind it
        self.web = WebSite(self.services, throttle, self._bind)
        app = inner = self.web.dispatch(app)
        app = Authenticator(app, self.services.users, mode=dav.auth, throttle=throttle,
                            on_user=self._bind)
        app = self.web.front(app, inner)
        self.app = AccessLog(app)
        self.app = SharedLinks(self.app, self.services, shares, throttle)  # /s/: no login, no log
        self.host = host or dav.host
        self.requested_port = port if port is not None else dav.port
        self.server = wsgi.Server((self.host, self.requested_port), self.app,
                                  numthreads=dav.threads, max=dav.threads,
                                  server_name="paperfs",
                                  timeout=30, shutdown_timeout=5, request_queue_size=64)
        # Keep-alive for many clients (cheroot's default is 10 idle connections; an idle
        # connection costs a socket, not a thread).
        self.server.keep_alive_conn_limit = 256
        self.server.max_request_header_size = dav.max_header_bytes
        self.server.max_request_body_size = dav.max_body_bytes
        self.tls = self._tls(dav.tls_cert, dav.tls_key)
        self._thread: threading.Thread | None = None

    def _tls(self, cert: Path | None, key: Path | None) -> bool:
        if cert is None and key is None:
            return False
        if cert is None or key is None:
            raise ConfigError("dav.tls_cert and dav.tls_key must be set together")
        root = Path(self.config.data_root)
        cert, key = root / cert, root / key
        for name, path in (("dav.tls_cert", cert), ("dav.tls_key", key)):
            if not path.is_file():
                raise ConfigError(f"{name}: {path} does not exist")
        try:
            adapter = BuiltinSSLAdapter(str(cert), str(key))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"dav.tls_cert/dav.tls_key: cannot load {cert} / {key}: {exc}")
        adapter.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.server.ssl_adapter = adapter
        return True

    def _bind(self, user: User, environ: dict) -> None:
        environ["paperfs.ctx"] = Ctx(self.services, user, environ)

    def mount_in_front(self, make: Callable[[Callable], Callable]) -> None:
        """Put ``make(app)`` in front of the whole stack (the split deployment's
        /healthz, /readyz, /metrics, answered before authentication)."""
        self.app = make(self.app)
        self.server.wsgi_app = self.app

    # ------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        bound = getattr(self.server, "bind_addr", None)
        if isinstance(bound, tuple) and bound[1]:
            return int(bound[1])
        return self.requested_port

    @property
    def url(self) -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}/"

    def start(self) -> None:
        """Bind, then serve in a background thread."""
        moved = self.services.writer.recover_trash()
        if moved:
            log.info("trash: completed %d interrupted move(s)", moved)
        try:
            self.server.prepare()
        except OSError as exc:
            raise ConfigError(f"dav.host/dav.port: cannot listen on {self.host}:"
                              f"{self.requested_port}: {exc.strerror or exc}") from None
        self._thread = threading.Thread(target=self.server.serve, name="paperfs-dav",
                                        daemon=True)
        self._thread.start()
        log.info("WebDAV server on %s (auth: %s)", self.url, self.config.dav.auth)
        if not self.services.users.table().accounts:
            log.warning("no WebDAV users yet: add one with 'paperfs user add NAME'")
        if not self.tls and self.config.dav.auth != "digest" and \
                self.host not in ("127.0.0.1", "::1", "localhost"):
            log.warning("Basic authentication without TLS on %s: passwords cross the network "
                        "readable; set dav.tls_cert and dav.tls_key", self.host)

    def stop(self) -> None:
        try:
            self.server.stop()
        except Exception:  # noqa: BLE001 - stopping anyway
            log.exception("stopping the WebDAV server")
        if self._thread is not None:
            self._thread.join(10)
        self.services.close()
        log.info("WebDAV server stopped")

    # ------------------------------------------------------------ intake

    def release_uploads(self) -> None:
        """Hand finished /inbox uploads to the consumer (a job of the serving process)."""
        self.services.uploads.release(self.services.lock_manager, self.services.prop_manager)
