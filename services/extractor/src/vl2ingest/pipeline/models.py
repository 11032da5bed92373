"""Value types that flow between pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from PIL import Image

from vl2ingest.vl2 import ImagePlan, ImageViews
from vl2ingest_events import ExtractionRequested, Region

TopicPartition = tuple[str, int]
ImageInput = Literal["pixels", "vl2_views"]
"""What an engine consumes: the (reduced) pixels, or DeepSeek-VL2's global view + tiles."""


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One Kafka record from the requests topic, detached from the client library."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp_ms: int = 0

    @property
    def tp(self) -> TopicPartition:
        return (self.topic, self.partition)

    @property
    def size_bytes(self) -> int:
        return len(self.value or b"") + len(self.key or b"")


@dataclass(frozen=True, slots=True)
class S3Location:
    bucket: str
    key: str
    version_id: str | None = None
    sha256: str | None = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True, slots=True)
class FetchedObject:
    location: S3Location
    data: bytes
    fetch_ms: float = 0.0
    reserved: int = 0
    """Bytes reserved in the fetch budget for this object; released after preparation."""


@dataclass(frozen=True, slots=True)
class PreparedImage:
    """A decoded image ready for the engine, with the model's plan for it."""

    uri: str
    width: int
    """Original width, after EXIF orientation."""
    height: int
    image: Image.Image
    """RGB pixels, already reduced to what the engine consumes."""
    plan: ImagePlan
    views: ImageViews | None = None
    """DeepSeek-VL2's global view and tiles, for engines whose input is ``vl2_views``."""


@dataclass(frozen=True, slots=True)
class EngineRequest:
    request: ExtractionRequested
    images: tuple[PreparedImage, ...]
    max_new_tokens: int

    @property
    def image_count(self) -> int:
        return len(self.images)

    @property
    def image_tokens(self) -> int:
        return sum(image.plan.image_tokens for image in self.images)


@dataclass(frozen=True, slots=True)
class EngineOutput:
    text: str
    regions: tuple[Region, ...] = ()
    input_tokens: int = 0
    output_tokens: int = 0
    finish_reason: str = "stop"
    infer_ms: float = 0.0
    problems: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class EngineInfo:
    """What is serving; ``backend`` is what actually runs, never merely what was requested."""

    name: str
    revision: str
    engine: str
    backend: str
    supported_tasks: frozenset[str]
    image_input: ImageInput = "pixels"
    max_image_side: int | None = None
    """Longest side the engine consumes (``pixels``); the prepare stage shrinks larger images."""
    context_tokens: int | None = None
    """Context length of a DeepSeek-VL2 engine: requests that cannot fit fail before inference.
    None for engines without a token context (the OCR engine)."""
    prompt_version: str = ""
    """Version of the prompts the engine renders (``vl2.PROMPT_VERSION`` for DeepSeek-VL2)."""
