"""The grammar tables are built once per process, not per parse, even when several threads
parse their first text at once."""

from __future__ import annotations

import threading

from codeai.dsl import check, parser
from codeai.dsl.parser import _built_driver, _driver


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
