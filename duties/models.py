"""Periodic duties: one row per duty, the lease that lets exactly one worker run it."""

from __future__ import annotations

from django.db import models


class PeriodicDuty(models.Model):
    name = models.CharField(max_length=100, primary_key=True)
    next_run_at = models.DateTimeField(help_text="No worker runs the duty before this.")
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_run_by = models.CharField(max_length=255, blank=True)

    class Meta:
        verbose_name_plural = "periodic duties"

    def __str__(self) -> str:
        return self.name
