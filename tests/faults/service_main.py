"""Run the real service as its own process with the fast test engine: the fault suite kills it.

``python -m tests.faults.service_main``: settings from the environment like ``vl2ingest run``;
only the engine differs, injected the way tests inject engines. Exit codes are the CLI's.
"""

from __future__ import annotations

import os
import sys

from tests.support.fast_engine import FastEngine

from vl2ingest.app import Service
from vl2ingest.cli import run
from vl2ingest.settings import Settings
from vl2ingest.telemetry.logs import configure_logging


def main() -> int:
    settings = Settings.from_env(os.environ)
    configure_logging(settings.log)
    per_batch_s = float(os.environ.get("VL2INGEST_TEST_ENGINE_BATCH_S", "0"))
    return run(Service(settings, engine=FastEngine(per_batch_s=per_batch_s)))


if __name__ == "__main__":
    sys.exit(main())
