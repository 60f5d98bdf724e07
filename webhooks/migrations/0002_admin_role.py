"""The admin role manages webhooks: the admin group gets every permission on webhooks and
their deliveries (viewers and editors get none: a webhook's URL and headers can carry tokens).
Reversing keeps the group's permissions (an operator may have changed them)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

MODELS = ("webhook", "webhookdelivery")


def grant_admin(apps, schema_editor):
    app_config = apps.get_app_config("webhooks")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="admin")
    group.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="webhooks", content_type__model__in=MODELS
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_initial"),
        ("codeai", "0002_roles"),
    ]

    operations = [migrations.RunPython(grant_admin, migrations.RunPython.noop)]
