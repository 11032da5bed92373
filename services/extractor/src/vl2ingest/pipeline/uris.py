"""Validation of object references: only ``s3://`` URIs into allowed buckets, no path tricks."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Final

from vl2ingest.errors import BucketNotAllowed, InvalidUri
from vl2ingest.pipeline.models import S3Location
from vl2ingest_events import ImageRef

_BUCKET_RE: Final = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f]")
_MAX_KEY_BYTES: Final = 1024


def parse_image_ref(ref: ImageRef, *, allowed_buckets: Collection[str]) -> S3Location:
    """Return the object location, or raise :class:`InvalidUri` / :class:`BucketNotAllowed`."""
    uri = ref.uri
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme != "s3":
        raise InvalidUri(f"only s3:// URIs are accepted, got scheme {scheme[:16]!r}")
    bucket, slash, key = rest.partition("/")
    if not _BUCKET_RE.match(bucket) or ".." in bucket:
        raise InvalidUri(f"invalid bucket name {bucket[:80]!r}")
    if not slash or not key:
        raise InvalidUri("the URI names no object key")
    if _CONTROL_RE.search(key) or len(key.encode()) > _MAX_KEY_BYTES:
        raise InvalidUri("the object key has control characters or is too long")
    if key.startswith("/") or any(part in {".", ".."} for part in key.split("/")):
        raise InvalidUri("the object key has '.' or '..' segments or a leading '/'")
    if bucket not in allowed_buckets:
        raise BucketNotAllowed(f"bucket {bucket!r} is not in the allow-list")
    return S3Location(bucket=bucket, key=key, version_id=ref.version_id, sha256=ref.sha256)
