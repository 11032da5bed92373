"""Prompts: DeepSeek-VL2's chat format, task texts, placeholders and argument checks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vl2ingest.vl2 import (
    IMAGE_PLACEHOLDER,
    LMDEPLOY_IMAGE_PLACEHOLDER,
    PROMPT_VERSION,
    TASKS,
    build_prompt,
    build_user_message,
)


def test_prompt_version_is_pinned() -> None:
    """PROMPT_VERSION names the current prompt set."""
    assert PROMPT_VERSION == "vl2-prompts-1"


def test_tasks_are_the_six_supported() -> None:
    """The supported tasks are exactly ocr, markdown, grounding, locate, caption, prompt."""
    assert set(TASKS) == {"ocr", "markdown", "grounding", "locate", "caption", "prompt"}


def test_placeholders() -> None:
    """The DeepSeek and LMDeploy image placeholders are the documented strings."""
    assert IMAGE_PLACEHOLDER == "<image>"
    assert LMDEPLOY_IMAGE_PLACEHOLDER == "<IMAGE_TOKEN>"


@pytest.mark.parametrize(
    ("task", "kwargs", "text"),
    [
        ("ocr", {}, "Read all the text in the image."),
        ("markdown", {}, "Convert the document to markdown."),
        ("caption", {}, "Describe this image in detail."),
        ("grounding", {}, "<|grounding|>Describe the image in detail."),
        ("grounding", {"prompt": "Where is the exit?"}, "<|grounding|>Where is the exit?"),
        ("locate", {"ref": "the giraffe"}, "Locate <|ref|>the giraffe<|/ref|> in the given image."),
        ("prompt", {"prompt": "How many cats?"}, "How many cats?"),
    ],
)
def test_one_image_prompt_is_exact(task: str, kwargs: dict[str, str], text: str) -> None:
    """A one-image prompt is <|User|>: <image>, the task text, a blank line, <|Assistant|>:."""
    assert build_prompt(task, 1, **kwargs) == f"<|User|>: <image>\n{text}\n\n<|Assistant|>:"


@pytest.mark.parametrize(
    ("task", "text"),
    [
        ("ocr", "Read all the text in the images."),
        ("caption", "Describe these images in detail."),
        ("grounding", "<|grounding|>Describe the images in detail."),
        ("markdown", "Convert the document to markdown."),
    ],
)
def test_several_images_use_plural_texts(task: str, text: str) -> None:
    """With several images the task texts speak of images in the plural where it matters."""
    assert build_prompt(task, 2) == f"<|User|>: <image>\n<image>\n{text}\n\n<|Assistant|>:"


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 20), st.sampled_from(["ocr", "markdown", "caption", "grounding"]))
def test_one_placeholder_per_image_at_the_start(n_images: int, task: str) -> None:
    """n images give n placeholders, each followed by a newline, right after the role."""
    prompt = build_prompt(task, n_images)
    assert prompt.count("<image>") == n_images
    assert prompt.startswith("<|User|>: " + "<image>\n" * n_images)
    assert not prompt.startswith("<|User|>: " + "<image>\n" * (n_images + 1))
    assert prompt.endswith("\n\n<|Assistant|>:")


def test_no_system_message() -> None:
    """The prompt starts with the user role: DeepSeek-VL2's template has no system message."""
    assert build_prompt("ocr", 1).startswith("<|User|>: ")


def test_lmdeploy_placeholder() -> None:
    """placeholder= swaps <image> for LMDeploy's <IMAGE_TOKEN>, one per image."""
    prompt = build_prompt("ocr", 2, placeholder=LMDEPLOY_IMAGE_PLACEHOLDER)
    assert prompt == (
        "<|User|>: <IMAGE_TOKEN>\n<IMAGE_TOKEN>\nRead all the text in the images.\n\n<|Assistant|>:"
    )
    assert "<image>" not in prompt


def test_user_message_is_the_prompt_without_roles() -> None:
    """build_user_message is the user turn's content that build_prompt wraps in roles."""
    message = build_user_message("locate", 1, ref="a dog", placeholder="<IMAGE_TOKEN>")
    assert message == "<IMAGE_TOKEN>\nLocate <|ref|>a dog<|/ref|> in the given image."
    assert build_prompt("locate", 1, ref="a dog", placeholder="<IMAGE_TOKEN>") == (
        f"<|User|>: {message}\n\n<|Assistant|>:"
    )


@pytest.mark.parametrize(
    ("task", "n_images", "kwargs", "message"),
    [
        ("locate", 1, {}, "needs a non-empty ref"),
        ("locate", 1, {"ref": "   "}, "needs a non-empty ref"),
        ("locate", 1, {"ref": "a <|ref|>b"}, "must not contain grounding markup"),
        ("locate", 1, {"ref": "<image>"}, "must not contain the image placeholder"),
        ("prompt", 1, {}, "needs a non-empty prompt"),
        ("prompt", 1, {"prompt": "\n\t "}, "needs a non-empty prompt"),
        ("prompt", 1, {"prompt": "look at <image>"}, "must not contain the image placeholder"),
        ("grounding", 1, {"prompt": " "}, "blank prompt"),
        ("ocr", 1, {"ref": "x"}, "ref is only used by task 'locate'"),
        ("caption", 1, {"prompt": "x"}, "prompt is only used by tasks"),
        ("ocr", 0, {}, "n_images must be an int >= 1"),
        ("ocr", -3, {}, "n_images must be an int >= 1"),
        ("translate", 1, {}, "unknown task 'translate'"),
    ],
)
def test_bad_arguments_are_refused(
    task: str, n_images: int, kwargs: dict[str, str], message: str
) -> None:
    """Missing, blank or misplaced arguments raise ValueError with a clear message."""
    with pytest.raises(ValueError, match=message):
        build_prompt(task, n_images, **kwargs)


def test_placeholder_in_prompt_is_refused_for_lmdeploy_too() -> None:
    """A prompt holding the chosen placeholder is refused, so image counts cannot drift."""
    with pytest.raises(ValueError, match="IMAGE_TOKEN"):
        build_prompt("prompt", 1, prompt="see <IMAGE_TOKEN>", placeholder="<IMAGE_TOKEN>")


def test_empty_placeholder_is_refused() -> None:
    """An empty placeholder is refused."""
    with pytest.raises(ValueError, match="placeholder"):
        build_prompt("ocr", 1, placeholder="")


def test_bool_image_count_is_refused() -> None:
    """True is not an image count."""
    with pytest.raises(ValueError, match="n_images"):
        build_prompt("ocr", True)
