from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from executions.signals import execution_status_changed
        from webhooks import services

        # executions knows nothing of webhooks: its status moves reach them through a signal.
        execution_status_changed.connect(
            services.execution_event_received, dispatch_uid="webhooks.execution_event_received"
        )
