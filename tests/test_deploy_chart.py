"""The Helm chart, the Dockerfile and the compose file, checked without a cluster or Docker.

Every chart test renders with the real helm (deploy/helm/ensure_helm.sh builds it once into a
cache outside the clone) and asserts what the rendered manifests do: the refusals, one
Deployment and store per channel, the worker's identity and volumes, the SASL_SSL material, the
probes on the components' real health endpoints, the monitoring built from deploy/prometheus and
deploy/grafana, and that every NURTURE_* variable set anywhere is one the settings models read.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from consumers.settings import DeliverySettings
from deploy.cli.settings_fields import leaves
from deploy.helm.compose_file import COMPOSE_SPEC, compose_problems, load_compose
from deploy.helm.manifests import KUBERNETES_VERSIONS, PROMETHEUS_OPERATOR, load_crd_schemas
from deploy.helm.manifests import problems as manifest_problems
from deploy.helm.render import CHART_DIR, SASL_SSL_VALUES, Manifest, RenderError, render
from deploy.helm.tools import go_module_dir, helm_binary
from producers.gateway.settings import GatewaySettings
from producers.settings import ProducerSettings
from schemas.privacy.settings import PrivacySettings
from schemas.settings import KafkaSettings
from streams.worker.settings import WorkerSettings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
VALUES = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
SASL_VALUES = yaml.safe_load(SASL_SSL_VALUES.read_text())
CHANNELS: list[str] = VALUES["delivery"]["channels"]
WORKLOADS = ("Deployment", "StatefulSet", "Job")


@pytest.fixture(scope="module")
def helm() -> Path:
    return helm_binary()


@pytest.fixture(scope="module")
def default(helm: Path) -> list[Manifest]:
    return render(helm)


@pytest.fixture(scope="module")
def sasl(helm: Path) -> list[Manifest]:
    return render(helm, [SASL_SSL_VALUES])


def of_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def one(manifests: list[Manifest], kind: str, component: str) -> Manifest:
    found = [
        m
        for m in of_kind(manifests, kind)
        if m["metadata"]["labels"].get("app.kubernetes.io/component") == component
    ]
    assert len(found) == 1, f"{len(found)} {kind} of component {component}"
    return found[0]


def pod_spec(workload: Manifest) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def container(workload: Manifest) -> dict[str, Any]:
    containers = pod_spec(workload)["containers"]
    assert len(containers) == 1
    main: dict[str, Any] = containers[0]
    return main


def env_of(workload: Manifest) -> dict[str, dict[str, Any]]:
    """Name -> the env entry (``value`` or ``valueFrom``) of the workload's container."""
    return {entry["name"]: entry for entry in container(workload).get("env", [])}


def config_map(manifests: list[Manifest]) -> dict[str, str]:
    data: dict[str, str] = one(manifests, "ConfigMap", "config")["data"]
    return data


def config_map_name(manifests: list[Manifest]) -> str:
    name: str = one(manifests, "ConfigMap", "config")["metadata"]["name"]
    return name


def volume(workload: Manifest, name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        v for v in pod_spec(workload).get("volumes", []) if v["name"] == name
    ]
    assert len(found) == 1, f"volume {name} of {workload['metadata']['name']}"
    return found[0]


def mount_path(workload: Manifest, name: str) -> str:
    found = [m for m in container(workload)["volumeMounts"] if m["name"] == name]
    assert len(found) == 1, f"mount {name} of {workload['metadata']['name']}"
    path: str = found[0]["mountPath"]
    return path


def workloads(manifests: list[Manifest]) -> Iterator[Manifest]:
    return (m for m in manifests if m["kind"] in WORKLOADS)


# --- refusals ---------------------------------------------------------------------------


def test_more_workers_than_partitions_is_refused_with_the_reason(helm: Path) -> None:
    with pytest.raises(RenderError) as refused:
        render(helm, set_values={"worker.replicas": 7, "kafka.partitions": 6})
    assert "worker.replicas (7) is more than kafka.partitions (6)" in refused.value.stderr
    assert "lower worker.replicas" in refused.value.stderr
    at_the_limit = render(helm, set_values={"worker.replicas": 6, "kafka.partitions": 6})
    assert one(at_the_limit, "StatefulSet", "worker")["spec"]["replicas"] == 6


def test_a_chart_made_secret_names_every_missing_key(helm: Path) -> None:
    with pytest.raises(RenderError) as refused:
        render(helm, set_values={"secrets.create": True, "secrets.trackingSecret": "x" * 32})
    message = refused.value.stderr
    for key in ("privacy-kek", "webhook-secret", "worker-erasure-secret", "gateway-api-keys"):
        assert key in message
    assert "tracking-secret" not in message


def test_sasl_without_a_user_and_a_malformed_kek_are_refused(helm: Path) -> None:
    with pytest.raises(RenderError, match=r"sasl\.username is empty"):
        render(helm, set_values={"kafka.security.protocol": "SASL_SSL"})
    with pytest.raises(RenderError, match="privacyKek"):
        render(helm, set_values={"secrets.privacyKek": "not-a-32-byte-key"})


# --- delivery: one Deployment and one store per channel -----------------------------------


def test_each_channel_has_its_own_deployment_and_store_volume(default: list[Manifest]) -> None:
    claims = {c["metadata"]["name"]: c for c in of_kind(default, "PersistentVolumeClaim")}
    used: set[str] = set()
    for channel in CHANNELS:
        deployment = one(default, "Deployment", f"delivery-{channel.replace('_', '-')}")
        assert container(deployment)["args"][:3] == ["deliver", "--channel", channel]
        assert deployment["spec"]["replicas"] == 1
        assert deployment["spec"]["strategy"]["type"] == "Recreate"
        claim = volume(deployment, "store")["persistentVolumeClaim"]["claimName"]
        assert claim in claims and claim not in used
        used.add(claim)
        data_dir = env_of(deployment)["NURTURE_DELIVERY_DATA_DIR"]["value"]
        assert mount_path(deployment, "store") == data_dir
        assert claims[claim]["spec"]["accessModes"] == ["ReadWriteOnce"]
        pdb = one(default, "PodDisruptionBudget", f"delivery-{channel.replace('_', '-')}")
        assert pdb["spec"]["selector"]["matchLabels"].items() <= (
            deployment["spec"]["template"]["metadata"]["labels"].items()
        )
    assert used == set(claims)


def test_the_channel_list_decides_the_delivery_deployments(helm: Path, tmp_path: Path) -> None:
    values = tmp_path / "channels.yaml"
    values.write_text(yaml.safe_dump({"delivery": {"channels": ["email"]}}))
    manifests = render(helm, [values])
    delivery = [d for d in of_kind(manifests, "Deployment") if container(d)["args"][0] == "deliver"]
    assert [container(d)["args"][2] for d in delivery] == ["email"]
    assert len(of_kind(manifests, "PersistentVolumeClaim")) == 1


# --- worker ------------------------------------------------------------------------------


def test_worker_group_instance_id_is_the_pod_name_from_the_downward_api(
    default: list[Manifest],
) -> None:
    worker = one(default, "StatefulSet", "worker")
    env = container(worker)["env"]
    names = [entry["name"] for entry in env]
    pod_name = env[names.index("POD_NAME")]
    assert pod_name["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    instance_id = env[names.index("NURTURE_WORKER_GROUP_INSTANCE_ID")]
    assert instance_id["value"] == "$(POD_NAME)"
    # Kubernetes expands $(VAR) only from variables defined earlier in the list.
    assert names.index("POD_NAME") < names.index("NURTURE_WORKER_GROUP_INSTANCE_ID")
    web_host = env[names.index("NURTURE_WORKER_WEB_HOST")]["value"]
    service = one(default, "Service", "worker")
    assert worker["spec"]["serviceName"] == service["metadata"]["name"]
    assert web_host.startswith(f"$(POD_NAME).{service['metadata']['name']}.$(POD_NAMESPACE).svc")
    assert service["spec"]["clusterIP"] == "None"


def test_static_membership_can_be_turned_off(helm: Path) -> None:
    manifests = render(helm, set_values={"worker.staticMembership": False})
    assert "NURTURE_WORKER_GROUP_INSTANCE_ID" not in env_of(one(manifests, "StatefulSet", "worker"))


def test_each_worker_pod_has_its_own_rocksdb_volume(default: list[Manifest]) -> None:
    worker = one(default, "StatefulSet", "worker")
    templates = worker["spec"]["volumeClaimTemplates"]
    assert [t["metadata"]["name"] for t in templates] == ["data"]
    assert templates[0]["spec"]["accessModes"] == ["ReadWriteOnce"]
    data_dir = env_of(worker)["NURTURE_WORKER_DATA_DIR"]["value"]
    assert mount_path(worker, "data") == data_dir
    assert worker["spec"]["replicas"] == VALUES["worker"]["replicas"]
    assert worker["spec"]["replicas"] <= VALUES["kafka"]["partitions"]


# --- security: SASL_SSL, secrets, hardening ----------------------------------------------


def test_sasl_ssl_values_mount_the_tls_files_and_set_the_security_settings(
    sasl: list[Manifest],
) -> None:
    config = config_map(sasl)
    tls_dir = "/etc/nurture/kafka-tls"
    assert config["NURTURE_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config["NURTURE_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert config["NURTURE_SASL_USERNAME"] == SASL_VALUES["kafka"]["security"]["sasl"]["username"]
    assert config["NURTURE_SSL_CAFILE"] == f"{tls_dir}/ca.crt"
    assert config["NURTURE_SSL_CERTFILE"] == f"{tls_dir}/tls.crt"
    assert config["NURTURE_SSL_KEYFILE"] == f"{tls_dir}/tls.key"
    tls_secret = one(sasl, "Secret", "kafka-tls")
    assert set(tls_secret["data"]) == {"ca.crt", "tls.crt", "tls.key"}
    app_secret = one(sasl, "Secret", "secrets")
    for workload in workloads(sasl):
        assert container(workload)["envFrom"] == [{"configMapRef": {"name": config_map_name(sasl)}}]
        password = env_of(workload)["NURTURE_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert password["name"] == app_secret["metadata"]["name"]
        assert password["key"] in app_secret["data"]
        tls_volume = volume(workload, "kafka-tls")["secret"]
        assert tls_volume["secretName"] == tls_secret["metadata"]["name"]
        assert mount_path(workload, "kafka-tls") == tls_dir


def test_plaintext_defaults_have_no_kafka_secrets(default: list[Manifest]) -> None:
    assert config_map(default)["NURTURE_SECURITY_PROTOCOL"] == "PLAINTEXT"
    assert not of_kind(default, "Secret"), "the default values expect a Secret made outside"
    for workload in workloads(default):
        assert "NURTURE_SASL_PASSWORD" not in env_of(workload)
        assert all(v["name"] != "kafka-tls" for v in pod_spec(workload)["volumes"])


@pytest.mark.parametrize(
    ("component", "keys"),
    [
        ("gateway", {"gateway-api-keys", "privacy-kek", "tracking-secret"}),
        ("worker", {"worker-erasure-secret"}),
        ("delivery-email", {"privacy-kek", "tracking-secret", "webhook-secret"}),
    ],
)
def test_each_component_sees_only_its_own_secret_files(
    sasl: list[Manifest], component: str, keys: set[str]
) -> None:
    kind = "StatefulSet" if component == "worker" else "Deployment"
    workload = one(sasl, kind, component)
    items = volume(workload, "secrets")["secret"]["items"]
    assert {item["key"] for item in items} == keys
    secrets_dir = mount_path(workload, "secrets")
    file_settings = {
        entry["value"]
        for name, entry in env_of(workload).items()
        if name.endswith("_FILE") and entry.get("value", "").startswith(secrets_dir)
    }
    # Every *_FILE setting names a mounted file, and every mounted file is read by one.
    assert file_settings == {f"{secrets_dir}/{item['path']}" for item in items}
    assert set(one(sasl, "Secret", "secrets")["data"]) >= keys


def test_no_secret_or_personal_data_in_plain_text(sasl: list[Manifest]) -> None:
    secret_values = [
        value
        for value in SASL_VALUES["secrets"].values()
        if isinstance(value, str) and len(value) > 8
    ]
    secret_values += [line for line in SASL_VALUES["secrets"]["gatewayApiKeys"].split()]
    outside = yaml.safe_dump_all([m for m in sasl if m["kind"] != "Secret"])
    for value in secret_values:
        assert value not in outside
    rendered = outside + yaml.safe_dump_all(of_kind(sasl, "Secret"))
    assert not re.findall(r"[\w.+-]+@[\w-]+\.[\w.]+", rendered), "an e-mail address"
    assert "cand-" not in rendered


def test_every_pod_is_hardened_and_runs_the_one_image(sasl: list[Manifest]) -> None:
    images = set()
    for workload in workloads(sasl):
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["automountServiceAccountToken"] is False
        security = container(workload)["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert mount_path(workload, "tmp") == "/tmp"
        images.add(container(workload)["image"])
    assert len(images) == 1


# --- probes, scaling, disruption ---------------------------------------------------------


def test_probes_use_the_health_endpoints_the_components_serve(default: list[Manifest]) -> None:
    expected = {
        ("Deployment", "gateway"): ("/healthz", "/readyz", ROOT / "producers/gateway/routes.py"),
        ("StatefulSet", "worker"): ("/v1/health", "/v1/health", ROOT / "streams/worker/web.py"),
        ("Deployment", "delivery-email"): ("/health", "/health", ROOT / "consumers/health.py"),
    }
    for (kind, component), (live, ready, source) in expected.items():
        main = container(one(default, kind, component))
        ports = {port["name"] for port in main["ports"]}
        for probe, path in (("livenessProbe", live), ("readinessProbe", ready)):
            assert main[probe]["httpGet"]["path"] == path
            assert main[probe]["httpGet"]["port"] in ports
            assert f'"{path}"' in source.read_text(), f"{path} is not served by {source.name}"


def test_gateway_scales_with_its_hpa_and_every_workload_has_a_budget(
    default: list[Manifest],
) -> None:
    gateway = one(default, "Deployment", "gateway")
    hpa = one(default, "HorizontalPodAutoscaler", "gateway")
    assert "replicas" not in gateway["spec"], "the HPA owns the replica count"
    assert hpa["spec"]["scaleTargetRef"]["name"] == gateway["metadata"]["name"]
    budgets = of_kind(default, "PodDisruptionBudget")
    for workload in workloads(default):
        if workload["kind"] == "Job":
            continue
        labels = workload["spec"]["template"]["metadata"]["labels"].items()
        assert any(b["spec"]["selector"]["matchLabels"].items() <= labels for b in budgets)


# --- settings: every variable the deploy files set is one the code reads ------------------


def known_settings() -> set[str]:
    names: set[str] = set()
    models = (
        KafkaSettings,
        WorkerSettings,
        GatewaySettings,
        DeliverySettings,
        PrivacySettings,
        ProducerSettings,
    )
    for model in models:
        names |= {leaf.variable for leaf in leaves(model)}
    return names


def test_every_nurture_variable_of_the_chart_is_a_setting(sasl: list[Manifest]) -> None:
    used = set(config_map(sasl))
    for workload in workloads(sasl):
        used |= set(env_of(workload))
    unknown = {name for name in used if name.startswith("NURTURE_")} - known_settings()
    assert not unknown


def test_every_nurture_variable_of_the_image_and_compose_file_is_a_setting() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    used = set(re.findall(r"\b(NURTURE_[A-Z0-9_]+)=", dockerfile))
    for service in load_compose()["services"].values():
        used |= {name for name in service.get("environment", {}) if name.startswith("NURTURE_")}
    assert used
    assert not used - known_settings()


# --- monitoring built from deploy/prometheus and deploy/grafana ---------------------------


def test_prometheus_rule_is_deploy_prometheus_rules(default: list[Manifest]) -> None:
    rule = one(default, "PrometheusRule", "monitoring")
    files = ("recording.yml", "alerts.yml")
    groups = [
        group
        for name in files
        for group in yaml.safe_load((DEPLOY / "prometheus/rules" / name).read_text())["groups"]
    ]
    assert rule["spec"]["groups"] == groups


def test_service_monitor_names_the_jobs_of_deploy_prometheus(default: list[Manifest]) -> None:
    monitor = one(default, "ServiceMonitor", "monitoring")
    scrape = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"] for job in scrape["scrape_configs"]}
    services = of_kind(default, "Service")
    ports = {endpoint["port"] for endpoint in monitor["spec"]["endpoints"]}
    scraped = set()
    for service in services:
        assert {p["name"] for p in service["spec"]["ports"]} & ports
        scraped.add(f"nurture-{service['metadata']['labels']['app.kubernetes.io/component']}")
    assert scraped == jobs
    for endpoint in monitor["spec"]["endpoints"]:
        relabel = endpoint["relabelings"][0]
        assert relabel["targetLabel"] == "job"
        assert relabel["replacement"] == "nurture-$1"
        assert relabel["sourceLabels"] == [
            "__meta_kubernetes_service_label_app_kubernetes_io_component"
        ]


def test_prometheus_operator_objects_follow_the_cluster_or_the_value(helm: Path) -> None:
    kinds = {"ServiceMonitor", "PrometheusRule"}
    without_api = {m["kind"] for m in render(helm, api_versions=())}
    assert not kinds & without_api
    forced = {
        m["kind"]
        for m in render(helm, set_values={"monitoring.prometheusOperator": True}, api_versions=())
    }
    assert kinds <= forced
    off = {m["kind"] for m in render(helm, set_values={"monitoring.prometheusOperator": False})}
    assert not kinds & off


def test_dashboards_keep_every_panel_with_datasource_and_job_variables(
    default: list[Manifest],
) -> None:
    sources = sorted((DEPLOY / "grafana/dashboards").glob("*.json"))
    maps = [
        m for m in of_kind(default, "ConfigMap") if "grafana_dashboard" in m["metadata"]["labels"]
    ]
    assert len(maps) == len(sources)
    for source, config in zip(
        sources, sorted(maps, key=lambda m: m["metadata"]["name"]), strict=True
    ):
        original = json.loads(source.read_text())
        dashboard = json.loads(config["data"][source.name])
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["job"]["allValue"] == VALUES["monitoring"]["grafanaDashboards"]["jobRegex"]
        assert [p["title"] for p in dashboard["panels"]] == [p["title"] for p in original["panels"]]
        for panel in dashboard["panels"]:
            assert panel["datasource"]["uid"] == "${datasource}"
            for target in panel.get("targets", []):
                assert target["datasource"]["uid"] == "${datasource}"
                assert "nurture-.*" not in target["expr"]
        text = config["data"][source.name]
        assert ('job=~\\"nurture-.*\\"' in source.read_text()) == ("$job" in text)


# --- the whole check, the Dockerfile and the compose file ----------------------------------


def test_every_rendered_manifest_validates_offline(
    default: list[Manifest], sasl: list[Manifest]
) -> None:
    crd_dir = go_module_dir(*PROMETHEUS_OPERATOR) / "example" / "prometheus-operator-crd"
    crds = load_crd_schemas(crd_dir)
    found = [p for m in default + sasl for p in manifest_problems(m, KUBERNETES_VERSIONS[0], crds)]
    assert not found
    broken = dict(one(default, "ServiceMonitor", "monitoring"))
    broken["spec"] = {**broken["spec"], "endpoint": []}  # misspelt: must not pass silently
    assert manifest_problems(broken, KUBERNETES_VERSIONS[0], crds)


def test_dockerfile_passes_hadolint_and_builds_a_slim_non_root_image() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    result = subprocess.run(
        [str(hadolint), str(ROOT / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = (ROOT / "Dockerfile").read_text()
    stages = re.split(r"^FROM ", text, flags=re.MULTILINE)[1:]
    assert len(stages) == 2
    runtime = stages[-1]
    assert "pip wheel" in stages[0]
    assert 'ENTRYPOINT ["nurture"]' in runtime
    assert re.search(r"^USER 10001", runtime, flags=re.MULTILINE)
    for build_tool in ("apt-get", "gcc", "build-essential", "COPY --from"):
        assert build_tool not in runtime
    assert "uninstall --yes pip setuptools wheel" in runtime
    rules = [
        line
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line and line[0] != "#"
    ]
    assert rules[0] == "*", "the build context is an allow-list"
    assert not any(rule.startswith("!.") for rule in rules), "no dot-folder (.venv, .git) let in"


def test_compose_runs_the_pipeline_from_the_one_image() -> None:
    compose = load_compose()
    assert not compose_problems(go_module_dir(*COMPOSE_SPEC))
    services = compose["services"]
    app = {name: s for name, s in services.items() if s.get("image", "").startswith("${NURTURE")}
    assert {"setup", "worker", "gateway", "webhook-sink"} <= set(app)
    assert len({s["image"] for s in app.values()}) == 1
    assert "build" in app["setup"]
    stores = set()
    for channel in CHANNELS:
        service = services[f"delivery-{channel.replace('_', '-')}"]
        assert service["command"][:3] == ["deliver", "--channel", channel]
        stores.add(service["volumes"][0].split(":")[0])
    assert len(stores) == len(CHANNELS)
    assert {"prometheus", "grafana", "kafka"} <= set(services)
    assert services["kafka"].get("profiles") is None, "the broker alone stays the default"
