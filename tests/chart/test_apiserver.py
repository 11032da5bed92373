"""Every scenario's manifests, judged by a real kube-apiserver with the real KEDA and
prometheus-operator CRDs (server-side dry run: the API server's OpenAPI schemas, the CRDs'
structural schemas and CEL rules)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.chart import SCENARIOS, template
from tests.support.kube import ApiServer, api_server, crd_files

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    with api_server(tmp_path_factory.mktemp("kube")) as server:
        for crd in crd_files():
            # Server-side: some CRDs are too large for the last-applied annotation.
            applied = server.kubectl("apply", "--server-side", "-f", str(crd))
            assert applied.returncode == 0, applied.stderr
        established = server.kubectl(
            "wait", "--for=condition=established", "--timeout=60s", "crd", "--all"
        )
        assert established.returncode == 0, established.stderr
        yield server


@pytest.mark.parametrize("values", SCENARIOS, ids=lambda p: p.name.removesuffix("-values.yaml"))
def test_the_api_server_accepts_every_manifest(values: Path, cluster: ApiServer) -> None:
    """Server-side dry run of the whole rendered release, object by object, in its namespace."""
    namespace = "vl2-" + values.name.removesuffix("-values.yaml")
    assert cluster.kubectl("create", "namespace", namespace).returncode == 0
    manifests = template(values, namespace=namespace)
    result = cluster.kubectl(
        "apply", "--dry-run=server", "-n", namespace, "-f", "-", stdin=manifests
    )
    assert result.returncode == 0, result.stderr
    kinds = {
        line.split("/")[0] for line in result.stdout.splitlines() if "(server dry run)" in line
    }
    assert {"deployment.apps", "statefulset.apps"} & kinds, result.stdout
    if "hpa" not in values.name:
        assert "scaledobject.keda.sh" in kinds, result.stdout


def test_the_api_server_really_judges(cluster: ApiServer) -> None:
    """The control: a ScaledObject without triggers and a Deployment with -1 replicas are
    refused by the same dry run, so acceptance above means something."""
    bad = """
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: no-triggers, namespace: default}
spec:
  scaleTargetRef: {name: x}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad-replicas, namespace: default}
spec:
  replicas: -1
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec: {containers: [{name: c, image: i}]}
"""
    result = cluster.kubectl("apply", "--dry-run=server", "-f", "-", stdin=bad)
    assert result.returncode != 0
    assert "no-triggers" in result.stderr
    assert "bad-replicas" in result.stderr
