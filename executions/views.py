"""Execution endpoints: reads through executions.selectors, cancel through its service; and
the deployment endpoints extended with what joins a deployment to its runs (execute, its
executions, its last execution), which /api/v1/deployments serves."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from codeai.kernel.api.permissions import IsEditor
from codeai.kernel.api.schema import BODY_ERRORS, error_responses, list_responses, resource_schema
from codeai.kernel.api.viewsets import ResourceViewSet, optional_body
from deployments import views as deployment_views
from deployments.models import Deployment
from executions import selectors, services
from executions.filters import ExecutionFilter
from executions.models import ExecutionTrigger
from executions.serializers import (
    DeploymentSerializer,
    ExecuteRequestSerializer,
    ExecutionOutputSerializer,
    ExecutionSerializer,
    ExecutionSummarySerializer,
    RelaunchRequestSerializer,
)


@extend_schema_view(
    list=extend_schema(
        summary="List executions, newest first",
        responses=list_responses(ExecutionSummarySerializer),
    ),
    retrieve=extend_schema(
        summary="An execution", responses={200: ExecutionSerializer, **error_responses(404)}
    ),
)
class ExecutionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ResourceViewSet):
    """Runs of deployments. List items leave out `output`, `steps` and `variables` (each can
    be megabytes); read one execution, or tail its output route, for them."""

    thing = "execution"
    serializer_class = ExecutionSerializer
    list_serializer_class = ExecutionSummarySerializer
    filterset_class = ExecutionFilter
    search_fields = ["command", "triggered_by_name", "explanation"]
    ordering_fields = ["created_at", "started_at", "completed_at", "status"]
    ordering = ["-created_at"]
    compiled_plain_list = True
    action_roles = {"cancel": IsEditor, "relaunch": IsEditor}

    def get_queryset(self) -> Any:
        if self.action == "list":
            return selectors.execution_summaries()
        return selectors.execution_list()

    @extend_schema(
        summary="Output written since a character offset, for tailing",
        parameters=[
            OpenApiParameter(
                "offset",
                OpenApiTypes.INT,
                description="Characters already read (the last `next_offset`); default 0.",
            )
        ],
        responses={200: ExecutionOutputSerializer, **error_responses(404)},
    )
    @action(
        detail=True,
        methods=["get"],
        filter_backends=[],
        pagination_class=None,
        serializer_class=ExecutionOutputSerializer,
    )
    def output(self, request: Request, id: str) -> Response:
        execution = self.get_object()
        offset = selectors.output_offset(request.query_params.get("offset"))
        chunk = selectors.execution_output_since(execution_id=execution.pk, offset=offset)
        if chunk is None:  # deleted between the two reads
            raise self.not_found()
        return Response(ExecutionOutputSerializer(chunk).data)

    @extend_schema(
        summary="Cancel a queued or running execution",
        description="Answers 202: a running execution stops within about a second.",
        request=None,
        responses={
            202: ExecutionSerializer,
            **error_responses(404, 409, e409="The execution has already finished."),
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def cancel(self, request: Request, id: str) -> Response:
        execution = self.get_object()
        services.execution_cancel(execution=execution, user=request.user)
        execution.refresh_from_db()
        return Response(ExecutionSerializer(execution).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Run an execution again",
        description="Answers 202 with the new execution (`relaunch_of` names this one): the "
        "same deployment, config revision and text, and the same variables unless the body "
        "gives others. The deployment's concurrency applies (`refuse`: 409).",
        request=RelaunchRequestSerializer,
        responses={
            202: ExecutionSerializer,
            **error_responses(
                *BODY_ERRORS,
                404,
                409,
                503,
                e409="The deployment refuses a second execution, or the text is invalid.",
            ),
        },
    )
    @action(
        detail=True,
        methods=["post"],
        filter_backends=[],
        pagination_class=None,
        serializer_class=RelaunchRequestSerializer,
    )
    def relaunch(self, request: Request, id: str) -> Response:
        execution = self.get_object()
        body = RelaunchRequestSerializer(data=optional_body(request))
        body.is_valid(raise_exception=True)
        relaunched = services.execution_relaunch(
            execution=execution, user=request.user, variables=body.validated_data.get("variables")
        )
        return Response(ExecutionSerializer(relaunched).data, status=status.HTTP_202_ACCEPTED)


@resource_schema(DeploymentSerializer, **deployment_views.SCHEMA)
class DeploymentViewSet(deployment_views.DeploymentViewSet):
    serializer_class = DeploymentSerializer
    action_roles = {**deployment_views.DeploymentViewSet.action_roles, "execute": IsEditor}

    def get_queryset(self) -> Any:
        if self.action == "executions":
            return selectors.execution_summaries()
        return selectors.deployment_list_with_last_execution()

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
        # With its config and current revision; its last execution is not needed.
        deployment = selectors.deployment_to_execute(id)
        if deployment is None:
            raise self.not_found()
        self.check_object_permissions(request, deployment)
        body = ExecuteRequestSerializer(data=optional_body(request))
        body.is_valid(raise_exception=True)
        execution = services.deployment_execute(
            deployment=deployment,
            user=request.user,
            variables=body.validated_data["variables"],
            trigger=ExecutionTrigger.API,
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
