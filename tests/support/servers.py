"""Where the real Kafka broker and S3 server are (DESIGN section 7).

Resolution order: an endpoint in the environment (``VL2INGEST_TEST_KAFKA``,
``VL2INGEST_TEST_S3`` with ``VL2INGEST_TEST_S3_ACCESS_KEY``/``..._SECRET_KEY``; the dev stack's
``.cache/devstack/env`` file counts as environment), then testcontainers when a Docker engine
answers a ping, else fail under ``CI=true`` and skip locally naming ``make dev-up``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

DEVSTACK = Path(__file__).parents[2] / ".cache" / "devstack"
DEVSTACK_ENV = DEVSTACK / "env"
DEVSTACK_BIN = DEVSTACK / "bin"
KAFKA_IMAGE = "apache/kafka:4.1.1"
S3_IMAGE = "versity/versitygw:v1.7.0"


@dataclass(frozen=True)
class S3Endpoint:
    url: str
    access_key: str
    secret_key: str


def environment() -> dict[str, str]:
    values: dict[str, str] = {}
    if DEVSTACK_ENV.exists():
        for line in DEVSTACK_ENV.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and name.startswith("VL2INGEST_TEST_"):
                values[name.strip()] = value.strip()
    values.update({k: v for k, v in os.environ.items() if k.startswith("VL2INGEST_TEST_")})
    return values


def _docker_answers() -> bool:
    try:
        # Imported by name: the repository's own docker/ folder must not shadow the SDK.
        docker = importlib.import_module("docker")
        client = docker.from_env(timeout=3)
        return bool(client.ping())
    except Exception:  # noqa: BLE001  # any failure means "no usable Docker engine"
        return False


def unavailable(what: str) -> NoReturn:
    message = (
        f"no {what} for the integration tests: set VL2INGEST_TEST_* or run `make dev-up` "
        "(or provide a Docker engine for testcontainers)"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@contextlib.contextmanager
def kafka_bootstrap() -> Iterator[str]:
    env = environment()
    if "VL2INGEST_TEST_KAFKA" in env:
        yield env["VL2INGEST_TEST_KAFKA"]
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer(KAFKA_IMAGE).with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    unavailable("Kafka broker")


@contextlib.contextmanager
def s3_endpoint() -> Iterator[S3Endpoint]:
    env = environment()
    if "VL2INGEST_TEST_S3" in env:
        yield S3Endpoint(
            url=env["VL2INGEST_TEST_S3"],
            access_key=env["VL2INGEST_TEST_S3_ACCESS_KEY"],
            secret_key=env["VL2INGEST_TEST_S3_SECRET_KEY"],
        )
        return
    if _docker_answers():
        from testcontainers.core.container import DockerContainer
        from testcontainers.core.waiting_utils import wait_for_logs

        access, secret = secrets.token_hex(8), secrets.token_hex(16)
        container = (
            DockerContainer(S3_IMAGE)
            .with_env("ROOT_ACCESS_KEY", access)
            .with_env("ROOT_SECRET_KEY", secret)
            .with_command("--port :7070 posix /tmp")
            .with_exposed_ports(7070)
        )
        with container:
            wait_for_logs(container, "versitygw", timeout=60)
            host = container.get_container_host_ip()
            port = container.get_exposed_port(7070)
            yield S3Endpoint(url=f"http://{host}:{port}", access_key=access, secret_key=secret)
        return
    unavailable("S3 server")
