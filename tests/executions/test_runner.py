"""The process runner on its own: real child processes, no Django, no worker; each
behaviour both inside the bubblewrap sandbox and without it (CODEAI_EXEC_SANDBOX=off)."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from executions.runner import (
    CappedOutput,
    CommandResult,
    Sandbox,
    StopReason,
    command_environment,
    remove_stale_scratch_folders,
    run_command,
    scratch_folder,
)
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
    assert time.monotonic() - started < 1  # 20 ticks of 0.1 s would take 2 s


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
