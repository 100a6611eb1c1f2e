"""The prepare task a `paperfs worker` runs: the local pool's PREPARE entry point, over Celery.

The job folder is on the shared data root: the worker reads the job's input
there and writes into a scratch folder of its own delivery inside it
(scratch/delivery-N), so a late duplicate of a redelivered task never writes
over the files of the delivery whose result is filed.

Each delivery of a job is counted in Redis (``job:ID:deliveries`` under the
tenant prefix). A job whose worker died ``cluster.max_deliveries`` times is not
run again: the task returns a failure, and the job ends in failed/ with the
reason, instead of killing workers forever.

The task returns ("ok", proposals) or ("error", error class name, message),
as the local pool's workers send, so the consumer cannot tell them apart.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import traceback
from typing import TYPE_CHECKING, Any

from paperfs.cluster.redis_keys import key, redis_client

if TYPE_CHECKING:
    from paperfs.config import Config
    from paperfs.consume.messages import PrepareTask

log = logging.getLogger(__name__)

#: a test hook: a worker that meets a file of this name dies (os._exit) as if OOM-killed
KILL_ON_ENV = "TEST_PAPERFS_WORKER_DIES_ON"
#: a delivery counter outlives a forgotten job this long
DELIVERIES_TTL_SECONDS = 7 * 24 * 3600

_redis: dict[int, Any] = {}


def deliveries_key(config: Config, job_id: str) -> str:
    return key(config, "job", job_id, "deliveries")


def current_task_key(config: Config, job_id: str) -> str:
    """The id of the one task of a job whose result counts (the queue pool sets it)."""
    return key(config, "job", job_id, "task")


def _client(config: Config) -> Any:
    """One Redis client per worker process (a forked child makes its own)."""
    pid = os.getpid()
    if pid not in _redis:
        _redis.clear()
        _redis[pid] = redis_client(config)
    return _redis[pid]


def count_delivery(config: Config, job_id: str) -> int:
    """This delivery's number (1 for the first)."""
    client = _client(config)
    name = deliveries_key(config, job_id)
    with client.pipeline() as pipe:
        pipe.incr(name)
        pipe.expire(name, DELIVERIES_TTL_SECONDS)
        number, _ = pipe.execute()
    return int(number)


def prepare_task(self: Any, task: PrepareTask) -> tuple:
    """Celery task body (celery_app.make_app registers it): run prepare on ``task``."""
    config: Config = self.app.paperfs_config
    if not task.input.exists():
        # The job was filed or failed meanwhile (a late redelivery): nothing to do.
        return ("error", "ConsumeError", f"job {task.job_id} is no longer waiting")
    current = _client(config).get(current_task_key(config, task.job_id))
    if current is not None and current.decode() != self.request.id:
        # Sent before the daemon restarted, or before Redis lost its data: the job's
        # current task is another one, whose result is the one read.
        log.info("job %s (%s): skipping stale task %s", task.job_id, task.filename,
                 self.request.id)
        return ("error", "ConsumeError", f"task {self.request.id} is stale")
    delivery = count_delivery(config, task.job_id)
    log.info("job %s (%s): delivery %d", task.job_id, task.filename, delivery)
    if delivery > config.cluster.max_deliveries:
        return ("error", "WorkerCrashedError",
                f"its worker died {delivery - 1} times while processing it "
                f"(cluster.max_deliveries={config.cluster.max_deliveries}); it may be "
                "out of memory or the file may crash a converter")
    if os.environ.get(KILL_ON_ENV) and task.filename == os.environ[KILL_ON_ENV]:
        os._exit(137)
    from paperfs.consume.pipeline import prepare
    from paperfs.errors import ConsumeError

    from paperfs.cluster.metrics import OCR_SECONDS

    own = dataclasses.replace(task, scratch=task.scratch / f"delivery-{delivery}")
    try:
        with OCR_SECONDS.time():
            proposals = prepare(own)
        log.info("job %s (%s): prepared, %d document(s)", task.job_id, task.filename,
                 len(proposals))
        return ("ok", proposals)
    except ConsumeError as exc:
        return ("error", type(exc).__name__, str(exc))
    except Exception as exc:  # noqa: BLE001 - the stage boundary, as in the local pool
        log.debug("prepare failed: %s", traceback.format_exc())
        return ("error", "ConsumeError", f"{type(exc).__name__}: {exc}")
