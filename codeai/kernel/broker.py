"""kombu's transports as CodeAI uses them (the aliases are set in ``codeai/celery.py``).

The embedded default's: kombu's filesystem transport, with whole messages only. kombu writes
a message file in place while a consumer may already move it away and read it (``_get``
takes no lock): under load a worker read a half-written file and died of a
``JSONDecodeError``. Here a message is written under a name consumers skip, in the same
folder, then renamed into the queue, which is atomic on one filesystem.

Redis's: kombu's, with one client per channel for its commands. kombu builds a new
``redis.Redis`` for each one (``conn_or_acquire``), and with it a table of some 80 response
callbacks, for each published task: a twentieth of the CPU of an execute request.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem, redis
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        message_id = uuid.uuid4()
        final = os.path.join(
            self.data_folder_out, f"{round(monotonic() * 1000)}_{message_id}.{queue}.msg"
        )
        # Not named after the queue: consumers pick files by ".<queue>.msg" in the name.
        partial = os.path.join(self.data_folder_out, f".{message_id}.partial")
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as error:
            raise ChannelError(f"Cannot add file {final!r} to directory") from error


class Transport(filesystem.Transport):
    Channel = Channel


class RedisChannel(redis.Channel):
    _command_client: Any = None

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        # A client is a handle on the channel's connection pool, as safe to share between
        # threads as the pool; a new pool (after a fork, a reconnection) gets a new one.
        pool = self.pool
        command_client = self._command_client
        if command_client is None or command_client.connection_pool is not pool:
            command_client = self._command_client = self.Client(connection_pool=pool)
        yield command_client


class RedisTransport(redis.Transport):
    Channel = RedisChannel
