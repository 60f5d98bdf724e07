"""The image's Python environment, built the way the Dockerfile builds it (no Docker engine
here): the build stage's sources, a wheel of the project, ``deploy/docker/install-venv.sh``
into a fresh venv, then ``codeai server start`` from it with the runtime stage's environment."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

from tests.deploy.support import (
    COMPOSE,
    ROOT,
    clean_env,
    dockerfile_runtime_env,
    dockerfile_stages,
    free_port,
    http_get,
    instruction,
    stop,
    wait_for_health,
)

BUILD_ARGS = {"VERSION": "9.8.7", "BUILD_DATE": "2026-11-27T00:00:00Z", "GIT_COMMIT": "0123abc"}


def copy_build_context(destination: Path) -> None:
    """What the build stage COPYs, and nothing else (as .dockerignore would allow)."""
    for arguments in instruction(dockerfile_stages()[0], "COPY"):
        *sources, _target = arguments.split()
        for source in sources:
            origin = ROOT / source
            if origin.is_dir():
                shutil.copytree(
                    origin, destination / source, ignore=shutil.ignore_patterns("__pycache__")
                )
            else:
                shutil.copy2(origin, destination / source)


def runtime_env(venv: Path, data: Path) -> dict[str, str]:
    """The runtime stage's ENV with the image's paths moved under the test's folder."""
    env = {}
    for name, value in dockerfile_runtime_env().items():
        value = re.sub(r"\$\{(\w+)\}", lambda m: BUILD_ARGS.get(m.group(1), m.group(0)), value)
        value = value.replace("/opt/codeai", str(venv)).replace("$PATH", os.environ["PATH"])
        env[name] = value
    env["CODEAI_DATA_DIR"] = str(data)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(data.parent / "tmp" / "prometheus")
    # What compose and Kubernetes give it in production (the data folder may be ephemeral).
    env["CODEAI_SECRET_KEY"] = "image-test-" + "k" * 50
    return env


def healthchecks(port: int, env: dict[str, str]) -> list[tuple[list[str], dict[str, str]]]:
    """The image's HEALTHCHECK (it reads CODEAI_PORT) and the compose web healthcheck (it names
    8080), each aimed at the test server's ``port``."""
    (image,) = instruction(dockerfile_stages()[-1], "HEALTHCHECK")
    image_command = json.loads(image[image.index("CMD") + len("CMD") :])
    compose = yaml.safe_load(COMPOSE.read_text())["services"]["codeai"]["healthcheck"]["test"]
    compose_command = [part.replace(":8080/", f":{port}/") for part in compose[1:]]
    return [(image_command, env | {"CODEAI_PORT": str(port)}), (compose_command, env)]


def snapshot(folder: Path) -> dict[str, float]:
    return {str(path): path.stat().st_mtime for path in folder.rglob("*")}


@pytest.mark.slow
@pytest.mark.usefixtures("embedded_pass_only")
def test_image_environment_installs_from_the_wheel_and_serves(tmp_path):
    context, wheels, venv = tmp_path / "src", tmp_path / "wheels", tmp_path / "venv"
    context.mkdir()
    copy_build_context(context)
    build_env = clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1")
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"),
            *("--no-build-isolation", "--wheel-dir", str(wheels), "."),
        ],
        cwd=context,
        env=build_env,
        check=True,
        timeout=120,
    )
    # The Dockerfile's own install step (it adds PIP_NO_INDEX=1: the dependency wheels are
    # built in its first stage; here pip takes them from the machine's cache or registry).
    installer = ROOT / "deploy" / "docker" / "install-venv.sh"
    installed = subprocess.run(
        ["sh", str(installer), str(wheels), str(venv)],
        env=build_env | {"PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]

    site_packages = Path(
        sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)})
    )
    for folder in ("templates", "codeai/static"):
        for source in (ROOT / folder).rglob("*"):
            if source.is_file():
                assert (site_packages / source.relative_to(ROOT)).is_file(), source
    assert (site_packages / "staticfiles" / "staticfiles.json").is_file()

    workdir, data = tmp_path / "app", tmp_path / "data"
    workdir.mkdir()
    env = clean_env(**runtime_env(venv, data))
    # The Dockerfile's entry point: /app/codeai, a link to the venv's console script.
    entry_point = workdir / "codeai"
    entry_point.symlink_to(venv / "bin" / "codeai")
    codeai = str(entry_point)
    version = subprocess.run(
        [codeai, "version", "--output", "json"], cwd=workdir, env=env, capture_output=True
    )
    assert json.loads(version.stdout) == {
        "version": BUILD_ARGS["VERSION"],
        "buildDate": BUILD_ARGS["BUILD_DATE"],
        "gitCommit": BUILD_ARGS["GIT_COMMIT"],
    }
    migrate = subprocess.run(
        [codeai, "server", "migrate"], cwd=workdir, env=env, capture_output=True, text=True
    )
    assert migrate.returncode == 0, migrate.stderr

    before = snapshot(venv)
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [codeai, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        status, body = wait_for_health(log, port, server)
        assert status == 200, body
        status, page = http_get(f"http://127.0.0.1:{port}/admin/login/")
        assert status == 200
        # whitenoise serves the collected, hashed (cache-forever) file
        stylesheet = re.search(rb'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page)
        assert stylesheet, "the login page does not link a hashed stylesheet"
        assert http_get(f"http://127.0.0.1:{port}{stylesheet.group(1).decode()}")[0] == 200
        for probe, probe_env in healthchecks(port, env):
            assert subprocess.run(probe, cwd=workdir, env=probe_env, timeout=10).returncode == 0
    finally:
        returncode = stop(server, timeout=40)
    assert returncode == 0, log.read_text()
    for probe, probe_env in healthchecks(port, env):
        down = subprocess.run(probe, cwd=workdir, env=probe_env, capture_output=True, timeout=10)
        assert down.returncode != 0, probe
    # Read-only root filesystem friendly: nothing written to the image's files or workdir.
    assert snapshot(venv) == before
    assert list(workdir.iterdir()) == [entry_point]
