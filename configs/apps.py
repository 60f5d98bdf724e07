from django.apps import AppConfig


class ConfigsConfig(AppConfig):
    name = "configs"
    verbose_name = "Configs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Web and worker processes build the DSL grammar at start, not in a request.
        from codeai import dsl

        dsl.prepare()
