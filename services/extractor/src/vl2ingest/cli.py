"""``vl2ingest``: the command line. The one place that reads the process environment."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

import msgspec
import structlog

import vl2ingest
from vl2ingest.app import Service, serve
from vl2ingest.errors import ConfigError, VL2IngestError
from vl2ingest.settings import Secret, Settings
from vl2ingest.storage.checkpoint import copy_checkpoint
from vl2ingest.storage.s3 import make_client
from vl2ingest.telemetry.logs import configure_logging
from vl2ingest.telemetry.tracing import configure_tracing


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vl2ingest",
        description="Stream image references from Kafka into structured extraction events.",
        epilog="Configuration comes from VL2INGEST_* environment variables (see the README).",
    )
    parser.add_argument("--version", action="version", version=vl2ingest.__version__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the extractor until SIGTERM")
    commands.add_parser("config", help="validate the configuration and print it (secrets masked)")
    fetch = commands.add_parser(
        "fetch-model",
        help="copy a checkpoint from S3 (resumable, checked against its SHA256SUMS)",
        description="Copy every file listed in s3://bucket/prefix/SHA256SUMS into DEST, "
        "skipping files already there with the right digest and resuming partial ones. "
        "S3 endpoint and credentials come from the VL2INGEST_S3__* settings.",
    )
    fetch.add_argument("uri", help="s3://bucket/prefix of the checkpoint")
    fetch.add_argument("dest", type=Path, help="local folder to fill")
    return parser


def _masked(obj: object) -> object:
    if isinstance(obj, Secret):
        return "***"
    raise NotImplementedError(type(obj))


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    environ = dict(os.environ)
    try:
        settings = Settings.from_env(environ)
    except ConfigError as exc:
        print(f"vl2ingest: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "fetch-model":
        return _fetch_model(settings, args.uri, args.dest)
    if args.command == "config":
        sys.stdout.buffer.write(
            msgspec.json.format(msgspec.json.encode(settings, enc_hook=_masked))
        )
        sys.stdout.write("\n")
        return 0
    configure_logging(settings.log)
    provider = configure_tracing(environ)
    try:
        return run(Service(settings))
    finally:
        provider.shutdown()


def _fetch_model(settings: Settings, uri: str, dest: Path) -> int:
    configure_logging(settings.log)
    log = structlog.get_logger("vl2ingest")
    client = make_client(settings.s3)
    try:
        copy_checkpoint(client, uri, dest)
    except VL2IngestError as exc:
        log.critical("checkpoint copy failed", error=str(exc), error_code=exc.code)
        return 1
    finally:
        client.close()
    return 0


def run(service: Service) -> int:
    """Serve until stopped; the exit code says how: 0 drained, 1 fatal, 130 second signal."""
    log = structlog.get_logger("vl2ingest")
    try:
        asyncio.run(serve(service))
    except (VL2IngestError, BaseExceptionGroup) as exc:
        for error in _leaves(exc):
            log.critical(
                "fatal error: stopping",
                error=str(error),
                error_code=getattr(error, "code", type(error).__name__),
            )
        return 1
    except asyncio.CancelledError:
        log.warning("stopped by a second signal without draining")
        return 130
    log.info("exited cleanly")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
