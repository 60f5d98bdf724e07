"""Execution endpoints: reads through executions.selectors, cancel through its service."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from codeai.api.pagination import non_negative_int
from codeai.api.permissions import IsEditor
from codeai.api.schema import error_responses, list_responses
from codeai.api.viewsets import ResourceViewSet
from executions import selectors, services
from executions.filters import ExecutionFilter
from executions.serializers import (
    ExecutionOutputSerializer,
    ExecutionSerializer,
    ExecutionSummarySerializer,
)

MAX_OUTPUT_OFFSET = 2**31 - 2


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
    action_roles = {"cancel": IsEditor}

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
        # Capped so the database's integer arithmetic never overflows; outputs are far shorter.
        offset = min(non_negative_int(request.query_params.get("offset")) or 0, MAX_OUTPUT_OFFSET)
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
