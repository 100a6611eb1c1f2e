"""CLI commands of the split deployment (registered on import; docs/deployment.md).

    paperfs worker [--concurrency N] [--hostname H]    OCR jobs from the tenant's queue
    paperfs scheduler                                  intake, the writer, scheduled jobs (one active)
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile

import click

from paperfs.cli.app import cli, runtime_of
from paperfs.errors import UsageError

log = logging.getLogger("paperfs")


@cli.command("worker")
@click.option("--concurrency", type=click.IntRange(min=1), metavar="N",
              help="Documents at once, one per process (default: the CPU cores).")
@click.option("--hostname", metavar="H",
              help="This worker's name (default: paperfs-worker@HOST).")
@click.pass_context
def worker_command(ctx: click.Context, concurrency: int | None, hostname: str | None) -> None:
    """Prepare (OCR) documents from the queue; needs the shared data root, never its writer lock."""
    from paperfs.cluster.celery_app import make_app, queue_name
    from paperfs.cluster.redis_keys import redacted_url

    config = runtime_of(ctx).config
    if not config.queue:
        raise UsageError("'paperfs worker' needs queue: redis://HOST:PORT/DB in the config "
                         "(or PAPERFS_QUEUE)")
    if config.cluster.visibility_timeout_seconds <= config.consume.timeout_seconds:
        log.warning("cluster.visibility_timeout_seconds (%g) is not above consume.timeout_seconds "
                    "(%g): a long OCR job is given to a second worker while it still runs",
                    config.cluster.visibility_timeout_seconds, config.consume.timeout_seconds)
    if os.geteuid() == 0:
        # Celery refuses pickled tasks as root unless told; containers often run as root.
        log.warning("paperfs worker runs as root: run it as the data root's owner instead")
        os.environ["C_FORCE_ROOT"] = "1"
    # One thread for tesseract/OpenMP: parallelism comes from the processes (as the local pool).
    os.environ["OMP_THREAD_LIMIT"] = "1"
    # The prepare processes' metrics (OCR seconds) summed into the worker's /metrics answer:
    # prometheus_client's multiprocess mode, set before paperfs.cluster.metrics is imported.
    metrics_dir = tempfile.mkdtemp(prefix="paperfs-worker-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    # Loaded once, before the pool forks: each process starts its first document at once.
    import paperfs.consume.pipeline  # noqa: F401

    from paperfs.cluster import kombu_fixes

    kombu_fixes.apply()  # or a Redis outage ends the worker
    # Celery logs each task's return value: the documents' text. Our own lines say enough.
    logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
    app = make_app(config)
    processes = concurrency or os.cpu_count() or 1
    name = hostname or f"paperfs-worker@{socket.gethostname()}"
    log.info("paperfs worker %s: %d process(es) on %s of %s", name, processes,
             queue_name(config), redacted_url(config.queue))
    from paperfs.cluster.health import serve_endpoints
    from paperfs.cluster.services import register

    registration = register(config, "worker", detail=f"{name}, {processes} process(es)")
    endpoints = serve_endpoints(config)
    try:
        # SIGTERM: Celery's warm shutdown (the documents under way finish, then it exits).
        app.worker_main(["worker", "--pool=prefork", f"--concurrency={processes}",
                         f"--hostname={name}", f"--queues={queue_name(config)}",
                         f"--loglevel={config.log_level}", "--without-gossip",
                         "--without-mingle", "--prefetch-multiplier=1"])
    finally:
        if endpoints is not None:
            endpoints.stop()
        registration.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)


@cli.command("scheduler")
@click.pass_context
def scheduler_command(ctx: click.Context) -> None:
    """Intake, the writer and the scheduled jobs; one active per tenant, the others wait."""
    import signal

    from paperfs.cluster.scheduler_service import SchedulerService
    from paperfs.daemon.systemd import Notifier

    service = SchedulerService(runtime_of(ctx).initialised())

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received %s, stopping the scheduler", signal.Signals(signum).name)
        service.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    ctx.exit(service.run(notify=Notifier().notify))
