from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from functools import partial

        from executions.signals import execution_status_changed, read_with_each_move
        from webhooks import services

        # executions knows nothing of webhooks: its status moves reach them through a signal,
        # on PostgreSQL with the candidate webhooks read in the move's own message.
        execution_status_changed.connect(
            services.execution_event_received, dispatch_uid="webhooks.execution_event_received"
        )
        read_with_each_move(services.CANDIDATES, partial(services.candidates_sql, "postgresql"))
