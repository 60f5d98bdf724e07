# What started an execution; the rows before it came through the API.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("executions", "0002_execution_republished_at"),
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
