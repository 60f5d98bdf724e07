"""The grammar tables are built once per process, not per parse."""

from __future__ import annotations

from codeai.dsl import check
from codeai.dsl.parser import _driver


def test_the_grammar_tables_are_built_once_per_process():
    check("var a = 1")
    built = _driver()
    check("var b = 2")
    assert _driver() is built
    assert _driver.cache_info().misses == 1
