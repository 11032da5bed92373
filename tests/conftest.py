"""Shared fixtures for tests that need the real broker and S3 server (integration, faults).

Servers are resolved once per session (tests/support/servers.py); each test gets its own topics,
consumer group and bucket. Unit tests use none of these fixtures and need no server.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from tests.support.notifying_s3 import client_for
from tests.support.servers import S3Endpoint, kafka_bootstrap, s3_endpoint
from tests.support.stack import Topics, fresh_topics


@pytest.fixture(scope="session")
def kafka() -> Iterator[str]:
    with kafka_bootstrap() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Endpoint]:
    with s3_endpoint() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def s3_client(s3: S3Endpoint) -> Any:
    return client_for(s3)


@pytest.fixture
def bucket(s3_client: Any) -> Iterator[str]:
    name = f"it-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    yield name
    for obj in s3_client.list_objects_v2(Bucket=name).get("Contents", []):
        s3_client.delete_object(Bucket=name, Key=obj["Key"])
    with contextlib.suppress(Exception):
        s3_client.delete_bucket(Bucket=name)


@pytest.fixture
async def topics(kafka: str) -> AsyncIterator[Topics]:
    async with fresh_topics(kafka) as names:
        yield names


@pytest.fixture
def run_timeout() -> float:
    """Upper bound for one scenario; the tests poll for results, they never sleep-and-hope."""
    return 90.0
