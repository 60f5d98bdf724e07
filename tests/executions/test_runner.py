"""The process runner on its own: real child processes, no Django, no worker; each
behaviour both inside the bubblewrap sandbox and without it (CODEAI_EXEC_SANDBOX=off)."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from executions.runner import (
    TICK_SECONDS,
    CappedOutput,
    CommandResult,
    Sandbox,
    SandboxUnavailable,
    StopReason,
    changes_program_loading,
    command_environment,
    remove_stale_scratch_folders,
    run_command,
    scratch_folder,
)
from tests.conftest import PROGRAM_LOADING_NAMES
from tests.executions.conftest import sleeping


@pytest.fixture(params=[Sandbox(), None], ids=["bwrap", "off"])
def sandbox(request) -> Sandbox | None:
    return request.param


def run(
    command: str,
    *,
    sandbox: Sandbox | None,
    variables: dict[str, str] | None = None,
    timeout: float = 10,
    idle_timeout: float = 10,
    check=lambda: None,
) -> tuple[CommandResult, str]:
    chunks: list[bytes] = []
    with scratch_folder() as home:
        result = run_command(
            command,
            cwd=home,
            env=command_environment(variables or {}, home=home),
            timeout=timeout,
            idle_timeout=idle_timeout,
            on_output=chunks.append,
            check=check,
            sandbox=sandbox,
        )
    return result, b"".join(chunks).decode()


def test_exit_code_and_both_streams_in_order(sandbox):
    result, output = run("echo one; echo two >&2; echo three; exit 7", sandbox=sandbox)
    assert result == CommandResult(exit_code=7, stop_reason=None, duration_ms=result.duration_ms)
    assert output == "one\ntwo\nthree\n"


def test_short_commands_return_without_waiting_for_a_tick(sandbox):
    started = time.monotonic()
    for _ in range(20):
        assert run("true", sandbox=sandbox)[0].exit_code == 0
    # Waiting one tick each would take 20 ticks at least, however fast bwrap starts.
    assert time.monotonic() - started < 20 * TICK_SECONDS


def test_the_command_is_run_by_a_shell_of_its_own_making(sandbox):
    # $0, no positional parameters, line numbers and error messages as `sh -c` gives them.
    result, output = run('echo "$0 $#"\nnosuch-command-codeai', sandbox=sandbox)
    assert result.exit_code == 127
    assert output == "/bin/sh 0\n/bin/sh: 2: nosuch-command-codeai: not found\n"


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("echo never; (", '/bin/sh: 1: Syntax error: end of file unexpected (expecting ")")'),
        ("echo first\nfi", 'first\n/bin/sh: 2: Syntax error: "fi" unexpected'),
    ],
    ids=["first line", "second line"],
)
def test_a_syntax_error_is_the_step_s_output_and_exit_code_2(sandbox, command, message):
    result, output = run(command, sandbox=sandbox)
    assert result.exit_code == 2
    assert output == message + "\n"


def test_wait_jobs_and_the_last_background_pid_are_the_command_s_own(sandbox):
    started = time.monotonic()
    result, output = run(
        'echo "[$!]"; jobs; sleep 0.2 & wait; echo "waited $?"', sandbox=sandbox, timeout=5
    )
    assert (result.exit_code, result.stop_reason) == (0, None)
    assert output == "[]\nwaited 0\n"
    assert time.monotonic() - started < 3  # `wait` did not wait for the watchdog


def test_stdin_is_empty_and_the_folder_is_private_and_removed(sandbox):
    result, output = run("cat; pwd; echo $HOME $TMPDIR; touch made-here; ls", sandbox=sandbox)
    assert result.exit_code == 0
    folder, home_and_tmp, listing = output.splitlines()
    assert home_and_tmp == f"{folder} {folder}"
    assert listing == "made-here"
    assert Path(folder).name.startswith("codeai-exec-")
    assert not Path(folder).exists()


def test_variables_arrive_as_environment_and_are_never_evaluated(tmp_path, sandbox):
    marker = tmp_path / "pwned"
    value = f"$(touch {marker}); `touch {marker}` && rm -rf ~"
    result, output = run('echo $name; echo "$name"', variables={"name": value}, sandbox=sandbox)
    assert result.exit_code == 0
    assert output == f"{value}\n{value}\n"
    assert not marker.exists()


def test_the_environment_is_an_allow_list(monkeypatch):
    monkeypatch.setenv("CODEAI_DB_PASSWORD", "server-secret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "another-secret")
    env = command_environment({"name": "x", "HOME": "/etc"}, home="/scratch")
    assert env["name"] == "x"
    assert env["HOME"] == "/scratch"  # the base wins over a program variable
    assert "CODEAI_DB_PASSWORD" not in env
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert set(env) <= {"name", "PATH", "HOME", "TMPDIR", "PWD", "SHELL", "LANG", "LC_ALL"} | {
        "LC_CTYPE",
        "TZ",
    }


@pytest.mark.parametrize("reason", [StopReason.TIMEOUT, StopReason.CANCELLED])
def test_stopping_kills_the_whole_process_group(reason, sandbox):
    token = f"300.{uuid.uuid4().int % 10**6}"
    started = time.monotonic()
    stop_after = started + 0.5

    def check() -> StopReason | None:
        return StopReason.CANCELLED if time.monotonic() >= stop_after else None

    result, _ = run(
        f"sh -c 'sleep {token} & sleep {token}'",
        timeout=0.5 if reason is StopReason.TIMEOUT else 30,
        check=check if reason is StopReason.CANCELLED else lambda: None,
        sandbox=sandbox,
    )
    assert result.stop_reason is reason
    assert result.exit_code == 128 + 15  # SIGTERM was enough
    assert time.monotonic() - started < 2
    assert sleeping(token) == []


def test_a_child_ignoring_sigterm_is_killed_after_the_grace(sandbox):
    token = f"300.{uuid.uuid4().int % 10**6}"
    started = time.monotonic()
    result, _ = run(f"trap '' TERM; sleep {token}", timeout=0.3, sandbox=sandbox)
    assert result.stop_reason is StopReason.TIMEOUT
    assert time.monotonic() - started < 4
    assert sleeping(token) == []


def test_silence_longer_than_the_idle_timeout_stops_the_command(sandbox):
    result, output = run("echo started; sleep 30", idle_timeout=0.5, sandbox=sandbox)
    assert result.stop_reason is StopReason.IDLE
    assert output == "started\n"


def test_background_processes_do_not_outlive_their_step(sandbox):
    token = f"300.{uuid.uuid4().int % 10**6}"
    result, output = run(f"sleep {token} & echo left-behind", sandbox=sandbox)
    assert result.exit_code == 0
    assert output == "left-behind\n"
    assert sleeping(token) == []


def test_large_output_drains_without_blocking(sandbox):
    chunks: list[bytes] = []
    with scratch_folder() as home:
        result = run_command(
            "head -c 20000000 /dev/zero; echo done",
            cwd=home,
            env=command_environment({}, home=home),
            timeout=30,
            idle_timeout=10,
            on_output=chunks.append,
            check=lambda: None,
            sandbox=sandbox,
        )
    assert result.exit_code == 0
    assert sum(map(len, chunks)) == 20_000_001 + 4


def test_capped_output_keeps_the_first_bytes_and_marks_the_cut():
    output = CappedOutput(10)
    output.feed(b"12345")
    assert output.take() == "12345"
    output.feed(b"6789abcdef")
    output.feed(b"more and more")
    assert output.truncated
    assert output.take() == "6789a\n[output truncated: only the first 10 bytes are kept]\n"
    assert output.total_bytes == 28
    assert output.take() == ""


def test_capped_output_decodes_utf8_split_across_reads():
    output = CappedOutput(100)
    encoded = "héllo €".encode()
    for byte in encoded:
        output.feed(bytes([byte]))
    assert output.take() == "héllo €"


def test_capped_output_replaces_nul_and_invalid_bytes():
    output = CappedOutput(100)
    output.feed(b"a\0b\xffc")
    assert output.take() == "a\ufffdb\ufffdc"


def test_only_scratch_folders_older_than_any_run_are_removed():
    with scratch_folder() as live, scratch_folder() as left_behind:
        an_hour_ago = time.time() - 3600
        os.utime(left_behind, (an_hour_ago, an_hour_ago))
        assert remove_stale_scratch_folders(older_than=600) >= 1
        assert Path(live).is_dir()
        assert not Path(left_behind).exists()


def test_hidden_folders_are_empty_and_read_only_and_hidden_files_unreadable():
    # Outside /tmp (which the sandbox replaces anyway): hidden by name.
    folder = Path(tempfile.mkdtemp(prefix="codeai-runner-test-", dir="/var/tmp"))
    try:
        (folder / "data").mkdir()
        (folder / "data" / "db.sqlite3").write_text("data-folder-secret")
        (folder / "key").write_text("secret-file-content")
        sandbox = Sandbox(hidden=(str(folder / "data"), str(folder / "key"), "/nonexistent"))
        result, output = run(
            f"ls -A {folder}/data; cat {folder}/key; touch {folder}/data/x; echo end",
            sandbox=sandbox,
        )
        assert result.exit_code == 0
        assert output == (
            f"cat: {folder}/key: Permission denied\n"
            f"touch: cannot touch '{folder}/data/x': Read-only file system\nend\n"
        )
        assert sorted(p.name for p in folder.rglob("*")) == ["data", "db.sqlite3", "key"]
    finally:
        shutil.rmtree(folder)


def test_the_sandboxed_root_is_read_only_and_tmp_private():
    token = uuid.uuid4().hex
    _, output = run(
        f"touch /var/tmp/{token}; echo x > /tmp/{token}; ls /tmp | grep -c codeai-exec-",
        sandbox=Sandbox(),
    )
    assert output == f"touch: cannot touch '/var/tmp/{token}': Read-only file system\n1\n"
    assert not Path(f"/var/tmp/{token}").exists()
    assert not Path(f"/tmp/{token}").exists()


def test_other_steps_scratch_folders_are_out_of_sight():
    with scratch_folder() as other:
        Path(other, "theirs").write_text("another step's file")
        _, output = run(f"ls {other}; echo $?", sandbox=Sandbox())
    assert output.endswith("\n2\n")
    assert "theirs" not in output


def test_with_the_network_off_only_loopback_is_left_and_no_host_socket():
    command = "tail -n +3 /proc/net/dev | cut -d: -f1; echo run: $(ls -A /run | wc -l)"
    _, on = run(command, sandbox=Sandbox())
    _, off = run(command, sandbox=Sandbox(network=False))
    assert off.split() == ["lo", "run:", "0"]
    assert set(on.split()) > {"lo", "run:"}
    assert not on.endswith("run: 0\n")


def test_a_sandbox_that_cannot_be_set_up_raises_and_runs_nothing():
    chunks: list[bytes] = []
    with pytest.raises(SandboxUnavailable) as raised:
        run_command(
            "echo never",
            cwd="/nonexistent/codeai-exec-gone",
            env=command_environment({}, home="/nonexistent/codeai-exec-gone"),
            timeout=10,
            idle_timeout=10,
            on_output=chunks.append,
            check=lambda: None,
            sandbox=Sandbox(),
        )
    assert str(raised.value) == (
        "sandbox unavailable: bwrap: Can't find source path /nonexistent/codeai-exec-gone: "
        "No such file or directory"
    )
    assert chunks == []


def test_bwrap_starts_with_an_empty_environment(monkeypatch):
    monkeypatch.setenv("CODEAI_DB_PASSWORD", "server-secret")
    _, output = run("tr '\\000' '\\n' < /proc/1/environ | wc -c", sandbox=Sandbox())
    assert output == "0\n"


@pytest.mark.parametrize("name", PROGRAM_LOADING_NAMES)
def test_variables_that_change_program_loading_are_recognised(name):
    assert changes_program_loading(name)


@pytest.mark.parametrize("name", ["LD", "PATHS", "ld_preload", "ENVIRONMENT", "PYTHON"])
def test_ordinary_variable_names_are_not_loading_variables(name):
    assert not changes_program_loading(name)
