"""The test-host harness itself: hosts reach a Redis on the bridge, and 127.0.0.1 is each host's own."""

from __future__ import annotations

import subprocess
import sys

from tests.netns import PREFIX, _netns_names, test_network, wait_for_port  # noqa: F401 (fixture)
from tests.redis_server import RedisServer

# a bare listener: http.server looks its own name up in DNS, which a test host cannot reach (10 s)
LISTEN = "import socket, sys, time; s = socket.create_server((sys.argv[1], 8765)); time.sleep(300)"
PING = ("import redis, sys; c = redis.Redis(host=sys.argv[1], port=int(sys.argv[2]), socket_timeout=3);"
        "c.set('paperfs:netns:' + sys.argv[3], 1); print(c.ping())")


def test_two_hosts_share_redis_on_the_bridge_and_not_their_loopback(test_network):
    a, b = test_network.host("a"), test_network.host("b")
    assert a.address != b.address
    with RedisServer(host=test_network.gateway) as redis_server:
        for host in (a, b):
            result = host.run([sys.executable, "-c", PING, test_network.gateway,
                               str(redis_server.port), host.name])
            assert result.returncode == 0 and result.stdout.strip() == "True", result.stderr
        assert redis_server.keys() == ["paperfs:netns:a", "paperfs:netns:b"]

        # a server on a's loopback is a's alone
        server = a.popen([sys.executable, "-c", LISTEN, "127.0.0.1"])
        wait_for_port("127.0.0.1", 8765, inside=a)
        probe = [sys.executable, "-c", "import socket; socket.create_connection(('127.0.0.1', 8765), 1)"]
        assert b.run(probe).returncode != 0, "b must not reach a's 127.0.0.1"
        a.stop(server)
        # and the test process (root namespace) reaches each host's own address
        server = b.popen([sys.executable, "-c", LISTEN, b.address])
        wait_for_port(b.address, 8765)


def test_close_removes_every_namespace_and_process(test_network):
    host = test_network.host("gone")
    sleeper = host.popen(["sleep", "300"])
    test_network.close()
    assert sleeper.poll() is not None
    assert not [n for n in _netns_names() if n.startswith(PREFIX) and test_network.run_id in n]
    link = subprocess.run(["ip", "link", "show", test_network.bridge], capture_output=True)
    assert link.returncode != 0, "the bridge is deleted"
