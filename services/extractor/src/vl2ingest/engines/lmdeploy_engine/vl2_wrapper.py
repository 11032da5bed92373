"""Our DeepSeek-VL2 vision wrapper for LMDeploy, in place of its stock ``DeepSeek2VisionModel``.

The stock wrapper imports DeepSeek's processor package (transformers < 4.48 only) and sizes its
output for the first image alone. This one builds the same tensors from ``vl2ingest.vl2``'s plans
and views, for any number of images, and keeps the LEGACY wrapper API that LMDeploy's VL2 input
processor reads: ``preprocess(messages)`` then ``to_pytorch(messages, chat_template, tokenizer)``.

Images arrive as LMDeploy content items. An item may carry our pre-computed plan and views (see
:func:`build_messages`): the pipeline planned each image from its ORIGINAL size and cut the views,
possibly from a reduced copy, so the item's ``data`` is not looked at. A plain PIL image without
them is planned (within its turn) and cut here. LMDeploy keeps every extra key of an
``image_data`` dict: ``{"type": "image_data", "image_data": {"data": img, KEY: v}}`` reaches
``preprocess`` as ``{"type": "image", "data": img, KEY: v}``.

``to_pytorch`` returns ONE multimodal entry for the whole request (the model reads the crop
metadata of a request's first entry only): ``pixel_values`` ``[Σ(1 + tw·th), 3, 384, 384]`` (per
image its global view, then its tiles row-major), ``images_spatial_crop`` ``[[tw, th], ...]``,
``image_token_id``, ``offset`` (first image token) and ``image_tokens`` (the span from there to
the end of the last image's run, text between images included).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol

import numpy as np
import torch
from lmdeploy.vl.model.base import VisionModel
from PIL import Image
from transformers import AutoTokenizer

from vl2ingest.engines.lmdeploy_engine.vl2_config import LANGUAGE_ARCHITECTURE, MODEL_TYPE
from vl2ingest.vl2 import (
    IMAGE_PLACEHOLDER,
    LMDEPLOY_IMAGE_PLACEHOLDER,
    MAX_TILED_IMAGES,
    TILE_SIZE,
    ImagePlan,
    ImageViews,
    plan_image,
    prepare_image,
)
from vl2ingest.vl2.prompts import ASSISTANT_ROLE, GROUNDING_TAG, REF_CLOSE, REF_OPEN, USER_ROLE

PLAN_KEY: Final = "vl2_plan"
"""Content-item key of an image's :class:`~vl2ingest.vl2.ImagePlan`."""

VIEWS_KEY: Final = "vl2_views"
"""Content-item key of an image's :class:`~vl2ingest.vl2.ImageViews`."""

SINGLE_TOKENS: Final = (
    IMAGE_PLACEHOLDER,
    USER_ROLE,
    ASSISTANT_ROLE,
    GROUNDING_TAG,
    REF_OPEN,
    REF_CLOSE,
)
"""Markup our prompts contain, each of which must be ONE token of the vocabulary (DeepSeek's
processor adds any that are missing; we rely on the published vocabulary holding them)."""

_PREPROCESS_ROLE: Final = "preprocess"
_TOKENS_KEY: Final = "vl2_image_tokens"


class PromptTokenizer(Protocol):
    """What ``to_pytorch`` needs of LMDeploy's ``Tokenizer``."""

    @property
    def bos_token_id(self) -> int | None: ...

    def encode(self, s: str, add_bos: bool = ..., add_special_tokens: bool = ...) -> list[int]: ...


class VocabularyTokenizer(Protocol):
    """What :func:`check_vocabulary` needs of a transformers tokenizer."""

    @property
    def bos_token_id(self) -> int | None: ...

    def encode(self, text: str, add_special_tokens: bool = ...) -> list[int]: ...


def build_messages(
    user_text: str, images: Sequence[tuple[ImagePlan, ImageViews]]
) -> list[dict[str, Any]]:
    """LMDeploy messages for one turn: ``user_text`` and each image's pre-computed plan and views.

    ``user_text`` holds one ``<IMAGE_TOKEN>`` per image, as
    ``vl2.build_user_message(..., placeholder=LMDEPLOY_IMAGE_PLACEHOLDER)`` renders it. Each image
    is an ``image_data`` item whose ``data`` is its global view: LMDeploy requires some image
    there, and the wrapper reads only the plan and views.
    """
    content: list[dict[str, Any]] = [{"type": "text", "text": user_text}]
    for plan, views in images:
        item = {"data": views.global_view, PLAN_KEY: plan, VIEWS_KEY: views}
        content.append({"type": "image_data", "image_data": item})
    return [{"role": "user", "content": content}]


def check_vocabulary(tokenizer: VocabularyTokenizer) -> int:
    """The id of DeepSeek-VL2's ``<image>`` token, after checking the vocabulary suits our prompts.

    Raises ValueError when there is no BOS token or when any of :data:`SINGLE_TOKENS` is not
    exactly one token. Run once at start-up (the wrapper does, when LMDeploy builds it).
    """
    if tokenizer.bos_token_id is None:
        raise ValueError("the tokenizer has no BOS token; DeepSeek-VL2 prompts start with one")
    ids: dict[str, list[int]] = {}
    for token in SINGLE_TOKENS:
        ids[token] = list(tokenizer.encode(token, add_special_tokens=False))
        if len(ids[token]) != 1:
            raise ValueError(
                f"the tokenizer encodes {token!r} as {len(ids[token])} tokens; "
                "DeepSeek-VL2 needs it to be exactly one (is this a DeepSeek-VL2 checkpoint?)"
            )
    return ids[IMAGE_PLACEHOLDER][0]


class VL2VisionModel(VisionModel):
    """DeepSeek-VL2's preprocessing on ``vl2ingest.vl2``, registered as ``DeepSeek2VisionModel``."""

    _arch = LANGUAGE_ARCHITECTURE

    @classmethod
    def match(cls, config: Any) -> bool:
        """A DeepSeek-VL2 config, as our config class (or plain dicts) hold it."""
        if getattr(config, "model_type", None) != MODEL_TYPE:
            return False
        language = getattr(config, "language_config", None)
        if isinstance(language, Mapping):
            architectures = language.get("architectures")
        else:
            architectures = getattr(language, "architectures", None)
        if not architectures:
            return False
        return bool(architectures[0] == LANGUAGE_ARCHITECTURE)

    def build_preprocessor(self, trust_remote_code: bool = False) -> None:
        tokenizer = AutoTokenizer.from_pretrained(
            self.model_path, trust_remote_code=trust_remote_code
        )
        self.image_token_id = check_vocabulary(tokenizer)

    def preprocess(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Append the request's pixel tensors and image metadata as a ``preprocess`` message."""
        items = self.collect_multimodal_items(messages)
        if not items:
            raise ValueError("a DeepSeek-VL2 request needs at least one image")
        planned = []
        for modality, data, params in items:
            if modality != "image":
                raise ValueError(f"DeepSeek-VL2 takes images only, not {modality!r}")
            planned.append(_planned_image(data, params, turn_size=len(items)))
        pixel_values = self._postprocess_mm_output(_pixel_values(planned), self.mm_feature_dtype)
        entry = {
            "pixel_values": pixel_values,
            "images_spatial_crop": torch.tensor(
                [[plan.tiles_w, plan.tiles_h] for plan, _ in planned], dtype=torch.long
            ),
            "image_token_id": self.image_token_id,
            _TOKENS_KEY: [plan.image_tokens for plan, _ in planned],
        }
        messages.append({"role": _PREPROCESS_ROLE, "content": [entry]})
        return messages

    def to_pytorch(
        self,
        messages: list[dict[str, Any]],
        chat_template: Any,
        tokenizer: PromptTokenizer,
        *args: object,
        tools: object = None,
        chat_template_kwargs: Mapping[str, Any] | None = None,
        **kwargs: object,
    ) -> dict[str, Any]:
        """The prompt, its token ids with each image's run of image tokens, and ONE multimodal
        entry for the whole request (see the module docstring)."""
        entry = _preprocessed_entry(messages)
        per_image: list[int] = entry[_TOKENS_KEY]
        prompt: str = chat_template.messages2prompt(
            _prompt_messages(messages), tools=tools, **(chat_template_kwargs or {})
        )
        segments = prompt.split(LMDEPLOY_IMAGE_PLACEHOLDER)
        if len(segments) != len(per_image) + 1:
            raise ValueError(
                f"the prompt has {len(segments) - 1} {LMDEPLOY_IMAGE_PLACEHOLDER} placeholders "
                f"for {len(per_image)} images"
            )
        if tokenizer.bos_token_id is None:
            raise ValueError("the tokenizer has no BOS token")
        input_ids = [tokenizer.bos_token_id]
        offset = end = 0
        for index, segment in enumerate(segments):
            if index == 1:
                offset = len(input_ids)
            if index > 0:
                input_ids.extend([self.image_token_id] * per_image[index - 1])
                end = len(input_ids)
            text_ids = tokenizer.encode(segment, add_bos=False, add_special_tokens=False)
            if self.image_token_id in text_ids:
                raise ValueError(f"the text must not contain the image token {IMAGE_PLACEHOLDER!r}")
            input_ids.extend(text_ids)
        multimodal = {
            "pixel_values": entry["pixel_values"],
            "images_spatial_crop": entry["images_spatial_crop"],
            "image_token_id": self.image_token_id,
            "offset": offset,
            "image_tokens": end - offset,
        }
        return {"prompt": prompt, "input_ids": input_ids, "multimodal": [multimodal]}

    def to_pytorch_with_input_ids(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        raise NotImplementedError("DeepSeek-VL2 requests are messages, not token ids")


def _planned_image(
    data: object, params: Mapping[str, Any], *, turn_size: int
) -> tuple[ImagePlan, ImageViews]:
    """The item's own plan and views, checked against its turn, or both made from ``data``."""
    plan, views = params.get(PLAN_KEY), params.get(VIEWS_KEY)
    if plan is None and views is None:
        if not isinstance(data, Image.Image):
            raise TypeError(f"an image item needs a PIL image, got {type(data).__name__}")
        plan = plan_image(data.width, data.height, turn_size=turn_size)
        return plan, prepare_image(data, plan)
    if not isinstance(plan, ImagePlan) or not isinstance(views, ImageViews):
        raise TypeError(f"an image item needs both {PLAN_KEY!r} and {VIEWS_KEY!r}, or neither")
    layout = "tiled" if turn_size <= MAX_TILED_IMAGES else "padded"
    if plan.layout != layout:
        raise ValueError(f"a {plan.layout} plan in a turn of {turn_size} images (needs {layout})")
    tile = (TILE_SIZE, TILE_SIZE)
    if len(views.tiles) != plan.tile_count or any(
        view.size != tile for view in (views.global_view, *views.tiles)
    ):
        raise ValueError(f"views do not match a plan of {plan.tiles_w}x{plan.tiles_h} tiles")
    return plan, views


def _pixel_values(planned: Sequence[tuple[ImagePlan, ImageViews]]) -> torch.Tensor:
    """All views, normalised as DeepSeek's processor does: ``(x / 255 - 0.5) / 0.5``."""
    arrays = [
        np.asarray(view.convert("RGB") if view.mode != "RGB" else view, dtype=np.uint8)
        for _, views in planned
        for view in (views.global_view, *views.tiles)
    ]
    pixels = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float()
    return pixels.div_(255).sub_(0.5).div_(0.5)


def _preprocessed_entry(messages: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    entries = [m["content"] for m in messages if m["role"] == _PREPROCESS_ROLE]
    if len(entries) != 1 or len(entries[0]) != 1:
        raise ValueError("to_pytorch needs the messages as preprocess() returned them")
    entry: dict[str, Any] = entries[0][0]
    return entry


def _prompt_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """User and assistant turns with their text only, as the chat template takes them."""
    rendered = []
    for message in messages:
        role = message["role"]
        if role == _PREPROCESS_ROLE:
            continue
        if role not in {"user", "assistant"}:
            raise ValueError(f"DeepSeek-VL2 prompts take user and assistant turns, not {role!r}")
        content = message["content"]
        if not isinstance(content, str):  # text items joined as LMDeploy's own processor does
            content = "\n".join(item["text"] for item in content if item.get("type") == "text")
        rendered.append({"role": role, "content": content})
    return rendered
