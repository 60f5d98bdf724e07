"""Shared fixtures. Real services only: tests needing PostgreSQL, Redis or a broker use
``require_service``, which skips when one is missing locally and fails in CI."""

from __future__ import annotations

import os
import socket
from typing import NoReturn
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.core.cache import cache, caches

REQUIRE_SERVICES = os.environ.get("CODEAI_TEST_REQUIRE_SERVICES") == "1"

# Execute variables that change how programs load or shells start (issue 19 names most),
# spelled out here rather than read from the deny list they test.
PROGRAM_LOADING_NAMES = [
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "LD_AUDIT",
    "BASH_ENV",
    "ENV",
    "PYTHONSTARTUP",
    "PYTHONPATH",
    "PYTHONHOME",
    "PERL5LIB",
    "PERL5OPT",
    "NODE_OPTIONS",
    "GCONV_PATH",
    "GLIBC_TUNABLES",
    "RUBYOPT",
    "JAVA_TOOL_OPTIONS",
]

RABBITMQ_URL = os.environ.get("CODEAI_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")


def _address(url: str, default_port: int) -> tuple[str, int]:
    parsed = urlparse(url)
    return (parsed.hostname or "127.0.0.1", parsed.port or default_port)


def _service_addresses() -> dict[str, tuple[str, int]]:
    """Where this pass's services are: the configured ones, never an assumed default."""
    database = settings.DATABASES["default"]
    postgres = (
        (database["HOST"] or "127.0.0.1", int(database["PORT"] or 5432))
        if database["ENGINE"].endswith("postgresql")
        else (os.environ.get("CODEAI_TEST_PG_HOST", "127.0.0.1"), 5432)
    )
    redis_url = settings.CODEAI["CODEAI_REDIS_URL"] or settings.CELERY_BROKER_URL
    return {
        "postgres": postgres,
        "redis": _address(redis_url, 6379) if redis_url.startswith("redis") else ("", 0),
        "rabbitmq": _address(RABBITMQ_URL, 5672),
    }


SERVICE_ADDRESSES = _service_addresses()


def service_reachable(name: str) -> bool:
    try:
        socket.create_connection(SERVICE_ADDRESSES[name], timeout=2).close()
    except OSError:
        return False
    return True


def missing(message: str) -> NoReturn:
    """Something a test needs is absent: skip locally, fail where CI requires everything."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} and CODEAI_TEST_REQUIRE_SERVICES=1")
    pytest.skip(message)


def require_service(name: str) -> None:
    """Skip (locally) or fail (CI) when a real service this test needs is not there."""
    if service_reachable(name):
        return
    host, port = SERVICE_ADDRESSES[name]
    missing(f"{name} is not reachable at {host}:{port}")


def uses_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def uses_redis_cache() -> bool:
    return "redis" in settings.CACHES["default"]["BACKEND"].lower()


def clear_cache() -> None:
    """Empty this run's caches, the default and the shared store (throttles, lockouts,
    JWKS): on Redis only the keys under the run's own prefix (``clear()`` would FLUSHDB a
    database that may hold other data)."""
    if uses_redis_cache():
        cache.delete_pattern("*")
        return
    cache.clear()
    caches[settings.SHARED_CACHE].clear()


@pytest.fixture(autouse=True)
def _fresh_shared_cache() -> None:
    # Throttle counters, token users and the JWKS keys live in the shared cache (this run's
    # own Redis, or files in this run's data folder); users of earlier tests may have had
    # the same ids.
    clear_cache()


def broker_host() -> tuple[str, int] | None:
    url = urlparse(settings.CELERY_BROKER_URL)
    return (url.hostname, url.port) if url.hostname else None


def pytest_configure(config: pytest.Config) -> None:
    # Workers the tests start serve no metrics on the default port 9808 (shared by every run
    # on this machine) unless a test gives them one.
    os.environ.setdefault("CODEAI_WORKER_METRICS_PORT", "0")
    # Hashing with PBKDF2 costs ~0.3 s a user; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def role_groups(transactional_db) -> None:
    """The role groups (and their permissions) of the roles migration, made again for a test
    with real commits, whose database the flush before it emptied."""
    from importlib import import_module

    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.management import create_contenttypes

    wanted = import_module("codeai.migrations.0002_roles").ROLE_PERMISSIONS
    for app_config in apps.get_app_configs():
        create_contenttypes(app_config, verbosity=0)
        create_permissions(app_config, verbosity=0)
    for role, permissions in wanted.items():
        group, _ = Group.objects.get_or_create(name=role)
        for app_label, codename in permissions:
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
