"""Two tenants on one Redis and one SolrCloud: nothing crosses.

Each tenant has its own data root, scheduler, worker and dav replica, all on
the same Redis and the same SolrCloud (2 nodes, ZooKeeper), and both consume
a batch at the same time. Afterwards every Redis key is scanned (each
starts with its tenant's prefix; none without one), every Solr collection is
searched for each tenant's word (found only in ``paperfs-TENANT``), and a
WebDAV user of each tenant sees only that tenant's documents, in the
listings Solr answers and in searches. 0 crossings.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time

import pytest
import requests

from tests.cluster_services import RemoteDav, Service, pdf_names, start, wait_for
from tests.dav_support import add_users, free_port
from tests.helpers import drop, filed_count, init_root
from tests.redis_server import redis_server  # noqa: F401 (fixture)
from tests.samples import make_text_pdf
from tests.solr_server import SolrServer, solr_base, solr_cloud  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow

BATCH = 4


def solr_collections(server: SolrServer) -> list[str]:
    base = server.info["urls"][0]
    answer = requests.get(f"{base}/admin/collections", params={"action": "LIST", "wt": "json"},
                          timeout=30)
    answer.raise_for_status()
    return answer.json()["collections"]


def solr_hits(server: SolrServer, collection: str, word: str) -> int:
    base = server.info["urls"][0]
    answer = requests.get(f"{base}/{collection}/select",
                          params={"q": f"content:{word}", "rows": 0, "wt": "json"}, timeout=30)
    answer.raise_for_status()
    return answer.json()["response"]["numFound"]


def test_two_tenants_share_redis_and_solrcloud_with_no_crossing(
        tmp_path, redis_server, solr_cloud):  # noqa: F811 - fixtures
    run = secrets.token_hex(3)
    tenants = {f"ta{run}": "alphaword", f"tb{run}": "betaword"}
    services: list[Service] = []
    roots, davs = {}, {}
    try:
        for tenant, word in tenants.items():
            root = init_root(tmp_path / tenant, (
                f"queue: {redis_server.url}\ntenant: {tenant}\n"
                f"index:\n  backend: solr\n  zk_hosts: {solr_cloud.zk_hosts}\n"
                "  commit_within_ms: 200\n"
                "cluster:\n  heartbeat_seconds: 1\n  leader_lease_seconds: 5\n"))
            add_users(root)
            init = subprocess.run([sys.executable, "-m", "paperfs", "--root", str(root.root),
                                   "solr", "init"], capture_output=True, text=True, timeout=180)
            assert init.returncode == 0, init.stdout + init.stderr
            port = free_port()
            services += [
                start(root, f"{tenant}-scheduler", "scheduler"),
                start(root, f"{tenant}-worker", "worker", "--concurrency", "1"),
                start(root, f"{tenant}-dav", "dav", "--port", str(port),
                      DAV__CACHE_DIR=str(tmp_path / tenant / "cache")),
            ]
            roots[tenant], davs[tenant] = root, RemoteDav.at(root, "127.0.0.1", port)
        # both batches at once
        for i in range(BATCH):
            for tenant, word in tenants.items():
                pdf = make_text_pdf(tmp_path / tenant / f"{word}{i}.pdf",
                                    [f"Letter {i} with the word {word}"])
                drop(pdf, roots[tenant].inbox)
        for tenant in tenants:
            wait_for(lambda: filed_count(roots[tenant]) == BATCH, 90,
                     f"{tenant}'s batch to be filed", services)
        year = time.strftime("%Y")
        for tenant, word in tenants.items():
            # /years/ is listed by Solr (the tenant's collection), each page completed
            # from the replica's local catalog
            wait_for(lambda: len(pdf_names(davs[tenant], f"/years/{year}/")) == BATCH, 30,
                     f"{tenant}'s replica to list its batch", services)

        # Redis: every key is one tenant's
        prefixes = tuple(f"paperfs:{tenant}:" for tenant in tenants)
        keys = redis_server.keys()
        assert keys, "the services keep their state in Redis"
        assert [k for k in keys if not k.startswith(prefixes)] == []
        for prefix in prefixes:
            assert any(k.startswith(prefix) for k in keys), f"nothing under {prefix}"

        # Solr: each tenant's word only in its own collection, in every collection there is
        collections = solr_collections(solr_cloud)
        for tenant, word in tenants.items():
            own = f"paperfs-{tenant}"
            assert own in collections
            found = {c: solr_hits(solr_cloud, c, word) for c in collections}
            assert found.pop(own) == BATCH
            assert not any(found.values()), f"{word} found outside {own}: {found}"

        # WebDAV: alice of one tenant sees nothing of the other
        for tenant, word in tenants.items():
            other = next(w for t, w in tenants.items() if t != tenant)
            dav = davs[tenant]
            names = pdf_names(dav, f"/years/{year}/")
            assert len(names) == BATCH and all(word in n for n in names), names
            assert len(pdf_names(dav, f"/search/{word}/")) == BATCH
            assert pdf_names(dav, f"/search/{other}/") == set()
    finally:
        for service in services:
            service.stop()
