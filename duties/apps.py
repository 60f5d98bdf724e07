from django.apps import AppConfig


class DutiesConfig(AppConfig):
    name = "duties"
    verbose_name = "Periodic duties"
    default_auto_field = "django.db.models.BigAutoField"
