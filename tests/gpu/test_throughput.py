"""The GPU benchmark (bench/gpu.py) on the tests' own engine: one engine start per GPU run.

Writes its JSON and table to ``VL2INGEST_GPU_RESULTS`` (bench/gpu_check.py points it at the run's
results folder), else bench/results.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.gpu.conftest import in_session_loop

from vl2ingest.engines.lmdeploy_engine import LmdeployEngine

pytestmark = [pytest.mark.gpu, pytest.mark.timeout(600), in_session_loop]


async def test_throughput_table(engine: LmdeployEngine, random_weights: bool) -> None:
    """Every (output length, batch) row is measured with all its requests answered."""
    from bench import gpu  # imports torch: only once the engine fixture found CUDA

    label = "(random weights)" if random_weights else "(answers stop at end-of-sequence)"
    results = Path(os.environ.get("VL2INGEST_GPU_RESULTS", str(gpu.RESULTS)))
    rows = await gpu.run(engine, max_batch=gpu.MAX_BATCH, results=results, label=label)
    assert [(r["max_new_tokens"], r["batch"]) for r in rows] == [
        (n, b) for n in gpu.OUTPUT_LENGTHS for b in gpu.batch_sizes(gpu.MAX_BATCH)
    ]
    assert all(r["ok"] == r["batch"] for r in rows), rows
