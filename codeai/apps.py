"""The ``codeai`` app: project-wide models-free pieces that need the app registry."""

from __future__ import annotations

from django.apps import AppConfig


class CodeAIConfig(AppConfig):
    name = "codeai"
    verbose_name = "CodeAI"

    def ready(self) -> None:
        # Every Django process (web, worker, shell) sends its tasks through this app, and
        # measures its database queries from its first one on (codeai.metrics; a worker's
        # pool processes too, forked before anything else would import it); a worker
        # serves its pool's metrics once ready (codeai.worker_metrics).
        from codeai import celery, metrics, worker_metrics  # noqa: F401
        from codeai.kernel import tokens
        from codeai.kernel.api import token_users

        tokens.connect()
        token_users.connect()
