"""CodeAI: store CodeAI DSL configs, deploy them and run executions on Celery workers."""

from codeai.celery import app as celery_app

__all__ = ["celery_app"]
