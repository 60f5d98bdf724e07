"""The Celery application: ``celery -A codeai worker`` and ``celery -A codeai beat``."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "codeai.settings")

app = Celery("codeai")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
