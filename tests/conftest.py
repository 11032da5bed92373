"""Integration fixtures: real broker and S3 server per session; unique topics and buckets."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import boto3
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from botocore.config import Config
from tests.support.servers import S3Endpoint, kafka_bootstrap, s3_endpoint
from tests.support.stack import Topics

pytestmark = pytest.mark.integration


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
    return boto3.client(
        "s3",
        endpoint_url=s3.url,
        aws_access_key_id=s3.access_key,
        aws_secret_access_key=s3.secret_key,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )


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
    suffix = uuid.uuid4().hex[:10]
    names = Topics(
        requests=f"it.{suffix}.requests",
        results=f"it.{suffix}.results",
        dlq=f"it.{suffix}.dlq",
        group=f"it-{suffix}",
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, num_partitions=3, replication_factor=1) for name in names.all()]
        )
        yield names
        await admin.delete_topics(list(names.all()))
    finally:
        await admin.close()


@pytest.fixture
def run_timeout() -> float:
    """Upper bound for one scenario; the tests poll for results, they never sleep-and-hope."""
    return 90.0
