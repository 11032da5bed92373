"""The random-weights checkpoint of ``make gpu-check`` loads into lmdeploy's own model classes.

A GPU machine cannot download weights, so ``make gpu-check ARGS="--random-weights tiny"`` writes
a checkpoint with the real architecture and random weights (``tests/support/vl2_model.py``).
These tests check on CPU that lmdeploy would load it: every tensor name is one lmdeploy's
loaders map, every shape fits, and every parameter of lmdeploy's model receives a value.

One limit: lmdeploy's MoE router asks the CUDA device for its index while it is built, so on CPU
the language model is built with every layer dense (``first_k_dense_replace`` = all layers). The
routed and shared expert tensors are therefore checked only by a GPU run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from lmdeploy.pytorch.model_inputs import StepContextManager
from lmdeploy.pytorch.models.deepseek_v2 import DeepseekV2ForCausalLM
from lmdeploy.pytorch.models.patch import build_model_from_hf_config
from lmdeploy.pytorch.weight_loader.model_weight_loader import load_model_weights
from tests.support.vl2_model import (
    MINIATURE,
    PUBLISHED_TOTAL_PARAMETERS,
    REAL,
    SPECIAL_TOKENS,
    Variant,
    language_tensor_shapes,
    model_config,
    parameter_count,
    write_model_dir,
    write_random_weights,
)
from transformers import AutoConfig, AutoTokenizer

pytestmark = pytest.mark.timeout(300)
VARIANTS: list[Variant] = ["tiny", "small"]


def _all_dense(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with every language layer dense: buildable on CPU (see the module docstring)."""
    language = config["language_config"]
    return {**config, "language_config": {**language, "first_k_dense_replace": 1000}}


@pytest.mark.parametrize("variant", VARIANTS)
def test_real_dimensions_add_up_to_the_published_size(variant: Variant) -> None:
    """3.37B parameters for tiny, 16.1B for small: the totals DeepSeek publishes."""
    total = parameter_count(model_config(REAL[variant]))
    assert total == pytest.approx(PUBLISHED_TOTAL_PARAMETERS[variant], rel=0.005)


@pytest.mark.parametrize("variant", VARIANTS)
def test_real_language_tensors_fit_lmdeploys_model(variant: Variant) -> None:
    """Every language tensor of the real-size checkpoint goes through lmdeploy's loader into a
    parameter of the same shape (built on the meta device: no memory is allocated)."""
    config = _all_dense(model_config(REAL[variant]))
    language = AutoConfig.for_model(**config).language_config
    model = DeepseekV2ForCausalLM(
        language, StepContextManager(None), dtype=torch.bfloat16, device=torch.device("meta")
    )
    prefix = len("language.")
    tensors = [
        (name[prefix:], torch.empty(shape, dtype=torch.bfloat16, device="meta"))
        for name, shape in language_tensor_shapes(config)
    ]
    with torch.inference_mode():
        model.load_weights(tensors)  # an unknown name raises KeyError, a wrong shape fails
        wrong = [("model.layers.0.mlp.down_proj.weight", torch.empty((7, 7), device="meta"))]
        with pytest.raises((AssertionError, RuntimeError)):
            model.load_weights(wrong)


@pytest.mark.parametrize("variant", VARIANTS)
def test_lmdeploy_loads_every_parameter_from_the_written_files(
    tmp_path: Path, variant: Variant
) -> None:
    """Written as sharded safetensors and read back by lmdeploy's own weight loader, the
    checkpoint fills every parameter of lmdeploy's DeepSeek-VL2 model (vision, projector, layout
    embeddings, language): none keeps the NaN it was filled with before loading."""
    config = _all_dense(model_config(MINIATURE[variant]))
    write_model_dir(tmp_path, config)
    written = write_random_weights(tmp_path, config, shard_bytes=300 * 2**20)
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) >= 3
    assert index["metadata"]["total_size"] == written
    model = build_model_from_hf_config(
        AutoConfig.from_pretrained(str(tmp_path)),
        dtype=torch.bfloat16,
        device=torch.device("cpu"),
    )
    with torch.no_grad():
        for param in model.parameters():
            param.fill_(float("nan"))
    load_model_weights(model, str(tmp_path))
    unloaded = [name for name, p in model.named_parameters() if not torch.isfinite(p).all()]
    assert unloaded == []


@pytest.mark.parametrize("variant", VARIANTS)
def test_tokenizer_has_the_real_vocabulary_size(tmp_path: Path, variant: Variant) -> None:
    """The generated tokenizer fills the real vocabulary; special tokens stay single tokens."""
    write_model_dir(tmp_path, model_config(REAL[variant]))
    tokenizer = AutoTokenizer.from_pretrained(str(tmp_path))
    assert len(tokenizer) == REAL[variant].vocab_size
    for token in SPECIAL_TOKENS:
        assert tokenizer.encode(token, add_special_tokens=False) == [
            tokenizer.convert_tokens_to_ids(token)
        ]
    ids = tokenizer.encode("TOTAL 10.30", add_special_tokens=False)
    assert tokenizer.decode(ids) == "TOTAL 10.30"
