# What started an execution; the rows before it came through the API.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("executions", "0003_revisions"),
    ]

    operations = [
        migrations.AddField(
            model_name="execution",
            name="trigger",
            field=models.CharField(
                choices=[
                    ("api", "API"),
                    ("admin", "Admin"),
                    ("schedule", "Schedule"),
                    ("relaunch", "Relaunch"),
                ],
                default="api",
                max_length=16,
            ),
        ),
    ]
