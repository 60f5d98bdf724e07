from django.apps import AppConfig


class ConfigsConfig(AppConfig):
    name = "configs"
    verbose_name = "Configs"
    default_auto_field = "django.db.models.BigAutoField"
