"""The ``codeai`` command: the guide's verbs, flags over environment, one-line errors.

Its child processes get an environment of their own (the embedded default in a folder of the
test's), identical in both passes of scripts/test.sh: they run in the embedded pass only."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path

import pytest

from codeai import cli
from codeai.kernel.cpus import cpu_count
from tests.deploy.support import (
    clean_env,
    embedded_env,
    free_port,
    run_codeai,
)

pytestmark = pytest.mark.usefixtures("embedded_pass_only")


@pytest.mark.parametrize(
    ("argv", "handler"),
    [
        (["server", "start"], cli.server_start),
        (["server", "start", "--host", "0.0.0.0", "--port", "8080"], cli.server_start),
        (["server", "migrate"], cli.server_migrate),
        (["server", "migrate", "--dry-run"], cli.server_migrate),
        (
            [
                *("server", "migrate", "--db-host", "pg", "--db-port", "5432"),
                *("--db-name", "codeai", "--db-user", "u", "--db-password", "p"),
                *("--db-sslmode", "require"),
            ],
            cli.server_migrate,
        ),
        (["worker", "start"], cli.worker_start),
        (["worker", "start", "--beat", "--concurrency", "2"], cli.worker_start),
        (["worker", "beat"], cli.worker_beat),
        (["config", "validate"], cli.config_command),
        (["config", "show", "--output", "json"], cli.config_command),
        (["version", "--output", "json"], cli.version_command),
    ],
)
def test_parser_speaks_the_guides_verbs(argv, handler):
    assert cli.build_parser().parse_args(argv).handler is handler


@pytest.mark.parametrize(
    "argv", [[], ["serve"], ["server"], ["server", "stop"], ["worker", "start", "--bogus"]]
)
def test_parser_rejects_what_is_not_a_verb(argv):
    with pytest.raises(SystemExit) as exit_info:
        cli.build_parser().parse_args(argv)
    assert exit_info.value.code == 2


def test_console_script_is_installed_with_the_project():
    result = run_codeai("--help", env=clean_env())
    assert result.returncode == 0, result.stderr
    for verb in ("server", "worker", "config", "version", "parse", "validate"):
        assert verb in result.stdout


def test_db_flags_override_the_environment(tmp_path):
    env = embedded_env(tmp_path, CODEAI_DB_HOST="from-env", CODEAI_DB_SSLMODE="disable")
    result = run_codeai(
        "config",
        "show",
        "--output",
        "json",
        "--db-host",
        "from-flag",
        "--db-sslmode",
        "require",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    database = json.loads(result.stdout)["database"]
    assert database["CODEAI_DB_HOST"] == "from-flag"
    assert database["CODEAI_DB_SSLMODE"] == "require"


@pytest.mark.parametrize(
    ("argv", "variables", "line"),
    [
        (
            ["server", "start", "--port", "abc"],
            {},
            "configuration error: CODEAI_PORT='abc' (env) is not valid: "
            "expected an integer from 1 to 65535",
        ),
        (
            ["server", "migrate", "--db-sslmode", "maybe"],
            {},
            "configuration error: CODEAI_DB_SSLMODE='maybe' (env) is not valid: "
            "expected disable, require, verify-ca or verify-full",
        ),
        (
            ["worker", "start"],
            {"CODEAI_LOG_LEVEL": "loud"},
            "configuration error: CODEAI_LOG_LEVEL='loud' (env) is not valid: "
            "expected debug, info, warn (or warning) or error",
        ),
    ],
)
def test_malformed_setting_stops_with_one_line_and_exit_1(tmp_path, argv, variables, line):
    result = run_codeai(*argv, env=embedded_env(tmp_path, **variables))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [line]


def test_version_json_reports_the_build_args(tmp_path):
    env = embedded_env(
        tmp_path, CODEAI_VERSION="1.4.0", CODEAI_BUILD_DATE="2026-01-02T03:04:05Z"
    ) | {"CODEAI_GIT_COMMIT": "abc123"}
    result = run_codeai("version", "--output", "json", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "version": "1.4.0",
        "buildDate": "2026-01-02T03:04:05Z",
        "gitCommit": "abc123",
    }


def test_config_validate_and_show_mask_secrets(tmp_path):
    env = embedded_env(tmp_path, CODEAI_JWT_SECRET="jwt-secret-never-printed-0123456789abcdef")
    assert run_codeai("config", "validate", env=env).returncode == 0
    shown = run_codeai("config", "show", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "CODEAI_JWT_SECRET = ****" in shown.stdout
    assert "jwt-secret-never-printed" not in shown.stdout + shown.stderr


def test_parse_and_validate_delegate_to_the_dsl_commands(tmp_path):
    env = embedded_env(tmp_path)
    valid = tmp_path / "ok.cai"
    valid.write_text('var greeting = "hello"\n')
    duplicate = tmp_path / "bad.cai"
    duplicate.write_text("var a = 1\nvar a = 2\n")

    parsed = run_codeai("parse", str(valid), "--output", "json", env=env)
    assert parsed.returncode == 0, parsed.stderr
    assert json.loads(parsed.stdout)["Statements"][0]["Name"] == "greeting"
    assert run_codeai("validate", str(valid), env=env).returncode == 0
    invalid = run_codeai("validate", str(duplicate), env=env)
    assert invalid.returncode == 1
    assert "2:1" in invalid.stdout


def test_migrate_dry_run_lists_pending_migrations_and_writes_nothing(tmp_path):
    database = tmp_path / "fresh.sqlite3"
    env = embedded_env(tmp_path, CODEAI_SQLITE_PATH=str(database))

    dry = run_codeai("server", "migrate", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert lines[0].endswith("pending migration(s):")
    assert "  configs.0001_initial" in lines
    assert "  executions.0001_initial" in lines
    with sqlite3.connect(database) as connection:
        tables = connection.execute("select name from sqlite_master where type='table'").fetchall()
    assert tables == []

    assert run_codeai("server", "migrate", env=env).returncode == 0
    again = run_codeai("server", "migrate", "--dry-run", env=env)
    assert again.stdout.strip() == "No pending migrations."


def test_migrate_dry_run_on_an_unreachable_database_is_one_line(tmp_path):
    result = run_codeai(
        "server",
        "migrate",
        "--dry-run",
        "--db-host",
        "127.0.0.1",
        "--db-port",
        str(free_port()),
        env=embedded_env(tmp_path),
    )
    assert result.returncode == 1
    # The connection pool logs its attempts; the command's own verdict is the last line.
    assert result.stderr.strip().splitlines()[-1].startswith("cannot read the database:")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("secret_key", "use_postgres", "warns"),
    [(None, True, True), ("configured", True, False), (None, False, False)],
)
def test_server_start_warns_when_postgres_runs_on_a_generated_secret_key(
    settings, secret_key, use_postgres, warns
):
    settings.CODEAI = {"CODEAI_SECRET_KEY": secret_key}
    settings.USE_POSTGRES = use_postgres
    warning = cli.generated_secret_key_warning()
    assert (warning is not None) is warns
    if warns:
        assert "CODEAI_SECRET_KEY_FILE" in warning


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["worker", "start"], ["worker", "--queues", "executions,celery"]),
        (["worker", "start", "--concurrency", "3"], ["--concurrency", "3"]),
        (["worker", "beat"], ["beat", "--schedule"]),
        (["server", "start"], ["-m", "gunicorn", "--config", str(cli.GUNICORN_CONFIG)]),
    ],
)
def test_process_verbs_exec_their_program(monkeypatch, tmp_path, argv, expected):
    executed = []
    monkeypatch.setattr(cli, "exec_program", executed.append)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # restored after the test
    cli.main(argv)
    if argv[:2] == ["worker", "start"]:
        # The pool's metrics folder of this instance, named after the pid Celery will have.
        folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
        assert folder.parent == tmp_path
        assert folder.is_dir()
        assert folder.name.startswith(f"codeai-worker-{os.getpid()}-")
    (program,) = executed
    assert program[0] == sys.executable
    joined = " ".join(program)
    assert " ".join(expected) in joined
    if argv[:2] == ["worker", "start"] and "--concurrency" not in argv:
        # Celery's default (os.cpu_count) would ignore a container's CPU limit.
        assert program[program.index("--concurrency") + 1] == str(cpu_count())
