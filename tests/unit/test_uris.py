"""Object references: only s3:// into allowed buckets, no path tricks."""

from __future__ import annotations

import pytest

from vl2ingest.errors import BucketNotAllowed, InvalidUri
from vl2ingest.pipeline.uris import parse_image_ref
from vl2ingest_events import ImageRef

ALLOWED = {"inbox"}


def test_valid_reference_parses_with_version_and_checksum() -> None:
    """A good URI yields bucket, key (with slashes), version and checksum."""
    loc = parse_image_ref(
        ImageRef(uri="s3://inbox/a/b c.png", version_id="v", sha256="0" * 64),
        allowed_buckets=ALLOWED,
    )
    assert (loc.bucket, loc.key, loc.version_id, loc.sha256) == (
        "inbox",
        "a/b c.png",
        "v",
        "0" * 64,
    )


@pytest.mark.parametrize(
    "uri",
    [
        "s3://inbox",
        "s3://inbox/",
        "s3://inbox/../x",
        "s3://inbox//x",
        "s3://inbox/a/\x00",
        "s3://IN_BOX/x",
        "s3://inbox/./x",
        "s3:///x",
    ],
)
def test_malformed_references_are_invalid_uri(uri: str) -> None:
    """Missing keys, dot segments, control characters and bad bucket names are invalid_uri."""
    with pytest.raises(InvalidUri):
        parse_image_ref(ImageRef(uri=uri), allowed_buckets=ALLOWED)


def test_bucket_outside_allow_list_is_refused() -> None:
    """A well-formed URI into another bucket is bucket_not_allowed."""
    with pytest.raises(BucketNotAllowed):
        parse_image_ref(ImageRef(uri="s3://other/x.png"), allowed_buckets=ALLOWED)
