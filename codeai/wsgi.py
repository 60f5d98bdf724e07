"""WSGI entry point for gunicorn (``codeai server start``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "codeai.settings")

application = get_wsgi_application()
