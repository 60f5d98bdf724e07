"""Celery tasks of webhooks: thin callers of webhooks.services.

``deliver`` takes a delivery id; the claim (``started_at`` set once) makes a second delivery
of the same task do nothing, so no target gets a delivery twice from one event.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from duties import runner as duties
from webhooks import services

logger = logging.getLogger(__name__)


@shared_task(name="webhooks.deliver", ignore_result=True)
def deliver(delivery_id: str) -> None:
    if not services.delivery_claim(delivery_id=delivery_id):
        logger.info("webhook delivery %s already sent or gone; task ignored", delivery_id)
        return
    services.delivery_send(delivery_id=delivery_id)


# Run by one worker per interval, whichever (duties.runner); beat is not needed.
duties.register(
    duties.Duty("webhooks.sweep", settings.EXEC_SWEEP_INTERVAL, services.delivery_sweep)
)
