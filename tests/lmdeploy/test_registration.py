"""Our wrapper really takes the stock DeepSeek-VL2 wrapper's place in LMDeploy."""

from __future__ import annotations

from pathlib import Path

import pytest
from lmdeploy.vl.model.base import VISION_MODELS
from lmdeploy.vl.model.builder import load_vl_model
from lmdeploy.vl.model.deepseek_vl2 import DeepSeek2VisionModel
from transformers import AutoConfig, AutoTokenizer

from vl2ingest.engines.lmdeploy_engine.vl2_support import (
    STOCK_WRAPPER_NAME,
    VL2VisionModel,
    install_vl2_support,
)


def test_load_vl_model_picks_our_wrapper(tiny_model: Path) -> None:
    """LMDeploy's own wrapper lookup returns our class for a DeepSeek-VL2 directory."""
    model = load_vl_model(str(tiny_model), "pytorch")
    assert type(model) is VL2VisionModel
    image_token = AutoTokenizer.from_pretrained(str(tiny_model)).convert_tokens_to_ids("<image>")
    assert model.image_token_id == image_token


def test_install_is_idempotent_and_keeps_the_slot() -> None:
    """Installing again changes nothing: same keys in the same order, ours in the stock slot."""
    before = list(VISION_MODELS.module_dict)
    install_vl2_support()
    install_vl2_support()
    assert list(VISION_MODELS.module_dict) == before
    assert VISION_MODELS.module_dict[STOCK_WRAPPER_NAME] is VL2VisionModel
    assert DeepSeek2VisionModel not in VISION_MODELS.module_dict.values()


def test_stock_wrapper_cannot_read_our_config(tiny_model: Path) -> None:
    """The stock match() raises on our config class: why both must be installed together."""
    config = AutoConfig.from_pretrained(str(tiny_model))
    with pytest.raises(AttributeError):
        DeepSeek2VisionModel.match(config)
    assert VL2VisionModel.match(config)
