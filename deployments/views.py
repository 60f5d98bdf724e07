"""Deployment endpoints: thin callers of deployments.services and executions.services."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from codeai.api.permissions import IsAdmin, IsEditor
from codeai.api.schema import BODY_ERRORS, error_responses, list_responses, resource_schema
from codeai.api.viewsets import ModelResourceViewSet, optional_body
from deployments import selectors, services
from deployments.filters import DeploymentFilter
from deployments.models import Deployment
from deployments.serializers import DeploymentSerializer
from executions import selectors as execution_selectors
from executions import services as execution_services
from executions.filters import ExecutionFilter
from executions.serializers import (
    ExecuteRequestSerializer,
    ExecutionSerializer,
    ExecutionSummarySerializer,
)


@resource_schema(
    DeploymentSerializer,
    summaries={
        "list": "List deployments, newest first",
        "create": "Create a deployment (status pending)",
        "retrieve": "A deployment",
        "update": "Replace a deployment (admin)",
        "partial_update": "Change some fields of a deployment (admin)",
        "destroy": "Delete a deployment and its executions (admin)",
    },
    write_conflict="A deployment with this name exists.",
    delete_conflict="An execution is still queued or running.",
)
class DeploymentViewSet(ModelResourceViewSet):
    thing = "deployment"
    serializer_class = DeploymentSerializer
    filterset_class = DeploymentFilter
    search_fields = ["name"]
    ordering_fields = ["name", "status", "created_at", "updated_at"]
    ordering = ["-created_at"]
    action_roles = {
        "create": IsEditor,
        "update": IsAdmin,
        "partial_update": IsAdmin,
        "destroy": IsAdmin,
        "execute": IsEditor,
    }

    def get_queryset(self) -> Any:
        if self.action == "executions":
            return execution_selectors.execution_summaries()
        return selectors.deployment_list()

    def perform_create(self, serializer: BaseSerializer) -> None:
        serializer.instance = services.deployment_create(
            **serializer.validated_data, user=self.request.user
        )

    def perform_update(self, serializer: BaseSerializer) -> None:
        serializer.instance = services.deployment_update(
            deployment=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance: Deployment) -> None:
        services.deployment_delete(deployment=instance)

    @extend_schema(
        summary="Run the deployment's config on a worker",
        description="Answers 202 with the queued execution; follow it at "
        "`/api/v1/executions/{id}/` and `/api/v1/executions/{id}/output/`.",
        request=ExecuteRequestSerializer,
        responses={
            202: ExecutionSerializer,
            **error_responses(
                *BODY_ERRORS,
                404,
                409,
                503,
                e409="The deployment has no config, or its config is invalid.",
            ),
        },
    )
    @action(detail=True, methods=["post"], serializer_class=ExecuteRequestSerializer)
    def execute(self, request: Request, id: str) -> Response:
        deployment = self.get_object()
        body = ExecuteRequestSerializer(data=optional_body(request))
        body.is_valid(raise_exception=True)
        execution = execution_services.deployment_execute(
            deployment=deployment, user=request.user, variables=body.validated_data["variables"]
        )
        return Response(ExecutionSerializer(execution).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="The deployment's executions, newest first",
        description="Items leave out `output`, `steps` and `variables`, like "
        "`/api/v1/executions/`.",
        responses=list_responses(ExecutionSummarySerializer, 404),
    )
    @action(
        detail=True,
        methods=["get"],
        serializer_class=ExecutionSummarySerializer,
        filterset_class=ExecutionFilter,
        search_fields=[],
        ordering_fields=["created_at", "started_at", "completed_at", "status"],
    )
    def executions(self, request: Request, id: str) -> Response:
        deployment = self.get_object(queryset=Deployment.objects.only("pk"))
        queryset = self.filter_queryset(self.get_queryset().filter(deployment=deployment))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(ExecutionSummarySerializer(page, many=True).data)
