"""Config endpoints: thin callers of configs.services and configs.selectors."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from codeai.kernel.api.permissions import IsEditor
from codeai.kernel.api.schema import (
    BODY_ERRORS,
    error_responses,
    list_responses,
    resource_schema,
)
from codeai.kernel.api.viewsets import ModelResourceViewSet, optional_body
from codeai.kernel.exceptions import NotFound
from configs import selectors, services
from configs.filters import ConfigFilter
from configs.models import Config
from configs.serializers import (
    ConfigListSerializer,
    ConfigRevisionListSerializer,
    ConfigRevisionSerializer,
    ConfigSerializer,
    ValidateRequestSerializer,
    ValidationResultSerializer,
)

_VALIDATE_DOC = (
    "Parse and validate DSL text without saving anything: the body's `content`, else the "
    "stored text."
)


@resource_schema(
    ConfigSerializer,
    summaries={
        "list": "List configs, newest first",
        "create": "Create a config (parsed and validated; stored even with errors)",
        "retrieve": "A config",
        "update": "Replace a config",
        "partial_update": "Change some fields of a config",
        "destroy": "Delete a config no deployment uses",
    },
    delete_conflict="Deployments use this config.",
    list_serializer=ConfigListSerializer,
)
class ConfigViewSet(ModelResourceViewSet):
    """Configs written in the CodeAI DSL. List items leave out `content`, `ast` and
    `validation_errors` (each can be megabytes); read one config for them."""

    thing = "config"
    serializer_class = ConfigSerializer
    list_serializer_class = ConfigListSerializer
    filterset_class = ConfigFilter
    search_fields = ["name", "content"]
    ordering_fields = ["name", "created_at", "updated_at"]
    ordering = ["-created_at"]
    compiled_plain_list = True
    action_roles = {
        "create": IsEditor,
        "update": IsEditor,
        "partial_update": IsEditor,
        "destroy": IsEditor,
    }

    def get_queryset(self) -> Any:
        if self.action == "list":
            return selectors.config_summaries()
        return selectors.config_list()

    def perform_create(self, serializer: BaseSerializer) -> None:
        serializer.instance = services.config_create(
            user=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer: BaseSerializer) -> None:
        serializer.instance = services.config_update(
            config=serializer.instance, user=self.request.user, **serializer.validated_data
        )

    def perform_destroy(self, instance: Config) -> None:
        services.config_delete(config=instance)

    def _validation_result(self, content: str) -> Response:
        _tree, errors = services.config_check(content=content)
        return Response({"valid": not errors, "errors": errors})

    @extend_schema(
        summary="Validate a stored config, or the given text in its place",
        operation_id="configs_validate",
        description=_VALIDATE_DOC,
        request=ValidateRequestSerializer,
        responses={200: ValidationResultSerializer, **error_responses(*BODY_ERRORS, 404)},
    )
    @action(detail=True, methods=["post"], serializer_class=ValidateRequestSerializer)
    def validate(self, request: Request, id: str) -> Response:
        config = self.get_object()
        body = ValidateRequestSerializer(data=optional_body(request), partial=True)
        body.is_valid(raise_exception=True)
        return self._validation_result(body.validated_data.get("content", config.content))

    @extend_schema(
        summary="Validate DSL text; nothing is saved",
        operation_id="configs_validate_content",
        request=ValidateRequestSerializer,
        responses={200: ValidationResultSerializer, **error_responses(*BODY_ERRORS)},
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="validate",
        url_name="validate-content",
        serializer_class=ValidateRequestSerializer,
        filter_backends=[],
        pagination_class=None,
    )
    def validate_content(self, request: Request) -> Response:
        body = ValidateRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._validation_result(body.validated_data["content"])

    @extend_schema(
        summary="The config's revisions, newest first (without their text)",
        responses=list_responses(ConfigRevisionListSerializer, 404),
    )
    @action(
        detail=True,
        methods=["get"],
        serializer_class=ConfigRevisionListSerializer,
        filter_backends=[],
    )
    def revisions(self, request: Request, id: str) -> Response:
        config = self.get_object(queryset=Config.objects.only("pk"))
        page = self.paginate_queryset(selectors.config_revisions(config_id=config.pk))
        return self.get_paginated_response(ConfigRevisionListSerializer(page, many=True).data)

    @extend_schema(
        summary="One revision of the config, with its text",
        parameters=[OpenApiParameter("number", OpenApiTypes.INT, OpenApiParameter.PATH)],
        responses={200: ConfigRevisionSerializer, **error_responses(404)},
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=r"revisions/(?P<number>[^/.]+)",
        url_name="revision",
        serializer_class=ConfigRevisionSerializer,
        filter_backends=[],
        pagination_class=None,
    )
    def revision(self, request: Request, id: str, number: str) -> Response:
        config = self.get_object(queryset=Config.objects.only("pk"))
        revision = selectors.config_revision(config_id=config.pk, number=number)
        if revision is None:
            raise NotFound("revision not found")
        return Response(ConfigRevisionSerializer(revision).data)
