"""Fixtures of the API tests: users of every role, token clients and a few objects."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from codeai.kernel import roles
from configs.models import Config
from configs.services import config_create
from deployments.models import Deployment
from deployments.services import deployment_create
from executions.models import Execution, ExecutionStatus

VALID_CONTENT = 'var greeting = "hello"\nexec { echo hello }\n'
SCOPE_ERROR_CONTENT = "print(missing)\n"
SYNTAX_ERROR_CONTENT = "var x = \n"

ROOT = Path(__file__).resolve().parents[2]

# Who may call a route: nobody (anonymous, no role) up to admin; "none" is a user in no group.
CALLERS = ("none", roles.VIEWER, roles.EDITOR, roles.ADMIN)


def make_user(role: str, username: str | None = None) -> User:
    """A local user in the group of ``role`` ("none": no group, "superuser": superuser)."""
    username = username or f"{role}-user"
    if role == "superuser":
        return User.objects.create_superuser(username, password="pw-superuser")
    user = User.objects.create_user(username, password=f"pw-{username}")
    if role in roles.ROLES:
        user.groups.add(Group.objects.get(name=role))
    return user


def bearer_client(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


@pytest.fixture
def client_for(db: Any) -> Callable[[str], APIClient]:
    """``client_for("editor")``: an API client with a token of a user holding that role."""

    def build(role: str) -> APIClient:
        if role == "anonymous":
            return APIClient()
        return bearer_client(make_user(role))

    return build


@pytest.fixture
def admin_client(client_for: Callable[[str], APIClient]) -> APIClient:
    return client_for(roles.ADMIN)


@pytest.fixture
def config(db: Any) -> Config:
    return config_create(name="web", content=VALID_CONTENT)


@pytest.fixture
def deployment(config: Config) -> Deployment:
    return deployment_create(name="web-prod", config=config)


def make_execution(deployment: Deployment, status: str = ExecutionStatus.QUEUED, **fields: Any):
    return Execution.objects.create(
        deployment=deployment, status=status, triggered_by_name="alice", **fields
    )


@pytest.fixture
def execution(deployment: Deployment) -> Execution:
    return make_execution(
        deployment, output="line one\nline two\n", config_snapshot=VALID_CONTENT, config_revision=1
    )


def run_fresh(args: list[str], tmp_path: Path, **variables: str) -> subprocess.CompletedProcess:
    """``python <args>`` in a new process (settings are read at start-up) with only the given
    CODEAI_* variables and an empty data folder."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith("CODEAI_")}
    environ.update(
        CODEAI_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="codeai.settings", **variables
    )
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60
    )
