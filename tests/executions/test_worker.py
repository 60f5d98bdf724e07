"""Executions end to end through a real Celery worker process and real child processes."""

from __future__ import annotations

import os
import re
import signal
import time
import uuid
from pathlib import Path

import pytest
from django.db import transaction

from deployments.models import DeploymentStatus
from executions.models import Execution, ExecutionStatus
from executions.services import deployment_execute, execution_cancel
from executions.tasks import run_execution
from tests.executions.conftest import (
    HEARTBEAT_GRACE,
    SWEEP_INTERVAL,
    WORKER_ENVIRONMENT,
    sleeping,
    wait_finished,
    wait_for,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker")]


def test_success_runs_blocks_in_order_with_variables(make_deployment, alice):
    deployment = make_deployment(
        'var greeting = "hello"\n'
        'print("starting")\n'
        "exec { echo $greeting $name; echo to-stderr >&2 }\n"
        "exec { echo second; echo $HOME }\n"
    )
    execution = deployment_execute(deployment=deployment, user=alice, variables={"name": "world"})
    assert execution.status == ExecutionStatus.QUEUED
    assert execution.config_snapshot == deployment.config.content

    wait_finished(execution)
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.explanation
    lines = execution.output.splitlines()
    assert lines[:4] == ["starting", "hello world", "to-stderr", "second"]
    assert execution.exit_code == 0
    assert execution.explanation == ""
    assert [step["index"] for step in execution.steps] == [1, 2]
    assert execution.steps[0]["command"] == "echo $greeting $name; echo to-stderr >&2"
    assert all(step["exit_code"] == 0 for step in execution.steps)
    assert all(step["duration_ms"] is not None and step["started_at"] for step in execution.steps)
    assert execution.started_at <= execution.completed_at
    assert execution.duration_ms >= 0
    assert execution.worker.startswith("exec-test-")
    # HOME was a scratch folder, removed afterwards.
    assert not Path(lines[4]).exists()
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.COMPLETE


def test_first_nonzero_exit_stops_the_run(make_deployment, alice):
    deployment = make_deployment(
        "exec { true }\nexec { echo failing; exit 3 }\nexec { echo never }"
    )
    execution = wait_finished(deployment_execute(deployment=deployment, user=alice, variables={}))

    assert execution.status == ExecutionStatus.FAILED
    assert execution.exit_code == 3
    assert execution.explanation == "exit code 3 in step 2"
    assert execution.output == "failing\n"
    assert [step["exit_code"] for step in execution.steps] == [0, 3]
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.FAILED


def test_variable_values_are_never_run_as_shell_code(make_deployment, alice, tmp_path):
    marker = tmp_path / "pwned"
    value = f"$(touch {marker}); rm -rf `touch {marker}`"
    deployment = make_deployment('exec { echo $name }\nexec { echo "$name" }')
    execution = wait_finished(
        deployment_execute(deployment=deployment, user=alice, variables={"name": value})
    )

    assert execution.status == ExecutionStatus.SUCCEEDED, execution.explanation
    assert execution.output == f"{value}\n{value}\n"
    assert not marker.exists()


def test_commands_see_an_allow_listed_environment_only(make_deployment, alice):
    deployment = make_deployment('config { name: "demo" }\nexec { env }')
    execution = wait_finished(deployment_execute(deployment=deployment, user=alice, variables={}))

    assert execution.status == ExecutionStatus.SUCCEEDED, execution.explanation
    names = {line.split("=", 1)[0] for line in execution.output.splitlines()}
    assert "CODEAI_CONFIG_NAME" in names
    assert {"PATH", "HOME"} <= names
    assert not {name for name in names if name.startswith("CODEAI_") and "CONFIG" not in name}
    assert WORKER_ENVIRONMENT["CODEAI_SECRET_KEY"] not in execution.output


def test_output_over_the_cap_is_truncated_while_the_pipe_drains(make_deployment, alice):
    cap = int(WORKER_ENVIRONMENT["CODEAI_EXEC_MAX_OUTPUT_BYTES"])
    deployment = make_deployment(
        "exec { head -c 2000000 /dev/zero | tr '\\000' a; echo; echo tail-of-output }"
    )
    execution = wait_finished(deployment_execute(deployment=deployment, user=alice, variables={}))

    # The child wrote 2 MB into the pipe and exited normally: it was never blocked.
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.explanation
    assert execution.output_truncated
    assert execution.output.startswith("a" * cap)
    assert execution.output.endswith(f"[output truncated: only the first {cap} bytes are kept]\n")
    assert len(execution.output.encode()) < cap + 100
    assert "tail-of-output" not in execution.output


def test_binary_output_is_stored_as_text(make_deployment, alice):
    deployment = make_deployment("exec { printf 'nul\\000byte \\377 end' }")
    execution = wait_finished(deployment_execute(deployment=deployment, user=alice, variables={}))

    assert execution.status == ExecutionStatus.SUCCEEDED, execution.explanation
    assert execution.output == "nul\ufffdbyte \ufffd end"


def test_output_is_stored_while_the_command_runs(make_deployment, alice):
    deployment = make_deployment("exec { for i in 1 2 3 4 5 6; do echo line-$i; sleep 0.4; done }")
    execution = deployment_execute(deployment=deployment, user=alice, variables={})

    def partial_output_while_running() -> bool:
        execution.refresh_from_db()
        return execution.status == ExecutionStatus.RUNNING and "line-2" in execution.output

    wait_for(partial_output_while_running, 5)
    assert "line-6" not in execution.output
    wait_finished(execution)
    assert execution.output == "".join(f"line-{i}\n" for i in range(1, 7))


def test_a_silent_command_hits_the_idle_timeout(make_deployment, alice):
    deployment = make_deployment("exec { echo started; sleep 30 }")
    started = time.monotonic()
    execution = wait_finished(deployment_execute(deployment=deployment, user=alice, variables={}))

    assert execution.status == ExecutionStatus.TIMED_OUT
    assert execution.explanation == "no output for 2 s in step 1 (idle timeout)"
    assert execution.output == "started\n"
    assert time.monotonic() - started < 8


def _running_step(execution: Execution) -> None:
    def step_started() -> bool:
        execution.refresh_from_db()
        return execution.status == ExecutionStatus.RUNNING and bool(execution.steps)

    wait_for(step_started, 10)


def test_cancel_stops_the_whole_process_group(make_deployment, alice):
    token = f"300.{uuid.uuid4().int % 10**6}"
    deployment = make_deployment(f"exec {{ sh -c 'sleep {token} & sleep {token}' }}")
    execution = deployment_execute(deployment=deployment, user=alice, variables={})
    _running_step(execution)
    wait_for(lambda: len(sleeping(token)) == 2, 5)

    cancelled_at = time.monotonic()
    execution_cancel(execution=execution, user=alice)
    wait_finished(execution, timeout=5)

    assert time.monotonic() - cancelled_at < 5
    assert execution.status == ExecutionStatus.CANCELLED
    assert execution.explanation == "cancelled by alice"
    assert execution.cancel_requested_by == "alice"
    assert sleeping(token) == []
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.STOPPED


def test_overall_timeout_stops_the_whole_process_group(make_deployment, alice):
    token = f"300.{uuid.uuid4().int % 10**6}"
    deployment = make_deployment(
        f"exec {{ sh -c 'sleep {token} & sleep {token}' }}", timeout_seconds=1
    )
    execution = wait_finished(deployment_execute(deployment=deployment, user=alice, variables={}))

    assert execution.status == ExecutionStatus.TIMED_OUT
    assert execution.explanation == "timed out after 1 s in step 1"
    assert execution.exit_code is None
    assert sleeping(token) == []
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.FAILED


def test_a_duplicate_delivery_runs_nothing_twice(make_deployment):
    deployment = make_deployment("exec { echo once }")
    # A row as deployment_execute makes it, then the same task id delivered twice.
    execution = Execution.objects.create(
        deployment=deployment, config_snapshot=deployment.config.content
    )
    task_id = str(uuid.uuid4())
    run_execution.apply_async(args=[str(execution.pk)], task_id=task_id)
    run_execution.apply_async(args=[str(execution.pk)], task_id=task_id)

    wait_finished(execution)
    time.sleep(1)  # room for the second delivery to do something wrong
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert execution.output == "once\n"
    assert len(execution.steps) == 1


def test_a_task_that_arrives_before_the_commit_waits_for_the_row(make_deployment):
    deployment = make_deployment("exec { echo committed }")
    with transaction.atomic():
        execution = Execution.objects.create(
            deployment=deployment, config_snapshot=deployment.config.content
        )
        run_execution.apply_async(args=[str(execution.pk)])
        time.sleep(0.5)  # the worker has the task; the row is not committed yet
    wait_finished(execution)
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert execution.output == "committed\n"


def test_a_worker_killed_mid_run_is_swept_and_not_rerun(make_deployment, alice, celery_worker):
    token = f"31.{uuid.uuid4().int % 10**6}"
    deployment = make_deployment(f"exec {{ sleep {token} }}")
    execution = deployment_execute(deployment=deployment, user=alice, variables={})
    _running_step(execution)
    pid = int(re.search(r"pid (\d+)$", execution.worker).group(1))
    assert pid != celery_worker.process.pid  # the pool process running the task
    wait_for(lambda: sleeping(token), 5)

    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    wait_finished(execution, timeout=HEARTBEAT_GRACE + SWEEP_INTERVAL + 5)

    assert time.monotonic() - killed_at < HEARTBEAT_GRACE + SWEEP_INTERVAL + 3
    assert execution.status == ExecutionStatus.FAILED
    assert execution.explanation.startswith("worker lost: no heartbeat since ")
    assert sleeping(token) == []  # the command died with its worker
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.FAILED
    time.sleep(1.5)  # a redelivered task must not run it again
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED
    assert len(execution.steps) == 1


def test_a_runtime_error_fails_with_its_position(make_deployment, alice):
    deployment = make_deployment("exec { echo before }\nvar n = len(3)\nexec { echo after }")
    execution = wait_finished(deployment_execute(deployment=deployment, user=alice, variables={}))

    assert execution.status == ExecutionStatus.FAILED
    assert execution.explanation.startswith("runtime error at 2:")
    assert execution.output == "before\n"


def test_exec_text_with_braces_runs_as_shell(make_deployment, alice):
    # dsl.md change 8: braces nest outside quotes; quoted and escaped braces are text.
    deployment = make_deployment(
        "exec { echo ${HOME} }\n"
        "exec { awk '{print $1}' /etc/hosts }\n"
        "exec { f() { echo hi; }; f }\n"
        "exec { touch a.log b.log; find . -name '*.log' -exec gzip {} \\; ; ls }\n"
    )
    execution = wait_finished(deployment_execute(deployment=deployment, user=alice, variables={}))

    assert execution.status == ExecutionStatus.SUCCEEDED, execution.explanation
    commands = [step["command"] for step in execution.steps]
    assert commands == [
        "echo ${HOME}",
        "awk '{print $1}' /etc/hosts",
        "f() { echo hi; }; f",
        "touch a.log b.log; find . -name '*.log' -exec gzip {} \\; ; ls",
    ]
    first_words = [
        line.split()[0] if line.split() else ""
        for line in Path("/etc/hosts").read_text().splitlines()
    ]
    lines = execution.output.splitlines()
    assert lines[0].startswith("/")  # the scratch HOME, expanded by the shell
    assert "{" not in lines[0]
    assert lines[1 : 1 + len(first_words)] == first_words
    assert lines[1 + len(first_words) :] == ["hi", "a.log.gz", "b.log.gz"]
