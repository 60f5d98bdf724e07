"""Benchmark: executions through the real API (gunicorn), Redis and two Celery workers.

Starts the server as `codeai server start` does (gunicorn with codeai/gunicorn_conf.py: its
2 x CPUs + 1 threaded workers, the parser built before they fork) and two
`celery -A codeai worker --concurrency 1` processes on
a PostgreSQL database of its own (codeai_bench or --database; created, and dropped at the
end; an existing one is refused, never emptied) and a
redis-server of its own on a free port (database 0 the cache, 1 the broker), then measures:

  1. POST /api/v1/deployments/{id}/execute/ -> 202 latency (median, p95), one at a time;
  2. queued -> running latency of those executions (started_at - created_at), median/p95;
  3. throughput: 200 executions of `exec { true }` posted from 4 threads, first POST to
     last completion, in --rounds rounds (3), each right after a round of the floor, and
     the latency of those POSTs (the workers busy meanwhile);
  4. a command writing 50 MB to stdout: peak RSS of each worker process and the stored
     (capped) output;
  5. the cost of one step: the median duration of the step `true` in the paced runs;
  6. the floor, in the same run: a bare Celery app (benchmarks/bench_floor_app.py) on the
     same broker with two worker processes of concurrency 1 (running beside CodeAI's idle
     ones), whose task runs `sh -c true`, the same number of tasks sent from 4 threads.
     Each round's throughput is divided by the floor of the round just before it, so both
     see the machine as it is then (its speed drifts by half within minutes); the median
     of the rounds' ratios is the result.

Each client is the leanest of its protocol, so that neither takes much of the CPU it is
measured on: http.client for the API (a connection per thread), Celery's send_task for the
floor.

With --sandbox both (the default) the workers are started twice, with
CODEAI_EXEC_SANDBOX=bwrap and =off, and every number is printed for each.

Run:  .venv/bin/python benchmarks/bench_executions.py [--paced 100] [--burst 200]
      [--rounds 3] [--sandbox both|bwrap|off] [--database codeai_bench]
Targets: execute p95 < 50 ms, queued -> running median < 100 ms, >= 100 executions/s with
the sandbox on (ratio to the floor >= 0.16), worker < 150 MB RSS with 50 MB of output.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# benchmarks/support.py, beside this script
from support import Client, finish_on_sigterm, free_port, own_redis, percentile, wait_for

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PORT = free_port()  # several benchmarks may run on one machine
DATABASE = "codeai_bench"
ADMIN_DSN = "host=127.0.0.1 user=postgres dbname=postgres"
# Its own folder: two runs of this benchmark on one machine must not share one.
DATA_DIR = Path(tempfile.mkdtemp(prefix="codeai-exec-bench-"))
ENVIRONMENT = {
    "CODEAI_DB_HOST": "127.0.0.1",
    "CODEAI_DB_USER": "postgres",
    "CODEAI_CACHE_TYPE": "redis",
    "CODEAI_REDIS_DB": "0",
    "CODEAI_DATA_DIR": str(DATA_DIR),
    # As in production (the defaults): every request logged, one JSON line; and the workers'
    # "ready." lines, which the benchmark waits for.
    "CODEAI_LOG_LEVEL": "info",
    "CODEAI_LOG_FORMAT": "json",
    "CODEAI_SECRET_KEY": "bench-only-secret-key-not-for-production-use-0123456789",
    # The user throttle still runs on every POST; its default 1200/min is below a run's pace.
    "CODEAI_RATE_LIMIT_USER": "1000000/min",
}
PASSWORD = "bench-password-1234"
# How often a floor round's end is looked for (one Redis GET): a round of 200 tasks lasts
# about half a second, so looking every 0.1 s could add a fifth to it, understating the floor
# and overstating the ratio. A burst's end is its rows' last completed_at instead: looking
# that often for it would load the database the executions use.
FINISH_POLL = 0.005
FIFTY_MB = 50 * 1024 * 1024


def configure(database: str) -> subprocess.Popen:
    """Only this benchmark's variables, its own Redis (returned) and its dedicated database."""
    for name in [name for name in os.environ if name.startswith("CODEAI_")]:
        del os.environ[name]
    redis_server, redis_url = own_redis()
    os.environ.update(ENVIRONMENT)
    os.environ["CODEAI_REDIS_URL"] = redis_url
    os.environ["CODEAI_DB_NAME"] = database
    os.environ["CODEAI_CELERY_BROKER_URL"] = f"{redis_url}/1"
    os.environ["DJANGO_SETTINGS_MODULE"] = "codeai.settings"
    import psycopg

    with psycopg.connect(ADMIN_DSN, autocommit=True) as pg:
        if pg.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone():
            redis_server.terminate()
            raise SystemExit(f"database {database} exists: drop it or pass another --database")
        pg.execute(f'CREATE DATABASE "{database}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, check=True
    )
    return redis_server


def drop_database(database: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_DSN, autocommit=True) as pg:
        pg.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def start(command: list[str], log: Path, **env: str) -> subprocess.Popen:
    with log.open("wb") as handle:
        return subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **env}, stdout=handle, stderr=subprocess.STDOUT
        )


def api_up() -> bool:
    try:
        return Client(PORT).get("/live")[0] == 200
    except OSError:
        return False


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def family(pid: int) -> list[int]:
    """The process and its direct children (a worker and its pool process)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [pid, *map(int, children.read_text().split())]
    except OSError:
        return [pid]


def start_workers(bin_dir: Path, sandbox: str) -> list[subprocess.Popen]:
    workers = []
    for number in (1, 2):
        log = DATA_DIR / f"worker{number}-{sandbox}.log"
        workers.append(
            start(
                [
                    str(bin_dir / "celery"),
                    "-A",
                    "codeai",
                    "worker",
                    "-Q",
                    "executions,celery",
                    "--concurrency",
                    "1",
                    "-n",
                    f"bench{number}@%h",
                    "--without-mingle",
                    "--without-gossip",
                    "--loglevel",
                    "INFO",
                ],
                log,
                CODEAI_EXEC_SANDBOX=sandbox,
            )
        )
    for number in (1, 2):
        log = DATA_DIR / f"worker{number}-{sandbox}.log"
        wait_for(lambda log=log: " ready." in log.read_text(errors="replace"), 60, "workers")
    return workers


def stop_all(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def start_floor(bin_dir: Path, broker: str) -> list[subprocess.Popen]:
    """The floor's two worker processes (a bare Celery app, benchmarks/bench_floor_app.py)."""
    from bench_floor_app import QUEUE, app

    app.conf.broker_url = broker
    workers = []
    for number in (1, 2):
        log = DATA_DIR / f"floor{number}.log"
        command = [str(bin_dir / "celery"), "-A", "benchmarks.bench_floor_app", "worker", "-Q"]
        command += [QUEUE, "--concurrency", "1", "-n", f"floor{number}@%h", "--without-mingle"]
        command += ["--without-gossip", "--loglevel", "INFO"]
        # No Django: an empty DJANGO_SETTINGS_MODULE keeps Celery's Django fix-up away.
        workers.append(start(command, log, BENCH_FLOOR_BROKER=broker, DJANGO_SETTINGS_MODULE=""))
    for number in (1, 2):
        log = DATA_DIR / f"floor{number}.log"
        wait_for(lambda log=log: " ready." in log.read_text(errors="replace"), 60, "floor")
    floor_round(1, broker)  # warm-up
    return workers


def floor_round(count: int, broker: str) -> float:
    """Tasks per second of the floor: ``count`` tasks sent from 4 threads, first send to
    last completion."""
    import redis
    from bench_floor_app import DONE_KEY, QUEUE, app

    counter = redis.Redis.from_url(broker)
    counter.delete(DONE_KEY)
    threads_count = min(4, count)
    per_thread = count // threads_count

    def send_many() -> None:
        for _ in range(per_thread):
            app.send_task("floor.true", queue=QUEUE)

    threads = [threading.Thread(target=send_many) for _ in range(threads_count)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = per_thread * threads_count
    wait_for(lambda: int(counter.get(DONE_KEY) or 0) >= total, 120, "the floor", FINISH_POLL)
    return total / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paced", type=int, default=100)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sandbox", choices=["both", "bwrap", "off"], default="both")
    parser.add_argument("--database", default=DATABASE)
    options = parser.parse_args()
    finish_on_sigterm()

    redis_server = configure(options.database)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db.models import Max

    from configs.models import Config
    from deployments.models import Deployment
    from executions.models import Execution, ExecutionStatus

    get_user_model().objects.create_superuser("bench", "bench@localhost", PASSWORD)
    quick = Deployment.objects.create(
        name="bench-true", config=Config.objects.create(name="true", content="exec { true }")
    )
    flood = Deployment.objects.create(
        name="bench-flood",
        config=Config.objects.create(
            name="flood", content=f"exec {{ head -c {FIFTY_MB} /dev/zero | tr '\\000' x }}"
        ),
    )

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    bin_dir = Path(sys.executable).parent
    broker = os.environ["CODEAI_CELERY_BROKER_URL"]
    web = start(
        [sys.executable, "-m", "codeai.cli", "server", "start"],
        DATA_DIR / "server.log",
        CODEAI_HOST="127.0.0.1",
        CODEAI_PORT=str(PORT),
    )
    floor_workers: list[subprocess.Popen] = []
    try:
        wait_for(api_up, 60, "the server")
        status, _, body = Client(PORT).request(
            "POST", "/api/auth/token/", {"username": "bench", "password": PASSWORD}
        )
        if status != 200:
            raise SystemExit(f"login answered {status}: {body.decode(errors='replace')}")
        headers = {"Authorization": f"Bearer {json.loads(body)['access']}"}
        clients = threading.local()

        def execute(deployment) -> tuple[str, float]:
            if not hasattr(clients, "client"):
                clients.client = Client(PORT, headers)
            status, seconds, body = clients.client.request(
                "POST", f"/api/v1/deployments/{deployment.pk}/execute/"
            )
            elapsed = seconds * 1000
            if status != 202:
                raise SystemExit(f"execute answered {status}: {body.decode(errors='replace')}")
            return json.loads(body)["id"], elapsed

        def wait_done(ids: list[str], timeout: float = 120) -> None:
            wait_for(
                lambda: not Execution.objects.filter(
                    pk__in=ids, status__in=ExecutionStatus.active()
                ).exists(),
                timeout,
                "executions to finish",
            )

        def burst(latencies: list[float]) -> tuple[float, int]:
            """Executions per second of a burst from 4 threads, and how many succeeded; each
            POST's latency is added to ``latencies``."""
            burst_ids: list[str] = []
            lock = threading.Lock()
            per_thread = options.burst // 4
            failures: list[BaseException] = []

            def post_many() -> None:
                try:
                    for _ in range(per_thread):
                        execution_id, elapsed = execute(quick)
                        with lock:
                            burst_ids.append(execution_id)
                            latencies.append(elapsed)
                except BaseException as error:  # reported below, not lost in the thread
                    failures.append(error)

            threads = [threading.Thread(target=post_many) for _ in range(4)]
            burst_started = time.time()  # the clock of the rows' completed_at
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if failures:
                raise SystemExit(f"a burst's POST failed: {failures[0]}")
            wait_done(burst_ids)
            # The end is the last completion the workers wrote, not when a look found it.
            last = Execution.objects.filter(pk__in=burst_ids).aggregate(Max("completed_at"))
            seconds = last["completed_at__max"].timestamp() - burst_started
            succeeded = Execution.objects.filter(
                pk__in=burst_ids, status=ExecutionStatus.SUCCEEDED
            ).count()
            return len(burst_ids) / seconds, succeeded

        def measure(workers: list[subprocess.Popen]) -> list[tuple[float, float]]:
            """Prints this sandbox's figures; returns each round's (rate, floor)."""
            execute(quick)  # warm-up: connections, first parse
            # 1 + 2 + 5: one at a time, idle workers.
            latencies, paced_ids = [], []
            for _ in range(options.paced):
                execution_id, elapsed = execute(quick)
                latencies.append(elapsed)
                paced_ids.append(execution_id)
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    if Execution.objects.filter(
                        pk=execution_id, status__in=ExecutionStatus.terminal()
                    ).exists():
                        break
                    time.sleep(0.005)
            paced = Execution.objects.filter(pk__in=paced_ids)
            to_running = [
                (started - created).total_seconds() * 1000
                for created, started in paced.values_list("created_at", "started_at")
            ]
            step_ms = [steps[0]["duration_ms"] for steps in paced.values_list("steps", flat=True)]
            run_ms = [
                (completed - started).total_seconds() * 1000
                for started, completed in paced.values_list("started_at", "completed_at")
            ]

            # 3 + 6: rounds of a floor burst, then a burst of executions.
            rounds = []
            burst_latencies: list[float] = []
            for number in range(1, options.rounds + 1):
                floor = floor_round(options.burst, broker)
                rate, succeeded = burst(burst_latencies)
                rounds.append((rate, floor))
                print(
                    f"round {number}: {options.burst} executions = {rate:.1f}/s "
                    f"({succeeded} succeeded), floor {floor:.1f}/s, ratio {rate / floor:.2f}",
                    flush=True,
                )

            # 4: 50 MB of output.
            baseline = {pid: rss_mb(pid) for worker in workers for pid in family(worker.pid)}
            flood_id, _ = execute(flood)
            peak: dict[int, float] = {}
            while Execution.objects.filter(
                pk=flood_id, status__in=ExecutionStatus.active()
            ).exists():
                for worker in workers:
                    for pid in family(worker.pid):
                        peak[pid] = max(peak.get(pid, 0.0), rss_mb(pid))
                time.sleep(0.02)
            flood_row = Execution.objects.get(pk=flood_id)

            print(f"POST execute -> 202 ({options.paced} one at a time, via gunicorn):")
            print(
                f"  median {statistics.median(latencies):.1f} ms, "
                f"p95 {percentile(latencies, 0.95):.1f} ms, max {max(latencies):.1f} ms"
            )
            print(
                f"POST execute -> 202 in the bursts (4 threads, workers busy): median "
                f"{statistics.median(burst_latencies):.1f} ms, "
                f"p95 {percentile(burst_latencies, 0.95):.1f} ms, max {max(burst_latencies):.1f} ms"
            )
            print(
                f"queued -> running: median {statistics.median(to_running):.1f} ms, "
                f"p95 {percentile(to_running, 0.95):.1f} ms"
            )
            print(
                f"one step `true`: median {statistics.median(step_ms):.1f} ms, "
                f"p95 {percentile(step_ms, 0.95):.1f} ms; whole execution median "
                f"{statistics.median(run_ms):.1f} ms"
            )
            print(
                f"50 MB output: status {flood_row.status}, stored "
                f"{len(flood_row.output.encode())} bytes, truncated={flood_row.output_truncated}, "
                f"took {flood_row.duration_ms} ms"
            )
            for pid, value in sorted(peak.items()):
                print(
                    f"  worker process {pid}: RSS {baseline.get(pid, 0):.0f} -> peak {value:.0f} MB"
                )
            return rounds

        floor_workers = start_floor(bin_dir, broker)
        results = {}
        for sandbox in ("bwrap", "off") if options.sandbox == "both" else (options.sandbox,):
            print(f"== CODEAI_EXEC_SANDBOX={sandbox}", flush=True)
            workers = start_workers(bin_dir, sandbox)
            try:
                results[sandbox] = measure(workers)
            finally:
                stop_all(workers)
        print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs:")
        for sandbox, rounds in results.items():
            target = " (target >= 100/s, ratio >= 0.16)" if sandbox == "bwrap" else ""
            rates = [rate for rate, _ in rounds]
            floors = [floor for _, floor in rounds]
            ratios = [rate / floor for rate, floor in rounds]
            print(
                f"  sandbox {sandbox}: median {statistics.median(rates):.1f} executions/s "
                f"(rounds {', '.join(f'{rate:.1f}' for rate in rates)}), median floor "
                f"{statistics.median(floors):.1f}/s, median ratio "
                f"{statistics.median(ratios):.2f}{target}"
            )
    finally:
        stop_all([*floor_workers, web, redis_server])
        drop_database(options.database)


if __name__ == "__main__":
    main()
