"""How the parsed variables map onto Django: engines switched by the guide's variables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, django
django.setup()
from django.conf import settings as s
db = s.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"], "name": str(db["NAME"]), "options": db.get("OPTIONS", {}),
    "cache": s.CACHES["default"]["BACKEND"], "cache_location": s.CACHES["default"].get("LOCATION"),
    "broker": s.CELERY_BROKER_URL, "debug": s.DEBUG, "session_secure": s.SESSION_COOKIE_SECURE,
    "csrf_secure": s.CSRF_COOKIE_SECURE, "trusted_origins": s.CSRF_TRUSTED_ORIGINS,
}, default=str))
"""


def run_python(
    tmp_path: Path, *args: str, check: bool = True, **env: str
) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter (settings load once per process) with only the given CODEAI_*."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CODEAI_")}
    clean.update({"CODEAI_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "codeai.settings"})
    clean.update(env)
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
    )


def effective(tmp_path: Path, **env: str) -> dict:
    return json.loads(run_python(tmp_path, "-c", PROBE, **env).stdout)


def test_embedded_default_is_sqlite_memory_cache_and_filesystem_broker(tmp_path):
    seen = effective(tmp_path)
    assert seen["engine"].endswith("sqlite3")
    assert seen["name"] == str(tmp_path / "codeai.sqlite3")
    assert seen["cache"].endswith("LocMemCache")
    assert seen["broker"] == "filesystem://"
    assert seen["debug"] is False
    assert seen["session_secure"] is False  # served over plain HTTP: see below


def test_any_db_variable_switches_to_postgresql_with_the_guides_pool(tmp_path):
    seen = effective(
        tmp_path,
        CODEAI_DB_HOST="db.example.com",
        CODEAI_DB_MAX_OPEN_CONNS="40",
        CODEAI_DB_MAX_IDLE_CONNS="7",
        CODEAI_DB_CONN_MAX_LIFETIME="3m",
        CODEAI_DB_SSLMODE="require",
    )
    assert seen["engine"] == "codeai.db.postgresql"  # Django's, pooled per instance
    assert seen["name"] == "codeai"
    assert seen["options"]["sslmode"] == "require"
    # The instance's figures; each process opens its share of them (tests/codeai/test_pool.py).
    assert seen["options"]["pool"]["max_open_conns"] == 40
    assert seen["options"]["pool"]["max_idle_conns"] == 7
    assert seen["options"]["pool"]["max_lifetime"] == 180
    assert seen["options"]["pool"]["max_idle"] == 60  # the guide's SetConnMaxIdleTime
    assert seen["options"]["application_name"] == "codeai"


def test_db_name_alone_also_means_postgresql(tmp_path):
    assert effective(tmp_path, CODEAI_DB_NAME="other")["engine"] == "codeai.db.postgresql"


def test_redis_cache_type_uses_django_redis_and_the_next_database_as_broker(tmp_path):
    seen = effective(
        tmp_path, CODEAI_CACHE_TYPE="redis", CODEAI_REDIS_URL="redis://cache.example:6379"
    )
    assert "redis" in seen["cache"].lower()
    assert seen["cache_location"] == "redis://cache.example:6379/0"
    assert seen["broker"] == "redis://cache.example:6379/1"


@pytest.mark.parametrize(
    ("url", "redis_db", "cache", "broker"),
    [
        (
            "redis://cache.example:6379",
            "5",
            "redis://cache.example:6379/5",
            "redis://cache.example:6379/6",
        ),
        (
            "redis://cache.example:6379/3",
            "5",
            "redis://cache.example:6379/3",
            "redis://cache.example:6379/4",
        ),
    ],
)
def test_redis_database_comes_from_the_url_else_codeai_redis_db(
    tmp_path, url, redis_db, cache, broker
):
    seen = effective(
        tmp_path, CODEAI_CACHE_TYPE="redis", CODEAI_REDIS_URL=url, CODEAI_REDIS_DB=redis_db
    )
    assert (seen["cache_location"], seen["broker"]) == (cache, broker)


def test_redis_password_reaches_the_broker_fallback(tmp_path):
    seen = effective(
        tmp_path, CODEAI_REDIS_URL="redis://cache.example:6379", CODEAI_REDIS_PASSWORD="p@ss word"
    )
    assert seen["broker"] == "redis://:p%40ss%20word@cache.example:6379/1"


def test_broker_url_wins_over_redis_url(tmp_path):
    seen = effective(
        tmp_path,
        CODEAI_REDIS_URL="redis://cache.example:6379",
        CODEAI_CELERY_BROKER_URL="amqp://guest:guest@mq.example:5672//",
    )
    assert seen["broker"].startswith("amqp://")


def test_redis_cache_without_url_is_a_clear_error(tmp_path):
    result = run_python(tmp_path, "manage.py", "check", check=False, CODEAI_CACHE_TYPE="redis")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "configuration error: CODEAI_REDIS_URL is required when CODEAI_CACHE_TYPE=redis"
        " (e.g. redis://localhost:6379)"
    )


def test_python_warnings_are_json_log_lines_in_json_mode(tmp_path):
    script = "import django, warnings; django.setup(); warnings.warn('library says hi')"
    result = run_python(tmp_path, "-c", script, CODEAI_LOG_FORMAT="json", PYTHONWARNINGS="always")
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert any(
        "library says hi" in line["msg"] and line["logger"] == "py.warnings" for line in lines
    )


@pytest.mark.parametrize(
    ("env", "secure"),
    [
        ({}, False),
        ({"CODEAI_SECURE_SSL_REDIRECT": "true"}, True),
        ({"CODEAI_SECURE_COOKIES": "true"}, True),
        ({"CODEAI_SECURE_SSL_REDIRECT": "true", "CODEAI_SECURE_COOKIES": "false"}, False),
    ],
    ids=["plain-http", "https-redirect", "said-https", "said-not"],
)
def test_cookies_are_secure_only_when_served_over_https(tmp_path, env, secure):
    seen = effective(tmp_path, **env)
    assert (seen["session_secure"], seen["csrf_secure"]) == (secure, secure)


def test_csrf_trusted_origins_follow_the_allowed_hosts(tmp_path):
    seen = effective(tmp_path, CODEAI_ALLOWED_HOSTS="server,.example.com", CODEAI_PORT="8080")
    assert set(seen["trusted_origins"]) >= {
        "http://server",
        "http://server:8080",
        "https://server",
        "https://server:8080",
        "https://example.com",
        "https://*.example.com:8080",
    }
