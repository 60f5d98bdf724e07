"""The Celery application: ``celery -A codeai worker`` and ``celery -A codeai beat``."""

from __future__ import annotations

import os

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "codeai.settings")

# filesystem:// (the embedded default) is kombu's transport writing each message whole
# (codeai/broker.py); an alias, so a broker URL of any other scheme still picks its own.
TRANSPORT_ALIASES["filesystem"] = "codeai.broker:Transport"

app = Celery("codeai")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
