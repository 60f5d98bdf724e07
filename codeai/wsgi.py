"""WSGI entry point for gunicorn (``codeai server start``).

Every gunicorn worker imports this module before it accepts a connection, so what each
process's first request would otherwise load is loaded here: the URLconf, and with it every
view, the admin's and the API's modules, and the Celery app's publishing parts
(``codeai.celery.prepare_publishing``). A fresh worker's first ``POST .../execute/`` took
about 190 ms more than the next one in-process, and half a second under a burst's load.
"""

import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from codeai.celery import prepare_publishing
from codeai.kernel.limits import bound_chunked_bodies

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "codeai.settings")

application = bound_chunked_bodies(get_wsgi_application())

import_module(settings.ROOT_URLCONF)  # and all it includes

prepare_publishing()
