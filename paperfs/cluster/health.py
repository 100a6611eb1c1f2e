"""Liveness, readiness and metrics over HTTP, for each service of the split deployment.

    GET /healthz   200 "ok": the process answers (liveness; restart it if not)
    GET /readyz    200 "ready …" or 503 with one problem a line: can it do its work now?
    GET /metrics   the Prometheus text format (paperfs/cluster/metrics.py)

The scheduler and the worker serve them on ``cluster.metrics_port`` (0: off)
at ``cluster.metrics_host``; ``paperfs dav`` serves them beside WebDAV
(``endpoints_app`` mounted in front of its WSGI stack).

Ready means: Redis answers, the data root is there (the shared filesystem is
mounted), and the service's own check passes (the scheduler: active or a
standby that waits; its state is in the body).
"""

from __future__ import annotations

import logging
import socketserver
import threading
from typing import TYPE_CHECKING, Any, Callable, Iterable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from paperfs.cluster.metrics import exposition
from paperfs.cluster.redis_keys import redacted_url, redis_client
from paperfs.errors import ConfigError

if TYPE_CHECKING:
    import redis

    from paperfs.config import Config

log = logging.getLogger(__name__)

#: a service's own readiness: its problems (none: ready) and a word on its state
Check = Callable[[], tuple[list[str], str]]

Wsgi = Callable[[dict, Callable], Iterable[bytes]]


def readiness(config: Config, own: Check | None = None,
              client: "redis.Redis | None" = None) -> tuple[list[str], str]:
    """What keeps this service from working now (empty: ready), and its state;
    ``client``: the service's Redis client (a probe must not open a new pool each time)."""
    import redis

    problems = []
    try:
        (client or redis_client(config)).ping()
    except redis.RedisError as exc:
        problems.append(f"Redis unreachable at {redacted_url(config.queue)}: {exc}")
    state_dir = config.data_root / ".paperfs"
    if not state_dir.is_dir():
        problems.append(f"the data root {config.data_root} is not there (is the shared "
                        "filesystem mounted?)")
    state = "ready"
    if own is not None:
        own_problems, state = own()
        problems += own_problems
    return problems, state


def endpoints_app(config: Config, own: Check | None = None,
                  fallback: Wsgi | None = None) -> Wsgi:
    """A WSGI app answering /healthz, /readyz and /metrics; anything else goes to
    ``fallback`` (WebDAV) or is 404."""

    client = redis_client(config)

    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return _answer(start_response, "200 OK", b"ok\n")
        if path == "/readyz":
            problems, state = readiness(config, own, client)
            if problems:
                return _answer(start_response, "503 Service Unavailable",
                               ("\n".join(problems) + "\n").encode())
            return _answer(start_response, "200 OK", f"ready ({state})\n".encode())
        if path == "/metrics":
            body, content_type = exposition(config)
            return _answer(start_response, "200 OK", body, content_type)
        if fallback is not None:
            return fallback(environ, start_response)
        return _answer(start_response, "404 Not Found", b"not found\n")

    return app


def _answer(start_response: Callable, status: str, body: bytes,
            content_type: str = "text/plain; charset=utf-8") -> list[bytes]:
    start_response(status, [("Content-Type", content_type),
                            ("Content-Length", str(len(body))), ("Cache-Control", "no-store")])
    return [body]


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass  # a scrape every 15 s is not news


class EndpointServer:
    """The endpoints on their own port, in a background thread."""

    def __init__(self, config: Config, own: Check | None = None) -> None:
        cluster = config.cluster
        try:
            self.server = make_server(cluster.metrics_host, cluster.metrics_port,
                                      endpoints_app(config, own), server_class=_Server,
                                      handler_class=_QuietHandler)
        except OSError as exc:  # a port in use: another service of this host has it
            raise ConfigError(f"cluster.metrics_port: cannot listen on {cluster.metrics_host}:"
                              f"{cluster.metrics_port} ({exc.strerror or exc}); each service "
                              "on a host needs its own (PAPERFS_CLUSTER__METRICS_PORT in its "
                              "unit)") from None
        self.port = self.server.server_port
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        name="paperfs-endpoints", daemon=True)
        self._thread.start()
        log.info("metrics and health on http://%s:%d/ (/metrics /healthz /readyz)",
                 cluster.metrics_host, self.port)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve_endpoints(config: Config, own: Check | None = None) -> EndpointServer | None:
    """Start the endpoints if ``cluster.metrics_port`` is set (else None)."""
    if not config.cluster.metrics_port:
        return None
    return EndpointServer(config, own)
