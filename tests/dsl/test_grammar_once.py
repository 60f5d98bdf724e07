"""The grammar tables are built once per process, not per parse, even when several threads
parse their first text at once; a server's and a worker's parent build them before forking,
so no process pays for them in its first request or execution."""

from __future__ import annotations

import logging
import runpy
import threading
from types import SimpleNamespace

import pytest
from celery.signals import worker_init

import codeai.celery  # noqa: F401  (connects the worker's signal receivers)
from codeai import cli
from codeai.dsl import check, parser
from codeai.dsl.parser import _built_driver, _driver
from codeai.kernel import conf


def test_the_grammar_tables_are_built_once_per_process():
    check("var a = 1")
    built = _driver()
    check("var b = 2")
    assert _driver() is built
    assert _built_driver.cache_info().misses <= 1


def test_threads_parsing_their_first_text_at_once_wait_for_one_build(monkeypatch):
    builds: list[int] = []
    real_lark = parser.Lark

    def counted_lark(*args, **kwargs):
        builds.append(threading.get_ident())
        return real_lark(*args, **kwargs)

    monkeypatch.setattr(parser, "Lark", counted_lark)
    parser._lark.cache_clear()
    _built_driver.cache_clear()
    start = threading.Barrier(8)
    failures: list[BaseException] = []

    def first_parse(number: int) -> None:
        start.wait()
        try:
            assert check(f"var a{number} = {number}").valid
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=first_parse, args=(number,)) for number in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        # Later tests get the ordinary tables, built by the real Lark.
        parser._lark.cache_clear()
        _built_driver.cache_clear()
    assert failures == []
    assert len(builds) == 1


class _Worker:
    """What the worker's receivers read of Celery's WorkController (a signal's sender is
    hashed)."""

    concurrency = 1


@pytest.fixture
def unbuilt_parser():
    parser._lark.cache_clear()
    _built_driver.cache_clear()
    yield
    _driver()  # later tests find it built


def test_gunicorns_master_builds_the_parser_before_it_forks_a_worker(
    unbuilt_parser, monkeypatch, tmp_path
):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    config = runpy.run_path(str(cli.GUNICORN_CONFIG))
    server = SimpleNamespace(cfg=SimpleNamespace(workers=1), log=logging.getLogger(__name__))
    config["on_starting"](server)  # the master's hook, before the first fork
    assert _built_driver.cache_info().currsize == 1


def test_celerys_main_process_builds_the_parser_before_its_pool_forks(unbuilt_parser, monkeypatch):
    monkeypatch.setenv(conf.POOL_SLOT_VARIABLE, "")  # the slot handler sets it: restored
    worker_init.send(sender=_Worker())
    assert _built_driver.cache_info().currsize == 1
