"""Cron specs and time zones: what is refused and why, and when a spec fires on the wall
clock of its time zone (daylight saving included)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schedules.cron import cron_problem, next_run, next_runs, timezone_problem


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("* * * *", "must have 5 fields (minute hour day-of-month month day-of-week), not 4"),
        ("0 0 * * * *", "must have 5 fields (minute hour day-of-month month day-of-week), not 6"),
        ("@daily", "must have 5 fields (minute hour day-of-month month day-of-week), not 1"),
        ("", "must have 5 fields (minute hour day-of-month month day-of-week), not 0"),
        ("61 * * * *", "not a valid cron expression: [61 * * * *] is not acceptable, out of range"),
        ("a b c d e", "not a valid cron expression: [a b c d e] is not acceptable"),
        ("0 0 30 2 *", "never fires (no such date)"),
    ],
)
def test_a_spec_that_is_not_5_field_cron_is_refused_saying_why(spec, problem):
    assert cron_problem(spec) == problem


@pytest.mark.parametrize("spec", ["* * * * *", "0 2 * * *", "*/15 9-17 * * mon-fri", "0 0 L * *"])
def test_5_field_specs_are_accepted(spec):
    assert cron_problem(spec) is None


@pytest.mark.parametrize("name", ["Mars/Olympus", "utc", "Europe", "../etc/passwd", "x" * 300])
def test_an_unknown_time_zone_is_refused_saying_why(name):
    assert timezone_problem(name) == (
        f"unknown time zone {name!r}: use an IANA name such as 'UTC' or 'Europe/Paris'"
    )


@pytest.mark.parametrize(
    ("timezone", "after", "expected"),
    [
        ("UTC", utc(2026, 12, 1, 12, 0), utc(2026, 12, 2, 9, 0)),
        ("Europe/Paris", utc(2026, 12, 1, 12, 0), utc(2026, 12, 2, 8, 0)),  # CET, UTC+1
        ("Europe/Paris", utc(2026, 7, 1, 12, 0), utc(2026, 7, 2, 7, 0)),  # CEST, UTC+2
        ("America/New_York", utc(2026, 12, 1, 12, 0), utc(2026, 12, 1, 14, 0)),  # EST, UTC-5
        ("Asia/Kolkata", utc(2026, 12, 1, 12, 0), utc(2026, 12, 2, 3, 30)),  # UTC+5:30
    ],
)
def test_next_run_follows_the_wall_clock_of_the_time_zone(timezone, after, expected):
    assert next_run("0 9 * * *", timezone, after=after) == expected


def test_next_run_is_strictly_after():
    assert next_run("* * * * *", "UTC", after=utc(2026, 12, 1, 12, 0)) == utc(2026, 12, 1, 12, 1)


def test_a_nightly_run_in_the_hour_clocks_repeat_runs_once():
    # Paris goes back from 03:00 CEST to 02:00 CET on 2026-10-25: 02:30 happens twice.
    runs = next_runs("30 2 * * *", "Europe/Paris", after=utc(2026, 10, 24, 12, 0), count=3)
    assert runs == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30), utc(2026, 10, 27, 1, 30)]


def test_a_nightly_run_in_the_hour_clocks_skip_runs_at_the_end_of_the_gap():
    # Paris jumps from 02:00 CET to 03:00 CEST on 2027-03-28: there is no 02:30 that night.
    runs = next_runs("30 2 * * *", "Europe/Paris", after=utc(2027, 3, 27, 12, 0), count=2)
    assert runs == [utc(2027, 3, 28, 1, 0), utc(2027, 3, 29, 0, 30)]
