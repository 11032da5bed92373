"""S3 GETs with boto3 in a bounded thread pool, behind the pipeline's ``ObjectStore`` port.

boto3 is synchronous; each GET runs in a dedicated executor sized to the fetch concurrency, so
the event loop never blocks and at most ``fetch_concurrency`` downloads run at once. The size
limit is enforced from ``Content-Length`` before the body is read, and again while reading.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import boto3
import botocore.exceptions
from botocore.config import Config

from vl2ingest.errors import (
    AccessDenied,
    ChecksumMismatch,
    ConfigError,
    InvalidRequest,
    ObjectNotFound,
    ObjectTooLarge,
    StorageUnavailable,
    VL2IngestError,
)
from vl2ingest.lifecycle import AsyncResource
from vl2ingest.pipeline.budget import Budget
from vl2ingest.pipeline.models import FetchedObject, S3Location
from vl2ingest.settings import S3Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_NOT_FOUND = frozenset({"NoSuchKey", "NoSuchBucket", "NoSuchVersion", "404", "NotFound"})
_DENIED = frozenset(
    {
        "AccessDenied",
        "403",
        "Forbidden",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AllAccessDisabled",
    }
)


def make_client(settings: S3Settings) -> S3Client:
    """A boto3 S3 client configured from settings (timeouts, retries, addressing, credentials)."""
    config = Config(
        region_name=settings.region,
        connect_timeout=settings.connect_timeout_s,
        read_timeout=settings.read_timeout_s,
        retries={"mode": "standard", "total_max_attempts": settings.max_attempts},
        s3={"addressing_style": settings.addressing_style},
        max_pool_connections=settings.fetch_concurrency,
    )
    credentials: dict[str, Any] = {}
    if settings.access_key_id and settings.secret_access_key:
        credentials = {
            "aws_access_key_id": settings.access_key_id,
            "aws_secret_access_key": settings.secret_access_key.reveal(),
        }
    session = boto3.session.Session()
    return session.client("s3", endpoint_url=settings.endpoint_url, config=config, **credentials)


class S3ObjectStore(AsyncResource):
    def __init__(self, settings: S3Settings, *, budget: Budget | None = None) -> None:
        self._settings = settings
        self._budget = budget
        self._client: S3Client | None = None
        self._executor: ThreadPoolExecutor | None = None

    async def start(self) -> None:
        if self._client is not None:
            raise RuntimeError("S3ObjectStore already started")
        self._client = make_client(self._settings)
        self._executor = ThreadPoolExecutor(
            max_workers=self._settings.fetch_concurrency, thread_name_prefix="s3-get"
        )

    async def stop(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        if self._client is not None:
            self._client.close()
            self._client = None

    async def get(self, location: S3Location) -> FetchedObject:
        if self._client is None or self._executor is None:
            raise RuntimeError("S3ObjectStore is not started")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, self._get_sync, self._client, location, loop
        )

    def _reserve(self, size: int, loop: asyncio.AbstractEventLoop) -> int:
        """Block this worker thread until the budget admits ``size`` bytes (0: no budget)."""
        if self._budget is None or size <= 0:
            return 0
        asyncio.run_coroutine_threadsafe(self._budget.acquire(size), loop).result()
        return size

    def _unreserve(self, size: int, loop: asyncio.AbstractEventLoop) -> None:
        if self._budget is not None and size:
            asyncio.run_coroutine_threadsafe(self._budget.release(size), loop).result()

    def _get_sync(
        self, client: S3Client, location: S3Location, loop: asyncio.AbstractEventLoop
    ) -> FetchedObject:
        started = time.monotonic()
        limit = self._settings.max_object_bytes
        kwargs: dict[str, Any] = {"Bucket": location.bucket, "Key": location.key}
        if location.version_id:
            kwargs["VersionId"] = location.version_id
        reserved = 0
        try:
            try:
                response = client.get_object(**kwargs)
                length = int(response.get("ContentLength", 0))
                body = response["Body"]
                try:
                    if length > limit:
                        raise ObjectTooLarge(
                            f"{location.uri} is {length} bytes; the limit is {limit}"
                        )
                    reserved = self._reserve(length, loop)  # before the body is read
                    data = body.read(limit + 1)
                finally:
                    body.close()
            except VL2IngestError:
                raise
            except botocore.exceptions.ClientError as exc:
                raise _translate_client_error(exc, location) from exc
            except botocore.exceptions.NoCredentialsError as exc:
                raise ConfigError(f"no S3 credentials available: {exc}") from exc
            except (botocore.exceptions.BotoCoreError, ConnectionError, TimeoutError) as exc:
                raise StorageUnavailable(f"S3 GET {location.uri} failed: {exc}") from exc
            _verify(data, location, limit)
        except BaseException:
            self._unreserve(reserved, loop)
            raise
        return FetchedObject(
            location=location,
            data=data,
            fetch_ms=(time.monotonic() - started) * 1000,
            reserved=reserved,
        )


def _verify(data: bytes, location: S3Location, limit: int) -> None:
    if len(data) > limit:
        raise ObjectTooLarge(f"{location.uri} exceeds the {limit}-byte limit")
    if location.sha256 and hashlib.sha256(data).hexdigest() != location.sha256:
        raise ChecksumMismatch(f"{location.uri}: SHA-256 does not match the request")


def _translate_client_error(
    exc: botocore.exceptions.ClientError, location: S3Location
) -> VL2IngestError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    if code in _NOT_FOUND or status == 404:
        return ObjectNotFound(f"{location.uri} does not exist ({code or status})")
    if code in _DENIED or status == 403:
        return AccessDenied(f"access to {location.uri} denied ({code or status})")
    if status == 400:
        return InvalidRequest(f"S3 rejected the GET of {location.uri} ({code})")
    return StorageUnavailable(f"S3 GET {location.uri} failed ({code or status})")
