"""Cron specs and time zones of schedules: checking them, and the times they fire (croniter).

Pure functions of their arguments: no database, no clock of their own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, CroniterError, croniter

FIELDS = "minute hour day-of-month month day-of-week"
# Candidates skipped at most in one search: the slots of a local hour that clocks repeat.
MAX_SKIPPED = 1000


def cron_problem(spec: str) -> str | None:
    """Why ``spec`` is not a 5-field cron expression that fires, or None."""
    fields = spec.split()
    if len(fields) != 5:
        return f"must have 5 fields ({FIELDS}), not {len(fields)}"
    try:
        croniter(spec, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except CroniterBadDateError:
        return "never fires (no such date)"
    except (CroniterError, ValueError, KeyError) as error:
        return f"not a valid cron expression: {str(error) or type(error).__name__}"
    return None


def timezone_problem(name: str) -> str | None:
    """Why ``name`` is not an IANA time zone (``Europe/Paris``, ``UTC``), or None."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return f"unknown time zone {name!r}: use an IANA name such as 'UTC' or 'Europe/Paris'"
    return None


def next_run(
    spec: str, timezone: str, *, after: datetime, last_run: datetime | None = None
) -> datetime:
    """The first time strictly after ``after`` at which ``spec`` fires on the wall clock of
    ``timezone``, in UTC. A local time runs at most once: in the hour repeated when clocks
    go back, slots up to the local time of ``last_run`` (the slot that just fired) are not
    run again, so a nightly 02:30 runs once that night."""
    zone = ZoneInfo(timezone)
    candidates = croniter(spec, after.astimezone(zone))
    floor = None if last_run is None else last_run.astimezone(zone).replace(tzinfo=None)
    for _ in range(MAX_SKIPPED):
        candidate: datetime = candidates.get_next(datetime)
        if floor is None or candidate.replace(tzinfo=None) > floor:
            return candidate.astimezone(UTC)
    raise ValueError(f"no run of {spec!r} after {after.isoformat()}")


def next_runs(spec: str, timezone: str, *, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` runs after ``after``, in UTC (for the admin)."""
    runs: list[datetime] = []
    last_run = None
    for _ in range(count):
        last_run = next_run(spec, timezone, after=after, last_run=last_run)
        runs.append(last_run)
        after = last_run
    return runs
