"""Configs: documents written in the CodeAI DSL, parsed and validated on every save."""

from __future__ import annotations

import uuid

from django.db import models


class Config(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255, db_index=True)
    content = models.TextField(help_text="The config, written in the CodeAI DSL.")
    ast = models.JSONField(
        null=True, blank=True, editable=False, help_text="Syntax tree of the last save."
    )
    validation_errors = models.JSONField(
        default=list,
        blank=True,
        editable=False,
        help_text="Problems found by the last save: {line, column, message, kind}.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["-created_at"], name="config_created_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_valid(self) -> bool:
        return not self.validation_errors


class ConfigRevision(models.Model):
    """One text a config had: made by every save that changes the text, never changed after.
    ``number`` counts 1, 2, 3 … per config."""

    config = models.ForeignKey(Config, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    content = models.TextField()
    validation_errors = models.JSONField(
        default=list, blank=True, help_text="Problems the save that made it found."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(
        max_length=255, blank=True, help_text="Username of who saved it; empty when unknown."
    )

    class Meta:
        ordering = ["config", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["config", "number"], name="config_revision_number")
        ]

    def __str__(self) -> str:
        return f"revision {self.number}"

    @property
    def is_valid(self) -> bool:
        return not self.validation_errors
