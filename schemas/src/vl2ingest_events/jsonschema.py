"""Generate the committed JSON Schema files: ``python -m vl2ingest_events.jsonschema OUT_DIR``.

One file per event, named after its tag; ``--check`` exits 1 when a committed file differs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import msgspec

from vl2ingest_events.inbound import ExtractionRequested
from vl2ingest_events.outbound import ExtractionCompleted, ExtractionFailed
from vl2ingest_events.s3_notification import S3EventNotification, S3TestEvent

SCHEMAS: dict[str, type[msgspec.Struct]] = {
    "extraction.requested": ExtractionRequested,
    "extraction.completed": ExtractionCompleted,
    "extraction.failed": ExtractionFailed,
    "s3.event_notification": S3EventNotification,
    "s3.test_event": S3TestEvent,
}


def render() -> dict[str, str]:
    """File name -> schema text, deterministic (sorted keys, trailing newline)."""
    return {
        f"{name}.schema.json": json.dumps(msgspec.json.schema(struct), indent=2, sort_keys=True)
        + "\n"
        for name, struct in SCHEMAS.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--check", action="store_true", help="fail if files differ; write nothing")
    args = parser.parse_args(argv)
    out: Path = args.out_dir
    stale = []
    for name, text in render().items():
        path = out / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            out.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        print(f"JSON Schema out of date: {', '.join(stale)}; run `make schemas`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
