"""The Helm chart (helm/vl2ingest), rendered by the real helm for every scenario under ci/.

What is checked here: lint, the important branches (pools, MIG, static membership, secrets by
reference, grace period, replicas capped at partitions), the values schema and validateValues
messages, and that the chart cannot drift from the service (every VL2INGEST_* it sets is a real
setting, the probe port is the health port, and the CPU scenario's rendered environment runs the
real service against the dev stack). A real kube-apiserver judges the same manifests in
test_apiserver.py.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.support.chart import (
    CHART,
    KUBE_VERSION,
    ROOT,
    SCENARIOS,
    helm,
    refused,
    render,
    scenario,
)
from tests.support.servers import S3Endpoint
from tests.support.stack import Topics, produce, render_text_png, results, running

from vl2ingest.settings import Settings, setting_variables
from vl2ingest_events import ExtractionCompleted, ExtractionRequested, ImageRef, encode


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def container(workload: dict[str, Any]) -> dict[str, Any]:
    (extractor,) = workload["spec"]["template"]["spec"]["containers"]
    assert isinstance(extractor, dict)
    return extractor


def settings_of(docs: list[dict[str, Any]]) -> dict[str, str]:
    (config,) = of_kind(docs, "ConfigMap")
    data: dict[str, str] = config["data"]
    return data


def workloads(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] in {"Deployment", "StatefulSet"}]


@pytest.mark.parametrize("values", SCENARIOS, ids=lambda p: p.name.removesuffix("-values.yaml"))
def test_every_scenario_lints_strictly(values: Path) -> None:
    """`helm lint --strict` accepts each scenario."""
    result = helm("lint", "--strict", str(CHART), "-f", str(values), "--kube-version", KUBE_VERSION)
    assert result.returncode == 0, result.stdout + result.stderr


def test_chart_versions_follow_the_package() -> None:
    """Chart version and appVersion are the service's package version."""
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    project = tomllib.loads((ROOT / "services" / "extractor" / "pyproject.toml").read_text())
    assert chart["appVersion"] == chart["version"] == project["project"]["version"]
    assert chart["apiVersion"] == "v2"
    assert chart["kubeVersion"]


def test_each_pool_gets_its_own_workload_scaler_and_budget() -> None:
    """Two pools: two Deployments, ScaledObjects, PDBs and Services, one consumer group."""
    docs = render(scenario("two-pools-mig"))
    names = {d["metadata"]["name"] for d in workloads(docs)}
    assert names == {"rel-vl2ingest-ondemand", "rel-vl2ingest-spot"}
    scalers = {d["metadata"]["name"]: d for d in of_kind(docs, "ScaledObject")}
    assert set(scalers) == names
    assert {d["metadata"]["name"] for d in of_kind(docs, "PodDisruptionBudget")} == names
    groups = {s["spec"]["triggers"][0]["metadata"]["consumerGroup"] for s in scalers.values()}
    assert groups == {"vl2ingest-extractor"}
    spot = scalers["rel-vl2ingest-spot"]["spec"]
    assert spot["minReplicaCount"] == 0
    assert spot["triggers"][0]["metadata"]["lagThreshold"] == "1000"


def test_mig_profiles_and_gpu_products_are_requested_as_given() -> None:
    """The spot pool asks for a MIG slice on H200 nodes, the on-demand pool for a whole L4."""
    docs = render(scenario("two-pools-mig"))
    by_name = {d["metadata"]["name"]: d for d in workloads(docs)}
    spot = by_name["rel-vl2ingest-spot"]["spec"]["template"]["spec"]
    assert (
        container(by_name["rel-vl2ingest-spot"])["resources"]["limits"]["nvidia.com/mig-3g.71gb"]
        == 1
    )
    assert spot["nodeSelector"]["nvidia.com/gpu.product"] == "NVIDIA-H200"
    assert spot["nodeSelector"]["node.kubernetes.io/lifecycle"] == "spot"
    assert spot["runtimeClassName"] == "nvidia"
    assert spot["priorityClassName"] == "vl2ingest-burst"
    ondemand = container(by_name["rel-vl2ingest-ondemand"])["resources"]["limits"]
    assert ondemand["nvidia.com/gpu"] == 1
    assert "nvidia.com/mig-3g.71gb" not in ondemand


def test_static_membership_runs_a_statefulset_named_per_pod() -> None:
    """With staticMembership, a StatefulSet whose pods take their name as group instance id."""
    docs = render(scenario("static-membership"))
    (workload,) = workloads(docs)
    assert workload["kind"] == "StatefulSet"
    assert workload["spec"]["serviceName"] == workload["metadata"]["name"]
    env = {e["name"]: e for e in container(workload)["env"]}
    instance = env["VL2INGEST_KAFKA__GROUP_INSTANCE_ID"]["valueFrom"]["fieldRef"]
    assert instance == {"fieldPath": "metadata.name"}
    (scaler,) = of_kind(docs, "ScaledObject")
    assert scaler["spec"]["scaleTargetRef"]["kind"] == "StatefulSet"
    assert settings_of(docs)["VL2INGEST_DELIVERY"] == "exactly_once"


def test_secrets_come_only_by_reference() -> None:
    """SASL_SSL: credentials and CA come from the named Secrets; no Secret object is rendered,
    KEDA authenticates through a TriggerAuthentication to the same Secrets."""
    docs = render(scenario("sasl-ssl"))
    assert of_kind(docs, "Secret") == []
    (workload,) = workloads(docs)
    env = {
        e["name"]: e.get("valueFrom", {}).get("secretKeyRef") for e in container(workload)["env"]
    }
    assert env["VL2INGEST_KAFKA__SASL_PASSWORD"] == {
        "name": "vl2ingest-kafka-user",
        "key": "password",
    }
    assert env["VL2INGEST_S3__SECRET_ACCESS_KEY"] == {
        "name": "vl2ingest-s3",
        "key": "secret-access-key",
    }
    volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]}
    assert volumes["kafka-tls"]["secret"]["secretName"] == "kafka-cluster-ca"
    settings = settings_of(docs)
    assert settings["VL2INGEST_KAFKA__SSL_CAFILE"] == "/etc/vl2ingest/kafka-tls/ca.crt"
    assert settings["VL2INGEST_KAFKA__SASL_MECHANISM"] == "SCRAM-SHA-512"
    (auth,) = of_kind(docs, "TriggerAuthentication")
    assert {r["parameter"] for r in auth["spec"]["secretTargetRef"]} == {
        "username",
        "password",
        "ca",
    }
    (scaler,) = of_kind(docs, "ScaledObject")
    trigger = scaler["spec"]["triggers"][0]
    assert (trigger["metadata"]["sasl"], trigger["metadata"]["tls"]) == ("scram_sha512", "enable")


@pytest.mark.parametrize("values", SCENARIOS, ids=lambda p: p.name.removesuffix("-values.yaml"))
def test_grace_period_covers_the_drain_and_pods_are_locked_down(values: Path) -> None:
    """terminationGracePeriodSeconds > the drain timeout; non-root, read-only root, no
    capabilities, seccomp RuntimeDefault; settings change rolls the pods (checksum)."""
    docs = render(values)
    drain = float(settings_of(docs)["VL2INGEST_PIPELINE__DRAIN_TIMEOUT_S"])
    for workload in workloads(docs):
        pod = workload["spec"]["template"]["spec"]
        assert pod["terminationGracePeriodSeconds"] > drain
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        context = container(workload)["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["capabilities"]["drop"] == ["ALL"]
        assert context["allowPrivilegeEscalation"] is False
        assert "checksum/config" in workload["spec"]["template"]["metadata"]["annotations"]


def test_replicas_are_capped_at_the_partitions_and_oversubscription_is_refused() -> None:
    """KEDA never asks for more replicas than partitions; pools whose maxReplicas add up to
    more than the partitions are refused, naming the fix."""
    docs = render(scenario("gpu-keda"), sets=("kafka.requestsPartitions=8",))
    (scaler,) = of_kind(docs, "ScaledObject")
    assert scaler["spec"]["maxReplicaCount"] == 8
    assert scaler["spec"]["triggers"][0]["metadata"]["allowIdleConsumers"] == "false"
    message = refused(scenario("two-pools-mig"), sets=("kafka.requestsPartitions=12",))
    assert "maxReplicas add up to 24, above the 12 partitions" in message
    assert "lower the pools' maxReplicas or add partitions" in message


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (("pools[0].variant=base",), "all pools of a release share one model variant"),
        (("kafka.securityProtocol=SASL_SSL",), "kafka.saslMechanism is empty"),
        (("kafka.bootstrapServers=",), "kafka.bootstrapServers is empty"),
        (("model.source.type=hostPath",), "model.source.hostPath.path is empty"),
    ],
)
def test_validate_values_names_the_fix(sets: tuple[str, ...], message: str) -> None:
    """Values the schema cannot catch are refused with a message that says what to change."""
    assert message in refused(scenario("gpu-keda"), sets=sets)


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (("kafka.bogus=1",), "additional properties 'bogus' not allowed"),
        (("kafka.requestsPartitions=many",), "requestsPartitions"),
        (("engine=vllm",), "engine"),
        (("pools[0].gpu.resource=gpu",), "resource"),
    ],
)
def test_the_schema_rejects_wrong_types_and_unknown_keys(
    sets: tuple[str, ...], message: str
) -> None:
    """values.schema.json refuses unknown keys, wrong types and values outside their enums."""
    assert message in refused(scenario("gpu-keda"), sets=sets)


@pytest.mark.parametrize("values", SCENARIOS, ids=lambda p: p.name.removesuffix("-values.yaml"))
def test_the_chart_sets_only_real_settings_and_the_probe_port_is_the_health_port(
    values: Path,
) -> None:
    """Every VL2INGEST_* the chart sets (ConfigMap and env) is a setting of the service, the
    rendered settings parse as the service parses them, and probes hit the health port."""
    docs = render(values)
    known = set(setting_variables())
    settings = dict(settings_of(docs))
    names = set(settings)
    for workload in workloads(docs):
        env = container(workload)["env"]
        from_pod = {e["name"] for e in env if e["name"].startswith("VL2INGEST_")}
        names |= from_pod
        # What the Secrets and the pod's own name fill in there.
        settings.update(dict.fromkeys(from_pod, "filled-in-by-the-pod"))
        ports = {p["name"]: p["containerPort"] for p in container(workload)["ports"]}
        assert ports["http"] == int(settings["VL2INGEST_HEALTH__PORT"])
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container(workload)[probe]["httpGet"]["port"] == "http"
    assert names - known == set()
    Settings.from_env(settings)  # the service accepts the rendered settings as they are


@pytest.mark.integration
async def test_the_cpu_scenarios_environment_runs_the_real_service(
    kafka: str, s3: S3Endpoint, s3_client: Any, bucket: str, topics: Topics, run_timeout: float
) -> None:
    """The CPU scenario's rendered settings, pointed at the dev stack (endpoints, topics,
    bucket and the S3 keys its Secret would hold), start the real service, which answers."""
    docs = render(scenario("cpu"))
    env = dict(settings_of(docs))
    env.update(
        {
            "VL2INGEST_KAFKA__BOOTSTRAP_SERVERS": kafka,
            "VL2INGEST_KAFKA__REQUESTS_TOPIC": topics.requests,
            "VL2INGEST_KAFKA__RESULTS_TOPIC": topics.results,
            "VL2INGEST_KAFKA__DLQ_TOPIC": topics.dlq,
            "VL2INGEST_KAFKA__GROUP_ID": topics.group,
            "VL2INGEST_S3__ENDPOINT_URL": s3.url,
            "VL2INGEST_S3__ALLOWED_BUCKETS": bucket,
            "VL2INGEST_S3__ACCESS_KEY_ID": s3.access_key,
            "VL2INGEST_S3__SECRET_ACCESS_KEY": s3.secret_key,
            "VL2INGEST_HEALTH__HOST": "127.0.0.1",  # the pod's 0.0.0.0, on this machine
            "VL2INGEST_HEALTH__PORT": "0",
        }
    )
    (workload,) = workloads(docs)
    secret_names = {e["name"] for e in container(workload)["env"] if "valueFrom" in e}
    assert secret_names <= set(env)  # every variable the pod gets from Secrets is filled here
    s3_client.put_object(Bucket=bucket, Key="scan.png", Body=render_text_png(["HELM 42"]))
    request = ExtractionRequested(
        request_id="helm-1", images=(ImageRef(uri=f"s3://{bucket}/scan.png"),)
    )
    await produce(kafka, topics.requests, [(b"helm-1", encode(request))])
    async with running(Settings.from_env(env)) as service:
        (event,) = await results(kafka, topics.results, 1, timeout_s=run_timeout)
        assert service.health_port is not None
    assert isinstance(event, ExtractionCompleted), event
    assert "HELM" in event.text


def test_alerts_and_network_policy_when_enabled() -> None:
    """The PrometheusRule carries the five alerts; the NetworkPolicy lets out only DNS, Kafka,
    S3 and OTLP, and lets in only the probe/metrics port."""
    docs = render(scenario("gpu-keda"))
    (rule,) = of_kind(docs, "PrometheusRule")
    alerts = {r["alert"] for group in rule["spec"]["groups"] for r in group["rules"]}
    assert alerts == {
        "Vl2ingestLagGrowing",
        "Vl2ingestDeadLetters",
        "Vl2ingestEngineSaturated",
        "Vl2ingestPodsNotReady",
        "Vl2ingestCrashLooping",
    }
    (policy,) = of_kind(docs, "NetworkPolicy")
    egress_ports = {
        (p["port"], p["protocol"]) for rule in policy["spec"]["egress"] for p in rule["ports"]
    }
    assert egress_ports == {(53, "UDP"), (53, "TCP"), (9092, "TCP"), (443, "TCP"), (4318, "TCP")}
    ((ingress,),) = [policy["spec"]["ingress"]]
    assert ingress["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert of_kind(render(scenario("cpu")), "NetworkPolicy") == []


def test_s3_weights_are_copied_by_an_init_container_into_the_node_cache() -> None:
    """model.source s3: `vl2ingest fetch-model` runs first, writing the node-local volume that
    the extractor then mounts read-only; a uri that is not s3:// is refused by name."""
    docs = render(scenario("s3-weights"))
    (workload,) = workloads(docs)
    pod = workload["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    assert init["args"] == ["fetch-model", "s3://models/deepseek-vl2-small/", "/models"]
    assert {m["name"]: m.get("readOnly", False) for m in init["volumeMounts"]}["model"] is False
    mounts = {m["name"]: m for m in container(workload)["volumeMounts"]}
    assert mounts["model"]["readOnly"] is True
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["model"]["hostPath"] == {
        "path": "/var/lib/vl2ingest/models/deepseek-vl2-small",
        "type": "DirectoryOrCreate",
    }
    env = {e["name"] for e in init["env"]}
    assert {"VL2INGEST_S3__ACCESS_KEY_ID", "VL2INGEST_S3__SECRET_ACCESS_KEY"} <= env
    message = refused(scenario("s3-weights"), sets=("model.source.s3.uri=models/x",))
    assert "model.source.s3.uri must be s3://bucket/prefix" in message
