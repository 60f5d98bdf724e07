"""Fixtures of the deployment tests."""

from __future__ import annotations

import pytest

from tests.conftest import uses_postgres


@pytest.fixture
def embedded_pass_only() -> None:
    """Skip in the services pass a test whose child processes get an environment of their own:
    that pass would repeat it exactly (scripts/test.sh runs the suite twice)."""
    if uses_postgres():
        pytest.skip("same child-process environment in both passes: runs in the embedded pass")
