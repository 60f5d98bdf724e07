"""Firing due schedules: a periodic duty of every worker (duties.runner), claimed through
the database, so one worker per interval looks for due schedules; beat is not needed.

A due schedule fires within about ``FIRE_INTERVAL`` seconds of its time (the duty's
interval, plus at most one tick of the workers' duty loops, which tick at the shortest
interval of all duties, so at most this one).
"""

from __future__ import annotations

from duties import runner as duties
from schedules import services

FIRE_INTERVAL = 2.0  # seconds

duties.register(duties.Duty("schedules.fire_due", FIRE_INTERVAL, services.schedules_fire_due))
