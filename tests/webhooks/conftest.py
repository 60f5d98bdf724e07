"""Fixtures of the webhook tests: a real HTTP receiver on 127.0.0.1 (http.server in a
thread) that records every request and answers what the test scripts, and a real Celery
worker (the executions tests' one) with short webhook timeouts and backoff."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.executions.conftest import (  # noqa: F401 - alice, make_deployment: fixtures
    Worker,
    _purge_queues,
    alice,
    make_deployment,
    start_worker,
    stop_worker,
    wait_for,
)

# The worker's webhook settings (it reads them from its environment).
WEBHOOK_TIMEOUT = 2.0
WORKER_WEBHOOK_ENVIRONMENT = {
    "CODEAI_WEBHOOK_TIMEOUT": "2s",
    "CODEAI_WEBHOOK_MAX_ATTEMPTS": "3",
    "CODEAI_WEBHOOK_RETRY_BACKOFF": "0.2s",
}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    peer: str


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"ok"
    delay: float = 0.0


@dataclass
class Receiver:
    """What it received, in order; ``answers`` are used one per request, the last repeated."""

    port: int
    answers: list[Answer] = field(default_factory=lambda: [Answer()])
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def answer(self, *answers: Answer) -> None:
        with self.lock:
            self.answers = list(answers)

    def next_answer(self) -> Answer:
        with self.lock:
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        wait_for(lambda: len(self.received) >= count, timeout)
        time.sleep(0.3)  # and nothing more arrives meanwhile
        return list(self.received)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with receiver.lock:
                receiver.received.append(
                    Received(self.path, dict(self.headers.items()), body, self.client_address[0])
                )
            answer = receiver.next_answer()
            if answer.delay:
                time.sleep(answer.delay)
            try:
                self.send_response(answer.status)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)
            except OSError:
                pass  # the client gave up (timeout)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    holder: dict[str, Receiver] = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: _handler(holder["r"])(*a))
    holder["r"] = Receiver(port=server.server_address[1])
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder["r"]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def webhook_worker(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Worker]:
    """A real ``celery -A codeai worker`` (executions and the default queue, where webhook
    deliveries go) on the test database."""
    _purge_queues()
    worker = start_worker(
        tmp_path_factory.mktemp("worker") / "worker.log",
        WORKER_WEBHOOK_ENVIRONMENT,
        "executions,celery",
    )
    yield worker
    stop_worker(worker)
