"""The split deployment on test hosts: every service in a network namespace of its own.

Redis listens on the bridge address, Solr is reached through a relay on it,
and each service runs on its own host: the scheduler, two workers, two dav
replicas. No service can reach another through 127.0.0.1, so every address
in the configuration must be a real one. The data root is one folder all
hosts see, as an NFS mount would be.

Checked: a batch is consumed by workers on other hosts; each replica's local
catalog follows the writer; a LOCK taken through one replica is honoured by
the other (423 without the token); a change through a replica reaches the
writer on another host (hand-off through Redis) and the other replica's
catalog; an upload through a replica is consumed (the scheduler polls the
inbox); litmus passes against a replica.
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import sys
import time

import pytest

from tests.cluster_services import RemoteDav, Service, fetch, pdf_names, start, wait_for
from tests.dav_support import PASSWORDS, add_users
from tests.helpers import drop, filed_count, init_root
from tests.netns import TestNetwork, test_network  # noqa: F401 (fixture)
from tests.redis_server import RedisServer
from tests.samples import make_text_pdf
from tests.solr_server import (SolrServer, TcpProxy, solr_base,  # noqa: F401 (fixtures)
                               solr_standalone)

pytestmark = pytest.mark.slow

DAV_PORT = 8080
BATCH = 6


def archive_names(dav: RemoteDav) -> set[str]:
    """This year's documents in /archive (the default path rule files them there)."""
    return pdf_names(dav, f"/archive/Unknown/{time.strftime('%Y')}/")


@pytest.fixture
def cluster(tmp_path, test_network: TestNetwork, solr_standalone: SolrServer):  # noqa: F811
    net = test_network
    redis = RedisServer(host=net.gateway).start()
    solr_port = int(re.search(r":(\d+)/", solr_standalone.url).group(1))
    solr = TcpProxy("127.0.0.1", solr_port, listen_host=net.gateway)  # Solr is on 127.0.0.1
    tenant = "hosts" + secrets.token_hex(3)
    root = init_root(tmp_path, (
        f"queue: redis://{net.gateway}:{redis.port}/0\ntenant: {tenant}\n"
        f"index:\n  backend: solr\n  url: http://{net.gateway}:{solr.port}/solr\n"
        "  commit_within_ms: 200\n"
        "cluster:\n  heartbeat_seconds: 1\n  leader_lease_seconds: 5\n"))
    # dav: enabled false in init_root is about `paperfs run`; `paperfs dav` serves anyway
    (root.root / "paperfs.yml").write_text((root.root / "paperfs.yml").read_text().replace(
        "dav:\n  enabled: false\n", "dav:\n  enabled: false\n  inbox_idle_seconds: 1.0\n"))
    add_users(root)
    init = subprocess.run([sys.executable, "-m", "paperfs", "--root", str(root.root), "solr",
                           "init"], capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stdout + init.stderr
    services: list[Service] = []
    hosts = {name: net.host(name) for name in ("sched", "w1", "w2", "dav1", "dav2")}

    def run(host: str, *args: str, **env: str) -> Service:
        service = start(root, host, *args, host=hosts[host], **env)
        services.append(service)
        return service

    run("sched", "scheduler")
    run("w1", "worker", "--concurrency", "1")
    run("w2", "worker", "--concurrency", "1")
    replicas = []
    for name in ("dav1", "dav2"):
        run(name, "dav", "--host", hosts[name].address, "--port", str(DAV_PORT),
            DAV__CACHE_DIR=str(tmp_path / f"cache-{name}"))  # each host's local disk
        replicas.append(RemoteDav.at(root, hosts[name].address, DAV_PORT))
    try:
        for dav in replicas:
            wait_for(dav.answers, 30, f"the replica on {dav.address} to answer", services)
        yield root, replicas, services, redis
    finally:
        for service in services:
            service.stop()
        solr.close()
        redis.close()


def test_scheduler_workers_and_dav_replicas_on_separate_hosts(cluster, corpus, tmp_path):
    root, (dav1, dav2), services, redis = cluster
    for i in range(BATCH):
        pdf = make_text_pdf(tmp_path / f"letter{i}.pdf", [f"Letter number {i} to the tenant"])
        drop(pdf, root.inbox)
    wait_for(lambda: filed_count(root) == BATCH, 60, "the batch to be filed", services)
    workers_log = services[1].log() + services[2].log()
    assert "succeeded" in workers_log or "prepare" in workers_log, workers_log[-2000:]

    # each replica's local catalog follows the writer on another host
    for dav in (dav1, dav2):
        wait_for(lambda: len(archive_names(dav)) == BATCH, 30, f"{dav.address} to list the batch",
                 services)
    doc = f"/archive/Unknown/{time.strftime('%Y')}/" + sorted(archive_names(dav1))[0]

    # a search through a replica (Solr) is timed in its metrics
    wait_for(lambda: len(dav1.names("/search/letter/")) == BATCH, 30,
             "Solr to find the batch through dav1", services)
    status, metrics = fetch(dav1.url + "metrics")
    count = re.search(r"^paperfs_search_seconds_count (\S+)$", metrics, re.M)
    assert status == 200 and count and float(count.group(1)) >= 1, metrics[:2000]

    # a LOCK through one replica is honoured by the other
    lock = dav1.request("LOCK", doc, headers={"Timeout": "Second-60"}, body=(
        '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
        '</D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>'))
    assert lock.status == 200, lock.body
    token = lock.headers["lock-token"]
    assert dav2.request("DELETE", doc).status == 423
    assert dav2.request("UNLOCK", doc, headers={"Lock-Token": token}).status == 204

    # a change through a replica reaches the writer (another host) and the other replica
    assert dav2.request("DELETE", doc).status in (200, 204)
    wait_for(lambda: doc.rsplit("/", 1)[1] not in archive_names(dav1), 20,
             "the trashed document to leave dav1", services)
    assert dav1.names("/trash/")  # the trash is read from the shared tree

    # an upload through a replica is consumed by the scheduler on another host
    upload = make_text_pdf(tmp_path / "upload.pdf", ["Uploaded through a replica"])
    assert dav1.request("PUT", "/inbox/upload.pdf", body=upload.read_bytes()).status in (201, 204)
    wait_for(lambda: "2026-12-04 upload.pdf".replace("2026-12-04", time.strftime("%Y-%m-%d"))
             in archive_names(dav2), 40, "the upload to be filed and listed by dav2", services)

    # Redis away: a replica still serves what its catalog knows and says why it is not ready
    redis.stop()
    listed = archive_names(dav2)
    assert len(listed) == BATCH
    first = f"/archive/Unknown/{time.strftime('%Y')}/" + sorted(listed)[0]
    assert dav2.request("GET", first).status == 200
    assert dav2.request("DELETE", first).status == 503  # a lock it cannot see must not be passed
    status, body = fetch(dav2.url + "readyz")
    assert status == 503 and "Redis" in body, body
    redis.start()
    # (the scheduler exits when its leader lock vanishes with Redis' data: systemd restarts it)
    replicas = [s for s in services if s.name.startswith("dav")]
    wait_for(lambda: fetch(dav2.url + "readyz")[0] == 200, 30, "dav2 to be ready again", replicas)


def test_litmus_passes_against_a_replica(cluster):
    """The whole litmus suite (locks in Redis included) on a replica's /inbox/, from
    the test process: another host than the replica's."""
    if shutil.which("litmus") is None:
        pytest.skip("litmus is not installed (Debian package litmus)")
    _root, (dav1, _dav2), _services, _redis = cluster
    result = subprocess.run(["litmus", "-k", dav1.url + "inbox/", "alice", PASSWORDS["alice"]],
                            capture_output=True, text=True, timeout=120)
    summary = {suite: (int(passed), int(run)) for suite, run, passed in re.findall(
        r"summary for `(\w+)': of (\d+) tests run: (\d+) passed", result.stdout)}
    assert summary, result.stdout + result.stderr
    failed = {suite: counts for suite, counts in summary.items() if counts[0] != counts[1]}
    assert not failed, result.stdout[-3000:]
    assert sum(run for _passed, run in summary.values()) == 104
