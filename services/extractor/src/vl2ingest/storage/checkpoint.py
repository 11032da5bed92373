"""Copy a model checkpoint from S3 to a local folder, resumable and checksummed.

``vl2ingest fetch-model s3://bucket/prefix/ DEST`` (the Helm chart's init container, for
``model.source.type: s3``): weights come from the operator's own bucket, never from a model hub.
The prefix must hold a ``SHA256SUMS`` manifest (``sha256sum`` output, one ``<hex>  <path>`` line
per file, paths relative to the prefix): every listed file is verified, and a file that is
already in DEST with the right digest is not fetched again. An interrupted download resumes from
its ``.part`` file with a ranged GET; a file whose digest is wrong fails the copy by name.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Final

import botocore.exceptions
import structlog
from botocore.response import StreamingBody

from vl2ingest.errors import ChecksumMismatch, ConfigError, ObjectNotFound, StorageUnavailable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MANIFEST: Final = "SHA256SUMS"
_CHUNK: Final = 8 * 2**20
log = structlog.get_logger("vl2ingest.storage.checkpoint")


@dataclass(frozen=True, slots=True)
class CopyReport:
    copied: int
    skipped: int
    resumed: int
    bytes_fetched: int


def parse_manifest(text: str) -> dict[str, str]:
    """``sha256sum`` lines -> {relative path: hex digest}; refuses paths that leave the folder."""
    digests: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        digest, _, name = line.partition(" ")
        name = name.strip().removeprefix("*")  # binary-mode marker of sha256sum
        path = PurePosixPath(name)
        if len(digest) != 64 or not name or path.is_absolute() or ".." in path.parts:
            raise ConfigError(f"{MANIFEST} line {number} is not '<sha256>  <relative path>'")
        digests[str(path)] = digest.lower()
    if not digests:
        raise ConfigError(f"{MANIFEST} lists no file")
    return digests


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _get(client: S3Client, bucket: str, key: str, *, start: int = 0) -> StreamingBody:
    try:
        if start:
            return client.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-")["Body"]
        return client.get_object(Bucket=bucket, Key=key)["Body"]
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in {"NoSuchKey", "404", "NoSuchBucket"}:
            raise ObjectNotFound(f"s3://{bucket}/{key} does not exist") from exc
        raise StorageUnavailable(f"S3 GET s3://{bucket}/{key} failed: {exc}") from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise StorageUnavailable(f"S3 GET s3://{bucket}/{key} failed: {exc}") from exc


def copy_checkpoint(client: S3Client, uri: str, dest: Path) -> CopyReport:
    """Copy every file of the manifest under ``uri`` (``s3://bucket/prefix``) into ``dest``."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket:
        raise ConfigError(f"the checkpoint location must be s3://bucket/prefix, got {uri!r}")
    prefix = prefix.rstrip("/") + "/" if prefix else ""
    body = _get(client, bucket, prefix + MANIFEST)
    digests = parse_manifest(body.read().decode())
    dest.mkdir(parents=True, exist_ok=True)
    copied = skipped = resumed = fetched = 0
    for name, digest in sorted(digests.items()):
        target = dest / name
        if target.exists() and _sha256(target) == digest:
            skipped += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + ".part")
        start = part.stat().st_size if part.exists() else 0
        resumed += bool(start)
        stream = _get(client, bucket, prefix + name, start=start)
        with part.open("ab") as file:
            while chunk := stream.read(_CHUNK):
                file.write(chunk)
                fetched += len(chunk)
        actual = _sha256(part)
        if actual != digest:
            part.unlink()  # a wrong prefix cannot be resumed into a right file
            raise ChecksumMismatch(
                f"{name}: sha256 {actual} where {MANIFEST} says {digest}; the partial copy was "
                "removed, so the next attempt fetches it anew"
            )
        os.replace(part, target)
        copied += 1
        log.info("checkpoint file copied", file=name, resumed_from=start)
    report = CopyReport(copied=copied, skipped=skipped, resumed=resumed, bytes_fetched=fetched)
    log.info(
        "checkpoint ready",
        uri=uri,
        dest=str(dest),
        files=len(digests),
        copied=copied,
        skipped=skipped,
        resumed=resumed,
        bytes_fetched=fetched,
    )
    return report
