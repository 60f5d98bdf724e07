"""The ``codeai`` app: project-wide models-free pieces that need the app registry."""

from __future__ import annotations

from django.apps import AppConfig


class CodeAIConfig(AppConfig):
    name = "codeai"
    verbose_name = "CodeAI"

    def ready(self) -> None:
        # Every Django process (web, worker, shell) sends its tasks through this app.
        from codeai import celery  # noqa: F401
        from codeai.kernel import tokens
        from codeai.kernel.api import token_users

        tokens.connect()
        token_users.connect()
