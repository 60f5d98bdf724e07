"""Every exec step in the bubblewrap sandbox, through real Celery workers: the escapes of
issue 19 each tried by a step (the worker's environment, its processes, its secret files
and data folder, writes outside the scratch folder), and a worker run as an unprivileged
user. A worker with CODEAI_EXEC_SANDBOX=off warns at start."""

from __future__ import annotations

import os
import pwd
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from executions import services
from executions.models import Execution, ExecutionStatus
from executions.services import deployment_execute, execution_cancel
from tests.conftest import missing, require_service, uses_postgres
from tests.executions.conftest import (
    ROOT,
    WORKER_ENVIRONMENT,
    Worker,
    _purge_queues,
    sleeping,
    start_worker,
    stop_worker,
    wait_finished,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)

SERVER_SECRET = WORKER_ENVIRONMENT["CODEAI_SECRET_KEY"]
JWT_SECRET = "jwt-secret-from-a-file-never-seen-by-a-step-0123456789"
YAML_SECRET = "yaml-secret-in-the-workers-home-never-seen-by-a-step"
SECRETS = (SERVER_SECRET, JWT_SECRET, YAML_SECRET)


@pytest.fixture(scope="module")
def secrets_folder() -> Iterator[Path]:
    """The worker's HOME (with a ~/.codeai.yaml) and a *_FILE secret, outside /tmp: the
    sandbox must hide them by name, not only by its private /tmp."""
    folder = Path(tempfile.mkdtemp(prefix="codeai-sandbox-test-", dir="/var/tmp"))
    (folder / "home").mkdir()
    (folder / "home" / ".codeai.yaml").write_text(f"# {YAML_SECRET}\n")
    (folder / "jwt_secret").write_text(JWT_SECRET)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="class")  # gone before the tests below start their own workers
def sandbox_worker(
    django_db_setup, django_db_blocker, tmp_path_factory, secrets_folder
) -> Iterator[Worker]:
    _purge_queues()
    worker = start_worker(
        tmp_path_factory.mktemp("sandbox-worker") / "worker.log",
        {
            "HOME": str(secrets_folder / "home"),
            "CODEAI_JWT_SECRET_FILE": str(secrets_folder / "jwt_secret"),
        },
        "executions,celery",
    )
    yield worker
    stop_worker(worker)


def run_step(make_deployment, alice, command: str, **variables) -> object:
    deployment = make_deployment(f"exec {{ {command} }}")
    execution = deployment_execute(deployment=deployment, user=alice, variables=variables)
    return wait_finished(execution)


def assert_no_secret(output: str) -> None:
    for secret in SECRETS:
        assert secret not in output


@pytest.mark.usefixtures("sandbox_worker")
class TestEscapes:
    def test_the_parents_environment_is_not_readable(self, make_deployment, alice):
        # The step of the issue, which printed the worker's secrets before.
        execution = run_step(
            make_deployment, alice, "tr '\\000' '\\n' < /proc/$PPID/environ; echo end"
        )

        assert execution.status == ExecutionStatus.SUCCEEDED, execution.explanation
        assert execution.output.endswith("end\n")
        assert_no_secret(execution.output)
        assert "CODEAI_" not in execution.output

    def test_no_process_in_reach_holds_a_secret_in_its_environment(self, make_deployment, alice):
        execution = run_step(
            make_deployment,
            alice,
            "for p in /proc/[0-9]*; do echo $p; tr '\\000' '\\n' < $p/environ; "
            "tr '\\000' ' ' < $p/cmdline; echo; done",
        )

        assert execution.status == ExecutionStatus.SUCCEEDED, execution.explanation
        assert "/proc/1\n" in execution.output  # bwrap's own, started with no environment
        assert_no_secret(execution.output)
        assert "CODEAI_SECRET_KEY" not in execution.output
        assert "celery" not in execution.output

    def test_the_process_list_shows_only_the_steps_own(self, make_deployment, alice):
        execution = run_step(
            make_deployment,
            alice,
            "ls /proc | grep -E '^[0-9]+$' | sort -n | tr '\\n' ' '; echo; ps -eo comm=",
        )

        assert execution.status == ExecutionStatus.SUCCEEDED, execution.explanation
        pids_line, *commands = execution.output.splitlines()
        pids = [int(pid) for pid in pids_line.split()]
        # bwrap (1), the watchdog and the step's shell, and ls/grep/sort/tr of the pipeline.
        assert pids[0] == 1
        assert len(pids) <= 8, pids
        assert set(commands) <= {"bwrap", "sh", "ps"}, commands

    def test_killing_the_parent_and_its_parent_leaves_the_worker_running(
        self, make_deployment, alice, sandbox_worker
    ):
        execution = run_step(
            make_deployment,
            alice,
            "pp=$(cut -d' ' -f4 /proc/$PPID/stat); echo parent $PPID grandparent $pp; "
            "kill -9 $PPID; [ $pp = 0 ] || kill -9 $pp; kill -9 $worker; echo still-here",
            worker=str(sandbox_worker.process.pid),
        )

        assert execution.status == ExecutionStatus.SUCCEEDED, execution.explanation
        # Its parent is the sandbox's init, whose own parent is outside: the worker is
        # neither visible nor reachable, not even by its real pid.
        assert execution.output.startswith("parent 1 grandparent 0\n")
        assert "No such process" in execution.output
        assert execution.output.endswith("still-here\n")
        pool_pid = int(execution.worker.rsplit(" ", 1)[1])
        assert sandbox_worker.process.poll() is None
        os.kill(pool_pid, 0)  # the pool process that ran the step is alive too
        again = run_step(make_deployment, alice, "echo next")
        assert (again.status, again.output) == (ExecutionStatus.SUCCEEDED, "next\n")

    def test_the_secret_files_home_and_data_folder_are_not_readable(
        self, make_deployment, alice, secrets_folder
    ):
        execution = run_step(
            make_deployment,
            alice,
            "cat $secret_file $home/.codeai.yaml $data/*; "
            'echo "home=[$(ls -A $home)] data=[$(ls -A $data)]"',
            secret_file=str(secrets_folder / "jwt_secret"),
            home=str(secrets_folder / "home"),
            data=str(settings.DATA_DIR),
        )

        assert_no_secret(execution.output)
        assert execution.output.endswith("home=[] data=[]\n")  # both empty, if there at all
        assert f"{secrets_folder}/jwt_secret: Permission denied" in execution.output

    def test_the_project_and_the_hosts_tmp_are_not_writable(self, make_deployment, alice):
        token = uuid.uuid4().hex
        targets = [ROOT / f"pwned-{token}", Path("/tmp") / f"pwned-{token}"]
        targets.append(Path("/var/tmp") / f"pwned-{token}")
        execution = run_step(
            make_deployment,
            alice,
            "for t in $targets; do echo x > $t; done; touch here; ls",
            targets=" ".join(map(str, targets)),
        )

        # Each write is refused: the project is read-only (or, where the checkout lies under
        # /tmp, out of sight behind the private /tmp), /var/tmp is read-only.
        assert execution.output.count("cannot create") == 2
        assert f"cannot create {targets[2]}: Read-only file system" in execution.output
        assert execution.output.endswith("here\n")  # the scratch folder is writable
        assert not [target for target in targets if target.exists()]

    def test_ordinary_steps_get_output_variables_and_exit_codes(self, make_deployment, alice):
        execution = run_step(
            make_deployment,
            alice,
            "echo $greeting from $(pwd); echo to-stderr >&2; exit 4",
            greeting="hello",
        )

        assert execution.status == ExecutionStatus.FAILED
        assert execution.exit_code == 4
        assert execution.explanation == "exit code 4 in step 1"
        first, second = execution.output.splitlines()
        assert first.startswith("hello from /tmp/codeai-exec-")
        assert second == "to-stderr"

    def test_cancel_kills_a_process_that_left_the_group(self, make_deployment, alice):
        token = f"300.{uuid.uuid4().int % 10**6}"
        deployment = make_deployment(f"exec {{ setsid sleep {token} & sleep {token} }}")
        execution = deployment_execute(deployment=deployment, user=alice, variables={})
        wait_for(lambda: len(sleeping(token)) == 2, 10)

        execution_cancel(execution=execution, user=alice)
        wait_finished(execution, timeout=5)

        assert execution.status == ExecutionStatus.CANCELLED
        assert sleeping(token) == []

    def test_a_timeout_kills_a_process_that_left_the_group(self, make_deployment, alice):
        token = f"300.{uuid.uuid4().int % 10**6}"
        deployment = make_deployment(
            f"exec {{ setsid sh -c \"trap '' TERM; sleep {token}\" & sleep {token} }}",
            timeout_seconds=1,
        )
        execution = wait_finished(
            deployment_execute(deployment=deployment, user=alice, variables={})
        )

        assert execution.status == ExecutionStatus.TIMED_OUT
        assert execution.explanation == "timed out after 1 s in step 1"
        assert sleeping(token) == []  # even the one that ignored SIGTERM

    def test_a_background_process_that_left_the_group_ends_with_its_step(
        self, make_deployment, alice
    ):
        token = f"300.{uuid.uuid4().int % 10**6}"
        execution = run_step(make_deployment, alice, f"setsid sleep {token} & echo left")

        assert execution.status == ExecutionStatus.SUCCEEDED
        assert execution.output == "left\n"
        assert sleeping(token) == []


# Run as root: make the interpreter reachable in a private mount namespace when it lives
# under a folder other users cannot enter (pyenv in root's 0700 HOME), then become nobody.
_REACH_THE_INTERPRETER = (
    'set -e; blocked=$1 prefix=$2; shift 2; keep=$(mktemp -d); mount --bind "$prefix" "$keep"; '
    'mount -t tmpfs -o mode=0755 codeai-test "$blocked"; mkdir -p "$prefix"; '
    'mount --move "$keep" "$prefix"; rmdir "$keep"; exec "$@"'
)


def _blocked_ancestor(path: Path) -> Path | None:
    for folder in reversed(path.parents):
        if not folder.stat().st_mode & 0o001:
            return folder
    return None


def _unprivileged_command() -> tuple[list[str], pwd.struct_passwd | None]:
    """How to start the worker as `nobody` from this test process (when it is root)."""
    if os.geteuid() != 0:
        return [], None  # the suite itself runs unprivileged: so does every worker it starts
    tools = {name: shutil.which(name) for name in ("setpriv", "unshare")}
    if None in tools.values():
        missing("setpriv and unshare (util-linux) are needed to run a worker as nobody")
    nobody = pwd.getpwnam("nobody")
    prefix = [
        tools["setpriv"],
        f"--reuid={nobody.pw_uid}",
        f"--regid={nobody.pw_gid}",
        "--clear-groups",
    ]
    interpreter = Path(sys.base_prefix).resolve()
    blocked = _blocked_ancestor(interpreter / "bin")
    if blocked is not None:
        prefix = [
            tools["unshare"],
            "--mount",
            "--propagation",
            "private",
            "--",
            "/bin/sh",
            "-c",
            _REACH_THE_INTERPRETER,
            "sh",
            str(blocked),
            str(interpreter),
            *prefix,
        ]
    return prefix, nobody


def test_a_worker_run_as_an_unprivileged_user_sandboxes_its_steps(
    make_deployment, alice, tmp_path_factory, secrets_folder
):
    require_service("postgres")
    if not uses_postgres():
        # The embedded pass keeps its database and broker in a folder only root may enter.
        pytest.skip("runs in the PostgreSQL pass, on its database and Redis broker")
    prefix, user = _unprivileged_command()
    data = Path(tempfile.mkdtemp(prefix="codeai-sandbox-nobody-", dir="/var/tmp"))
    try:
        if user is not None:
            os.chown(data, user.pw_uid, user.pw_gid)
        _purge_queues()
        worker = start_worker(
            tmp_path_factory.mktemp("unprivileged-worker") / "worker.log",
            {"CODEAI_DATA_DIR": str(data), "HOME": str(data)},
            "executions,celery",
            prefix=prefix,
        )
        try:
            execution = run_step(
                make_deployment,
                alice,
                "id -u; tr '\\000' '\\n' < /proc/$PPID/environ; ls /proc | grep -cE '^[0-9]+$'; "
                "ls -A $data; touch $data/x; echo end",
                data=str(data),
            )
        finally:
            stop_worker(worker)
    finally:
        shutil.rmtree(data, ignore_errors=True)

    assert execution.status == ExecutionStatus.SUCCEEDED, execution.output
    uid, *rest = execution.output.splitlines()
    assert uid == str(os.geteuid() if user is None else user.pw_uid)
    assert SERVER_SECRET not in execution.output
    assert int(rest[0]) <= 8  # its own few processes
    assert rest[-1] == "end"
    assert "Read-only file system" in execution.output  # the hidden data folder


def test_a_worker_with_the_sandbox_off_warns_at_start(tmp_path_factory):
    _purge_queues()
    worker = start_worker(
        tmp_path_factory.mktemp("unsandboxed-worker") / "worker.log",
        {"CODEAI_EXEC_SANDBOX": "off"},
        "executions,celery",
    )
    stop_worker(worker)

    assert "CODEAI_EXEC_SANDBOX=off: exec steps run unsandboxed" in worker.log_text()


def test_without_bwrap_an_execution_fails_and_never_runs_unsandboxed(
    make_deployment, monkeypatch, tmp_path
):
    monkeypatch.setenv("PATH", str(tmp_path))  # bwrap is nowhere on it
    marker = tmp_path / "ran-unsandboxed"
    deployment = make_deployment(f"exec {{ touch {marker} }}")
    execution = Execution.objects.create(
        deployment=deployment, config_snapshot=deployment.config.content
    )
    services.execution_claim(execution_id=execution.pk, worker="in-process")
    services.execution_run(execution_id=execution.pk)

    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED
    assert execution.explanation == (
        "sandbox unavailable: bwrap is not installed (Debian package bubblewrap)"
    )
    assert not marker.exists()


def test_the_hidden_paths_are_everything_that_holds_the_servers_secrets():
    hidden = set(settings.EXEC_HIDDEN_PATHS)
    assert {
        str(settings.DATA_DIR),
        os.path.expanduser("~/.codeai.yaml"),
        "/etc/codeai",  # config.yaml and the systemd unit's environment file
        str(Path.cwd() / ".env"),  # `make run` and django-environ read it
        os.path.expanduser("~"),
    } <= hidden
