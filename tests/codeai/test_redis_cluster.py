"""The cache on a real 3-node Redis Cluster (``redis-server --cluster-enabled yes``), through
the settings CODEAI_REDIS_CLUSTER_MODE builds."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django_redis.cache import RedisCache

from codeai.kernel import conf
from tests.conftest import missing
from tests.deploy.support import free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster_addresses() -> Iterator[list[str]]:
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        missing("redis-server is not installed on this machine")
    folder = Path(tempfile.mkdtemp(prefix="codeai-redis-cluster-"))
    ports = [free_port() for _ in range(3)]
    servers = []
    try:
        for port in ports:
            node = folder / str(port)
            node.mkdir()
            servers.append(
                subprocess.Popen(
                    [
                        *("redis-server", "--port", str(port), "--bind", "127.0.0.1"),
                        *("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"),
                        *("--save", "", "--appendonly", "no", "--dir", str(node)),
                    ],
                    stdout=subprocess.DEVNULL,
                )
            )
        addresses = [f"127.0.0.1:{port}" for port in ports]
        for port in ports:
            deadline = time.monotonic() + 10
            while (
                subprocess.run(
                    ["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True
                ).stdout.strip()
                != "PONG"
            ):
                assert time.monotonic() < deadline, f"redis-server on {port} did not start"
                time.sleep(0.1)
        created = subprocess.run(
            [
                *("redis-cli", "--cluster", "create", *addresses),
                *("--cluster-replicas", "0", "--cluster-yes"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert created.returncode == 0, created.stdout + created.stderr
        deadline = time.monotonic() + 20
        while (
            "cluster_state:ok"
            not in subprocess.run(
                ["redis-cli", "-p", str(ports[0]), "cluster", "info"],
                capture_output=True,
                text=True,
            ).stdout
        ):
            assert time.monotonic() < deadline, "cluster did not reach state ok"
            time.sleep(0.2)
        yield addresses
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
        shutil.rmtree(folder)


def cluster_cache(addresses: list[str]) -> RedisCache:
    """The cache the settings build for CODEAI_REDIS_CLUSTER_MODE=true with these addresses."""
    return RedisCache(
        "redis://cluster/0",
        {
            "KEY_PREFIX": "codeai-cluster-test",
            "OPTIONS": {
                "CLIENT_CLASS": "codeai.kernel.cache.RedisClusterClient",
                "CONNECTION_FACTORY": "codeai.kernel.cache.RedisClusterConnectionFactory",
                "CLUSTER_NODES": conf.cluster_nodes(addresses),
                "SOCKET_TIMEOUT": 2,
                "SOCKET_CONNECT_TIMEOUT": 2,
                "CONNECTION_POOL_KWARGS": {"max_connections": 10},
            },
        },
    )


def test_cache_reads_and_writes_keys_on_every_node(cluster_addresses):
    cache = cluster_cache(cluster_addresses)
    keys = [f"key-{n}" for n in range(60)]
    cache.set_many({key: {"n": n} for n, key in enumerate(keys)}, timeout=60)
    assert cache.get("key-7") == {"n": 7}
    assert cache.get_many(keys) == {key: {"n": n} for n, key in enumerate(keys)}
    # Sixty keys spread over all three nodes' slots.
    counts = [
        int(
            subprocess.run(
                ["redis-cli", "-p", address.split(":")[1], "dbsize"],
                capture_output=True,
                text=True,
            ).stdout
        )
        for address in cluster_addresses
    ]
    assert all(count > 0 for count in counts), counts
    assert cache.add("key-7", "other") is False
    cache.set("hits", 1, timeout=60)
    assert cache.incr("hits", 2) == 3
    cache.delete_many(keys)
    cache.delete("hits")
    assert cache.get_many(keys) == {}


def test_cluster_addresses_are_host_port_pairs():
    assert conf.cluster_nodes(["redis-0:6379", "10.0.0.1:7000"]) == [
        ("redis-0", 6379),
        ("10.0.0.1", 7000),
    ]
    for bad in ("redis-0", "redis-0:", ":6379", "redis-0:http", "redis-0:70000"):
        with pytest.raises(conf.ConfigError):
            conf.cluster_nodes([bad])
