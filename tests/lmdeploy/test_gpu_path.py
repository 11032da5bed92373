"""Everything a GPU run imports, imports: our engine and LMDeploy's PyTorch engine for
DeepSeek-VL2 (engine, model agent, the DeepSeek-V2/VL2 models, CUDA backends and kernels), the GPU
tests and the GPU benchmark. In `make gpu-twin` this is the image's packages plus the kit: a
module the kit lacks fails here, not on the GPU machine. (Importing needs no GPU.)"""

from __future__ import annotations

import importlib

import pytest

GPU_PATH = [
    "vl2ingest.engines.lmdeploy_engine.engine",
    "vl2ingest.engines.lmdeploy_engine.env_check",
    "vl2ingest.engines.lmdeploy_engine.vl2_support",
    "lmdeploy.serve.core",
    "lmdeploy.archs",
    "lmdeploy.pytorch.engine.engine",
    "lmdeploy.pytorch.engine.model_agent",
    "lmdeploy.pytorch.models.deepseek_v2",
    "lmdeploy.pytorch.models.deepseek_vl2",
    "lmdeploy.pytorch.backends.cuda.op_backend",
    "lmdeploy.pytorch.backends.cuda.attention",
    "lmdeploy.pytorch.backends.cuda.moe",
    "lmdeploy.pytorch.backends.cuda.graph_runner",
    "lmdeploy.pytorch.kernels.cuda",
    "lmdeploy.vl.model.deepseek_vl2",
    "bench.gpu",
    "bench.gpu_check",
    "tests.gpu.test_inference",
    "tests.support.vl2_model",
]


@pytest.mark.parametrize("module", GPU_PATH)
def test_the_gpu_path_imports(module: str) -> None:
    """The module and everything it imports at load time are installed."""
    importlib.import_module(module)
