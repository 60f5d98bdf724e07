"""Benchmark: the deployment list through the whole API stack against a bare view.

Starts the server exactly as ``codeai server start`` does (``python -m codeai.cli server
start``: gunicorn with ``codeai/gunicorn_conf.py``, 2 x CPUs + 1 gthread workers) on a
PostgreSQL database of its own (codeai_perf_bench, created and dropped) and a redis-server of
its own (free port, no disk), with 50 deployments of 3 executions each. Only the settings
module differs: ``benchmarks.bench_settings`` adds one URL, ``/bench/bare-deployments/``, a
plain Django view of the same 50 rows through the same ORM (every middleware, no DRF, no
auth, no throttle). No server started the ordinary way has that URL.

4 client threads on keep-alive connections (http.client) alternate between the two targets
in rounds of ``--seconds`` each, so both see the same load of the machine:

  API:   GET /api/v1/deployments/?limit=50 with a viewer's JWT (auth, roles, throttle, metrics)
  floor: GET /bench/bare-deployments/

Run:  .venv/bin/python benchmarks/bench_api.py [--rounds 3] [--seconds 5]
Targets: API req/s >= 0.5 x floor req/s, API p99 < 60 ms at 4 connections.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from support import (  # benchmarks/support.py, beside this script
    Client,
    finish_on_sigterm,
    free_port,
    own_redis,
    percentile,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATABASE = "codeai_perf_bench"
API_PATH = "/api/v1/deployments/?limit=50"
BARE_PATH = "/bench/bare-deployments/"
CONNECTIONS = 4
PASSWORD = "bench-password-1234"
MAX_REQUESTS_PER_ROUND = 20_000  # a bound on each round, whatever the speed


def postgres(sql: str) -> None:
    import psycopg

    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as pg:
        pg.execute(sql)


def configure(redis_url: str, port: int, data_dir: Path) -> None:
    """Only this benchmark's variables."""
    for name in [name for name in os.environ if name.startswith("CODEAI_")]:
        del os.environ[name]
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    os.environ.update(
        {
            "CODEAI_DB_HOST": "127.0.0.1",
            "CODEAI_DB_USER": "postgres",
            "CODEAI_DB_NAME": DATABASE,
            "CODEAI_CACHE_TYPE": "redis",
            "CODEAI_REDIS_URL": redis_url,
            "CODEAI_REDIS_DB": "0",
            "CODEAI_CELERY_BROKER_URL": f"{redis_url}/1",
            "CODEAI_HOST": "127.0.0.1",
            "CODEAI_PORT": str(port),
            "CODEAI_DATA_DIR": str(data_dir),
            "CODEAI_LOG_LEVEL": "info",  # every request logged (one JSON line), as in production
            "CODEAI_LOG_FORMAT": "json",
            # High enough that the benchmark is never refused; the throttle still counts.
            "CODEAI_RATE_LIMIT_USER": "1000000/min",
            "CODEAI_SECRET_KEY": "bench-only-secret-key-not-for-production-use-0123456789",
            "DJANGO_SETTINGS_MODULE": "benchmarks.bench_settings",
        }
    )


def seed() -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from configs.models import Config
    from deployments.models import Deployment
    from executions.models import Execution, ExecutionStatus

    user = get_user_model().objects.create_user("bench", "bench@localhost", PASSWORD)
    user.groups.add(Group.objects.get(name="viewer"))
    config = Config.objects.create(name="true", content="exec { true }")
    now = timezone.now()
    for number in range(50):
        deployment = Deployment.objects.create(name=f"bench-{number:02}", config=config)
        for _ in range(3):
            Execution.objects.create(
                deployment=deployment,
                status=ExecutionStatus.SUCCEEDED,
                started_at=now,
                completed_at=now,
                output="ok\n",
            )


def load(clients: list[Client], path: str, seconds: float) -> tuple[float, list[float]]:
    """All clients request ``path`` for ``seconds``: requests per second and latencies."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def run(client: Client) -> None:
        own = []
        while time.monotonic() < stop_at and len(own) < MAX_REQUESTS_PER_ROUND // len(clients):
            status, elapsed, body = client.get(path)
            if status != 200:
                errors.append(f"{path} answered {status}: {body[:200]!r}")
                return
            own.append(elapsed)
        with lock:
            latencies.extend(own)

    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(errors[0])
    return len(latencies) / (time.monotonic() - started), latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    options = parser.parse_args()
    finish_on_sigterm()

    redis_server, redis_url = own_redis()
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="codeai-api-bench-"))
    configure(redis_url, port, data_dir)
    postgres(f"DROP DATABASE IF EXISTS {DATABASE}")
    postgres(f"CREATE DATABASE {DATABASE}")
    server = None
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, check=True
        )
        seed()
        log = (data_dir / "server.log").open("wb")
        server = subprocess.Popen(
            [sys.executable, "-m", "codeai.cli", "server", "start"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

        def live() -> bool:
            try:
                return Client(port, {}).get("/live")[0] == 200
            except OSError:
                return False

        wait_for(live, 60, "the server")
        login = Client(port).request(
            "POST", "/api/auth/token/", {"username": "bench", "password": PASSWORD}
        )
        token = json.loads(login[2])["access"]
        headers = {"Authorization": f"Bearer {token}"}
        clients = [Client(port, headers) for _ in range(CONNECTIONS)]
        first = json.loads(clients[0].get(API_PATH)[2])
        bare = json.loads(clients[0].get(BARE_PATH)[2])
        assert len(first["data"]) == 50 == len(bare["data"]), "50 rows expected from both"
        # Warm-up: every worker process and thread has connected and loaded what it needs.
        load(clients, API_PATH, 2)
        load(clients, BARE_PATH, 2)

        api_all: list[float] = []
        bare_all: list[float] = []
        api_rates, bare_rates = [], []
        for number in range(1, options.rounds + 1):
            bare_rate, bare_latencies = load(clients, BARE_PATH, options.seconds)
            api_rate, api_latencies = load(clients, API_PATH, options.seconds)
            bare_rates.append(bare_rate)
            api_rates.append(api_rate)
            bare_all += bare_latencies
            api_all += api_latencies
            print(
                f"round {number}: API {api_rate:.0f} req/s, bare {bare_rate:.0f} req/s, "
                f"ratio {api_rate / bare_rate:.2f}; API p99 "
                f"{percentile(api_latencies, 0.99) * 1000:.1f} ms",
                flush=True,
            )
        api_rate = sum(api_rates) / len(api_rates)
        bare_rate = sum(bare_rates) / len(bare_rates)
        print(f"GET {API_PATH} at {CONNECTIONS} connections, {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.1f}:")  # fmt: skip
        for name, rate, latencies in (("API", api_rate, api_all), ("bare", bare_rate, bare_all)):
            print(
                f"  {name:5} {rate:6.0f} req/s  median {percentile(latencies, 0.5) * 1000:5.1f} ms"
                f"  p99 {percentile(latencies, 0.99) * 1000:5.1f} ms  ({len(latencies)} requests)"
            )
        ratio = api_rate / bare_rate
        p99 = percentile(api_all, 0.99) * 1000
        print(f"  ratio {ratio:.2f} (target >= 0.5), API p99 {p99:.1f} ms (target < 60 ms)")
        # Rounds alternate, so each round's ratio saw one load of the machine: their median
        # is steadier than the ratio of the means when other jobs come and go.
        rounds = sorted(api / bare for api, bare in zip(api_rates, bare_rates, strict=True))
        print(f"  median of the rounds' ratios {rounds[len(rounds) // 2]:.2f}")
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        redis_server.terminate()
        redis_server.wait(timeout=10)
        postgres(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


if __name__ == "__main__":
    main()
