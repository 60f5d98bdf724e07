"""Claiming a periodic duty: a conditional update on its row, so that whatever the number
of workers (and whatever their clocks say: the database's clock decides) one runs it."""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import DurationField, Value
from django.db.models.functions import Now

from duties.models import PeriodicDuty


def duty_claim(*, name: str, interval: float, worker: str) -> bool:
    """True for the one caller that may run the duty now; its next turn is ``interval``
    seconds later. A worker dying mid-run thus delays the duty by one interval at most."""
    after = Value(timedelta(seconds=interval), output_field=DurationField())
    for _attempt in range(2):
        with transaction.atomic():
            claimed = PeriodicDuty.objects.filter(name=name, next_run_at__lte=Now()).update(
                next_run_at=Now() + after, last_run_at=Now(), last_run_by=worker
            )
        if claimed or PeriodicDuty.objects.filter(name=name).exists():
            return bool(claimed)
        try:  # the duty's first run anywhere: its row, due at once
            with transaction.atomic():
                PeriodicDuty.objects.create(name=name, next_run_at=Now())
        except IntegrityError:
            pass  # another worker created it first
    return False
