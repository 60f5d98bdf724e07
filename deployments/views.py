"""Deployment endpoints: thin callers of deployments.services.

``executions.views`` extends this viewset with what joins deployments to their runs (execute,
the deployment's executions, its last execution); the routes serve that extended one."""

from __future__ import annotations

from typing import Any

from rest_framework.serializers import BaseSerializer

from codeai.kernel.api.permissions import IsAdmin, IsEditor
from codeai.kernel.api.schema import resource_schema
from codeai.kernel.api.viewsets import ModelResourceViewSet
from deployments import selectors, services
from deployments.filters import DeploymentFilter
from deployments.models import Deployment
from deployments.serializers import DeploymentSerializer

# The OpenAPI description of the CRUD routes, applied again by subclasses that change the shape.
SCHEMA: dict[str, Any] = dict(
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


@resource_schema(DeploymentSerializer, **SCHEMA)
class DeploymentViewSet(ModelResourceViewSet):
    thing = "deployment"
    serializer_class = DeploymentSerializer
    filterset_class = DeploymentFilter
    search_fields = ["name"]
    ordering_fields = ["name", "status", "created_at", "updated_at"]
    ordering = ["-created_at"]
    compiled_plain_list = True
    action_roles = {
        "create": IsEditor,
        "update": IsAdmin,
        "partial_update": IsAdmin,
        "destroy": IsAdmin,
    }

    def get_queryset(self) -> Any:
        return selectors.deployment_list()

    def perform_create(self, serializer: BaseSerializer) -> None:
        serializer.instance = services.deployment_create(**serializer.validated_data)

    def perform_update(self, serializer: BaseSerializer) -> None:
        serializer.instance = services.deployment_update(
            deployment=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance: Deployment) -> None:
        services.deployment_delete(deployment=instance)
