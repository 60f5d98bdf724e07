"""The base of the resource viewsets: role per action and ``<thing> not found`` lookups."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from rest_framework import exceptions, mixins, viewsets
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.serializers import BaseSerializer

from codeai.kernel.api import pagination
from codeai.kernel.api.permissions import RolePerAction


def optional_body(request: Request) -> Any:
    """The JSON body of an action whose body is optional: ``{}`` when none was sent; anything
    sent that is not an object goes on to the serializer, which refuses it (400)."""
    data = request.data
    return {} if isinstance(data, dict) and not data else data


class ResourceViewSet(RolePerAction, viewsets.GenericViewSet):
    """Objects addressed by UUID; a malformed or unknown id is 404 ``<thing> not found``."""

    thing = "object"
    # The shape of list items, without the large fields; None: the same as the detail route's.
    list_serializer_class: type[BaseSerializer] | None = None
    lookup_url_kwarg = "id"
    # Anything up to the next slash reaches the view, so malformed ids get the JSON 404.
    lookup_value_regex = "[^/]+"
    # True: the list asked with no parameter but the page's is the same query for every
    # request (its queryset reads nothing of the request or user), so its SQL is compiled
    # once per process (``pagination.ListPagination``, ``codeai.kernel.compiled``).
    compiled_plain_list = False

    def get_serializer_class(self) -> type[BaseSerializer]:
        # Only for reading the list: the browsable API's create form on the same page
        # (a POST clone of the request) needs the full shape.
        if self.action == "list" and self.request.method in ("GET", "HEAD"):
            return self.list_serializer_class or super().get_serializer_class()
        return super().get_serializer_class()

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        # A plain list whose statement is compiled runs that statement, not this queryset.
        if pagination.plain_list_compiled(self, self.request):
            return queryset
        return super().filter_queryset(queryset)

    def not_found(self) -> exceptions.NotFound:
        return exceptions.NotFound(f"{self.thing} not found")

    def get_object(self, queryset: QuerySet | None = None) -> Any:
        """The object of the path's id, from ``queryset`` (default: the view's queryset; not
        filtered by the list's query parameters). DRF's lookup: a malformed id is a 404."""
        try:
            found = get_object_or_404(
                self.get_queryset() if queryset is None else queryset,
                pk=self.kwargs[self.lookup_url_kwarg],
            )
        except Http404:
            raise self.not_found() from None
        self.check_object_permissions(self.request, found)
        return found


class ModelResourceViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ResourceViewSet,
):
    """List, create, read, replace, change and delete, with the resource lookups above."""
