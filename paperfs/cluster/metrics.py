"""Metrics in the Prometheus text format (prometheus_client).

What each service measures itself (module-level metrics, observed where it
happens):

    paperfs_jobs_total{outcome}       inputs finished by the scheduler: filed | failed
    paperfs_ocr_seconds               a worker's time to prepare one job (OCR, mostly)
    paperfs_search_seconds            a search's time (WebDAV's virtual folders)

and what is read from Redis at each scrape (the same for every service, so any
one of them answers for the cluster):

    paperfs_queue_depth               jobs waiting for a worker
    paperfs_queue_in_flight           jobs a worker holds
    paperfs_services{role,state}      services whose heartbeat is fresh
    paperfs_redis_up                  1 if Redis answered the scrape

A Celery worker prepares in forked children: set ``PROMETHEUS_MULTIPROC_DIR``
(an empty folder) before this module (prometheus_client) is first imported and
the children's observations are summed into the parent's answer
(prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from prometheus_client import (CollectorRegistry, Counter, Histogram, disable_created_metrics,
                               generate_latest)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

if TYPE_CHECKING:
    from paperfs.config import Config

disable_created_metrics()  # *_created series only double every scrape

JOBS = Counter("paperfs_jobs", "Inputs finished by the scheduler, by outcome (filed, failed)",
               ["outcome"])
OCR_SECONDS = Histogram("paperfs_ocr_seconds",
                        "Seconds a worker took to prepare one job (detect, convert, OCR, classify)",
                        buckets=(0.25, 0.5, 1, 2, 5, 10, 20, 40, 80, 160, 320, 640))
SEARCH_SECONDS = Histogram("paperfs_search_seconds", "Seconds one search took",
                           buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


def count_result(result: object) -> None:
    """The scheduler's consumer calls this with each Result (filed or failed)."""
    JOBS.labels("failed" if getattr(result, "error", None) is not None else "filed").inc()


class ClusterCollector:
    """Queue depth, in-flight jobs and services, read from Redis when scraped."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._client = None

    def describe(self) -> list:
        return []  # registering must not reach Redis

    def collect(self):  # noqa: ANN201 - prometheus_client's protocol
        import redis

        from paperfs.cluster.overview import queue_counts
        from paperfs.cluster.redis_keys import redis_client
        from paperfs.cluster.services import list_services

        up = GaugeMetricFamily("paperfs_redis_up", "1 if Redis answered this scrape")
        try:
            if self._client is None:
                self._client = redis_client(self.config)
            counts = queue_counts(self._client, self.config)
            services = list_services(self._client, self.config)
        except redis.RedisError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily("paperfs_queue_depth", "Jobs waiting for a worker",
                                value=counts["depth"])
        yield GaugeMetricFamily("paperfs_queue_in_flight", "Jobs a worker holds (unacknowledged)",
                                value=counts["in_flight"])
        by_kind = GaugeMetricFamily("paperfs_services", "Services with a fresh heartbeat",
                                    labels=["role", "state"])
        totals: dict[tuple[str, str], int] = {}
        for service in services:
            if not service.stale:
                kind = (service.role, service.state)
                totals[kind] = totals.get(kind, 0) + 1
        for (role, state), count in sorted(totals.items()):
            by_kind.add_metric([role, state], count)
        yield by_kind


_registries: dict[int, CollectorRegistry] = {}


def registry(config: Config) -> CollectorRegistry:
    """This process's metrics plus the cluster's (one registry per process)."""
    if os.getpid() in _registries:
        return _registries[os.getpid()]
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        chosen = CollectorRegistry()
        multiprocess.MultiProcessCollector(chosen)
    else:
        from prometheus_client import REGISTRY

        chosen = REGISTRY
    chosen.register(ClusterCollector(config))
    _registries[os.getpid()] = chosen
    return chosen


def exposition(config: Config) -> tuple[bytes, str]:
    """The metrics page: its bytes and content type."""
    return generate_latest(registry(config)), CONTENT_TYPE_LATEST
