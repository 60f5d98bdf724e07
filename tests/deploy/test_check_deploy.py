"""``manage.py check --deploy`` is clean with the production environment of the compose file."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.deploy.support import COMPOSE, ROOT, clean_env

pytestmark = pytest.mark.usefixtures("embedded_pass_only")


def compose_environment(tmp_path: Path) -> dict[str, str]:
    """The web service's environment, its /run/secrets files written under ``tmp_path``."""
    service = yaml.safe_load(COMPOSE.read_text())["services"]["codeai"]
    environment = dict(service["environment"])
    generated = {
        "db_password": secrets.token_urlsafe(24),
        "jwt_secret": secrets.token_urlsafe(48),
        "secret_key": secrets.token_urlsafe(64),
    }
    for variable, path in list(environment.items()):
        if variable.endswith("_FILE"):
            secret = tmp_path / Path(path).name
            secret.write_text(generated[secret.name] + "\n")
            environment[variable] = str(secret)
    # /data is the image's volume; here a folder of the test's own.
    environment["CODEAI_DATA_DIR"] = str(tmp_path / "data")
    return environment


def test_check_deploy_is_clean_with_the_compose_production_environment(tmp_path):
    environment = compose_environment(tmp_path)
    assert environment["CODEAI_DB_HOST"] == "postgres"  # PostgreSQL, not a SQLite path
    probe = "from django.conf import settings as s; print(s.DATABASES['default']['ENGINE'])"
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=clean_env(**environment),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    engine = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v0", "-c", probe],
        cwd=ROOT,
        env=clean_env(**environment),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert engine.stdout.strip().endswith("postgresql"), engine.stderr
