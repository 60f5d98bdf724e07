"""Users of each role, configs and deployments for the admin tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from configs.models import Config
from configs.services import config_create
from deployments.models import Deployment
from deployments.services import deployment_create

VALID_CONFIG = 'var greeting = "hello"\nexec { echo "$greeting" }\n'
INVALID_CONFIG = 'var greeting = "hello"\nprint(missing)\n'


@pytest.fixture
def make_user(db) -> Callable[..., User]:
    """A user in the role group ``role`` (made by the roles migration); not staff."""

    def make(role: str | None, *, username: str | None = None) -> User:
        user = User.objects.create_user(
            username or f"{role or 'nobody'}-user", password="pw-123456"
        )
        if role:
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def client_for(make_user) -> Callable[[str | None], Client]:
    def login(role: str | None) -> Client:
        client = Client()
        client.force_login(make_user(role))
        return client

    return login


@pytest.fixture
def config(db) -> Config:
    return config_create(name="hello", content=VALID_CONFIG)


@pytest.fixture
def deployment(config) -> Deployment:
    return deployment_create(name="hello-prod", config=config)


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]
