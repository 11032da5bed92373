"""A real Kubernetes API server for the chart's tests: etcd and kube-apiserver on 127.0.0.1.

Both, and kubectl, are built at pinned versions by ``make kube-tools`` (scripts/kube/go.mod)
into ``.cache/kube/bin``. No scheduler, no controllers, no nodes: the API server's own OpenAPI
validation and the CRDs' schemas and CEL rules judge what the chart renders, through
``kubectl apply --dry-run=server`` (``helm template --validate`` and ``helm install
--dry-run=server`` do not send objects for validation). The CRDs come from the KEDA and
prometheus-operator Go modules at pinned versions (``go mod download``), never hand-written.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import free_port, stop
from tests.support.servers import environment, unavailable

ROOT = Path(__file__).parents[2]
KUBE_BIN = ROOT / ".cache" / "kube" / "bin"
CRD_MODULES = {
    # module@version: folder of CRDs inside it
    "github.com/kedacore/keda/v2@v2.21.0": "config/crd/bases",
    "github.com/prometheus-operator/prometheus-operator@v0.85.0": "example/prometheus-operator-crd",
}


def kube_bin() -> Path:
    configured = environment().get("VL2INGEST_TEST_KUBE_BIN")
    folder = Path(configured) if configured else KUBE_BIN
    for name in ("etcd", "kube-apiserver", "kubectl"):
        if not (folder / name).is_file():
            unavailable(f"{folder / name} (`make kube-tools` builds it)")
    return folder


def crd_files() -> list[Path]:
    """The CRD manifests of the pinned modules, fetched through the Go module proxy."""
    files: list[Path] = []
    for module, folder in CRD_MODULES.items():
        result = subprocess.run(  # noqa: S603  # go, fixed arguments
            ["go", "mod", "download", "-json", module],  # noqa: S607  # the Go toolchain on PATH
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
            cwd=ROOT / "scripts" / "kube",
        )
        files += sorted((Path(json.loads(result.stdout)["Dir"]) / folder).glob("*.yaml"))
    return files


@dataclass(frozen=True)
class ApiServer:
    url: str
    token: str
    kubectl_path: Path

    def kubectl(
        self, *args: str, stdin: str | None = None, timeout_s: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603  # our pinned kubectl, our arguments
            [
                str(self.kubectl_path),
                f"--server={self.url}",
                f"--token={self.token}",
                "--insecure-skip-tls-verify",
                *args,
            ],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )


def _wait_ready(server: ApiServer, processes: list[subprocess.Popen[bytes]], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise AssertionError(f"a kube process exited: {log.read_text()[-3000:]}")
        if server.kubectl("get", "--raw=/readyz", timeout_s=10).returncode == 0:
            return
        time.sleep(0.5)
    raise AssertionError(f"kube-apiserver not ready after 90 s: {log.read_text()[-3000:]}")


@contextlib.contextmanager
def api_server(workdir: Path) -> Iterator[ApiServer]:
    """etcd and kube-apiserver on free loopback ports, stopped by their PIDs on exit."""
    binaries = kube_bin()
    workdir.mkdir(parents=True, exist_ok=True)
    key, public = workdir / "sa.key", workdir / "sa.pub"
    subprocess.run(  # noqa: S603
        ["openssl", "genrsa", "-out", str(key), "2048"],  # noqa: S607  # the system openssl
        check=True,
        capture_output=True,
    )
    subprocess.run(  # noqa: S603
        ["openssl", "rsa", "-in", str(key), "-pubout", "-out", str(public)],  # noqa: S607
        check=True,
        capture_output=True,
    )
    token = secrets.token_hex(16)
    (workdir / "tokens.csv").write_text(f"{token},admin,admin,system:masters\n")
    etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
    log_path = workdir / "kube.log"
    log = log_path.open("ab")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        processes.append(
            subprocess.Popen(  # noqa: S603  # our pinned etcd
                [
                    str(binaries / "etcd"),
                    f"--data-dir={workdir / 'etcd'}",
                    f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
                    f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
                    f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                    f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                    f"--initial-cluster=default=http://127.0.0.1:{peer_port}",
                    "--log-level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        processes.append(
            subprocess.Popen(  # noqa: S603  # our pinned kube-apiserver
                [
                    str(binaries / "kube-apiserver"),
                    f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                    "--bind-address=127.0.0.1",
                    "--advertise-address=127.0.0.1",
                    f"--secure-port={api_port}",
                    f"--cert-dir={workdir / 'certs'}",
                    f"--token-auth-file={workdir / 'tokens.csv'}",
                    "--authorization-mode=AlwaysAllow",
                    f"--service-account-key-file={public}",
                    f"--service-account-signing-key-file={key}",
                    "--service-account-issuer=https://kubernetes.default.svc",
                    # On loopback: no endpoint reconciliation for the kubernetes Service.
                    "--endpoint-reconciler-type=none",
                    "--v=0",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        server = ApiServer(
            url=f"https://127.0.0.1:{api_port}", token=token, kubectl_path=binaries / "kubectl"
        )
        _wait_ready(server, processes, log_path)
        yield server
    finally:
        for process in reversed(processes):
            stop(process)
        log.close()
