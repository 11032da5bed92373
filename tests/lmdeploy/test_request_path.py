"""LMDeploy's own request path with our wrapper, on CPU: prompt, token ids, pixels, engine input.

Each request goes through ``MultimodalProcessor.get_prompt_input`` (which parses the messages,
then calls ``ImageEncoder.preprocess`` and ``ImageEncoder.wrap_for_pytorch``), and its output
through the PyTorch engine's ``DeepSeekVLV2InputProcessor.preprocess_input``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from lmdeploy.pytorch.config import ModelConfig
from lmdeploy.pytorch.models.deepseek_vl2 import DeepSeekVLV2InputProcessor
from PIL import Image
from torchvision import transforms

from vl2ingest import vl2
from vl2ingest.engines.lmdeploy_engine.vl2_support import build_messages

PLACEHOLDER = vl2.LMDEPLOY_IMAGE_PLACEHOLDER
HALF = (0.5, 0.5, 0.5)
TURNS = {
    1: [(1000, 700)],
    2: [(1000, 700), (300, 900)],
    3: [(640, 480), (200, 1200), (1500, 400)],
    5: [(640, 480), (200, 1200), (1500, 400), (384, 384), (60, 2000)],
}

Planned = list[tuple[vl2.ImagePlan, vl2.ImageViews]]


def noise(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def planned_turn(sizes: Sequence[tuple[int, int]]) -> Planned:
    """Plans and views as the pipeline's prepare stage makes them."""
    plans = vl2.plan_images(sizes)
    images = [noise(w, h, seed) for seed, (w, h) in enumerate(sizes)]
    return [
        (plan, vl2.prepare_image(image, plan)) for plan, image in zip(plans, images, strict=True)
    ]


def user_text(n_images: int, task: str = "ocr", **kwargs: Any) -> str:
    return vl2.build_user_message(task, n_images, placeholder=PLACEHOLDER, **kwargs)


async def prompt_input(processor: Any, messages: list[dict[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = await processor.get_prompt_input(messages, do_preprocess=True)
    return result


def image_runs(ids: Sequence[int], token: int) -> list[tuple[int, int]]:
    """(start, length) of each maximal run of ``token`` in ``ids``."""
    runs: list[tuple[int, int]] = []
    for index, value in enumerate(ids):
        if value != token:
            continue
        if runs and sum(runs[-1]) == index:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((index, 1))
    return runs


def normalised(planned: Planned) -> torch.Tensor:
    """Every view through DeepSeek's own transform (ToTensor, Normalize 0.5/0.5), then bf16."""
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize(HALF, HALF)])
    views = [view for _, v in planned for view in (v.global_view, *v.tiles)]
    return torch.stack([transform(view) for view in views]).to(torch.bfloat16)


@pytest.mark.parametrize("n_images", sorted(TURNS))
async def test_request_carries_every_image_in_order(processor: Any, n_images: int) -> None:
    """Token runs, crops, pixels and the image span match each image's plan, in order."""
    planned = planned_turn(TURNS[n_images])
    plans = [plan for plan, _ in planned]
    result = await prompt_input(processor, build_messages(user_text(n_images), planned))
    ids, (entry,) = result["input_ids"], result["multimodal"]

    assert ids[0] == processor.tokenizer.bos_token_id
    runs = image_runs(ids, entry["image_token_id"])
    assert [length for _, length in runs] == [plan.image_tokens for plan in plans]
    if n_images >= 3:
        assert [plan.image_tokens for plan in plans] == [421] * n_images
    assert entry["images_spatial_crop"].tolist() == [[p.tiles_w, p.tiles_h] for p in plans]
    assert entry["offset"] == runs[0][0]
    assert entry["offset"] + entry["image_tokens"] == sum(runs[-1])
    assert entry["pixel_values"].shape == (sum(1 + p.tile_count for p in plans), 3, 384, 384)
    assert torch.equal(entry["pixel_values"], normalised(planned))

    texts = [ids[1 : runs[0][0]]]
    texts += [ids[sum(a) : b[0]] for a, b in itertools.pairwise(runs)]
    texts.append(ids[sum(runs[-1]) :])
    decoded = [processor.tokenizer.decode(t, skip_special_tokens=False) for t in texts]
    assert decoded == result["prompt"].split(PLACEHOLDER)


@pytest.mark.parametrize(
    ("task", "kwargs"),
    [("ocr", {}), ("grounding", {}), ("locate", {"ref": "the total"})],
)
async def test_prompt_is_deepseek_format_without_system_message(
    processor: Any, task: str, kwargs: dict[str, str]
) -> None:
    """lmdeploy's deepseek-vl2 template renders exactly our prompt: no system text."""
    planned = planned_turn(TURNS[2])
    result = await prompt_input(processor, build_messages(user_text(2, task, **kwargs), planned))
    expected = vl2.build_prompt(task, 2, placeholder=PLACEHOLDER, **kwargs)
    assert result["prompt"] == expected
    assert result["prompt"].startswith(f"<|User|>: {PLACEHOLDER}\n{PLACEHOLDER}\n")
    assert result["prompt"].endswith("\n\n<|Assistant|>:")


async def test_views_of_a_reduced_copy_are_used_as_given(processor: Any) -> None:
    """Plan from the original size, views from a reduced copy: both pass through unchanged."""
    (plan,) = vl2.plan_images([(2000, 1400)])
    views = vl2.prepare_image(noise(1000, 700), plan)
    result = await prompt_input(processor, build_messages(user_text(1), [(plan, views)]))
    (entry,) = result["multimodal"]
    assert entry["images_spatial_crop"].tolist() == [[plan.tiles_w, plan.tiles_h]] != [[1, 1]]
    assert torch.equal(entry["pixel_values"], normalised([(plan, views)]))


async def test_plain_images_are_planned_within_their_turn(processor: Any) -> None:
    """Images without plan and views are planned from their sizes and cut here."""
    images = [noise(1000, 700, 1), noise(300, 900, 2)]
    content: list[dict[str, Any]] = [{"type": "text", "text": user_text(2)}]
    content += [{"type": "image_data", "image_data": {"data": image}} for image in images]
    result = await prompt_input(processor, [{"role": "user", "content": content}])
    plans = vl2.plan_images([image.size for image in images])
    expected = [(p, vl2.prepare_image(i, p)) for p, i in zip(plans, images, strict=True)]
    (entry,) = result["multimodal"]
    assert entry["images_spatial_crop"].tolist() == [[p.tiles_w, p.tiles_h] for p in plans]
    assert torch.equal(entry["pixel_values"], normalised(expected))


async def test_text_with_the_image_token_is_rejected(processor: Any) -> None:
    """User text that tokenizes to the image token id never reaches the engine."""
    text = f"{PLACEHOLDER}\nWhat does {vl2.IMAGE_PLACEHOLDER} mean here?"
    with pytest.raises(ValueError, match="image token"):
        await prompt_input(processor, build_messages(text, planned_turn(TURNS[1])))


async def test_placeholder_count_must_match_images(processor: Any) -> None:
    """One placeholder for two images is an error, not a silently shifted prompt."""
    with pytest.raises(ValueError, match="1 <IMAGE_TOKEN> placeholders for 2 images"):
        await prompt_input(processor, build_messages(user_text(1), planned_turn(TURNS[2])))


async def test_plan_for_another_turn_size_is_rejected(processor: Any) -> None:
    """A tiled plan (made for a turn of 1) cannot ride in a turn of 3, which is padded."""
    planned = planned_turn(TURNS[1]) + planned_turn(TURNS[3])[1:]
    with pytest.raises(ValueError, match="tiled plan in a turn of 3"):
        await prompt_input(processor, build_messages(user_text(3), planned))


@pytest.mark.parametrize("n_images", [2, 3])
async def test_engine_input_processor_reads_one_entry(
    processor: Any, tiny_model: Path, n_images: int
) -> None:
    """The engine's VL2 input processor gets one span of image tokens and the model's counts."""
    planned = planned_turn(TURNS[n_images])
    result = await prompt_input(processor, build_messages(user_text(n_images), planned))
    config = ModelConfig.from_pretrained(str(tiny_model), dtype="auto", device_type="cuda")
    engine_input = DeepSeekVLV2InputProcessor(config.hf_config, config.dtype).preprocess_input(
        result["input_ids"], result["multimodal"]
    )
    ((entry,), (data,)) = result["multimodal"], engine_input.input_multimodals["image"]
    assert (data.start, data.end) == (entry["offset"], entry["offset"] + entry["image_tokens"])
    assert data.data.dtype == config.dtype == torch.bfloat16
    assert data.meta["image_token_id"] == entry["image_token_id"]

    # What DeepseekVLV2ForCausalLM.prepare_inputs_embeds will make of it, from the config.
    hf = config.hf_config
    side = math.ceil((hf.vision_config.image_size // hf.vision_config.patch_size) / 2)
    assert hf.projector_config.downsample_ratio == 2
    crops = torch.cat([data.meta["images_spatial_crop"]]).unsqueeze(0)[0].tolist()
    assert data.data.shape[0] == sum(1 + tw * th for tw, th in crops)
    features = sum(side * (side + 1) + 1 + th * side * (tw * side + 1) for tw, th in crops)
    span = engine_input.input_ids[data.start : data.end]
    assert span.count(entry["image_token_id"]) == features
