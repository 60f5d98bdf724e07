"""The deployment files operators copy: every one parses, and what matters in each is true of
this application (its URLs, its variables, its command line, uid 1000)."""

from __future__ import annotations

import configparser
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.urls import resolve

from codeai import cli
from codeai.kernel import conf
from tests.deploy.support import (
    CODEAI,
    COMPOSE,
    DEPLOY,
    ROOT,
    dockerfile_runtime_env,
    dockerfile_stages,
    instruction,
)

YAML_FILES = sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml"))
JSON_FILES = sorted(DEPLOY.rglob("*.json"))
K8S = DEPLOY / "k8s"

UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
RUN_SH = ROOT / "scripts" / "run.sh"
BUILD_INFO_VARIABLES = ("CODEAI_VERSION", "CODEAI_BUILD_DATE", "CODEAI_GIT_COMMIT")
# Variables the image sets for libraries rather than for CodeAI's settings.
LIBRARY_VARIABLES = {
    "PATH",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONUNBUFFERED",
    "PROMETHEUS_MULTIPROC_DIR",
}


def handler_of(argv: list[str]):
    """The ``codeai`` verb a command line runs, parsed by the command's own parser."""
    return cli.build_parser().parse_args(argv).handler


def assert_known_variable(name: str) -> None:
    if name.endswith("_FILE"):
        assert name in conf.SECRET_FILE_VARIABLES, f"{name} is not a secret file variable"
    else:
        assert name in conf.OPTIONS_BY_ENV, f"{name} is not a CodeAI setting"


def assert_route(path: str) -> None:
    resolve(path.split("?")[0])  # raises Resolver404 when the app has no such URL


def test_build_info_variables_are_the_ones_codeai_version_reads():
    values = dict(zip(BUILD_INFO_VARIABLES, ("1", "2", "3"), strict=True))
    assert conf.build_info(values) == {"version": "1", "buildDate": "2", "gitCommit": "3"}


# --- every file parses --------------------------------------------------------------------


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_yaml_file_parses(path):
    documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    assert documents
    assert all(isinstance(doc, dict) for doc in documents)


@pytest.mark.parametrize("path", JSON_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_json_file_parses(path):
    assert isinstance(json.loads(path.read_text()), dict)


# --- docker-compose.yml -------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


CODEAI_SERVICES = {
    "codeai": cli.server_start,
    "worker": cli.worker_start,
    "migrate": cli.server_migrate,
}


def test_compose_has_the_services_and_the_guides_engines(compose):
    services = compose["services"]
    assert set(services) == {*CODEAI_SERVICES, "postgres", "redis"}
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["redis"]["image"].startswith("redis:7")


@pytest.mark.parametrize(("name", "handler"), CODEAI_SERVICES.items())
def test_compose_codeai_service_runs_a_real_verb_read_only(compose, name, handler):
    service = compose["services"][name]
    assert service["image"].startswith("codeai:")
    assert handler_of(service["command"]) is handler
    assert service["read_only"] is True
    assert "/tmp" in service["tmpfs"]
    assert service["cap_drop"] == ["ALL"]


@pytest.mark.parametrize("name", CODEAI_SERVICES)
def test_compose_environment_is_codeai_settings_with_secrets_from_files(compose, name):
    service = compose["services"][name]
    environment = service["environment"]
    for variable in environment:
        assert_known_variable(variable)
    assert set(service["secrets"]) == {"db_password", "jwt_secret", "secret_key"}
    assert set(compose["secrets"]) == {"db_password", "jwt_secret", "secret_key"}
    files = {
        variable: Path(path) for variable, path in environment.items() if variable.endswith("_FILE")
    }
    assert files == {
        "CODEAI_DB_PASSWORD_FILE": Path("/run/secrets/db_password"),
        "CODEAI_JWT_SECRET_FILE": Path("/run/secrets/jwt_secret"),
        "CODEAI_SECRET_KEY_FILE": Path("/run/secrets/secret_key"),
    }
    # PostgreSQL and Redis, never the embedded default.
    assert environment["CODEAI_DB_HOST"] == "postgres"
    assert environment["CODEAI_CACHE_TYPE"] == "redis"


def test_compose_start_order_is_health_gated(compose):
    services = compose["services"]
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["migrate"]["restart"] == "no"
    for name in ("codeai", "worker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}
        assert depends["redis"] == {"condition": "service_healthy"}
    for name in ("codeai", "worker"):
        assert services[name]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"]


@pytest.mark.parametrize("name", ["worker", "migrate"])
def test_compose_processes_without_http_turn_off_the_images_healthcheck(compose, name):
    assert compose["services"][name]["healthcheck"] == {"disable": True}


def test_compose_codeai_service_scales_to_three_replicas_on_a_port_range(compose):
    """The guide's ``docker-compose up -d --scale codeai=3``: one fixed host port would refuse the
    second replica, a range gives each its own."""
    (mapping,) = compose["services"]["codeai"]["ports"]
    host, container = mapping.rsplit(":", 1)
    first, last = (int(port) for port in host.split("-"))
    assert container == "8080"
    assert last - first + 1 >= 3
    assert "container_name" not in compose["services"]["codeai"]


def test_compose_web_healthcheck_probes_a_real_route(compose):
    command = " ".join(compose["services"]["codeai"]["healthcheck"]["test"])
    path = re.search(r"http://127\.0\.0\.1:8080(/[\w/-]*)", command).group(1)
    assert path == "/health"
    assert_route(path)


# --- Kubernetes ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def k8s() -> dict[tuple[str, str], dict]:
    manifests = {}
    for path in sorted(K8S.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document and document["kind"] != "Kustomization":
                manifests[(document["kind"], document["metadata"]["name"])] = document
    return manifests


WORKLOADS = {
    ("Deployment", "codeai"): cli.server_start,
    ("Deployment", "codeai-worker"): cli.worker_start,
    ("Job", "codeai-migrate"): cli.server_migrate,
    ("CronJob", "codeai-migrate"): cli.server_migrate,
}


def pod_template(manifest: dict) -> dict:
    """A workload's pod template; a CronJob's is inside its job template."""
    if manifest["kind"] == "CronJob":
        return manifest["spec"]["jobTemplate"]["spec"]["template"]
    return manifest["spec"]["template"]


def container_argv(container: dict) -> list[str]:
    """What the container runs after the image's ``/app/codeai`` entry point."""
    if "command" in container:
        assert container["command"][0] == "/app/codeai"
        return container["command"][1:] + container.get("args", [])
    return container["args"]


def test_k8s_has_the_guides_manifests(k8s):
    expected = {
        ("Namespace", "codeai"),
        ("ConfigMap", "codeai-config"),
        ("Secret", "codeai-secrets"),
        ("ServiceAccount", "codeai"),
        ("Service", "codeai-service"),
        ("Ingress", "codeai-ingress"),
        ("HorizontalPodAutoscaler", "codeai-hpa"),
        ("PodDisruptionBudget", "codeai-pdb"),
        *WORKLOADS,
    }
    assert expected <= set(k8s)
    for (kind, _name), manifest in k8s.items():
        if kind != "Namespace":
            assert manifest["metadata"]["namespace"] == "codeai"


def test_kustomization_applies_everything_but_the_example_secret():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert sorted(kustomization["resources"]) == sorted(files)


def test_kubectl_kustomize_builds_the_manifests(k8s):
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed on this machine")
    built = subprocess.run(
        ["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=60
    )
    assert built.returncode == 0, built.stderr
    kinds = {(doc["kind"], doc["metadata"]["name"]) for doc in yaml.safe_load_all(built.stdout)}
    assert kinds == set(k8s) - {("Secret", "codeai-secrets")}


@pytest.mark.parametrize(("key", "handler"), WORKLOADS.items())
def test_k8s_workload_runs_a_real_verb_as_uid_1000_read_only(k8s, key, handler):
    pod = pod_template(k8s[key])["spec"]
    security = pod["securityContext"]
    assert (security["runAsUser"], security["runAsGroup"], security["runAsNonRoot"]) == (
        1000,
        1000,
        True,
    )
    assert pod["serviceAccountName"] == "codeai"
    (container,) = pod["containers"]
    assert handler_of(container_argv(container)) is handler
    hardening = container["securityContext"]
    assert hardening["readOnlyRootFilesystem"] is True
    assert hardening["allowPrivilegeEscalation"] is False
    assert hardening["capabilities"]["drop"] == ["ALL"]
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/data", "/tmp"}
    assert container["resources"]["limits"]


@pytest.mark.parametrize("key", WORKLOADS, ids=lambda k: k[1])
def test_k8s_environment_is_codeai_settings_from_the_configmap_and_secret(k8s, key):
    (container,) = pod_template(k8s[key])["spec"]["containers"]
    config_map = k8s[("ConfigMap", container["envFrom"][0]["configMapRef"]["name"])]
    for variable in config_map["data"]:
        assert_known_variable(variable)
    secret = k8s[("Secret", "codeai-secrets")]
    for entry in container["env"]:
        assert_known_variable(entry["name"])
        reference = entry["valueFrom"]["secretKeyRef"]
        assert reference["name"] == "codeai-secrets"
        assert reference["key"] in secret["stringData"]
    names = {entry["name"] for entry in container["env"]}
    assert {"CODEAI_DB_PASSWORD", "CODEAI_JWT_SECRET", "CODEAI_SECRET_KEY"} <= names


def test_k8s_worker_runs_the_guides_command(k8s):
    (container,) = k8s[("Deployment", "codeai-worker")]["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["/app/codeai", "worker", "start"]


def test_k8s_migrate_cronjob_is_suspended_and_runs_the_jobs_spec(k8s):
    """``kubectl create job --from=cronjob/codeai-migrate`` makes the Job migrate-job.yaml is."""
    cronjob = k8s[("CronJob", "codeai-migrate")]
    assert cronjob["spec"]["suspend"] is True
    assert cronjob["spec"]["schedule"]
    assert cronjob["spec"]["jobTemplate"]["spec"] == k8s[("Job", "codeai-migrate")]["spec"]


def test_k8s_web_probes_and_scrape_annotations_hit_real_routes(k8s):
    template = k8s[("Deployment", "codeai")]["spec"]["template"]
    (container,) = template["spec"]["containers"]
    port_names = {port["name"]: port["containerPort"] for port in container["ports"]}
    paths = {}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        http = container[probe]["httpGet"]
        assert http["port"] in port_names
        assert {"name": "Host", "value": "localhost"} in http["httpHeaders"]
        assert_route(http["path"])
        paths[probe] = http["path"]
    assert paths == {"startupProbe": "/live", "livenessProbe": "/live", "readinessProbe": "/ready"}
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == port_names["http"]
    assert_route(annotations["prometheus.io/path"])


def test_k8s_service_ingress_hpa_and_pdb_point_at_the_web_deployment(k8s):
    web = k8s[("Deployment", "codeai")]
    labels = web["spec"]["template"]["metadata"]["labels"]
    service = k8s[("Service", "codeai-service")]
    assert service["spec"]["selector"].items() <= labels.items()
    backends = [
        path["backend"]["service"]["name"]
        for rule in k8s[("Ingress", "codeai-ingress")]["spec"]["rules"]
        for path in rule["http"]["paths"]
    ]
    assert backends == ["codeai-service"]
    assert k8s[("HorizontalPodAutoscaler", "codeai-hpa")]["spec"]["scaleTargetRef"]["name"] == (
        "codeai"
    )
    pdb = k8s[("PodDisruptionBudget", "codeai-pdb")]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["minAvailable"] < web["spec"]["replicas"]


# --- Dockerfile -----------------------------------------------------------------------------


def test_dockerfile_is_multi_stage_on_slim_python_311():
    stages = dockerfile_stages()
    assert len(stages) >= 2
    for stage in stages:
        assert instruction(stage, "FROM")[0].split()[0] == "python:3.11-slim"


def test_dockerfile_runtime_runs_codeai_as_uid_1000():
    runtime = dockerfile_stages()[-1]
    assert instruction(runtime, "USER") == ["1000:1000"]
    assert json.loads(instruction(runtime, "ENTRYPOINT")[0]) == ["/app/codeai"]
    # The guide's path is the venv's console script.
    assert "ln -s /opt/codeai/bin/codeai /app/codeai" in " ".join(instruction(runtime, "RUN"))
    command = json.loads(instruction(runtime, "CMD")[0])
    assert command == ["server", "start", "--host", "0.0.0.0"]
    assert handler_of(command) is cli.server_start


def test_dockerfile_healthcheck_probes_a_real_route_without_wget():
    (healthcheck,) = instruction(dockerfile_stages()[-1], "HEALTHCHECK")
    assert "wget" not in healthcheck
    assert "curl" not in healthcheck
    path = re.search(r"http://127\.0\.0\.1:%s(/[\w/-]*)", healthcheck).group(1)
    assert path == "/health"
    assert_route(path)


def test_dockerfile_build_args_feed_codeai_version_and_env_is_known():
    runtime = dockerfile_stages()[-1]
    assert set(instruction(runtime, "ARG")) == {
        "VERSION=dev",
        "BUILD_DATE=unknown",
        "GIT_COMMIT=unknown",
    }
    environment = dockerfile_runtime_env()
    assert environment["CODEAI_VERSION"] == "${VERSION}"
    assert environment["CODEAI_BUILD_DATE"] == "${BUILD_DATE}"
    assert environment["CODEAI_GIT_COMMIT"] == "${GIT_COMMIT}"
    assert environment["CODEAI_DATA_DIR"] == "/data"
    assert environment["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")
    for variable in environment:
        if variable not in BUILD_INFO_VARIABLES and variable not in LIBRARY_VARIABLES:
            assert_known_variable(variable)


def test_dockerignore_lets_through_everything_the_dockerfile_copies():
    allowed = {
        line[1:]
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    assert (ROOT / ".dockerignore").read_text().splitlines()[1] == "*"
    for stage in dockerfile_stages():
        for arguments in instruction(stage, "COPY"):
            if arguments.startswith("--from"):
                continue
            for source in arguments.split()[:-1]:
                assert source.rstrip("/") in allowed, f"{source} is excluded by .dockerignore"
                assert (ROOT / source).exists()


# --- PgBouncer ------------------------------------------------------------------------------


def test_pgbouncer_example_pools_transactions_on_the_guides_port():
    parser = configparser.ConfigParser()
    parser.read_string((DEPLOY / "pgbouncer" / "pgbouncer.ini").read_text())
    assert parser["pgbouncer"]["pool_mode"] == "transaction"
    assert parser["pgbouncer"]["listen_port"] == "6432"
    assert "codeai" in parser["databases"]


# --- systemd ------------------------------------------------------------------------------


def unit_entries(path: Path) -> list[tuple[str, str, str]]:
    entries, section = [], ""
    for line in path.read_text().splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            entries.append((section, key, value))
    return entries


UNIT_VERBS = {"codeai.service": cli.server_start, "codeai-worker.service": cli.worker_start}


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_systemd_unit_runs_a_real_verb_with_known_settings(path):
    entries = unit_entries(path)
    values = {(section, key): value for section, key, value in entries}
    argv = shlex.split(values[("Service", "ExecStart")])
    assert argv[0] == "/opt/codeai/bin/codeai"
    assert handler_of(argv[1:]) is UNIT_VERBS[path.name]
    assert values[("Service", "User")] == "codeai"
    assert values[("Service", "ProtectSystem")] == "strict"
    for section, key, value in entries:
        if (section, key) == ("Service", "Environment"):
            name = value.split("=", 1)[0]
            if name not in LIBRARY_VARIABLES:
                assert_known_variable(name)


def test_systemd_web_unit_reloads_with_hup():
    values = {(s, k): v for s, k, v in unit_entries(DEPLOY / "systemd" / "codeai.service")}
    assert values[("Service", "ExecReload")] == "/bin/kill -HUP $MAINPID"


def test_systemd_analyze_verify_accepts_the_units(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed on this machine")
    # The units name the install path; verify checks it is executable, so point it at ours.
    copies = []
    for unit in UNITS:
        copy = tmp_path / unit.name
        copy.write_text(unit.read_text().replace("/opt/codeai/bin/codeai", str(CODEAI)))
        copies.append(str(copy))
    result = subprocess.run(
        ["systemd-analyze", "verify", *copies], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


# --- no beat --------------------------------------------------------------------------------


def test_nothing_starts_beat_the_workers_run_the_periodic_duties(compose, k8s):
    """The guide's processes are ``server start`` and ``worker start``: nothing may depend
    on a singleton beat (it stays possible: ``codeai worker beat``)."""
    commands = [service.get("command", []) for service in compose["services"].values()]
    for (kind, _name), manifest in k8s.items():
        if kind in ("Deployment", "Job"):
            commands += [
                c.get("args", []) for c in manifest["spec"]["template"]["spec"]["containers"]
            ]
    for path in UNITS:
        values = {(s, k): v for s, k, v in unit_entries(path)}
        commands.append(shlex.split(values[("Service", "ExecStart")]))
    commands.append(shlex.split(re.search(r"\$CODEAI (worker .*)&", RUN_SH.read_text()).group(1)))
    assert commands
    for argv in commands:
        words = argv if isinstance(argv, list) else shlex.split(argv)
        assert not {"beat", "--beat"} & set(words), argv


# --- The exec sandbox: the worker may create namespaces, the web server may not ----------

SANDBOX_BLOCKERS = {
    "RestrictNamespaces",
    "PrivateUsers",
    "ProtectProc",
    "ProcSubset",
    "ProtectKernelTunables",
    "SystemCallFilter",
}


def test_the_image_installs_bubblewrap_in_its_runtime_stage():
    runs = " ".join(instruction(dockerfile_stages()[-1], "RUN"))
    assert re.search(r"apt-get install -y --no-install-recommends bubblewrap\b", runs)


def test_compose_lets_only_the_worker_create_namespaces(compose):
    services = compose["services"]
    assert set(services["worker"]["security_opt"]) == {
        "no-new-privileges:true",
        "seccomp=unconfined",
        "apparmor=unconfined",
        "systempaths=unconfined",
    }
    assert services["worker"]["cap_drop"] == ["ALL"]  # bwrap needs no capability
    for name in ("codeai", "migrate"):
        assert services[name]["security_opt"] == ["no-new-privileges:true"]


def test_k8s_lets_only_the_worker_create_namespaces(k8s):
    worker = k8s[("Deployment", "codeai-worker")]["spec"]["template"]["spec"]
    assert worker["hostUsers"] is False
    (container,) = worker["containers"]
    security = container["securityContext"]
    assert security["seccompProfile"] == {"type": "Unconfined"}
    assert security["appArmorProfile"] == {"type": "Unconfined"}
    assert security["procMount"] == "Unmasked"
    assert security["capabilities"]["drop"] == ["ALL"]
    web = k8s[("Deployment", "codeai")]["spec"]["template"]["spec"]
    assert web["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = web["containers"]
    assert not {"seccompProfile", "appArmorProfile", "procMount"} & set(
        container["securityContext"]
    )


def test_systemd_worker_unit_may_create_namespaces_and_the_web_unit_may_not():
    worker = {key for section, key, _ in unit_entries(DEPLOY / "systemd" / "codeai-worker.service")}
    assert not worker & SANDBOX_BLOCKERS
    web = {(s, k): v for s, k, v in unit_entries(DEPLOY / "systemd" / "codeai.service")}
    assert web[("Service", "RestrictNamespaces")] == "true"
    assert web[("Service", "NoNewPrivileges")] == "true"
