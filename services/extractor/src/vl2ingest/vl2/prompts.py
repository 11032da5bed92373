"""Prompts for DeepSeek-VL2, in its own chat format.

DeepSeek-VL2's "deepseek" conversation template has no system message, roles ``<|User|>`` and
``<|Assistant|>``, ``": "`` after a role and ``"\\n\\n"`` after the user turn, and leaves the
assistant turn open. One image placeholder plus a newline goes at the start of the user text
per image, so a one-image turn renders as::

    <|User|>: <image>
    {text}

    <|Assistant|>:

Task texts (changing any of them changes ``PROMPT_VERSION``):

* ``ocr``: "Read all the text in the image." ("images" for several);
* ``markdown``: "Convert the document to markdown.";
* ``caption``: "Describe this image in detail." ("these images" for several);
* ``grounding``: ``<|grounding|>`` then the caller's ``prompt``, or by default
  "Describe the image in detail." - grounded captioning: the answer carries
  ``<|ref|>..<|/ref|><|det|>..<|/det|>`` boxes for what it mentions;
* ``locate``: "Locate <|ref|>{ref}<|/ref|> in the given image." - object localisation;
  DeepSeek's README says ``<|grounding|>`` is for grounded captioning and the ``<|ref|>``
  tags alone ask for localisation, so ``locate`` does not add ``<|grounding|>``;
* ``prompt``: the caller's text, verbatim.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

Task = Literal["ocr", "markdown", "grounding", "locate", "caption", "prompt"]
TASKS: Final[tuple[str, ...]] = get_args(Task)

PROMPT_VERSION: Final = "vl2-prompts-1"
"""Bump whenever any text this module renders changes."""

IMAGE_PLACEHOLDER: Final = "<image>"
"""DeepSeek-VL2's image placeholder (the processor's ``image_token``)."""

LMDEPLOY_IMAGE_PLACEHOLDER: Final = "<IMAGE_TOKEN>"
"""LMDeploy's placeholder; pass it as ``placeholder=`` when LMDeploy expands images."""

USER_ROLE: Final = "<|User|>"
ASSISTANT_ROLE: Final = "<|Assistant|>"
GROUNDING_TAG: Final = "<|grounding|>"
REF_OPEN: Final = "<|ref|>"
REF_CLOSE: Final = "<|/ref|>"

_MARKUP: Final = ("<|ref|>", "<|/ref|>", "<|det|>", "<|/det|>", "<|grounding|>")


def task_text(
    task: str, n_images: int, *, ref: str | None = None, prompt: str | None = None
) -> str:
    """The instruction for ``task``, without image placeholders or chat roles."""
    _check_args(task, n_images, ref=ref, prompt=prompt)
    several = n_images > 1
    if task == "ocr":
        return "Read all the text in the images." if several else "Read all the text in the image."
    if task == "markdown":
        return "Convert the document to markdown."
    if task == "caption":
        return "Describe these images in detail." if several else "Describe this image in detail."
    if task == "grounding":
        if prompt is not None:
            return GROUNDING_TAG + prompt
        noun = "images" if several else "image"
        return f"{GROUNDING_TAG}Describe the {noun} in detail."
    if task == "locate":
        return f"Locate {REF_OPEN}{ref}{REF_CLOSE} in the given image."
    # task == "prompt"; _check_args guarantees prompt is a non-blank str here.
    return prompt or ""


def build_user_message(
    task: str,
    n_images: int,
    *,
    ref: str | None = None,
    prompt: str | None = None,
    placeholder: str = IMAGE_PLACEHOLDER,
) -> str:
    """The user turn's content: one ``placeholder + "\\n"`` per image, then the task text.

    This is what a chat-templating engine (LMDeploy) takes as the message content.
    """
    if not placeholder:
        raise ValueError("placeholder must be a non-empty string")
    for name, value in (("ref", ref), ("prompt", prompt)):
        if value is not None and placeholder in value:
            raise ValueError(f"{name} must not contain the image placeholder {placeholder!r}")
    text = task_text(task, n_images, ref=ref, prompt=prompt)
    return f"{placeholder}\n" * n_images + text


def build_prompt(
    task: str,
    n_images: int,
    *,
    ref: str | None = None,
    prompt: str | None = None,
    placeholder: str = IMAGE_PLACEHOLDER,
) -> str:
    """The whole prompt: ``<|User|>: <image>\\n...{text}\\n\\n<|Assistant|>:``.

    Raises ValueError for an unknown task, ``n_images < 1``, ``locate`` without ``ref``,
    ``prompt`` without ``prompt``, or an argument the task does not use.
    """
    message = build_user_message(task, n_images, ref=ref, prompt=prompt, placeholder=placeholder)
    return f"{USER_ROLE}: {message}\n\n{ASSISTANT_ROLE}:"


def _check_args(task: str, n_images: int, *, ref: str | None, prompt: str | None) -> None:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    if type(n_images) is not int or n_images < 1:
        raise ValueError(f"n_images must be an int >= 1, got {n_images!r}")
    if task == "locate":
        if ref is None or not ref.strip():
            raise ValueError("task 'locate' needs a non-empty ref (what to locate)")
        if any(tag in ref for tag in _MARKUP):
            raise ValueError("ref must not contain grounding markup such as <|ref|>")
    elif ref is not None:
        raise ValueError(f"ref is only used by task 'locate', not {task!r}")
    if task == "prompt":
        if prompt is None or not prompt.strip():
            raise ValueError("task 'prompt' needs a non-empty prompt text")
    elif task == "grounding":
        if prompt is not None and not prompt.strip():
            raise ValueError("task 'grounding' got a blank prompt; omit it for the default")
    elif prompt is not None:
        raise ValueError(f"prompt is only used by tasks 'prompt' and 'grounding', not {task!r}")
    if ref is not None and IMAGE_PLACEHOLDER in ref:
        raise ValueError(f"ref must not contain the image placeholder {IMAGE_PLACEHOLDER!r}")
    if prompt is not None and IMAGE_PLACEHOLDER in prompt:
        raise ValueError(f"prompt must not contain the image placeholder {IMAGE_PLACEHOLDER!r}")
