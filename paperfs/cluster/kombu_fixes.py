"""Work-arounds for kombu 5.x bugs that make a `paperfs worker` exit when Redis goes away.

Seen with Celery 5.7 / kombu 5.7 and a Redis stopped for 30 s during a batch
(tests/test_cluster_queue.py::test_redis_down_for_30_seconds_loses_nothing):

1. On a lost connection the worker closes its channel, which requeues its
   unacknowledged tasks over the dead connection: AttributeError ('NoneType'
   object has no attribute 'hostname'), "Unrecoverable error", the worker exits.
2. A task that finishes while Redis is away acknowledges (or rejects) itself,
   after the reconnect, on the channel of the dead connection: AttributeError
   ('... no attribute client'), and the worker exits again.

In both cases the tasks are still unacknowledged in Redis when Redis kept its
data, and come back after the visibility timeout (a redelivered task whose job
was filed meanwhile does nothing); what a restarted Redis lost, the queue pool
sends again. So on a channel without a connection these become no-ops.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def apply() -> None:
    """Patch kombu's Redis QoS in this process (the worker's; idempotent)."""
    from kombu.transport import redis as kombu_redis

    qos = kombu_redis.QoS
    if getattr(qos, "_paperfs_fixed", False):
        return
    qos.restore_at_shutdown = False  # 1.
    for name in ("ack", "reject"):  # 2.
        setattr(qos, name, _unless_disconnected(getattr(qos, name), name))
    qos._paperfs_fixed = True


def _unless_disconnected(method, name: str):
    def guarded(self, delivery_tag, *args, **kwargs):
        if self.channel.connection is None:
            log.warning("cannot %s task %s: its connection to Redis is gone; it comes back "
                        "after the visibility timeout if Redis kept it", name, delivery_tag)
            return None
        return method(self, delivery_tag, *args, **kwargs)

    guarded.__name__ = method.__name__
    guarded.__doc__ = method.__doc__
    return guarded
