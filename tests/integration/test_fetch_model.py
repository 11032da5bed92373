"""`vl2ingest fetch-model`: a checkpoint copied from the real S3 server, checked against its
SHA256SUMS, resumed after an interruption, and refused when a file is corrupt."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.support.servers import S3Endpoint

pytestmark = pytest.mark.integration

FILES = {
    "config.json": b'{"model_type": "deepseek_vl_v2"}',
    "model-00001-of-00002.safetensors": os.urandom(3 * 2**20 + 17),
    "model-00002-of-00002.safetensors": os.urandom(2**20),
    "tokenizer/tokenizer.json": b'{"version": "1.0"}',
}


def upload(s3_client: Any, bucket: str, files: dict[str, bytes], prefix: str = "vl2-tiny/") -> str:
    manifest = "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n" for n, d in files.items())
    for name, data in files.items():
        s3_client.put_object(Bucket=bucket, Key=prefix + name, Body=data)
    s3_client.put_object(Bucket=bucket, Key=prefix + "SHA256SUMS", Body=manifest.encode())
    return f"s3://{bucket}/{prefix}"


def fetch(s3: S3Endpoint, uri: str, dest: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "VL2INGEST_S3__ENDPOINT_URL": s3.url,
        "VL2INGEST_S3__ACCESS_KEY_ID": s3.access_key,
        "VL2INGEST_S3__SECRET_ACCESS_KEY": s3.secret_key,
        "VL2INGEST_S3__ADDRESSING_STYLE": "path",
        "VL2INGEST_S3__ALLOWED_BUCKETS": uri.removeprefix("s3://").split("/")[0],
    }
    return subprocess.run(  # noqa: S603  # our own CLI
        [sys.executable, "-m", "vl2ingest.cli", "fetch-model", uri, str(dest)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_checkpoint_is_copied_verified_and_not_fetched_twice(
    s3: S3Endpoint, s3_client: Any, bucket: str, tmp_path: Path
) -> None:
    """Every listed file arrives with its digest; a second run fetches nothing."""
    uri = upload(s3_client, bucket, FILES)
    first = fetch(s3, uri, tmp_path / "model")
    assert first.returncode == 0, first.stderr
    for name, data in FILES.items():
        assert (tmp_path / "model" / name).read_bytes() == data
    assert '"copied": 4' in first.stdout
    again = fetch(s3, uri, tmp_path / "model")
    assert again.returncode == 0, again.stderr
    assert '"skipped": 4' in again.stdout
    assert '"bytes_fetched": 0' in again.stdout


def test_an_interrupted_copy_resumes_from_its_part_file(
    s3: S3Endpoint, s3_client: Any, bucket: str, tmp_path: Path
) -> None:
    """With the first half of a shard already in its .part file, only the rest is fetched."""
    uri = upload(s3_client, bucket, FILES)
    name = "model-00001-of-00002.safetensors"
    dest = tmp_path / "model"
    dest.mkdir()
    half = len(FILES[name]) // 2
    (dest / f"{name}.part").write_bytes(FILES[name][:half])
    result = fetch(s3, uri, dest)
    assert result.returncode == 0, result.stderr
    assert (dest / name).read_bytes() == FILES[name]
    assert not (dest / f"{name}.part").exists()
    assert '"resumed": 1' in result.stdout
    fetched = sum(len(d) for d in FILES.values()) - half
    assert f'"bytes_fetched": {fetched}' in result.stdout


def test_a_corrupt_file_fails_by_name_and_is_not_kept(
    s3: S3Endpoint, s3_client: Any, bucket: str, tmp_path: Path
) -> None:
    """A file whose bytes do not match SHA256SUMS stops the copy with exit 1, naming it."""
    uri = upload(s3_client, bucket, FILES)
    s3_client.put_object(Bucket=bucket, Key="vl2-tiny/config.json", Body=b"tampered")
    result = fetch(s3, uri, tmp_path / "model")
    assert result.returncode == 1
    assert "config.json: sha256" in result.stdout + result.stderr
    assert not (tmp_path / "model" / "config.json").exists()
    assert not (tmp_path / "model" / "config.json.part").exists()


def test_a_prefix_without_manifest_is_refused(
    s3: S3Endpoint, s3_client: Any, bucket: str, tmp_path: Path
) -> None:
    """No SHA256SUMS: nothing is copied unverified; the error names the missing manifest."""
    s3_client.put_object(Bucket=bucket, Key="bare/config.json", Body=b"{}")
    result = fetch(s3, f"s3://{bucket}/bare/", tmp_path / "model")
    assert result.returncode == 1
    assert "SHA256SUMS does not exist" in result.stdout + result.stderr
