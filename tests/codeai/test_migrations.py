"""Migrations: complete, applied by the test database setup, and a dry run that writes nothing."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection


@pytest.mark.django_db
def test_models_and_migrations_agree():
    call_command("makemigrations", "--check", "--dry-run", stdout=StringIO())


@pytest.mark.django_db
def test_every_table_exists_on_this_database():
    tables = set(connection.introspection.table_names())
    assert {"configs_config", "deployments_deployment", "executions_execution"} <= tables


@pytest.mark.django_db
def test_indexes_of_the_original_schema_exist():
    with connection.cursor() as cursor:
        constraints = {
            table: connection.introspection.get_constraints(cursor, table)
            for table in ("configs_config", "deployments_deployment", "executions_execution")
        }

    def indexed(table: str, column: str) -> bool:
        return any(
            info["columns"][:1] == [column] and (info["index"] or info["unique"])
            for info in constraints[table].values()
        )

    assert indexed("configs_config", "name")
    assert indexed("deployments_deployment", "name")
    assert indexed("deployments_deployment", "status")
    assert indexed("deployments_deployment", "config_id")
    assert indexed("executions_execution", "deployment_id")
    assert indexed("executions_execution", "status")
    assert indexed("executions_execution", "started_at")


@pytest.mark.django_db
def test_migrate_plan_is_a_dry_run():
    out = StringIO()
    call_command("migrate", "--plan", stdout=out)
    assert "No planned migration operations." in out.getvalue()
