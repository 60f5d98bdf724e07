"""The table of the shared cache (throttles, admin login failures, JWKS keys) when no Redis is
configured: created whatever the cache setting is now, so switching it later needs no step."""

from django.conf import settings
from django.core.management.commands.createcachetable import Command as CreateCacheTable
from django.db import migrations


def create_table(apps, schema_editor):
    command = CreateCacheTable()
    command.verbosity = 0
    command.create_table(schema_editor.connection.alias, settings.SHARED_CACHE_TABLE, dry_run=False)


def drop_table(apps, schema_editor):
    schema_editor.execute(
        f"DROP TABLE IF EXISTS {schema_editor.quote_name(settings.SHARED_CACHE_TABLE)}"
    )


class Migration(migrations.Migration):
    dependencies = []

    operations = [migrations.RunPython(create_table, drop_table)]
