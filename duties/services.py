"""Claiming a periodic duty: a conditional update on its row, so that whatever the number
of workers (and whatever their clocks say: the database's clock decides) one runs it."""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import DurationField, Q, Value
from django.db.models.functions import Now

from duties.models import PeriodicDuty


def _take(*, name: str, where: Q, seconds: float, worker: str) -> bool:
    """Set the duty's next turn ``seconds`` from now for ``worker`` where ``where`` holds;
    creates the row (due at once) the first time anyone asks for it."""
    after = Value(timedelta(seconds=seconds), output_field=DurationField())
    for _attempt in range(2):
        with transaction.atomic():
            taken = PeriodicDuty.objects.filter(where, name=name).update(
                next_run_at=Now() + after, last_run_at=Now(), last_run_by=worker
            )
        if taken or PeriodicDuty.objects.filter(name=name).exists():
            return bool(taken)
        try:  # the duty's first run anywhere: its row, due at once
            with transaction.atomic():
                PeriodicDuty.objects.create(name=name, next_run_at=Now())
        except IntegrityError:
            pass  # another worker created it first
    return False


def duty_claim(*, name: str, interval: float, worker: str) -> bool:
    """True for the one caller that may run the duty now; its next turn is ``interval``
    seconds later. A worker dying mid-run thus delays the duty by one interval at most."""
    return _take(name=name, where=Q(next_run_at__lte=Now()), seconds=interval, worker=worker)


def duty_lease(*, name: str, seconds: float, holder: str) -> bool:
    """True while ``holder`` holds the lease ``name``: it keeps it by asking again within
    ``seconds``; anyone else gets it only once that long has passed without a renewal. Unlike
    a claim, the holder stays the same as long as it lives (one place exports a figure)."""
    where = Q(last_run_by=holder) | Q(next_run_at__lte=Now())
    return _take(name=name, where=where, seconds=seconds, worker=holder)
