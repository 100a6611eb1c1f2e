"""The Celery app of one deployment: broker and results in the tenant's Redis.

Delivery semantics (tests/test_cluster_queue.py shows each):
- ``task_acks_late``: a task is acknowledged when it ends, not when a worker
  takes it, so a worker that dies mid-document loses nothing.
- ``task_reject_on_worker_lost``: a pool child killed mid-task (OOM killer,
  kill -9) requeues its task; without it Celery acknowledges it as failed.
- a worker's main process killed (the host lost) leaves its task unacknowledged
  in Redis; kombu gives it to another worker after
  ``cluster.visibility_timeout_seconds`` (so that must exceed the longest OCR).
- ``worker_prefetch_multiplier=1``: a worker process holds one job at a time,
  so a long scan does not hide queued jobs from idle workers.
Every key (queue, unacked, results, bindings) carries the tenant prefix: the
broker's and the result backend's ``global_keyprefix`` are set separately.

Tasks travel pickled: PrepareTask and ProposedDocument are dataclasses with
paths; Redis is the deployment's own, trusted like its data root.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paperfs.cluster.redis_keys import prefix

if TYPE_CHECKING:
    from celery import Celery

    from paperfs.config import Config

PREPARE_TASK = "paperfs.prepare"
#: results live this long unread (the pool deletes them once read)
RESULT_EXPIRES_SECONDS = 24 * 3600


def tenant_name(config: Config) -> str:
    return config.tenant.strip() or "default"


def queue_name(config: Config) -> str:
    """The tenant's queue of OCR jobs (its Redis key also carries the tenant prefix)."""
    return f"paperfs.{tenant_name(config)}.prepare"


def make_app(config: Config) -> Celery:
    """One Celery app for ``config`` (queue: redis://…); its config rides along as app.paperfs_config."""
    from celery import Celery

    from paperfs.cluster.tasks import prepare_task

    keyprefix = prefix(config)
    visibility = float(config.cluster.visibility_timeout_seconds)
    app = Celery(f"paperfs-{tenant_name(config)}", broker=config.queue, backend=config.queue,
                 set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={
            "visibility_timeout": visibility,
            "global_keyprefix": keyprefix,
            # how often a worker looks for tasks past their visibility timeout (every tick)
            "unacked_restore_interval": max(1.0, min(10.0, visibility / 4)),
            "unacked_restore_throttle": 1,
            "socket_connect_timeout": 5,
            "socket_timeout": 30,
        },
        result_backend_transport_options={"global_keyprefix": keyprefix},
        result_expires=RESULT_EXPIRES_SECONDS,
        result_extended=False,
        task_serializer="pickle",
        result_serializer="pickle",
        accept_content=["pickle"],
        task_default_queue=queue_name(config),
        task_routes={PREPARE_TASK: {"queue": queue_name(config)}},
        # workers' remote control and events stay inside the tenant too
        control_exchange=f"paperfs.{tenant_name(config)}.control",
        event_exchange=f"paperfs.{tenant_name(config)}.events",
        # a hung OCR is killed like the local pool's: the document fails, the worker lives
        task_time_limit=config.consume.timeout_seconds,
        task_track_started=False,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a worker outlives a Redis outage
        # an OCR under way when Redis goes away finishes (and is not done twice)
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
    )
    app.paperfs_config = config
    app.task(name=PREPARE_TASK, bind=True)(prepare_task)
    return app
