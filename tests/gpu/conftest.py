"""GPU checks: real DeepSeek-VL2 inference through our adapter. Skipped without CUDA or a model.

Run on a GPU machine with ``make gpu-check``: with a checkpoint mounted
(``ARGS="--model-path /models/deepseek-vl2-tiny"`` or ``VL2INGEST_TEST_MODEL_PATH``) or, where
weights cannot be downloaded, with ``ARGS="--random-weights tiny"`` (the real architecture with
random weights, generated on the spot: ``bench/gpu_check.py``). Nothing here downloads weights.

With random weights (``VL2INGEST_TEST_RANDOM_WEIGHTS`` names the variant) outputs are
meaningless: the checks assert structure only, and every request generates exactly its
``max_new_tokens``. Real weights add the quality assertions.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from vl2ingest.engines.lmdeploy_engine import LmdeployEngine

SAMPLES = Path(__file__).parents[2] / "scripts" / "demo" / "samples"

# One engine per session, started once for the tests and the benchmark (test_throughput.py):
# starting it loads the weights and captures CUDA graphs, the longest step of a GPU run. The
# engine runs on the event loop it was started on, so the fixture and the tests share a
# session-scoped loop (the project's default loop scope is "function", which pytest-asyncio
# refuses for a session-scoped async fixture).
session_async_fixture = pytest_asyncio.fixture(scope="session", loop_scope="session")
in_session_loop = pytest.mark.asyncio(loop_scope="session")


def _model_path() -> str:
    torch = pytest.importorskip("torch", reason="the GPU checks need torch (make gpu-check)")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device: the GPU checks run on a GPU machine (make gpu-check)")
    path = os.environ.get("VL2INGEST_TEST_MODEL_PATH")
    if not path:
        pytest.skip("set VL2INGEST_TEST_MODEL_PATH to a local DeepSeek-VL2 checkpoint")
    return path


@pytest.fixture(scope="session")
def model_path() -> str:
    return _model_path()


@pytest.fixture(scope="session")
def random_weights() -> bool:
    """True when the checkpoint has random weights: assert structure, not quality."""
    return bool(os.environ.get("VL2INGEST_TEST_RANDOM_WEIGHTS"))


@session_async_fixture
async def engine(model_path: str, random_weights: bool) -> AsyncIterator[LmdeployEngine]:
    from bench.gpu import engine_settings

    settings = engine_settings(model_path)
    async with LmdeployEngine(settings, fixed_output_length=random_weights) as started:
        yield started
