"""The GPU engine's decisions that need no GPU: backend truth, sampling, error mapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from vl2ingest.engines.lmdeploy_engine.engine import (
    BackendChoice,
    LmdeployEngine,
    checkpoint_revision,
    generation_kwargs,
    translate_error,
)
from vl2ingest.errors import (
    ConfigError,
    ContextOverflow,
    EngineDead,
    EngineOutOfMemory,
    InferenceFailed,
    InvalidRequest,
)
from vl2ingest.settings import EngineSettings, Settings


def test_fallback_from_turbomind_is_announced_and_reported() -> None:
    """Asking for TurboMind and getting PyTorch yields the plain notice; a match yields none."""
    fallback = BackendChoice(requested="turbomind", actual="pytorch")
    assert fallback.notice == (
        "deepseek-vl2 is not supported by TurboMind; running on the PyTorch engine"
    )
    assert BackendChoice(requested="pytorch", actual="pytorch").notice is None
    assert BackendChoice(requested="auto", actual="pytorch").notice is None


def test_greedy_with_repetition_penalty_uses_top_k_1() -> None:
    """Extraction tasks decode greedily with the penalty active (do_sample + top_k=1)."""
    kwargs = generation_kwargs("ocr", 512, EngineSettings(temperature=0.5))
    assert kwargs["do_sample"] is True
    assert kwargs["top_k"] == 1
    assert kwargs["repetition_penalty"] == 1.1
    assert kwargs["max_new_tokens"] == 512
    assert kwargs["skip_special_tokens"] is False
    assert kwargs["ignore_eos"] is False


def test_fixed_output_length_ignores_end_of_sequence() -> None:
    """Measurements generate exactly max_new_tokens: end-of-sequence is ignored."""
    kwargs = generation_kwargs("ocr", 64, EngineSettings(), ignore_eos=True)
    assert (kwargs["ignore_eos"], kwargs["max_new_tokens"]) == (True, 64)


def test_free_prompts_sample_at_the_configured_temperature() -> None:
    """Captions and free prompts sample when a temperature is set; greedy when it is 0."""
    assert generation_kwargs("caption", 64, EngineSettings(temperature=0.6))["temperature"] == 0.6
    assert generation_kwargs("caption", 64, EngineSettings())["top_k"] == 1


class _Code:
    def __init__(self, value: str) -> None:
        self.value = value


class RequestError(RuntimeError):
    """Shaped like lmdeploy's RequestError (a code enum with a value)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = _Code(code)


class OutOfMemoryError(RuntimeError):
    """Named like torch.cuda.OutOfMemoryError."""


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (OutOfMemoryError("CUDA out of memory"), EngineOutOfMemory),
        (RequestError("context_length_exceeded"), ContextOverflow),
        (RequestError("preprocess_failed"), InvalidRequest),
        (RequestError("engine_unavailable"), EngineDead),
        (RequestError("internal_error"), InferenceFailed),
        (ValueError("odd"), InferenceFailed),
    ],
)
def test_engine_errors_map_to_our_classes(exc: Exception, expected: type) -> None:
    """OOM fails one item, a dead engine is fatal, context overflow keeps its code."""
    assert isinstance(translate_error(exc), expected)


def test_revision_is_a_hash_of_the_checkpoint_config(tmp_path: Path) -> None:
    """The reported revision changes exactly when config.json changes."""
    (tmp_path / "config.json").write_text('{"a": 1}')
    first = checkpoint_revision(str(tmp_path))
    assert first == checkpoint_revision(str(tmp_path))
    (tmp_path / "config.json").write_text('{"a": 2}')
    assert checkpoint_revision(str(tmp_path)) != first
    with pytest.raises(ConfigError, match="MODEL_PATH"):
        checkpoint_revision(str(tmp_path / "missing"))


def test_lmdeploy_settings_are_validated() -> None:
    """The lmdeploy engine needs a model path and one GPU (tp=1); temperatures above 0.7 are
    refused."""
    base = {"VL2INGEST_S3__ALLOWED_BUCKETS": "b", "VL2INGEST_ENGINE__NAME": "lmdeploy"}
    with pytest.raises(ConfigError, match="VL2INGEST_ENGINE__MODEL_PATH"):
        Settings.from_env(base)
    with pytest.raises(ConfigError, match="VL2INGEST_ENGINE__TEMPERATURE"):
        Settings.from_env(
            {**base, "VL2INGEST_ENGINE__MODEL_PATH": "/m", "VL2INGEST_ENGINE__TEMPERATURE": "0.9"}
        )
    with pytest.raises(ConfigError, match="VL2INGEST_ENGINE__TP must be 1"):
        Settings.from_env(
            {**base, "VL2INGEST_ENGINE__MODEL_PATH": "/m", "VL2INGEST_ENGINE__TP": "2"}
        )
    with pytest.raises(ConfigError, match="VL2INGEST_ENGINE__TP must be 1"):
        LmdeployEngine(EngineSettings(name="lmdeploy", model_path="/m", tp=2))
