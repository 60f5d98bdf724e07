"""Schedule endpoints under a deployment: /api/v1/deployments/{id}/schedules/[{sid}/].
Thin callers of schedules.services; viewers read, editors manage."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.serializers import BaseSerializer

from codeai.kernel.api.permissions import IsEditor
from codeai.kernel.api.schema import BODY_ERRORS, error_responses, list_responses, resource_schema
from codeai.kernel.api.viewsets import ModelResourceViewSet
from deployments.models import Deployment
from schedules import selectors, services
from schedules.models import Schedule
from schedules.serializers import ScheduleSerializer


@extend_schema_view(  # the list and create routes are a deployment's: 404 without one
    list=extend_schema(responses=list_responses(ScheduleSerializer, 404)),
    create=extend_schema(responses={201: ScheduleSerializer, **error_responses(*BODY_ERRORS, 404)}),
)
@extend_schema(
    parameters=[
        OpenApiParameter(
            "deployment_id",
            OpenApiTypes.UUID,
            OpenApiParameter.PATH,
            description="The deployment the schedules run.",
        )
    ]
)
@resource_schema(
    ScheduleSerializer,
    summaries={
        "list": "A deployment's schedules, oldest first",
        "create": "Run the deployment on a timetable (a 5-field cron in a time zone)",
        "retrieve": "A schedule",
        "update": "Replace a schedule (its next run is worked out again)",
        "partial_update": "Change some fields of a schedule (its next run is worked out again)",
        "destroy": "Delete a schedule",
    },
    delete_conflict="Never: a schedule can always be deleted.",
)
class ScheduleViewSet(ModelResourceViewSet):
    thing = "schedule"
    serializer_class = ScheduleSerializer
    filter_backends: list[Any] = []
    action_roles = {
        "create": IsEditor,
        "update": IsEditor,
        "partial_update": IsEditor,
        "destroy": IsEditor,
    }

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authentication, role, throttles
        self.deployment()  # an unknown deployment is a 404 before the body is read

    def deployment(self) -> Deployment:
        """The path's deployment; a malformed or unknown id is 404 ``deployment not found``."""
        if not hasattr(self, "_deployment"):
            try:
                self._deployment = get_object_or_404(
                    Deployment.objects.only("pk"), pk=self.kwargs["deployment_id"]
                )
            except Http404:
                raise exceptions.NotFound("deployment not found") from None
        return self._deployment

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no path ids
            return Schedule.objects.none()
        return selectors.schedule_list(deployment=self.deployment())

    def perform_create(self, serializer: BaseSerializer) -> None:
        serializer.instance = services.schedule_create(
            deployment=self.deployment(), **serializer.validated_data
        )

    def perform_update(self, serializer: BaseSerializer) -> None:
        serializer.instance = services.schedule_update(
            schedule=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance: Schedule) -> None:
        services.schedule_delete(schedule=instance)
