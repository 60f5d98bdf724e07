"""The API tests' users, clients and objects, for the schedule tests too."""

from tests.api.conftest import client_for, config, deployment  # noqa: F401
