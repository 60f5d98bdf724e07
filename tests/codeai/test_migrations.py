"""Migrations: complete, applied by the test database setup, and a dry run that writes nothing."""

from __future__ import annotations

from importlib import import_module
from io import StringIO
from types import SimpleNamespace

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


@pytest.mark.django_db
def test_the_roles_migration_leaves_groups_of_the_old_configs_migration_alone():
    """A database that applied configs.0002_roles (the roles' old place) keeps its groups as
    an operator changed them: codeai.0002_roles only records itself there."""

    from django.contrib.auth.models import Group, Permission
    from django.db.migrations.recorder import MigrationRecorder

    from codeai.migrations import __name__ as package

    roles = import_module(f"{package}.0002_roles")
    editor = Group.objects.get(name="editor")
    removed = Permission.objects.get(codename="add_config")
    editor.permissions.remove(removed)
    recorder = MigrationRecorder(connection)
    old = recorder.migration_qs.create(app="configs", name="0002_roles")
    try:
        # Only the recorder's connection is read before the early return.
        roles.create_role_groups(None, SimpleNamespace(connection=connection))
        assert not editor.permissions.filter(pk=removed.pk).exists()
    finally:
        old.delete()
        editor.permissions.add(removed)
