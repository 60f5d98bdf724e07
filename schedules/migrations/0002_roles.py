"""The role groups' permissions on schedules, matching the API (codeai.kernel.roles):
viewers read them, editors and admins also add, change and delete them.

The groups come from codeai.0002_roles; a group an operator deleted is left alone."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ACTIONS = {"viewer": ("view",), "editor": ("view", "add", "change", "delete")}
ACTIONS["admin"] = ACTIONS["editor"]


def grant_schedule_permissions(apps, schema_editor):
    # Permissions are normally created after all migrations ran; the groups need them now.
    app_config = apps.get_app_config("schedules")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, actions in ACTIONS.items():
        group = Group.objects.filter(name=role).first()
        if group is None:
            continue
        for action in actions:
            group.permissions.add(
                Permission.objects.get(
                    content_type__app_label="schedules", codename=f"{action}_schedule"
                )
            )


class Migration(migrations.Migration):
    dependencies = [
        ("schedules", "0001_initial"),
        ("codeai", "0002_roles"),
    ]

    # Reversing keeps the permissions: an operator may have changed the groups since.
    operations = [migrations.RunPython(grant_schedule_permissions, migrations.RunPython.noop)]
