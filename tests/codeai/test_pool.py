"""Connection budgets per instance: each process's share of CODEAI_DB_MAX_OPEN_CONNS and
CODEAI_DB_MAX_IDLE_CONNS, its slot, the instance's idle ledger, and the pool that keeps to
them (on the real PostgreSQL for the pool itself)."""

from __future__ import annotations

import os
import threading
import time
from types import SimpleNamespace

import psycopg
import pytest
from django.db import connection

from codeai import celery as codeai_celery
from codeai import gunicorn_conf
from codeai.db import pool as pools
from codeai.db.pool import IdleLedger, InstancePool, sweep_interval
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


def _instance_pool(ledger: IdleLedger | None, idle_limit: int = 1) -> InstancePool:
    kwargs = connection.get_connection_params() | {"autocommit": True}
    return InstancePool(
        kwargs=kwargs, open=True, max_size=3, idle_limit=idle_limit, max_lifetime=60.0,
        max_idle=60.0, timeout=5.0, busy_timeout=8.0, name="test-ledger-pool", ledger=ledger,
    )  # fmt: skip


def test_the_instance_s_pools_keep_its_idle_figure_in_all_whoever_holds_them(db):
    # Two pools on one ledger stand for two processes of an instance (one entry each), with
    # shares of 2 and 1 of the instance's 2.
    if not uses_postgres():
        pytest.skip("the pool of the PostgreSQL pass")
    ledger = IdleLedger(2)
    busy, quiet = _instance_pool(ledger, idle_limit=2), _instance_pool(ledger)
    try:
        held = [busy.getconn() for _ in range(2)]
        for conn in held:
            busy.putconn(conn)
        assert busy.get_stats()["pool_available"] == 2
        assert not any(conn.closed for conn in held)
        other = quiet.getconn()
        quiet.putconn(other)  # two are idle in the instance already
        assert other.closed
        assert quiet.get_stats()["pool_available"] == 0
        taken = busy.getconn()  # one of the two idle ones, now in use
        another = quiet.getconn()
        quiet.putconn(another)
        assert not another.closed
        busy.putconn(taken)  # the instance's two idle are the quiet pool's and this one's
        assert taken.closed
        assert (busy.get_stats()["pool_available"], quiet.get_stats()["pool_available"]) == (1, 1)
    finally:
        busy.close()
        quiet.close()


def test_a_pool_refused_its_share_gets_it_back_from_one_that_borrowed(db):
    if not uses_postgres():
        pytest.skip("the pool of the PostgreSQL pass")
    ledger = IdleLedger(2)
    # Shares of 1 each: the first keeps two idle while the instance has room.
    left, active = _instance_pool(ledger), _instance_pool(ledger)
    try:
        held = [left.getconn() for _ in range(2)]
        for conn in held:
            left.putconn(conn)
        assert left.get_stats()["pool_available"] == 2
        first = active.getconn()
        active.putconn(first)  # refused: the instance's two idle are the other's
        assert first.closed
        # Within half a second the one that borrowed gives back what is beyond its share.
        deadline = time.monotonic() + 5
        while left.get_stats()["pool_available"] > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert left.get_stats()["pool_available"] == 1
        second = active.getconn()
        active.putconn(second)
        assert not second.closed
        assert active.get_stats()["pool_available"] == 1
    finally:
        left.close()
        active.close()


def test_a_pool_without_a_ledger_keeps_its_own_share_idle(db):
    if not uses_postgres():
        pytest.skip("the pool of the PostgreSQL pass")
    alone = _instance_pool(None, idle_limit=1)
    try:
        held = [alone.getconn() for _ in range(2)]
        for conn in held:
            alone.putconn(conn)
        assert alone.get_stats()["pool_available"] == 1
        assert sum(conn.closed for conn in held) == 1
    finally:
        alone.close()


def test_a_forked_process_shares_the_ledger_and_its_idle_count_ends_with_it():
    ledger = IdleLedger(2)
    parent = ledger.claim(1)
    assert parent is not None
    assert ledger.admit(parent, 0)
    child = os.fork()
    if child == 0:  # counts one idle, then dies without giving its entry back
        entry = ledger.claim(1)
        os._exit(0 if entry is not None and ledger.admit(entry, 0) else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # Two idle in the instance were it alive; its entry is dropped once the figure is reached.
    assert ledger.admit(parent, 1)
    assert not ledger.admit(parent, 2)


def test_a_process_holding_the_ledger_s_lock_blocks_the_others_until_it_dies():
    ledger = IdleLedger(1)
    entry = ledger.claim(1)
    assert entry is not None
    locked_r, locked_w = os.pipe()
    child = os.fork()
    if child == 0:
        with ledger._exclusive():
            os.write(locked_w, b"x")
            time.sleep(0.5)
            os._exit(0)  # killed, in effect, while holding it
    os.close(locked_w)
    assert os.read(locked_r, 1) == b"x"
    started = time.monotonic()
    assert ledger.admit(entry, 0)
    assert 0.3 < time.monotonic() - started < 5
    os.waitpid(child, 0)
    os.close(locked_r)


def test_gunicorn_s_master_and_celery_s_main_process_make_the_ledger_before_they_fork(
    monkeypatch, settings
):
    monkeypatch.setattr(pools, "_ledger", None)
    server = SimpleNamespace(cfg=SimpleNamespace(workers=1), log=SimpleNamespace(error=print))
    gunicorn_conf.on_reload(server)
    made = pools.idle_ledger()
    assert made is not None
    assert made.limit == gunicorn_conf._settings["CODEAI_DB_MAX_IDLE_CONNS"]
    monkeypatch.setattr(pools, "_ledger", None)
    monkeypatch.delenv(conf.POOL_SLOT_VARIABLE, raising=False)
    codeai_celery._share_idle_connections()
    made = pools.idle_ledger()
    assert made is not None
    assert made.limit == settings.CODEAI["CODEAI_DB_MAX_IDLE_CONNS"]
