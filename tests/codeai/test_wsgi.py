"""A gunicorn worker imports ``codeai.wsgi`` before it accepts a connection; that import loads
what the worker's first request would otherwise load (the URLconf with every view it
includes, the apps' task modules and the broker's transport), and connects to nothing."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.deploy.support import ROOT, embedded_env, free_port

FIRST_REQUEST_MODULES = (
    "codeai.urls",
    "codeai.api_urls",
    "executions.views",
    "deployments.views",
    "executions.tasks",
    "webhooks.tasks",
    "codeai.kernel.broker",
)

PROBE = f"""
import json, sys
import codeai.wsgi
from codeai.celery import app
print(json.dumps({{
    "loaded": [name for name in {FIRST_REQUEST_MODULES!r} if name in sys.modules],
    "tasks_finalized": app.finalized,
}}))
"""


def test_importing_the_wsgi_module_loads_what_a_first_request_would_without_connecting(
    tmp_path,
):
    closed_port = free_port()  # nothing listens: a connection attempt would fail the import
    environment = embedded_env(
        tmp_path,
        CODEAI_CELERY_BROKER_URL=f"redis://127.0.0.1:{closed_port}/0",
        CODEAI_LOG_LEVEL="error",
    )
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe == {"loaded": list(FIRST_REQUEST_MODULES), "tasks_finalized": True}
