"""Runs one `exec` block as a child process, the way ansible-runner does.

The child gets its own session (so its whole process group can be signalled), no stdin,
a scratch folder as working directory and HOME, and an environment built from an
allow-list plus the DSL's variables: nothing of the server's environment (secrets,
database URLs) reaches a command, and values travel as environment variables, never as
command text. Output is read incrementally and handed to ``on_output``; about ten times a
second ``check`` is asked whether to stop (cancel) and the overall and idle timeouts are
checked. Stopping sends SIGTERM to the process group, then SIGKILL after a grace; every
command ends with a SIGKILL to its group, so no background process outlives its step.

With a ``Sandbox`` (the default of the settings) the shell runs inside bubblewrap: its own
PID, IPC and UTS namespaces and ``/proc``, no capabilities, the host's root read-only,
a private ``/tmp``, the scratch folder the only writable place and whatever holds secrets
hidden. The step sees only its own processes, so it can neither read the worker's
environment nor signal it; the whole namespace dies with bwrap, so ``setsid`` escapes
nothing, and bwrap dies with the worker (``--die-with-parent``).

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
from typing import IO

TICK_SECONDS = 0.1
KILL_GRACE_SECONDS = 2.0
DRAIN_SECONDS = 1.0
READ_BYTES = 64 * 1024
SCRATCH_PREFIX = "codeai-exec-"
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# What the health check and the admin index say when an operator turned the sandbox off.
SANDBOX_OFF = "exec steps run unsandboxed (CODEAI_EXEC_SANDBOX=off)"
INHERITED_VARIABLES = ("LANG", "LC_ALL", "LC_CTYPE", "TZ")
# The step's shell starts its watchdog, then runs the command: the prefix below is pasted
# before the command on its first line, so the command is parsed and run by that same
# shell (one program loaded, not two; /bin/sh as $0, no positional parameters, its own line
# numbers), and the prefix runs only if the command's first line parses too. The watchdog
# waits for EOF on a pipe only the worker holds open, so when the worker dies, even by
# SIGKILL, the kernel closes it and the watchdog kills the whole group. It is started from a
# subshell that exits at once, so it is nobody's job: the command's `wait`, `jobs` and `$!`
# see only its own. The command gets /dev/null as stdin and never sees the pipe.
_LAUNCH_PREFIX = "exec 9<&0 </dev/null; ( (read _ <&9; kill -KILL 0) & ); exec 9<&-; "
# Inside the sandbox the shell sends its stderr to stdout, so whatever reaches bwrap's own
# stderr is bwrap's, i.e. why the sandbox could not start, or, when bwrap reports on its
# status pipe that the sandbox was set up, the shell's syntax error in the command's first
# line (nothing ran; it is output). Each line the runner writes to the pipe asks for a
# SIGTERM to every process of the namespace (a process that left the group included); the
# runner's SIGKILL to bwrap ends the namespace, and with it all.
_SANDBOX_LAUNCH_PREFIX = (
    "exec 2>&1 9<&0 </dev/null; "
    "( (trap '' TERM; while read _ <&9; do kill -s TERM -- -1; done) & ); exec 9<&-; "
)
# Execute variables that change how programs are loaded or how shells and interpreters
# start: a caller who may only execute a config could otherwise run code of their choice
# inside every command of it. Refused by name (and every LD_* of the dynamic loader).
PROGRAM_LOADING_VARIABLES = frozenset(
    {
        "BASH_ENV",
        "ENV",
        "SHELLOPTS",
        "BASHOPTS",
        "PS4",
        "PROMPT_COMMAND",
        "GLIBC_TUNABLES",
        "GCONV_PATH",
        "HOSTALIASES",
        "LOCPATH",
        "NLSPATH",
        "RESOLV_HOST_CONF",
        "MALLOC_CHECK_",
        "PYTHONSTARTUP",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONUSERBASE",
        "PYTHONWARNINGS",
        "PYTHONBREAKPOINT",
        "PYTHONINSPECT",
        "PERL5LIB",
        "PERLLIB",
        "PERL5OPT",
        "PERL5DB",
        "RUBYOPT",
        "RUBYLIB",
        "NODE_OPTIONS",
        "NODE_PATH",
        "JAVA_TOOL_OPTIONS",
        "JDK_JAVA_OPTIONS",
        "_JAVA_OPTIONS",
        "GIT_EXEC_PATH",
        "GIT_SSH_COMMAND",
        "GIT_CONFIG_GLOBAL",
        "GIT_CONFIG_SYSTEM",
    }
)
SANDBOX_UNAVAILABLE = "sandbox unavailable"


def changes_program_loading(name: str) -> bool:
    """Whether an environment variable of this name changes how programs load or start."""
    return name.startswith("LD_") or name in PROGRAM_LOADING_VARIABLES


class SandboxUnavailable(Exception):
    """bubblewrap is missing or could not set the sandbox up; the command did not run."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"{SANDBOX_UNAVAILABLE}: {reason}")


def _inside(path: str, folders: list[str]) -> bool:
    return any(path == folder or path.startswith(folder.rstrip("/") + "/") for folder in folders)


@dataclass(frozen=True)
class Sandbox:
    """bubblewrap's confinement of a step. ``hidden`` lists what holds secrets (folders
    become empty and read-only, files unreadable); ``network=False`` adds a network
    namespace with only loopback and an empty /run."""

    hidden: tuple[str, ...] = ()
    network: bool = True

    def command(self, *, scratch: str, env: Mapping[str, str], status_fd: int) -> list[str]:
        """bwrap's argument list up to ``--``; it is started with an empty environment, so
        the step's variables are set here and its /proc/1/environ holds nothing. bwrap
        writes its status to ``status_fd``: an ``exit-code`` only once the sandbox was set up."""
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise SandboxUnavailable("bwrap is not installed (Debian package bubblewrap)")
        scratch = os.path.realpath(scratch)
        private = ["/tmp", os.path.dirname(scratch)]  # fresh tmpfs: nothing of the host's
        if not self.network:
            private.append("/run")  # its Unix sockets (PostgreSQL, Redis) are network too
        folders: list[str] = []
        files: list[str] = []
        for path in sorted({os.path.realpath(path) for path in self.hidden}, key=len):
            if path == "/" or _inside(path, private + folders) or not os.path.exists(path):
                continue
            (folders if os.path.isdir(path) else files).append(path)
        argv = [
            bwrap,
            "--die-with-parent",
            "--new-session",
            "--cap-drop",
            "ALL",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            *([] if self.network else ["--unshare-net"]),
            "--ro-bind",
            "/",
            "/",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
        ]
        for folder in folders:
            argv += ["--tmpfs", folder]
        for file in files:
            argv += ["--ro-bind", "/dev/null", file]  # a device on a nodev mount: EACCES
        for folder in dict.fromkeys(private):
            argv += ["--tmpfs", folder]
        argv += ["--bind", scratch, scratch]
        # Read-only only now: mount points inside a hidden folder (the scratch folder may
        # live in one) had to be created first.
        for folder in folders:
            argv += ["--remount-ro", folder]
        argv += ["--chdir", scratch, "--json-status-fd", str(status_fd)]
        for name, value in env.items():
            argv += ["--setenv", name, value]
        return [*argv, "--"]


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
    """One shell process (or bwrap and the shell in its sandbox) and its process group."""

    def __init__(
        self, command: str, *, cwd: str, env: Mapping[str, str], sandbox: Sandbox | None
    ) -> None:
        self.sandboxed = sandbox is not None
        status_read = status_write = -1
        if sandbox is None:
            argv = ["/bin/sh", "-c", _LAUNCH_PREFIX + command]
        else:
            status_read, status_write = os.pipe()
            argv = [
                *sandbox.command(scratch=cwd, env=env, status_fd=status_write),
                *("/bin/sh", "-c", _SANDBOX_LAUNCH_PREFIX + command),
            ]
        try:
            self.process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,  # the watchdog's lifeline
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE if self.sandboxed else subprocess.STDOUT,
                cwd="/" if self.sandboxed else cwd,  # bwrap's --chdir sets the step's
                env={} if self.sandboxed else dict(env),
                start_new_session=True,
                close_fds=True,
                pass_fds=(status_write,) if self.sandboxed else (),
            )
        except OSError as error:
            if self.sandboxed:
                os.close(status_read)
                raise SandboxUnavailable(f"bwrap cannot be started ({error.strerror})") from error
            raise
        finally:
            if self.sandboxed:
                os.close(status_write)  # bwrap holds it now
        self.status_fd = status_read
        self.setup_error = ""
        # The pipes asked for above; stderr is one only in a sandbox (else it joins stdout).
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.stdin: IO[bytes] = self.process.stdin
        self.stdout: IO[bytes] = self.process.stdout
        self.stderr: IO[bytes] | None = self.process.stderr
        self.pgid = self.process.pid  # a session leader leads its own process group
        self.fd = self.stdout.fileno()
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
        """SIGTERM to the group (in a sandbox: to all its processes), SIGKILL after the
        grace; output keeps draining meanwhile."""
        if self.sandboxed:
            with contextlib.suppress(OSError):  # the step may have killed the watchdog
                os.write(self.stdin.fileno(), b"\n")
        else:
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
        self.stdin.close()
        self.stdout.close()
        returncode = self.process.wait()
        if self.stderr is not None:
            message = _read_available(self.stderr.fileno())
            set_up = b'"exit-code"' in _read_available(self.status_fd)
            self.stderr.close()
            os.close(self.status_fd)
            if message and set_up:
                on_output(message)  # the shell's: the command's first line did not parse
            elif message and returncode != 0:
                self.setup_error = message.decode(errors="replace").strip()
        return 128 - returncode if returncode < 0 else returncode


def _read_available(fd: int) -> bytes:
    """What a pipe holds now, without waiting for more."""
    os.set_blocking(fd, False)
    try:
        return os.read(fd, READ_BYTES)
    except OSError:
        return b""


def run_command(
    command: str,
    *,
    cwd: str,
    env: Mapping[str, str],
    timeout: float,
    idle_timeout: float,
    on_output: Callable[[bytes], None],
    check: Callable[[], StopReason | None],
    sandbox: Sandbox | None,
) -> CommandResult:
    """Run ``command`` with ``/bin/sh -c`` (inside ``sandbox`` unless None) until it exits,
    times out or ``check`` says stop. Raises ``SandboxUnavailable`` when bwrap is missing
    or cannot set the sandbox up: the command never runs unconfined instead."""
    started = time.monotonic()
    deadline = started + timeout
    last_output = started
    stop_reason: StopReason | None = None
    child = _Child(command, cwd=cwd, env=env, sandbox=sandbox)
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
    if child.setup_error:
        raise SandboxUnavailable(child.setup_error)
    duration_ms = int((time.monotonic() - started) * 1000)
    return CommandResult(exit_code=exit_code, stop_reason=stop_reason, duration_ms=duration_ms)
