"""Dependencies point down only: every import of every project module, read with ``ast``.

From the top: the project's wiring (``codeai``'s settings, urls, celery, CLI, admin site
index, ...), then ``webhooks`` and ``schedules`` side by side -> ``executions`` ->
``deployments`` -> ``configs``, with
``duties`` beside ``configs``, then the shared kernel (``codeai.kernel``), then
``codeai.dsl``. A module imports its own layer or the layers below it, never one above.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("codeai", "configs", "deployments", "executions", "duties", "schedules", "webhooks")

RANK = {"dsl": 0, "kernel": 1, "configs": 2, "duties": 2, "deployments": 3, "executions": 4}
RANK["schedules"] = RANK["webhooks"] = 5
RANK["wiring"] = 6


def layer(module: str) -> str:
    top = module.split(".")[0]
    if top != "codeai":
        return top
    if module == "codeai.dsl" or module.startswith("codeai.dsl."):
        return "dsl"
    if module == "codeai.kernel" or module.startswith("codeai.kernel."):
        return "kernel"
    # The rest of codeai is the project's wiring: settings, urls, celery, CLI, admin index...
    return "wiring"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> list[Path]:
    return sorted(path for app in APPS for path in (ROOT / app).rglob("*.py"))


def imported(path: Path, module: str | None = None) -> list[tuple[int, str]]:
    """Every project module ``path`` (the module ``module``) imports, at the top or inside a
    function."""
    module = module or module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # "from codeai import celery" imports the module codeai.celery.
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in found if name.split(".")[0] in APPS]


def upward_imports_of(path: Path, module: str) -> list[str]:
    source = layer(module)
    problems = []
    for line, target in imported(path, module):
        # "from codeai import x" names a module only if x is one; otherwise it is codeai.
        while target.count(".") and not any(
            (ROOT / (target.replace(".", "/") + suffix)).exists()
            for suffix in (".py", "/__init__.py")
        ):
            target = target.rpartition(".")[0]
        target_layer = layer(target)
        if target_layer != source and RANK[target_layer] >= RANK[source]:
            problems.append(f"{module}:{line}: {source} imports {target} ({target_layer})")
    return list(dict.fromkeys(problems))


def upward_imports() -> list[str]:
    return [
        problem
        for path in project_modules()
        for problem in upward_imports_of(path, module_name(path))
    ]


def test_every_import_points_down():
    assert upward_imports() == []


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        ("codeai.dsl.parser", "dsl"),
        ("codeai.kernel.api.viewsets", "kernel"),
        ("codeai.settings", "wiring"),
        ("codeai.management.commands.parse", "wiring"),
        ("executions.admin", "executions"),
    ],
)
def test_layers_are_named_as_documented(module, expected):
    assert layer(module) == expected


def test_the_rule_catches_upward_imports(tmp_path):
    """The checker itself, on a module written for it: deployments importing executions, and
    the kernel importing an app or the wiring, are reported; a downward import is not."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from executions import services\nfrom configs.models import Config\n", encoding="utf-8"
    )
    assert upward_imports_of(probe, "deployments.probe") == [
        "deployments.probe:1: deployments imports executions.services (executions)"
    ]
    probe.write_text("from configs import models\nfrom codeai import settings\n")
    assert len(upward_imports_of(probe, "codeai.kernel.api.probe")) == 2


def test_the_gunicorn_config_does_not_load_the_cli():
    """gunicorn reads its config at every start and HUP: it needs the CPU count, not the CLI."""
    targets = {name for _line, name in imported(ROOT / "codeai" / "gunicorn_conf.py")}
    assert "codeai.kernel.cpus.cpu_count" in targets
    assert not any(name == "codeai.cli" or name.startswith("codeai.cli.") for name in targets)
