"""The embedded default's broker hands consumers whole messages only (codeai/kernel/broker.py).

Large messages widen the window: against kombu's own transport this test failed with a
JSONDecodeError in about half of its runs."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.conf import settings
from kombu import Connection

from codeai.celery import app  # noqa: F401  (registers the filesystem:// alias)
from codeai.kernel import broker


def test_messages_published_while_a_consumer_drains_arrive_whole_and_once(tmp_path):
    folder = tmp_path / "queue"
    folder.mkdir()
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "store_processed": False,
    }
    sent = [{"n": n, "body": "x" * 2_000_000} for n in range(60)]
    received: list[dict] = []

    with Connection("filesystem://", transport_options=options) as conn:
        assert isinstance(conn.transport, broker.Transport)
        consumer_queue = conn.SimpleQueue("q")

        def publish(part: list[dict]) -> None:
            with Connection("filesystem://", transport_options=options) as own:
                queue = own.SimpleQueue("q")
                for message in part:
                    queue.put(message)

        publishers = [threading.Thread(target=publish, args=(sent[i::3],)) for i in range(3)]
        for thread in publishers:
            thread.start()
        while len(received) < len(sent):
            message = consumer_queue.get(timeout=10)
            received.append(message.payload)
            message.ack()
        for thread in publishers:
            thread.join()

    assert sorted(m["n"] for m in received) == list(range(60))
    assert all(m["body"] == "x" * 2_000_000 for m in received)
    assert not list(folder.iterdir())


@pytest.mark.skipif(
    not settings.CELERY_BROKER_URL.startswith("redis"), reason="this pass's broker is not Redis"
)
def test_a_redis_channel_sends_every_command_through_one_client_of_its_pool():
    name = f"codeai-test-broker-{uuid.uuid4().hex}"
    with Connection(settings.CELERY_BROKER_URL) as conn:
        assert isinstance(conn.transport, broker.RedisTransport)
        queue = conn.SimpleQueue(name)
        channel = queue.channel
        try:
            with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
                assert first is second
            for number in range(3):
                queue.put({"n": number})
            received = [queue.get(timeout=5) for _ in range(3)]
            assert [message.payload["n"] for message in received] == [0, 1, 2]
            for message in received:
                message.ack()

            channel._disconnect_pools()  # what a fork or a reconnection does
            with channel.conn_or_acquire() as after:
                assert after is not first
                assert after.connection_pool is channel.pool
            queue.put({"n": 3})
            assert queue.get(timeout=5).payload == {"n": 3}
        finally:
            channel.queue_delete(name)  # only the queue this test made
            queue.close()
