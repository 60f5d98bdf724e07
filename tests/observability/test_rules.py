"""The shipped alert rules, scrape configs and Grafana dashboard: valid, and fed by the web's
/metrics and the workers' endpoint together."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.db import IntegrityError, transaction
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest

from codeai import worker_metrics
from codeai.kernel import conf, outbound
from deployments.models import Deployment
from executions.models import Execution, ExecutionStatus
from tests.conftest import missing
from tests.observability.conftest import ROOT, parse_samples

PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "alerting-rules.yaml"
DASHBOARD = ROOT / "deploy" / "grafana" / "codeai-overview.json"
METRIC_NAME = re.compile(r"\b(codeai_[a-z0-9_]+|container_[a-z0-9_]+|up)\b")
# Series that other exporters provide: container_* from the kubelet's cAdvisor, up from
# Prometheus itself for every scrape target. CodeAI's /metrics cannot (and must not) have them.
FROM_ELSEWHERE = re.compile(r"^(container_.*|up)$")


def promtool() -> str:
    """The promtool binary; .ci/run installs Debian's prometheus package, so CI never skips."""
    path = shutil.which("promtool")
    if path:
        return path
    missing("promtool is not installed (.ci/run installs Debian's prometheus package)")


def rule_expressions() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["dashboard"]["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def test_promtool_accepts_the_alert_rules():
    result = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 8 rules found" in result.stdout


def test_promtool_accepts_the_scrape_config():
    result = subprocess.run(
        [promtool(), "check", "config", str(PROMETHEUS / "prometheus.yml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_kubernetes_scrape_config_matches_the_pod_annotations():
    # Debian's promtool is built without Kubernetes discovery: check the structure instead.
    job = yaml.safe_load((PROMETHEUS / "prometheus-kubernetes.yml").read_text())
    (scrape,) = job["scrape_configs"]
    assert scrape["job_name"] == "codeai"  # CodeAIDown reads up{job="codeai"}
    assert scrape["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": ["codeai"]}}]
    sources = [rule["source_labels"][-1] for rule in scrape["relabel_configs"]]
    assert sources == [
        "__meta_kubernetes_pod_annotation_prometheus_io_scrape",
        "__meta_kubernetes_pod_annotation_prometheus_io_path",
        "__meta_kubernetes_pod_annotation_prometheus_io_port",
    ]


def test_promtool_accepts_every_dashboard_query(tmp_path: Path):
    # promtool has no "check query": the panels' expressions become recording rules.
    rules = [
        {"record": f"dashboard:query_{index}", "expr": expr}
        for index, expr in enumerate(dashboard_expressions())
    ]
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(
        [promtool(), "check", "rules", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_keeps_the_guides_panels():
    dashboard = json.loads(DASHBOARD.read_text())["dashboard"]
    assert (dashboard["title"], dashboard["uid"]) == ("CodeAI Overview", "codeai-overview")
    titles = [panel["title"] for panel in dashboard["panels"]]
    assert titles[:5] == [
        "Request Rate",
        "Request Latency (p99)",
        "Error Rate",
        "Database Connections",
        "Active Workflows",
    ]


def _real_traffic(client) -> None:
    """Requests, queries (one failing), an execution history and outbound calls."""
    deployment = Deployment.objects.create(name="rules-check")
    now = timezone.now()
    Execution.objects.create(
        deployment=deployment,
        status=ExecutionStatus.SUCCEEDED,
        started_at=now,
        completed_at=now,
        steps=[{"index": 0, "command": "true", "exit_code": 0, "duration_ms": 5}],
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Deployment.objects.create(name="rules-check")
    client.get("/health")
    client.post("/admin/login/", {"username": "nobody", "password": "x"})
    with outbound.track_integration_call("rules-check"):
        pass
    with (
        pytest.raises(OSError, match="unreachable"),
        outbound.track_integration_call("rules-check"),
    ):
        raise OSError("the identity provider is unreachable")
    outbound.record_integration_retry("rules-check")


def worker_page() -> str:
    """What a worker's metrics endpoint answers (codeai.worker_metrics), in this process."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(worker_metrics.scrape_collector("rules-check pid 1"))
    return generate_latest(registry).decode()


@pytest.mark.django_db(transaction=True)  # the worker's scrape takes a lease in the database
def test_every_metric_the_rules_and_dashboard_use_is_exposed(client):
    _real_traffic(client)
    pages = (client.get("/metrics").content.decode(), worker_page())
    exposed = {name for page in pages for name, _ in parse_samples(page)}

    used = {
        name
        for expr in rule_expressions() + dashboard_expressions()
        for name in METRIC_NAME.findall(expr)
    }
    assert {"codeai_http_requests_total", "codeai_workflow_active_count"} <= used
    missing = {name for name in used - exposed if not FROM_ELSEWHERE.match(name)}
    assert not missing, f"used by rules or dashboard but not on /metrics: {sorted(missing)}"


def test_kubernetes_and_compose_scrape_the_workers_on_their_metrics_port():
    k8s = ROOT / "deploy" / "k8s"
    worker = yaml.safe_load((k8s / "worker-deployment.yaml").read_text())["spec"]["template"]
    annotations = worker["metadata"]["annotations"]
    (option,) = (o for o in conf.OPTIONS if o.env == "CODEAI_WORKER_METRICS_PORT")
    port = option.default
    assert port == "9808"
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": port,
        "prometheus.io/path": "/metrics",
    }
    (container,) = worker["spec"]["containers"]
    assert {"name": "metrics", "containerPort": 9808, "protocol": "TCP"} in container["ports"]
    config = yaml.safe_load((k8s / "configmap.yaml").read_text())["data"]
    assert config["CODEAI_WORKER_METRICS_PORT"] == port
    assert config["CODEAI_HOST"] == "0.0.0.0"  # the worker's metrics listen on the pod IP
    policies = {
        policy["metadata"]["name"]: policy["spec"]
        for policy in yaml.safe_load_all((k8s / "networkpolicy.yaml").read_text())
    }
    (rule,) = policies["codeai-worker"]["ingress"]
    assert rule["ports"] == [{"port": "metrics"}]
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    static = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())["scrape_configs"][0]
    targets = [t for group in static["static_configs"] for t in group["targets"]]
    assert any(target.endswith(":9808") for target in targets)
    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
    assert compose["services"]["worker"]["expose"] == ["9808"]
