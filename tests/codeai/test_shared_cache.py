"""The shared store (throttles, admin login failures, JWKS keys) is one for every process, on
every cache setting: files in the data folder (embedded), PostgreSQL's table (memory cache with
PostgreSQL), the Redis of the cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings

from tests.api.conftest import run_fresh
from tests.conftest import uses_postgres, uses_redis_cache

PROBE = """
import sys, django
django.setup()
from django.conf import settings
from django.core.cache import caches
shared = caches[settings.SHARED_CACHE]
key = sys.argv[1]
if sys.argv[2] == "add":
    print(type(shared).__name__, shared.add(key, "first", 60))
else:
    print(shared.get(key), shared.add(key, "second", 60))
    shared.delete(key)
"""


def in_two_processes(tmp_path: Path, **variables: str) -> tuple[str, str]:
    key = f"shared-probe-{os.getpid()}"
    first = run_fresh(["-c", PROBE, key, "add"], tmp_path, **variables)
    second = run_fresh(["-c", PROBE, key, "check"], tmp_path, **variables)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    return first.stdout.strip(), second.stdout.strip()


def test_embedded_default_shares_files_in_the_data_folder(tmp_path):
    assert in_two_processes(tmp_path) == ("FileBasedCache True", "first False")


@pytest.mark.django_db
def test_postgresql_with_the_memory_cache_shares_a_table(tmp_path):
    if not uses_postgres():
        pytest.skip("needs this pass's PostgreSQL test database")
    database = settings.DATABASES["default"]
    variables = {
        "CODEAI_DB_HOST": database["HOST"],
        "CODEAI_DB_PORT": str(database["PORT"]),
        "CODEAI_DB_USER": database["USER"],
        "CODEAI_DB_NAME": database["NAME"],
        "CODEAI_CACHE_TYPE": "memory",
    }

    assert in_two_processes(tmp_path, **variables) == ("DatabaseCache True", "first False")


def test_redis_cache_is_the_shared_store(tmp_path):
    if not uses_redis_cache():
        pytest.skip("needs this pass's Redis")
    variables = {
        "CODEAI_CACHE_TYPE": "redis",
        "CODEAI_REDIS_URL": os.environ["CODEAI_REDIS_URL"],
        "CODEAI_REDIS_DB": os.environ.get("CODEAI_REDIS_DB", "0"),
    }

    assert in_two_processes(tmp_path, **variables) == ("RedisCache True", "first False")
