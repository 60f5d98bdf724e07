"""The filter backend (codeai.kernel.api.filters.FilterBackend) leaves out nothing a filterset
does: a list asked without filter parameters is the unfiltered list, a given filter filters,
and a required filter is still required."""

from __future__ import annotations

from types import SimpleNamespace

import django_filters
import pytest
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from codeai.kernel.api.filters import FilterBackend
from deployments.filters import DeploymentFilter
from deployments.models import Deployment
from deployments.services import deployment_create

pytestmark = pytest.mark.django_db


class RequiredNameFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(required=True)

    class Meta:
        model = Deployment
        fields = ["name"]


def names(backend, query: str, filterset_class=DeploymentFilter) -> list[str]:
    request = Request(APIRequestFactory().get(f"/api/v1/deployments/?{query}"))
    view = SimpleNamespace(filterset_class=filterset_class)
    rows = backend.filter_queryset(request, Deployment.objects.order_by("name"), view)
    return [deployment.name for deployment in rows]


@pytest.fixture
def deployments():
    for name in ("alpha", "beta", "gamma"):
        deployment_create(name=name, config=None)


@pytest.mark.parametrize("query", ["", "limit=2", "limit=2&offset=1", "name=a", "status=pending"])
def test_the_rows_are_django_filter_s(deployments, query):
    assert names(FilterBackend(), query) == names(DjangoFilterBackend(), query)


def test_a_list_without_filter_parameters_is_every_row(deployments):
    assert names(FilterBackend(), "limit=2") == ["alpha", "beta", "gamma"]


def test_a_given_filter_filters(deployments):
    assert names(FilterBackend(), "name=mm") == ["gamma"]


def test_a_required_filter_is_still_required(deployments):
    with pytest.raises(ValidationError) as refused:
        names(FilterBackend(), "limit=2", RequiredNameFilter)

    assert "name" in refused.value.detail
    assert names(FilterBackend(), "name=beta", RequiredNameFilter) == ["beta"]
