"""The cache on a Redis Cluster (CODEAI_REDIS_CLUSTER_MODE): django-redis's client over
redis-py's own cluster client, which routes each key to the node owning its slot."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from django_redis.client import DefaultClient
from django_redis.pool import ConnectionFactory
from redis.cluster import ClusterNode, RedisCluster


class RedisClusterConnectionFactory(ConnectionFactory):
    """One RedisCluster per process and node list (it keeps a pool per node itself); the
    nodes come from OPTIONS["CLUSTER_NODES"], LOCATION only names the cache."""

    _clusters: dict[tuple[tuple[str, int], ...], RedisCluster] = {}

    def connect(self, url: str) -> RedisCluster:
        nodes = tuple((host, int(port)) for host, port in self.options["CLUSTER_NODES"])
        if nodes not in self._clusters:
            self._clusters[nodes] = RedisCluster(
                startup_nodes=[ClusterNode(host, port) for host, port in nodes],
                password=self.options.get("PASSWORD"),
                socket_timeout=self.options.get("SOCKET_TIMEOUT"),
                socket_connect_timeout=self.options.get("SOCKET_CONNECT_TIMEOUT"),
                **self.pool_cls_kwargs,
            )
        return self._clusters[nodes]

    def disconnect(self, connection: RedisCluster) -> None:
        connection.disconnect_connection_pools()


class RedisClusterClient(DefaultClient):
    """MGET needs all keys on one slot: get_many asks each key's node."""

    def get_many(
        self, keys: Iterable[Any], version: int | None = None, client: Any = None
    ) -> OrderedDict:
        client = client or self.get_client(write=False)
        by_key = OrderedDict((self.make_key(key, version=version), key) for key in keys)
        if not by_key:
            return OrderedDict()
        values = client.mget_nonatomic(list(by_key))
        return OrderedDict(
            (by_key[key], self.decode(value))
            for key, value in zip(by_key, values, strict=True)
            if value is not None
        )
