"""The service under benchmark, in its own process (clean CPU time and peak RSS).

``python -m bench.service_child OUT_JSON FIXED_MS PER_IMAGE_MS PER_TOKEN_US``: settings from the
environment as for ``vl2ingest run``, the simulated engine injected. On SIGTERM it drains, then
writes the engine's busy time, the process CPU time (in all and by thread group) and the peak
RSS to OUT_JSON.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

from bench.cpu import ThreadCpuSampler
from bench.simulated_engine import SimulatedEngine, Speed
from vl2ingest.app import Service
from vl2ingest.cli import run
from vl2ingest.settings import Settings
from vl2ingest.telemetry.logs import configure_logging


def main() -> int:
    out, fixed_ms, per_image_ms, per_token_us = sys.argv[1:5]
    settings = Settings.from_env(os.environ)
    configure_logging(settings.log)
    engine = SimulatedEngine(Speed(float(fixed_ms), float(per_image_ms), float(per_token_us)))
    cpu0 = time.process_time()
    sampler = ThreadCpuSampler()
    sampler.start()
    code = run(Service(settings, engine=engine))
    sampler.stop()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    Path(out).write_text(
        json.dumps(
            {
                "busy_s": engine.busy_s,
                "images": engine.images,
                "batches": engine.batches,
                "cpu_s": time.process_time() - cpu0,
                "cpu_timeline": sampler.timeline,
                "peak_rss_mib": usage.ru_maxrss / 1024,
                "exit_code": code,
            }
        )
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
