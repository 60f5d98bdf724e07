"""Config (full and in lists), validation result and validate-request shapes of the API."""

from __future__ import annotations

from rest_framework import serializers

from codeai.kernel.api.fields import StrictCharField
from codeai.kernel.api.serializers import LeanRepresentation, RequestSerializer, ResourceSerializer
from configs.models import Config, ConfigRevision


class DiagnosticSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    column = serializers.IntegerField()
    message = serializers.CharField()
    kind = serializers.CharField(help_text="SyntaxError, ScopeError, TypeError, FunctionError…")


class ConfigSerializer(ResourceSerializer):
    name = StrictCharField(min_length=1, max_length=255)
    content = StrictCharField(
        trim_whitespace=False, help_text="The config, written in the CodeAI DSL."
    )
    ast = serializers.JSONField(
        read_only=True, allow_null=True, help_text="Syntax tree; null when it did not parse."
    )
    validation_errors = DiagnosticSerializer(many=True, read_only=True)
    is_valid = serializers.BooleanField(read_only=True)

    class Meta:
        model = Config
        fields = [
            "id",
            "name",
            "content",
            "ast",
            "validation_errors",
            "is_valid",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        read_only_reasons = {
            name: "computed from content on every save"
            for name in ("ast", "validation_errors", "is_valid")
        }


class ConfigListSerializer(LeanRepresentation, serializers.ModelSerializer):
    """A config in a list: without ``content``, ``ast`` and ``validation_errors``, which can
    each be megabytes; the detail route serves them."""

    is_valid = serializers.BooleanField(
        source="listed_valid", read_only=True, help_text="True when the config has no problems."
    )

    class Meta:
        model = Config
        fields = ["id", "name", "is_valid", "created_at", "updated_at"]
        read_only_fields = fields


class ValidateRequestSerializer(RequestSerializer):
    content = StrictCharField(
        trim_whitespace=False, allow_blank=True, help_text="DSL text to check instead."
    )


class ValidationResultSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    errors = DiagnosticSerializer(many=True)


class ConfigRevisionListSerializer(serializers.ModelSerializer):
    """A revision in a list: without its ``content``."""

    is_valid = serializers.BooleanField(read_only=True)
    created_by = serializers.CharField(read_only=True, help_text="Username of who saved it.")

    class Meta:
        model = ConfigRevision
        fields = ["number", "is_valid", "validation_errors", "created_at", "created_by"]
        read_only_fields = fields


class ConfigRevisionSerializer(ConfigRevisionListSerializer):
    """An immutable revision of a config: the text a save gave it, and what the check found."""

    validation_errors = DiagnosticSerializer(many=True, read_only=True)

    class Meta(ConfigRevisionListSerializer.Meta):
        fields = ["number", "content", "is_valid", "validation_errors", "created_at", "created_by"]
        read_only_fields = fields
