"""What the benchmarks share: free ports, waiting, a redis-server of their own, percentiles."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1) -> None:
    """Until ``predicate()`` holds, asked every ``interval`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise SystemExit(f"timed out waiting for {what}")


def own_redis() -> tuple[subprocess.Popen, str]:
    """A redis-server of this benchmark: the machine's Redis is never touched."""
    import redis

    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip

    def pings() -> bool:
        try:
            return bool(redis.Redis(port=port).ping())
        except redis.ConnectionError:
            return False

    wait_for(pings, 10, "redis-server")
    return process, f"redis://127.0.0.1:{port}"


def finish_on_sigterm() -> None:
    """SIGTERM ends the benchmark as Ctrl-C does, through its ``finally``: its servers stop
    and its database is dropped (killed outright, it left them, and the next run refused to
    start on the database it found)."""

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class Client:
    """One keep-alive connection to a local server (http.client reconnects by itself when the
    server closed the last): the leanest client, so it takes little of the CPU it measures."""

    def __init__(self, port: int, headers: dict[str, str] | None = None) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = headers or {}

    def request(self, method: str, path: str, body: object = None) -> tuple[int, float, bytes]:
        """The status, the latency in seconds and the body; ``body`` is sent as JSON."""
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            return self._send(method, path, data, headers)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            # The server closed the connection while it sat idle longer than its keep-alive
            # (CODEAI_IDLE_TIMEOUT, during a slow burst's drain): sent again on a new one.
            self.connection.close()
            return self._send(method, path, data, headers)

    def _send(
        self, method: str, path: str, data: bytes | None, headers: dict[str, str]
    ) -> tuple[int, float, bytes]:
        started = time.perf_counter()
        self.connection.request(method, path, data, headers)
        response = self.connection.getresponse()
        content = response.read()
        return response.status, time.perf_counter() - started, content

    def get(self, path: str) -> tuple[int, float, bytes]:
        return self.request("GET", path)
