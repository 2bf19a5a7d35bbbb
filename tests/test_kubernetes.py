"""The Kubernetes bundle (deploy/kubernetes): generated files in step with their sources,
every manifest valid offline, and the Deployment as the README describes it.

Core kinds validate against the Kubernetes OpenAPI schemas `kubernetes-validate` ships,
pinned to KUBERNETES_VERSION, strictly (no unknown field); the ServiceMonitor and the
PrometheusRule against the Prometheus Operator's CRD schemas kept in
deploy/kubernetes/schemas (source and version in its README).
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from cost_exporter.providers import REGISTRY
from cost_exporter.settings import _secret_fields

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "deploy" / "kubernetes"
SCHEMAS = BUNDLE / "schemas"
KUBERNETES_VERSION = "1.33.0"
CRDS = {
    "ServiceMonitor": "monitoring.coreos.com_servicemonitors.yaml",
    "PrometheusRule": "monitoring.coreos.com_prometheusrules.yaml",
}


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("k8s_generate", BUNDLE / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def manifests() -> dict[str, dict[str, Any]]:
    """Every manifest of the bundle, by file name (the Secret template included)."""
    return {
        path.name: yaml.safe_load(path.read_text(encoding="utf-8"))
        for path in sorted(BUNDLE.glob("*.yaml"))
        if path.name != "kustomization.yaml"
    }


def by_kind(kind: str) -> dict[str, Any]:
    [found] = [m for m in manifests().values() if m["kind"] == kind]
    return found


def strict(schema: Any) -> Any:
    """The schema refusing unknown fields, as `kubectl apply` (field validation "Strict")
    does: every object that lists its properties and does not keep unknown fields."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: strict(value) for key, value in schema.items()}
    if "properties" in out and not out.get("x-kubernetes-preserve-unknown-fields"):
        out.setdefault("additionalProperties", False)
    return out


def crd_schema(kind: str) -> dict[str, Any]:
    crd = yaml.safe_load((SCHEMAS / CRDS[kind]).read_text(encoding="utf-8"))
    [version] = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return dict(strict(version["schema"]["openAPIV3Schema"]))


def crd_validate(manifest: dict[str, Any], kind: str) -> None:
    # Draft 7 without checking the schema itself: its patterns are Go regular expressions
    # (`^(?i)(abort|warn)?$`), which Python's `re` reads differently; none of the fields
    # they guard is used here.
    jsonschema.Draft7Validator(crd_schema(kind)).validate(manifest)


def test_generated_manifests_match_their_sources() -> None:
    module = generator()
    for name, render in module.GENERATED.items():
        assert (BUNDLE / name).read_text(encoding="utf-8") == render(), (
            f"deploy/kubernetes/{name} is out of date: run `make k8s`"
        )


def test_the_prometheus_rule_carries_every_group_of_the_shipped_rules() -> None:
    shipped = yaml.safe_load((ROOT / "prometheus/rules/costs.yml").read_text())
    assert by_kind("PrometheusRule")["spec"]["groups"] == shipped["groups"]


def test_the_dashboard_config_map_is_labelled_for_the_grafana_sidecar() -> None:
    [board] = [m for m in manifests().values() if m["metadata"]["name"].endswith("dashboard")]
    assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
    committed = json.loads((ROOT / "grafana/dashboards/costs.json").read_text())
    assert json.loads(board["data"]["costs.json"]) == committed


def test_core_manifests_validate_against_the_pinned_kubernetes_schemas() -> None:
    checked = []
    for name, manifest in manifests().items():
        if manifest["kind"] in CRDS:
            continue
        try:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{name}: {exc.message} at {'.'.join(map(str, exc.path))}")
        checked.append(manifest["kind"])
    core = ["ConfigMap", "ConfigMap", "Deployment", "Namespace", "PersistentVolumeClaim"]
    assert sorted(checked) == sorted([*core, "Secret", "Service"])


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_operator_resources_validate_against_the_operator_crd_schemas(kind: str) -> None:
    manifest = by_kind(kind)
    assert manifest["apiVersion"] == "monitoring.coreos.com/v1"
    crd_validate(manifest, kind)


def test_the_crd_schema_check_refuses_a_misspelt_field() -> None:
    rule = by_kind("PrometheusRule")
    groups = [{"name": "x", "rules": [{"alert": "A", "expr": "1", "fro": "5m"}]}]
    broken = {**rule, "spec": {"groups": groups}}
    with pytest.raises(jsonschema.ValidationError):
        crd_validate(broken, "PrometheusRule")


def test_the_kubernetes_check_refuses_a_misspelt_field() -> None:
    deployment = by_kind("Deployment")
    broken = json.loads(json.dumps(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFilesytem"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest_but_the_secret_template() -> None:
    kustomization = yaml.safe_load((BUNDLE / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == set(manifests()) - {"secret.example.yaml"}
    assert kustomization["namespace"] == "cost-exporter"


def test_the_secret_template_holds_every_credential_of_every_provider() -> None:
    secret = by_kind("Secret")
    expected = {"COST_REFRESH_TOKEN"}
    for spec in REGISTRY.values():
        expected |= {spec.env[field] for field in _secret_fields(spec.config_model)}
    assert set(secret["stringData"]) == expected
    assert all(value == "" for value in secret["stringData"].values())
    # The Deployment mounts that Secret where the template says the files are.
    pod = by_kind("Deployment")["spec"]["template"]["spec"]
    [volume] = [v for v in pod["volumes"] if "secret" in v]
    assert volume["secret"] == {
        "secretName": secret["metadata"]["name"],
        "optional": True,
        "defaultMode": 0o440,
    }
    [mount] = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == volume["name"]]
    text = (BUNDLE / "secret.example.yaml").read_text()
    assert f"{mount['mountPath']}/OPENAI_ADMIN_KEY" in text


def measured_rss_mb() -> float:
    """The largest resident set the benchmarks recorded (the RSS lines of bench/RESULTS.md)."""
    lines = (ROOT / "bench" / "RESULTS.md").read_text().splitlines()
    figures = [
        float(x) for line in lines if "RSS" in line for x in re.findall(r"([\d.]+) MB", line)
    ]
    assert figures, "bench/RESULTS.md has no MB figure"
    return max(figures)


def test_the_deployment_is_one_non_root_read_only_replica_sized_from_the_benchmark() -> None:
    deployment = by_kind("Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"]["type"] == "Recreate"  # the volume is ReadWriteOnce
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    [container] = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    # Liveness is the process; readiness is /healthz, which is 503 while no data is useful.
    assert container["livenessProbe"]["httpGet"]["path"] == "/metrics"
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    # Requests cover the measured footprint, and the limit leaves room above it.
    memory = container["resources"]
    mib = {k: int(memory[k]["memory"].removesuffix("Mi")) for k in ("requests", "limits")}
    measured = measured_rss_mb() * 1_000_000 / 2**20
    assert mib["requests"] >= measured
    assert mib["limits"] >= 2 * measured
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert {env["COST_STATE_DIR"], "/tmp"} <= mounts
    assert Path(env["COST_CONFIG_FILE"]).parent.as_posix() in mounts


def test_the_service_monitor_scrapes_the_services_named_port() -> None:
    service, monitor = by_kind("Service"), by_kind("ServiceMonitor")
    [port] = service["spec"]["ports"]
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["port"] == port["name"]
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    pod = by_kind("Deployment")["spec"]["template"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()


def test_kubectl_renders_the_kustomization_when_it_is_installed() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed: the kustomization is checked by the tests above")
    run = subprocess.run(
        [kubectl, "kustomize", str(BUNDLE)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    kinds = sorted(doc["kind"] for doc in yaml.safe_load_all(run.stdout))
    assert kinds == sorted(m["kind"] for n, m in manifests().items() if n != "secret.example.yaml")
