"""The embedded default's broker: kombu's filesystem transport, with whole messages only.

kombu writes a message file in place while a consumer may already move it away and read it
(``_get`` takes no lock): under load a worker read a half-written file and died of a
``JSONDecodeError``. Here a message is written under a name consumers skip, in the same
folder, then renamed into the queue, which is atomic on one filesystem.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
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
