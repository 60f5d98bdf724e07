# The deployment index ends with the id too, as the newest-first order does: a deployment's
# newest execution is the index's first entry, with no sort.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("executions", "0004_execution_trigger"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="execution",
            name="execution_deployment_idx",
        ),
        migrations.AddIndex(
            model_name="execution",
            index=models.Index(
                fields=["deployment", "-created_at", "-id"], name="execution_deployment_idx"
            ),
        ),
    ]
