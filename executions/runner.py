"""Runs one `exec` block as a child process, the way ansible-runner does.

The child gets its own session (so its whole process group can be signalled), no stdin,
a scratch folder as working directory and HOME, and an environment built from an
allow-list plus the DSL's variables: nothing of the server's environment (secrets,
database URLs) reaches a command, and values travel as environment variables, never as
command text. Output is read incrementally and handed to ``on_output``; about ten times a
second ``check`` is asked whether to stop (cancel) and the overall and idle timeouts are
checked. Stopping sends SIGTERM to the process group, then SIGKILL after a grace; every
command ends with a SIGKILL to its group, so no background process outlives its step.

This module knows nothing of Django: services.py connects it to the Execution row.
"""

from __future__ import annotations

import codecs
import contextlib
import enum
import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

TICK_SECONDS = 0.1
KILL_GRACE_SECONDS = 2.0
DRAIN_SECONDS = 1.0
READ_BYTES = 64 * 1024
SCRATCH_PREFIX = "codeai-exec-"
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
INHERITED_VARIABLES = ("LANG", "LC_ALL", "LC_CTYPE", "TZ")
# The shell runs the command behind a watchdog in the same process group: the watchdog
# waits for EOF on a pipe only the worker holds open, so when the worker dies, even by
# SIGKILL, the kernel closes it and the watchdog kills the whole group. The command itself
# gets /dev/null as stdin and never sees the pipe; "$1" is the command, passed as an
# argument, never pasted into this script.
_LAUNCH_SCRIPT = (
    'exec 9<&0 </dev/null; (read _ <&9; kill -KILL 0) & exec 9<&-; exec /bin/sh -c "$1"'
)


class StopReason(enum.StrEnum):
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    IDLE = "idle"
    ABANDONED = "abandoned"  # the row is no longer ours (e.g. the sweep failed it)


@dataclass(frozen=True)
class CommandResult:
    exit_code: int  # the shell's exit code; 128 + N when signal N ended it
    stop_reason: StopReason | None
    duration_ms: int


def command_environment(variables: Mapping[str, str], *, home: str) -> dict[str, str]:
    """The child's whole environment: the program's variables under a fixed, safe base."""
    base = {
        "PATH": SAFE_PATH,
        "HOME": home,
        "TMPDIR": home,
        "PWD": home,
        "SHELL": "/bin/sh",
        "LANG": "C.UTF-8",
    }
    base.update({name: os.environ[name] for name in INHERITED_VARIABLES if name in os.environ})
    # Environment strings cannot hold NUL; base keys win so HOME and PATH stay predictable.
    env = {name: str(value).replace("\0", "") for name, value in variables.items()}
    env.update(base)
    return env


@contextlib.contextmanager
def scratch_folder() -> Iterator[str]:
    """A private working folder for one execution, removed afterwards whatever happened."""
    path = tempfile.mkdtemp(prefix=SCRATCH_PREFIX)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def remove_stale_scratch_folders(*, older_than: float) -> int:
    """Remove the scratch folders a killed worker left behind. A folder is never older than
    its run, so past the longest possible run it belongs to no live execution (workers on
    one host must share CODEAI_EXEC_TIMEOUT for that to hold)."""
    limit = time.time() - older_than
    removed = 0
    for path in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*"):
        with contextlib.suppress(OSError):
            if path.is_dir() and path.stat().st_mtime < limit:
                shutil.rmtree(path)
                removed += 1
    return removed


class CappedOutput:
    """Decodes output bytes as UTF-8 (invalid bytes and NUL become U+FFFD) and keeps at most
    ``max_bytes`` of them for storage.

    Past the cap a one-line marker is added once and further bytes are only counted, so
    the pipe keeps draining and the child never blocks on a full pipe.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.kept_bytes = 0
        self.total_bytes = 0
        self.truncated = False
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending: list[str] = []

    def feed(self, data: bytes) -> None:
        self.total_bytes += len(data)
        if self.truncated:
            return
        room = self.max_bytes - self.kept_bytes
        if len(data) <= room:
            self.kept_bytes += len(data)
            self._pending.append(self._decode(data))
            return
        self.kept_bytes = self.max_bytes
        self._pending.append(self._decode(data[:room], final=True))
        self._pending.append(
            f"\n[output truncated: only the first {self.max_bytes} bytes are kept]\n"
        )
        self.truncated = True

    def _decode(self, data: bytes, *, final: bool = False) -> str:
        # Databases store text without NUL (PostgreSQL refuses it): show it as U+FFFD.
        return self._decoder.decode(data, final=final).replace("\0", "\ufffd")

    def take(self) -> str:
        """The text decoded since the last call."""
        text = "".join(self._pending)
        self._pending.clear()
        return text

    @property
    def has_pending(self) -> bool:
        return bool(self._pending)


class _Child:
    """One shell process and its process group."""

    def __init__(self, command: str, *, cwd: str, env: Mapping[str, str]) -> None:
        self.process = subprocess.Popen(
            ["/bin/sh", "-c", _LAUNCH_SCRIPT, "codeai-exec", command],
            stdin=subprocess.PIPE,  # the watchdog's lifeline
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=dict(env),
            start_new_session=True,
            close_fds=True,
        )
        self.pgid = self.process.pid  # a session leader leads its own process group
        self.fd = self.process.stdout.fileno()
        os.set_blocking(self.fd, False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.fd, selectors.EVENT_READ)
        # A pidfd turns readable when the shell exits, so a wait ends at once then.
        self.pidfd = os.pidfd_open(self.pgid)
        self.selector.register(self.pidfd, selectors.EVENT_READ)
        self.open = True

    def pump(self, timeout: float, on_output: Callable[[bytes], None]) -> bool:
        """Wait up to ``timeout`` for output or the exit; pass on output; True if any came."""
        ready = {key.fd for key, _ in self.selector.select(timeout)}
        got = False
        if self.fd in ready:
            while True:
                try:
                    data = os.read(self.fd, READ_BYTES)
                except BlockingIOError:
                    break
                if not data:
                    self.selector.unregister(self.fd)
                    self.open = False
                    break
                on_output(data)
                got = True
        return got

    def exited(self) -> bool:
        """Whether the shell ended, without reaping it: the zombie keeps the group id ours."""
        return os.waitid(os.P_PID, self.pgid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None

    def signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, signum)

    def stop(self, on_output: Callable[[bytes], None]) -> None:
        """SIGTERM to the group, SIGKILL after the grace; output keeps draining meanwhile."""
        self.signal_group(signal.SIGTERM)
        grace_ends = time.monotonic() + KILL_GRACE_SECONDS
        while not self.exited() and time.monotonic() < grace_ends:
            self.pump(TICK_SECONDS, on_output)

    def finish(self, on_output: Callable[[bytes], None]) -> int:
        """Kill what is left of the group, drain the tail of the output, reap the shell."""
        self.signal_group(signal.SIGKILL)
        self.selector.unregister(self.pidfd)
        drain_ends = time.monotonic() + DRAIN_SECONDS
        # A process that left the group (setsid) may hold the pipe open: do not wait for it.
        while self.open and time.monotonic() < drain_ends:
            self.pump(TICK_SECONDS, on_output)
        self.selector.close()
        os.close(self.pidfd)
        self.process.stdin.close()
        self.process.stdout.close()
        returncode = self.process.wait()
        return 128 - returncode if returncode < 0 else returncode


def run_command(
    command: str,
    *,
    cwd: str,
    env: Mapping[str, str],
    timeout: float,
    idle_timeout: float,
    on_output: Callable[[bytes], None],
    check: Callable[[], StopReason | None],
) -> CommandResult:
    """Run ``command`` with ``/bin/sh -c`` until it exits, times out or ``check`` says stop."""
    started = time.monotonic()
    deadline = started + timeout
    last_output = started
    stop_reason: StopReason | None = None
    child = _Child(command, cwd=cwd, env=env)
    try:
        while not child.exited():
            if child.pump(TICK_SECONDS, on_output):
                last_output = time.monotonic()
            now = time.monotonic()
            if now >= deadline:
                stop_reason = StopReason.TIMEOUT
            elif now - last_output >= idle_timeout:
                stop_reason = StopReason.IDLE
            else:
                stop_reason = check()
            if stop_reason is not None:
                child.stop(on_output)
                break
    finally:
        exit_code = child.finish(on_output)
    duration_ms = int((time.monotonic() - started) * 1000)
    return CommandResult(exit_code=exit_code, stop_reason=stop_reason, duration_ms=duration_ms)
