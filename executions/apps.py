from django.apps import AppConfig
from django.db.models.signals import pre_delete


class ExecutionsConfig(AppConfig):
    name = "executions"
    verbose_name = "Executions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from executions import services

        # deployments knows nothing of executions: the guard on deleting one plugs in here.
        pre_delete.connect(
            services.deployment_delete_refused_while_active,
            sender="deployments.Deployment",
            dispatch_uid="executions.deployment_delete_refused_while_active",
        )
