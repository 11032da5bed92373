"""Which engine LMDeploy runs DeepSeek-VL2 on, and how it reads the model's config."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
import torch
from lmdeploy import GenerationConfig, PytorchEngineConfig, TurbomindEngineConfig, turbomind
from lmdeploy.archs import autoget_backend, autoget_backend_config
from lmdeploy.pytorch.config import ModelConfig
from tests.support.vl2_model import write_tiny_model
from transformers import AutoConfig

from vl2ingest.engines.lmdeploy_engine.engine import (
    Answer,
    generation_kwargs,
    join_answer,
    translate_error,
)
from vl2ingest.engines.lmdeploy_engine.vl2_config import (
    DeepseekVLV2Config,
    VL2LanguageConfig,
    VL2ProjectorConfig,
    VL2VisionConfig,
)
from vl2ingest.settings import EngineSettings


def test_turbomind_request_silently_becomes_pytorch(tiny_model: Path) -> None:
    """A TurboMind config for DeepSeek-VL2 comes back as a PyTorch config, settings carried."""
    requested = TurbomindEngineConfig(session_len=4096, max_batch_size=8, tp=1)
    backend, config = autoget_backend_config(str(tiny_model), requested)
    assert autoget_backend(str(tiny_model)) == "pytorch"
    assert backend == "pytorch"
    assert isinstance(config, PytorchEngineConfig)
    assert (config.session_len, config.max_batch_size) == (4096, 8)


def test_turbomind_is_unavailable_without_cuda() -> None:
    """Without a CUDA driver, LMDeploy reports TurboMind as not available."""
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: TurboMind may well be available here")
    assert turbomind.is_available() is False


def test_config_class_fills_omitted_fields_with_deepseek_defaults(tiny_model: Path) -> None:
    """Fields the published config.json leaves out get DeepSeek's defaults, not transformers'."""
    config = AutoConfig.from_pretrained(str(tiny_model))
    assert isinstance(config, DeepseekVLV2Config)
    projector, vision, language = (
        config.projector_config,
        config.vision_config,
        config.language_config,
    )
    assert isinstance(projector, VL2ProjectorConfig)
    assert isinstance(vision, VL2VisionConfig)
    assert isinstance(language, VL2LanguageConfig)
    assert (projector.projector_type, projector.depth, projector.mlp_ratio) == (
        "downsample_mlp_gelu",
        2,
        1,
    )
    assert (projector.input_dim, projector.downsample_ratio) == (1152, 2)
    assert vision.patch_size == 14  # from the file; DeepSeek's default is 16
    assert language.rope_parameters == {"rope_type": "default", "rope_theta": 10000.0}
    assert config.to_dict()["language_config"]["architectures"] == ["DeepseekV2ForCausalLM"]
    defaults = DeepseekVLV2Config().language_config
    assert isinstance(defaults, VL2LanguageConfig)
    assert (defaults.use_mla, defaults.kv_lora_rank, defaults.num_hidden_layers) == (True, 512, 30)


def test_config_class_builds_its_sub_configs_on_any_transformers_5() -> None:
    """Dict sub-configs become our config classes in the class itself, round trip included:
    transformers 5.17 (the GPU image's) has no sub_configs_defaults to do it, and LMDeploy then
    failed on language_config.use_mla (issue 10; `make gpu-twin` runs this on 5.17)."""
    config = DeepseekVLV2Config(
        language_config={"vocab_size": 129280, "use_mla": False}, vision_config={"layers": 27}
    )
    assert isinstance(config.language_config, VL2LanguageConfig)
    assert isinstance(config.vision_config, VL2VisionConfig)
    assert isinstance(config.projector_config, VL2ProjectorConfig)
    assert (config.language_config.use_mla, config.vision_config.layers) == (False, 27)
    data = config.to_dict()
    assert isinstance(data["language_config"], dict)
    again = DeepseekVLV2Config(language_config=data["language_config"])
    assert isinstance(again.language_config, VL2LanguageConfig)
    assert again.language_config.vocab_size == 129280


def test_engine_model_config_reads_our_config_class(tiny_model: Path, bf16_gpu: None) -> None:
    """The PyTorch engine's ModelConfig builds from our class (tiny: multi-head attention)."""
    config = ModelConfig.from_pretrained(str(tiny_model), dtype="auto", device_type="cuda")
    assert isinstance(config.hf_config, DeepseekVLV2Config)
    assert (config.num_attention_heads, config.num_key_value_heads, config.head_dim) == (4, 4, 16)
    assert config.dtype == torch.bfloat16


def test_small_variant_gets_latent_attention_by_default(tmp_path: Path) -> None:
    """Without a use_mla key (small, base), DeepSeek's default applies: latent attention."""
    # The engine's ModelConfig for latent attention probes the GPU for FlashMLA
    # (flash_mla_available), so only a GPU machine builds it; here the config class is checked.
    model = write_tiny_model(tmp_path / "vl2-small", variant="small")
    language = AutoConfig.from_pretrained(str(model)).language_config
    assert isinstance(language, VL2LanguageConfig)
    assert "use_mla" not in json.loads((model / "config.json").read_text())["language_config"]
    assert (language.use_mla, language.kv_lora_rank, language.qk_rope_head_dim) == (True, 32, 8)


@pytest.mark.parametrize("ignore_eos", [False, True])
def test_generation_kwargs_are_lmdeploy_generation_config_fields(ignore_eos: bool) -> None:
    """Every argument our policy sets is a field of LMDeploy's GenerationConfig."""
    kwargs = generation_kwargs("ocr", 64, EngineSettings(), ignore_eos=ignore_eos)
    config = GenerationConfig(**kwargs)
    assert {name: getattr(config, name) for name in kwargs} == kwargs


def test_the_engine_api_the_adapter_calls_exists() -> None:
    """The LMDeploy calls that only a GPU run makes, checked here by signature: the methods and
    keyword arguments LmdeployEngine uses, and the fields it reads from the final output."""
    from lmdeploy.serve.core import VLAsyncEngine
    from lmdeploy.serve.core.async_engine import AsyncEngine, GenOut

    used = {
        "start_loop": {"loop", "use_async_api"},
        "preprocess": {"messages", "session_id", "gen_config"},
        "generate": {"request", "stream_response"},
        "health_probe": {"scheduler_stall_timeout"},
        "close": set(),
    }
    for method, arguments in used.items():
        assert arguments <= set(inspect.signature(getattr(VLAsyncEngine, method)).parameters)
    # VLAsyncEngine passes what it does not name on to AsyncEngine.
    constructors = (VLAsyncEngine.__init__, AsyncEngine.__init__)
    accepted = {name for c in constructors for name in inspect.signature(c).parameters}
    assert {"model_path", "backend", "backend_config", "chat_template_config"} <= accepted
    assert {"response", "input_token_len", "generate_token_len", "finish_reason"} <= set(
        GenOut.__dataclass_fields__
    )


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("CONTEXT_LENGTH_EXCEEDED", "context_overflow"),
        ("INVALID_REQUEST", "invalid_request"),
        ("PREPROCESS_FAILED", "invalid_request"),
        ("ENGINE_UNAVAILABLE", "engine_dead"),
        ("INTERNAL_ERROR", "inference_failed"),
    ],
)
def test_lmdeploy_request_errors_map_onto_our_classes(code: str, expected: str) -> None:
    """LMDeploy's own RequestError, as preprocess/generate raise it, becomes our error class."""
    from lmdeploy.serve.core.exceptions import ErrorCode, RequestError

    assert translate_error(RequestError(ErrorCode[code])).code == expected


def test_an_answer_is_the_joined_text_of_every_item_generate_yields() -> None:
    """generate() yields the text generated since its previous item (the PyTorch engine streams
    whatever stream_response says); the answer joins them and keeps the last item's counts."""
    from lmdeploy.serve.core.async_engine import GenOut

    chunks = [
        GenOut(response="TOTAL", input_token_len=500, generate_token_len=1),
        GenOut(response=" 10.", input_token_len=500, generate_token_len=3),
        GenOut(response="30", input_token_len=500, generate_token_len=4, finish_reason="stop"),
    ]
    assert join_answer(chunks) == Answer("TOTAL 10.30", 500, 4, "stop")
    assert join_answer([]) is None


def test_out_of_memory_inside_generation_fails_only_that_item() -> None:
    """LMDeploy reports a failure inside generation as a generic internal error; the torch
    out-of-memory error in its causes still makes it engine_out_of_memory."""
    from lmdeploy.serve.core.exceptions import ErrorCode, RequestError

    wrapped = RequestError(ErrorCode.INTERNAL_ERROR)
    wrapped.__cause__ = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    assert translate_error(wrapped).code == "engine_out_of_memory"
    assert translate_error(RequestError(ErrorCode.INTERNAL_ERROR)).code == "inference_failed"
