"""How many CPUs this process may use: sizes gunicorn's and Celery's worker pools. Apart from
the CLI so that the gunicorn config (read by every gunicorn start) imports only this."""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_V2_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
CGROUP_V1_CPU_QUOTA = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
CGROUP_V1_CPU_PERIOD = Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")


def _cgroup_cpu_limit(cpu_max: Path, v1_quota: Path, v1_period: Path) -> float | None:
    """The CPU quota of this container or systemd unit (CPUQuota=200% -> 2.0), if any."""
    try:
        quota, period = cpu_max.read_text().split()
    except (OSError, ValueError):
        try:
            quota, period = v1_quota.read_text().strip(), v1_period.read_text().strip()
        except OSError:
            return None
    if quota in ("max", "-1"):
        return None
    return int(quota) / int(period)


def cpu_count(
    cpu_max: Path = CGROUP_V2_CPU_MAX,
    v1_quota: Path = CGROUP_V1_CPU_QUOTA,
    v1_period: Path = CGROUP_V1_CPU_PERIOD,
) -> int:
    """CPUs this process may use: its affinity, capped by a cgroup quota (Kubernetes limits)."""
    available = len(os.sched_getaffinity(0))
    limit = _cgroup_cpu_limit(cpu_max, v1_quota, v1_period)
    return available if limit is None else max(1, min(available, math.ceil(limit)))
