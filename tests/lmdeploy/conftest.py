"""LMDeploy contract tests: lmdeploy's own request path, on CPU, against a tiny model directory.

They need the lmdeploy environment (``make contract`` builds ``.cache/venv-lmdeploy`` and runs
them there). Elsewhere they are skipped, except under ``CI=true``, where a missing lmdeploy fails.
Nothing of lmdeploy, torch or transformers is mocked, with one exception: the two bf16 capability
probes, which ask the CUDA driver (see :func:`bf16_gpu`).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

_MISSING = (
    "lmdeploy is not installed in this environment: run `make contract`, which runs these "
    "tests in .cache/venv-lmdeploy"
)
_HAVE_LMDEPLOY = importlib.util.find_spec("lmdeploy") is not None


class _WithoutLmdeploy(pytest.Module):
    """A test module that is not imported: skipped here, or failed under ``CI=true``."""

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(_MISSING, pytrace=False)
        pytest.skip(_MISSING)


def pytest_pycollect_makemodule(
    module_path: Path, parent: pytest.Collector
) -> pytest.Module | None:
    """Without lmdeploy, each test module here reports why instead of failing on its imports."""
    if _HAVE_LMDEPLOY:
        return None
    return _WithoutLmdeploy.from_parent(parent, path=module_path)


@pytest.fixture(scope="session", autouse=True)
def _vl2_support() -> None:
    """Our config class and wrapper, installed as the engine installs them."""
    from vl2ingest.engines.lmdeploy_engine.vl2_support import install_vl2_support

    install_vl2_support()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DeepSeek-VL2-tiny-shaped model directory (config and tokenizer, no weights)."""
    from tests.support.vl2_model import write_tiny_model

    return write_tiny_model(tmp_path_factory.mktemp("models") / "vl2-tiny")


@pytest.fixture
def bf16_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bf16 capability probes answer as the bf16-capable GPU we deploy on would.

    Issue 4: on CPU, these two probes are the ONLY lmdeploy functions a test may replace. Both
    ask the CUDA driver for the device's compute capability (there is none here); everything
    else on the request path runs for real.
    """
    for name in ("lmdeploy.vl.engine", "lmdeploy.pytorch.config"):
        module = importlib.import_module(name)
        monkeypatch.setattr(module, "is_bf16_supported", _bf16_supported)


def _bf16_supported(device_type: str = "cuda") -> bool:
    return True


@pytest.fixture
def encoder(tiny_model: Path, bf16_gpu: None) -> Iterator[Any]:
    """LMDeploy's ``ImageEncoder`` for the tiny model on the PyTorch backend (loads our wrapper)."""
    from lmdeploy import PytorchEngineConfig
    from lmdeploy.vl.engine import ImageEncoder

    image_encoder = ImageEncoder(str(tiny_model), "pytorch", backend_config=PytorchEngineConfig())
    yield image_encoder
    image_encoder.executor.shutdown(wait=True)


@pytest.fixture
def processor(tiny_model: Path, encoder: Any) -> Any:
    """LMDeploy's ``MultimodalProcessor``, composed as ``VLAsyncEngine`` composes it."""
    from lmdeploy import ChatTemplateConfig
    from lmdeploy.model import get_chat_template
    from lmdeploy.serve.processors.multimodal import MultimodalProcessor
    from lmdeploy.tokenizer import Tokenizer

    template = get_chat_template(str(tiny_model), ChatTemplateConfig(model_name="deepseek-vl2"))
    return MultimodalProcessor(
        Tokenizer(str(tiny_model)), template, vl_encoder=encoder, backend="pytorch"
    )
