"""`make demo-uploads`: upload and watch. No request events are written by hand here.

1. Start a second versitygw (the dev stack's binary, 127.0.0.1, its own data folder under
   .cache/devstack/uploads-demo/) whose bucket notifications go to the requests topic:
   `--event-kafka-url` / `--event-kafka-topic`, as an operator would configure it.
2. Run the real service (`vl2ingest run`) against that S3 server.
3. PUT the sample images into a bucket, under keys with spaces and '+', plus one into a bucket
   the service is not allowed to read, and print each result as it arrives.

Endpoints come from the dev stack's VL2INGEST_TEST_* variables, exported by the Makefile.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from demo import SAMPLES, TOPICS, collect, ensure_topics, env, show
from vl2ingest_events import ExtractionCompleted
from vl2ingest_events.s3_notification import request_id_for_object

ROOT = Path(__file__).parents[2]
STATE = ROOT / ".cache" / "devstack" / "uploads-demo"
PORT = int(os.environ.get("VL2INGEST_DEV_S3_EVENTS_PORT", "17072"))
BUCKET, FORBIDDEN = "vl2ingest-uploads", "not-allowed"


def start_versitygw(kafka: str, access: str, secret: str) -> subprocess.Popen[bytes]:
    binary = ROOT / ".cache" / "devstack" / "bin" / "versitygw"
    if not binary.is_file():
        sys.exit("demo: no versitygw binary; run `make dev-up` first")
    (STATE / "data").mkdir(parents=True, exist_ok=True)
    (STATE / "meta").mkdir(parents=True, exist_ok=True)
    with (STATE / "versitygw.log").open("ab") as log:
        process = subprocess.Popen(  # the dev stack's binary, fixed arguments
            [
                str(binary),
                *("--port", f"127.0.0.1:{PORT}", "--region", "us-east-1"),
                *("--health", "/_health"),
                *("--event-kafka-url", kafka, "--event-kafka-topic", TOPICS[0]),
                *("posix", "--sidecar", str(STATE / "meta"), str(STATE / "data")),
            ],
            env={**os.environ, "ROOT_ACCESS_KEY_ID": access, "ROOT_SECRET_ACCESS_KEY": secret},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/_health", timeout=2):
                return process
        except OSError:
            if process.poll() is not None:
                sys.exit(f"demo: versitygw exited; see {STATE / 'versitygw.log'}")
            time.sleep(0.2)
    process.kill()
    sys.exit(f"demo: versitygw did not answer on 127.0.0.1:{PORT}")


def upload(access: str, secret: str, run_id: str) -> set[str]:
    """PUT the samples; return the request ids the service derives from the notifications."""
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{PORT}",
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )
    for bucket in (BUCKET, FORBIDDEN):
        try:
            s3.create_bucket(Bucket=bucket)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in {
                "BucketAlreadyOwnedByYou",
                "BucketAlreadyExists",
            }:
                raise
    wanted = set()
    for i, path in enumerate(sorted(SAMPLES.iterdir())):
        key = f"inbox/{run_id}/scan {i}+{path.name}"
        etag = s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())["ETag"]
        wanted.add(request_id_for_object(BUCKET, key, None, etag))
        print(f"  PUT s3://{BUCKET}/{key}")
    key = f"{run_id}/elsewhere.png"
    etag = s3.put_object(Bucket=FORBIDDEN, Key=key, Body=b"\x89PNG")["ETag"]
    wanted.add(request_id_for_object(FORBIDDEN, key, None, etag))
    print(f"  PUT s3://{FORBIDDEN}/{key}  (a bucket the service may not read)")
    return wanted


async def main() -> None:
    kafka = env("VL2INGEST_TEST_KAFKA")
    run_id = time.strftime("%Y%m%d-%H%M%S")
    # The dev stack's root key pair, so buckets from an earlier run stay ours.
    access, secret = env("VL2INGEST_TEST_S3_ACCESS_KEY"), env("VL2INGEST_TEST_S3_SECRET_KEY")
    await ensure_topics(kafka)
    print(f"1. starting versitygw on 127.0.0.1:{PORT}, notifications to {TOPICS[0]!r}")
    s3_server = start_versitygw(kafka, access, secret)
    service_env = {
        **os.environ,
        "VL2INGEST_KAFKA__BOOTSTRAP_SERVERS": kafka,
        "VL2INGEST_KAFKA__GROUP_ID": "vl2ingest-demo",
        "VL2INGEST_S3__ENDPOINT_URL": f"http://127.0.0.1:{PORT}",
        "VL2INGEST_S3__ACCESS_KEY_ID": access,
        "VL2INGEST_S3__SECRET_ACCESS_KEY": secret,
        "VL2INGEST_S3__ADDRESSING_STYLE": "path",
        "VL2INGEST_S3__ALLOWED_BUCKETS": BUCKET,
        "VL2INGEST_HEALTH__PORT": "0",
        "VL2INGEST_LOG__FORMAT": "console",
        "VL2INGEST_LOG__LEVEL": "info",
    }
    try:
        print("2. running `vl2ingest run` (its log shows the server's test event being skipped)")
        service = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "vl2ingest.cli", "run", env=service_env
        )
        try:
            print("3. uploading")
            wanted = upload(access, secret, run_id)
            events = await collect(kafka, wanted, service)
        finally:
            service.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(service.wait(), timeout=60)
    finally:
        s3_server.terminate()
        s3_server.wait(timeout=15)
    print("4. results")
    for event in events:
        show(event)
    print("─" * 78)
    completed = sum(isinstance(e, ExtractionCompleted) for e in events)
    print(f"{completed} completed, {len(events) - completed} failed; service exit code {code}")
    if code != 0:
        sys.exit(code)


if __name__ == "__main__":
    asyncio.run(main())
