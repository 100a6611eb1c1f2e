"""CLI command ``paperfs dav``: the WebDAV server alone (registered on import).

    paperfs dav [--host H] [--port P]         for split deployments; with queue: a replica
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

import click

from paperfs.cli.app import cli, runtime_of
from paperfs.config import host_problem, port_problem
from paperfs.errors import UsageError

log = logging.getLogger("paperfs")


@cli.command("dav")
@click.option("--host", help="Address to listen on (default: dav.host).")
@click.option("--port", type=int, help="Port (default: dav.port).")
@click.pass_context
def dav_command(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Run the WebDAV server alone (the daemon, 'paperfs run', applies the changes).

    With queue set: one replica of the split deployment (any number, behind a
    load balancer; locks in Redis, a local catalog in dav.cache_dir; needs
    index.backend: solr).
    """
    from paperfs.daemon.service import serve_webdav

    for option, value, check in (("--host", host, host_problem), ("--port", port, port_problem)):
        problem = None if value is None else check(value)
        if problem:
            raise UsageError(f"{option}: {problem}")
    runtime = runtime_of(ctx).initialised()
    stopping = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("received %s, stopping the WebDAV server", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    serve_webdav(runtime, stopping, host=host, port=port)
