"""PostgreSQL's timestamptz values are read as aware UTC datetimes by psycopg's own (C)
parse, not Django's pure-Python loader: the same values, a twentieth of the cost."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.utils import timezone

from codeai.db.postgresql.base import UTCTimestamptzLoader
from configs.models import Config
from tests.conftest import uses_postgres

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _postgres_only():
    if not uses_postgres():
        pytest.skip("the PostgreSQL pass: SQLite has no timestamptz")


def test_the_connection_reads_timestamptz_with_the_utc_loader():
    with connection.cursor() as cursor:
        loader = cursor.cursor.adapters.get_loader(1184, 0)  # timestamptz, text format
    assert loader is UTCTimestamptzLoader


def test_a_stored_moment_comes_back_equal_and_in_utc():
    moment = datetime.datetime(2026, 3, 29, 1, 30, 0, 120, tzinfo=datetime.UTC)
    config = Config.objects.create(name="c", content="exec { true }")
    Config.objects.filter(pk=config.pk).update(created_at=moment)
    read = Config.objects.values_list("created_at", flat=True).get(pk=config.pk)
    assert read == moment
    assert read.tzinfo is datetime.UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-03 06:25:53.489818+00", datetime.datetime(2026, 12, 3, 6, 25, 53, 489818)),
        ("2026-12-03 06:25:53+00", datetime.datetime(2026, 12, 3, 6, 25, 53)),
        ("0001-01-01 00:00:00+00", datetime.datetime(1, 1, 1)),
    ],
)
def test_each_text_is_read_as_its_moment_in_utc(text, expected):
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::timestamptz", [text])
        (value,) = cursor.fetchone()
    assert value == expected.replace(tzinfo=datetime.UTC)
    assert value.tzinfo is datetime.UTC


def test_a_session_in_another_zone_is_still_read_as_the_same_moment_in_utc():
    with connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'Europe/Paris'")
        try:
            cursor.execute("SELECT '2026-07-01 12:00:00+00'::timestamptz")
            (value,) = cursor.fetchone()
        finally:
            cursor.execute("SET TIME ZONE 'UTC'")
    assert value == datetime.datetime(2026, 7, 1, 12, tzinfo=datetime.UTC)
    assert value.tzinfo is datetime.UTC
    assert timezone.is_aware(value)
