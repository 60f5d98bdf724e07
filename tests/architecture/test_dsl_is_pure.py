"""The DSL is a library: importing it, or running ``codeai parse|validate``, loads no framework."""

from __future__ import annotations

import subprocess
import sys

FRAMEWORKS = ("celery", "kombu", "django", "rest_framework")

REPORT_FRAMEWORKS = f"""
import sys
loaded = sorted({{name.split(".")[0] for name in sys.modules}} & set({FRAMEWORKS!r}))
print("loaded:" + ",".join(loaded))
"""


def loaded_frameworks(code: str) -> str:
    # A fresh interpreter: this test process has Django loaded already.
    result = subprocess.run(
        [sys.executable, "-c", code + REPORT_FRAMEWORKS],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout.strip().splitlines()[-1].removeprefix("loaded:")


def test_importing_the_dsl_loads_no_framework():
    assert loaded_frameworks("import codeai.dsl; import codeai.dsl.commands") == ""


def test_importing_the_project_package_loads_no_framework():
    assert loaded_frameworks("import codeai") == ""


def test_codeai_parse_and_validate_run_without_django(tmp_path):
    source = tmp_path / "app.cai"
    source.write_text("var a = 1\nvar a = 2\n")
    code = f"""
from codeai import cli
for verb in ("parse", "validate"):
    try:
        cli.main([verb, {str(source)!r}])
    except SystemExit:
        pass
"""
    assert loaded_frameworks(code) == ""
