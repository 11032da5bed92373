"""A versitygw instance of our own that publishes its bucket notifications to a Kafka topic.

This is the real producer of S3 event notifications: versitygw writes one record per object
event to ``--event-kafka-topic`` (and a test event when it starts), in its own dialect. The
binary is the dev stack's (``VL2INGEST_TEST_VERSITYGW``, else ``.cache/devstack/bin``); the
instance binds 127.0.0.1 on a free port, keeps its data under the test's folder, and is
stopped by its PID when the test ends.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from tests.support.processes import free_port, stop
from tests.support.servers import DEVSTACK_BIN, S3Endpoint, environment, unavailable

_HEALTH = "/_health"


def versitygw_binary() -> Path:
    configured = environment().get("VL2INGEST_TEST_VERSITYGW")
    binary = Path(configured) if configured else DEVSTACK_BIN / "versitygw"
    if not binary.is_file():
        unavailable(f"versitygw binary (looked for {binary})")
    return binary


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + _HEALTH, timeout=2) as response:  # noqa: S310  # our http://127.0.0.1 server
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def notifying_versitygw(
    kafka: str, topic: str, workdir: Path, *, timeout_s: float = 60
) -> Iterator[S3Endpoint]:
    """A running versitygw whose object events go to ``topic`` on ``kafka``."""
    binary = versitygw_binary()
    data, sidecar = workdir / "s3-data", workdir / "s3-meta"
    data.mkdir(parents=True, exist_ok=True)
    sidecar.mkdir(parents=True, exist_ok=True)
    access, secret = secrets.token_hex(10).upper(), secrets.token_hex(20)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (workdir / "versitygw.log").open("ab")
    process = subprocess.Popen(  # noqa: S603  # the dev stack's binary, fixed arguments
        [
            str(binary),
            "--port",
            f"127.0.0.1:{port}",
            "--region",
            "us-east-1",
            "--health",
            _HEALTH,
            "--event-kafka-url",
            kafka,
            "--event-kafka-topic",
            topic,
            "posix",
            "--sidecar",
            str(sidecar),
            str(data),
        ],
        env={**os.environ, "ROOT_ACCESS_KEY_ID": access, "ROOT_SECRET_ACCESS_KEY": secret},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + timeout_s
        while not _healthy(url):
            if process.poll() is not None:
                raise AssertionError(
                    f"versitygw exited with {process.returncode}: "
                    f"{(workdir / 'versitygw.log').read_text()[-2000:]}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"versitygw not healthy on {url} after {timeout_s} s")
            time.sleep(0.2)
        yield S3Endpoint(url=url, access_key=access, secret_key=secret)
    finally:
        stop(process, timeout_s=15)
        log.close()


def client_for(endpoint: S3Endpoint) -> Any:
    """A boto3 client for ``endpoint`` (path-style, as versitygw serves buckets)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint.url,
        aws_access_key_id=endpoint.access_key,
        aws_secret_access_key=endpoint.secret_key,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )
