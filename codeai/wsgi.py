"""WSGI entry point for gunicorn (``codeai server start``)."""

import os

from django.core.wsgi import get_wsgi_application

from codeai.kernel.limits import bound_chunked_bodies

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "codeai.settings")

application = bound_chunked_bodies(get_wsgi_application())
