"""Benchmark: the admin's execution list (and dashboard) with 100,000 executions.

Fills a dedicated database (never the project's own) with configs, deployments and
executions, then times admin pages through Django's test client as a logged-in superuser:
the execution changelist (first page, a deep page, filters, search), the deployment
list and the dashboard. Prints the median time and the number of SQL queries per page.

Run:
    .venv/bin/python benchmarks/bench_admin.py                      # SQLite file in /tmp
    .venv/bin/python benchmarks/bench_admin.py --engine postgres    # 127.0.0.1:5432
Options: --rows N (default 100000), --repeat N (default 7), --keep (reuse a filled DB).
Target: every execution list page under 200 ms with a constant query count.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_DATABASE = "codeai_admin_bench"
SQLITE_PATH = Path(tempfile.gettempdir()) / "codeai-admin-bench.sqlite3"
OUTPUT = "step output line\n" * 30  # ~500 bytes a row: the list must not read it


def configure(engine: str, keep: bool) -> None:
    """Point Django at the dedicated database before it loads its settings."""
    for name in [name for name in os.environ if name.startswith("CODEAI_")]:
        del os.environ[name]
    os.environ["CODEAI_DATA_DIR"] = str(Path(tempfile.gettempdir()) / "codeai-admin-bench")
    os.environ["CODEAI_LOG_LEVEL"] = "warn"
    os.environ["DJANGO_SETTINGS_MODULE"] = "codeai.settings"
    if engine == "postgres":
        import psycopg

        with psycopg.connect(
            "host=127.0.0.1 user=postgres dbname=postgres", autocommit=True
        ) as admin:
            exists = admin.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [PG_DATABASE]
            ).fetchone()
            if exists and not keep:
                admin.execute(f'DROP DATABASE "{PG_DATABASE}" WITH (FORCE)')
            if not exists or not keep:
                admin.execute(f'CREATE DATABASE "{PG_DATABASE}"')
        os.environ.update(
            CODEAI_DB_HOST="127.0.0.1", CODEAI_DB_USER="postgres", CODEAI_DB_NAME=PG_DATABASE
        )
    else:
        if not keep:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{SQLITE_PATH}{suffix}").unlink(missing_ok=True)
        os.environ["CODEAI_SQLITE_PATH"] = str(SQLITE_PATH)


def status_of(index: int) -> str:
    """A plausible history: the newest few still active, about 6% failed or timed out."""
    from executions.models import ExecutionStatus

    if index < 6:
        return ExecutionStatus.RUNNING if index < 3 else ExecutionStatus.QUEUED
    if index % 20 == 7:
        return ExecutionStatus.FAILED
    if index % 97 == 11:
        return ExecutionStatus.TIMED_OUT
    if index % 53 == 5:
        return ExecutionStatus.CANCELLED
    return ExecutionStatus.SUCCEEDED


def fill(rows: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.db.models import F
    from django.utils import timezone

    from configs.models import Config
    from deployments.models import Deployment
    from executions.models import Execution

    if Execution.objects.count() >= rows:
        return
    user = get_user_model().objects.create_superuser("bench", password="bench-password")
    config = Config.objects.create(name="bench", content='exec { echo "hi" }\n')
    deployments = Deployment.objects.bulk_create(
        Deployment(name=f"deployment-{index}", config=config) for index in range(50)
    )
    now = timezone.now()
    batch = 5000
    started = time.perf_counter()
    for first in range(0, rows, batch):
        executions = []
        for index in range(first, min(first + batch, rows)):
            created = now - timedelta(seconds=index * 6)  # about a week of history
            executions.append(
                Execution(
                    deployment=deployments[index % len(deployments)],
                    status=status_of(index),
                    output=OUTPUT,
                    triggered_by=user,
                    triggered_by_name=user.username,
                    started_at=created,
                    completed_at=created + timedelta(seconds=index % 90),
                    explanation="exit code 1 in step 1" if index % 20 == 7 else "",
                )
            )
        Execution.objects.bulk_create(executions)
    # auto_now_add ignores given values: spread the creation times afterwards.
    Execution.objects.update(created_at=F("started_at"))
    # Fresh statistics and visibility, as autovacuum keeps them on a live database: without
    # them PostgreSQL plans "active executions" as a walk through the whole table.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    print(f"filled {rows} executions in {time.perf_counter() - started:.1f} s")


def measure(client, url: str, repeat: int) -> tuple[float, float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm caches (templates, the database's pages)
    times = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times), max(times), len(queries)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="reuse an already filled database")
    args = parser.parse_args()

    configure(args.engine, args.keep)
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    from deployments.models import Deployment

    setup_test_environment()  # lets the test client's host in; keeps e-mail local
    call_command("migrate", verbosity=0)
    fill(args.rows)

    from django.contrib.auth import get_user_model

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench"))
    deployment = Deployment.objects.order_by("name").first()
    week_ago = quote((datetime.now(UTC) - timedelta(days=7)).replace(microsecond=0).isoformat())
    pages = {
        "executions, page 1": "/admin/executions/execution/",
        "executions, page 200": "/admin/executions/execution/?p=200",
        "executions, status=failed": "/admin/executions/execution/?status__exact=failed",
        "executions, one deployment": (
            f"/admin/executions/execution/?deployment__id__exact={deployment.pk}"
        ),
        "executions, last 7 days": f"/admin/executions/execution/?created_at__gte={week_ago}",
        "executions, search": "/admin/executions/execution/?q=deployment-7",
        "deployments list": "/admin/deployments/deployment/",
        "dashboard (admin index)": "/admin/",
    }
    print(f"\n{args.engine}, {args.rows} executions, median of {args.repeat}")
    print(f"{'page':32} {'median ms':>10} {'max ms':>8} {'queries':>8}")
    for name, url in pages.items():
        median, worst, queries = measure(client, url, args.repeat)
        print(f"{name:32} {median:10.1f} {worst:8.1f} {queries:8d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
