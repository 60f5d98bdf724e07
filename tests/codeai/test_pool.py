"""Connection budgets per instance: each process's share of CODEAI_DB_MAX_OPEN_CONNS and
CODEAI_DB_MAX_IDLE_CONNS, its slot, and the pool that keeps to them (on the real PostgreSQL
for the pool itself)."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import psycopg
import pytest
from django.db import connection

from codeai import gunicorn_conf
from codeai.db.pool import InstancePool, sweep_interval
from codeai.db.postgresql.base import pool_sizes
from codeai.kernel import conf
from tests.conftest import uses_postgres


@pytest.mark.parametrize(("total", "processes"), [(25, 5), (25, 9), (5, 3), (4, 4), (7, 1), (0, 3)])
def test_process_shares_add_up_to_the_instance_budget_and_differ_by_one_at_most(total, processes):
    shares = [conf.process_share(total, slot, processes) for slot in range(processes)]
    assert sum(shares) == total
    assert max(shares) - min(shares) <= 1


def test_each_process_opens_one_connection_at_least_and_idles_within_its_open_share():
    assert pool_sizes(25, 5, 0, 5) == (5, 1)
    assert pool_sizes(5, 2, 2, 3) == (1, 0)  # slots 0 and 1 take the two idle ones
    assert pool_sizes(4, 10, 1, 3) == (1, 1)  # idle never above open
    assert pool_sizes(2, 0, 2, 3) == (1, 0)  # refused at start; still a working pool


@pytest.mark.parametrize(
    ("value", "expected"), [(None, (0, 1)), ("", (0, 1)), ("2/5", (2, 5)), (" 0/1 ", (0, 1))]
)
def test_pool_slot_is_read_from_the_hook_variable(value, expected):
    environ = {} if value is None else {conf.POOL_SLOT_VARIABLE: value}
    assert conf.pool_slot(environ) == expected


@pytest.mark.parametrize("value", ["5/5", "1", "a/b", "-1/3", "1/0"])
def test_a_malformed_pool_slot_is_refused_naming_the_variable(value):
    with pytest.raises(conf.ConfigError, match=conf.POOL_SLOT_VARIABLE):
        conf.pool_slot({conf.POOL_SLOT_VARIABLE: value})


def test_more_processes_than_connections_is_a_problem_naming_the_variable():
    loaded = conf.load({"CODEAI_DB_MAX_OPEN_CONNS": "3"}, yaml_files=())
    assert conf.instance_processes_problem(loaded, 3, "gunicorn workers") is None
    problem = conf.instance_processes_problem(loaded, 4, "gunicorn workers")
    assert problem is not None
    assert problem.startswith("CODEAI_DB_MAX_OPEN_CONNS=3 is too low for 4")


def test_application_name_names_the_instance_within_postgresqls_63_bytes():
    assert conf.application_name({}) == "codeai"
    assert conf.application_name({conf.INSTANCE_VARIABLE: "server web-1:42"}) == (
        "codeai server web-1:42"
    )
    assert len(conf.application_name({conf.INSTANCE_VARIABLE: "x" * 100}).encode()) == 63


def _fork_workers(count: int, server: SimpleNamespace) -> list[SimpleNamespace]:
    born = []
    for _ in range(count):
        server.age += 1
        worker = SimpleNamespace(age=server.age)
        gunicorn_conf.pre_fork(server, worker)
        slot, processes = conf.pool_slot()
        assert (slot, processes) == (worker.codeai_slot, server.num_workers)
        server.WORKERS[server.age] = worker  # gunicorn keys them by pid
        born.append(worker)
    return born


def test_gunicorn_workers_get_distinct_slots_also_when_replaced_and_after_a_reload(
    monkeypatch,
):
    monkeypatch.delenv(conf.POOL_SLOT_VARIABLE, raising=False)
    server = SimpleNamespace(num_workers=3, WORKERS={}, age=0)
    first = _fork_workers(3, server)
    assert sorted(w.codeai_slot for w in first) == [0, 1, 2]
    # A worker dies: its replacement takes its slot.
    dead = next(key for key, w in server.WORKERS.items() if w.codeai_slot == 1)
    del server.WORKERS[dead]
    assert [w.codeai_slot for w in _fork_workers(1, server)] == [1]
    # HUP: three new workers start while the three old ones still run, then the old leave.
    new = _fork_workers(3, server)
    assert sorted(w.codeai_slot for w in new) == [0, 1, 2]


@pytest.fixture
def pool(db):
    if not uses_postgres():
        pytest.skip("the pool of the PostgreSQL pass")
    connection.ensure_connection()
    kwargs = connection.get_connection_params() | {"autocommit": True}
    made = InstancePool(
        kwargs=kwargs, open=True, max_size=3, idle_limit=1, max_lifetime=2.0, max_idle=60.0,
        timeout=5.0, busy_timeout=8.0, name="test-instance-pool",
    )  # fmt: skip
    yield made
    made.close()


def test_a_connection_returned_while_the_idle_limit_is_reached_is_closed(pool):
    held = [pool.getconn() for _ in range(3)]
    assert pool.get_stats()["pool_size"] == 3
    for conn in held:
        pool.putconn(conn)
    stats = pool.get_stats()
    assert (stats["pool_size"], stats["pool_available"]) == (1, 1)
    assert sum(conn.closed for conn in held) == 2


def test_idle_connections_past_their_lifetime_are_closed_without_being_replaced(pool):
    conn = pool.getconn()
    backend = conn.info.backend_pid
    pool.putconn(conn)
    assert pool.get_stats()["pool_available"] == 1
    # Lifetime 2 s (less 5 % jitter), a sweep every 0.5 s: closed within 3 s, none reopened.
    deadline = time.monotonic() + 10
    while pool.get_stats()["pool_size"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pool.get_stats()["pool_size"] == 0
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as probe:
        alive = probe.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [backend]
        ).fetchone()
    assert alive == (0,)


def test_the_sweep_runs_a_tenth_of_the_shorter_bound_within_half_a_second_and_15_s():
    assert sweep_interval(300.0, 60.0) == 6.0
    assert sweep_interval(2.0, 60.0) == 0.5
    assert sweep_interval(3600.0, 600.0) == 15.0


def test_a_query_waits_longer_for_a_busy_share_than_for_a_new_connection(pool):
    pool.timeout, pool.busy_timeout = 0.5, 3.0
    held = [pool.getconn() for _ in range(3)]  # the whole share, open and in use
    started = time.monotonic()
    returner = threading.Timer(1.5, pool.putconn, [held[0]])
    returner.start()
    conn = pool.getconn()  # beyond the 0.5 s of a new connection: the returned one
    assert 1.2 < time.monotonic() - started < 3.0
    assert conn is held[0]
    for other in [conn, *held[1:]]:
        pool.putconn(other)
