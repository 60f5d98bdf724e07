"""Management commands and start-up behaviour, run as real processes where it matters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variable", "value", "accepted"),
    [
        ("CODEAI_PORT", "abc", "an integer from 1 to 65535"),
        ("CODEAI_DB_SSLMODE", "maybe", "disable, require, verify-ca or verify-full"),
        ("CODEAI_LOG_LEVEL", "loud", "debug, info, warn (or warning) or error"),
        ("CODEAI_CACHE_TYPE", "disk", "memory or redis"),
    ],
)
def test_malformed_value_stops_startup_with_one_line_and_no_traceback(variable, value, accepted):
    result = manage("check", env={variable: value})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"configuration error: {variable}={value!r} (env) is not valid: expected {accepted}"
    ]
    assert "Traceback" not in result.stderr


def test_config_validate_exits_zero_when_valid():
    result = manage("config", "validate")
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout


def test_config_validate_lists_each_problem_and_exits_one():
    result = manage("config", "validate", env={"CODEAI_PORT": "abc", "CODEAI_LOG_FORMAT": "xml"})
    assert result.returncode == 1
    assert "CODEAI_PORT" in result.stderr
    assert "CODEAI_LOG_FORMAT" in result.stderr


SECRETS = {
    "CODEAI_DB_PASSWORD": "db-pass-do-not-print",
    "CODEAI_JWT_SECRET": "jwt-secret-do-not-print-0123456789abcdef",
    "CODEAI_REDIS_PASSWORD": "redis-pass-do-not-print",
    "CODEAI_SECRET_KEY": "django-secret-do-not-print",
    "CODEAI_CELERY_BROKER_URL": "amqp://guest:broker-pass-do-not-print@127.0.0.1:5672//",
}


@pytest.mark.parametrize("output", ["text", "json"])
def test_config_show_never_prints_a_secret(output):
    # DB variables switch the database to PostgreSQL; `config show` must not connect.
    result = manage("config", "show", "--output", output, env=SECRETS)
    assert result.returncode == 0, result.stderr
    for secret in ("db-pass", "jwt-secret-do", "redis-pass", "django-secret", "broker-pass"):
        assert secret not in result.stdout + result.stderr
    assert "****" in result.stdout


def test_config_show_json_groups_like_the_guide():
    out = StringIO()
    call_command("config", "show", "--output", "json", stdout=out)
    shown = json.loads(out.getvalue())
    assert {"server", "database", "cache", "auth", "metrics", "logging", "cors"} <= set(shown)
    assert shown["server"]["CODEAI_PORT"] == 8080


def test_version_output_json_has_the_three_fields():
    result = manage("version", "--output", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "version": "dev",
        "buildDate": "unknown",
        "gitCommit": "unknown",
    }


def test_version_reports_build_arguments():
    result = manage(
        "version",
        "--output",
        "json",
        env={
            "CODEAI_VERSION": "1.0.0",
            "CODEAI_BUILD_DATE": "2026-11-27T10:00:00Z",
            "CODEAI_GIT_COMMIT": "abc123",
        },
    )
    assert json.loads(result.stdout)["gitCommit"] == "abc123"
