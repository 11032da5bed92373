"""Rendering the Helm chart (helm/vl2ingest) with the real, pinned helm (``make helm-test``)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import yaml
from tests.support.servers import unavailable

ROOT = Path(__file__).parents[2]
CHART = ROOT / "helm" / "vl2ingest"
SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))
KUBE_VERSION = "1.37.0"


def helm_binary() -> str:
    binary = os.environ.get("VL2INGEST_TEST_HELM") or str(
        ROOT / ".cache" / "tools" / "bin" / "helm"
    )
    if not Path(binary).is_file():
        unavailable(f"helm binary ({binary}; `make helm-test` builds it)")
    return binary


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603  # our pinned helm, fixed arguments
        [helm_binary(), *args], capture_output=True, text=True, timeout=120, check=False
    )


def template(*values: Path, sets: tuple[str, ...] = (), namespace: str = "ns") -> str:
    """The manifests ``helm template`` renders for these values, as text."""
    args = ["template", "rel", str(CHART), "--kube-version", KUBE_VERSION, "--namespace", namespace]
    for file in values:
        args += ["-f", str(file)]
    for item in sets:
        args += ["--set", item]
    result = helm(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def render(*values: Path, sets: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The rendered manifests, parsed."""
    return [doc for doc in yaml.safe_load_all(template(*values, sets=sets)) if doc]


def refused(*values: Path, sets: tuple[str, ...] = ()) -> str:
    args = ["template", "rel", str(CHART), "--kube-version", KUBE_VERSION]
    for file in values:
        args += ["-f", str(file)]
    for item in sets:
        args += ["--set", item]
    result = helm(*args)
    assert result.returncode != 0, "the chart accepted values it should refuse"
    return result.stderr


def scenario(name: str) -> Path:
    return CHART / "ci" / f"{name}-values.yaml"
