"""The role groups viewer, editor and admin, with Django model permissions matching what
each role may do in the API (codeai.kernel.roles): viewers read, editors also write configs,
create deployments and execute/cancel, admins do everything.

The project's app (the top, which knows every app) holds it; until 2026-12 it was
configs.0002_roles. A database that applied that one has its groups already, possibly changed
by an operator since: then this migration records itself and changes nothing."""

from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.migrations.recorder import MigrationRecorder

MODELS = {"configs": "config", "deployments": "deployment", "executions": "execution"}
VIEW = [("configs", "view_config"), ("deployments", "view_deployment"), ("executions", "view_execution")]
ROLE_PERMISSIONS = {
    "viewer": VIEW,
    "editor": VIEW
    + [
        ("configs", "add_config"),
        ("configs", "change_config"),
        ("configs", "delete_config"),
        ("deployments", "add_deployment"),
        ("executions", "change_execution"),  # cancel
    ],
    "admin": [
        (app, f"{action}_{model}")
        for app, model in MODELS.items()
        for action in ("view", "add", "change", "delete")
    ],
}


def create_role_groups(apps, schema_editor):
    recorder = MigrationRecorder(schema_editor.connection)
    if recorder.migration_qs.filter(app="configs", name="0002_roles").exists():
        return
    # Permissions are normally created after all migrations ran; these groups need them now.
    for app_label in ("auth", *MODELS):
        app_config = apps.get_app_config(app_label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, wanted in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for app_label, codename in wanted:
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


class Migration(migrations.Migration):
    dependencies = [
        ("codeai", "0001_shared_cache_table"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("configs", "0001_initial"),
        ("deployments", "0001_initial"),
        ("executions", "0001_initial"),
    ]

    # Reversing keeps the groups: they may hold users an operator assigned.
    operations = [migrations.RunPython(create_role_groups, migrations.RunPython.noop)]
