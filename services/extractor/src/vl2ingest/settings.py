"""One frozen, typed settings tree, built once at the edge from ``VL2INGEST_*`` variables.

Nesting uses ``__``: ``VL2INGEST_KAFKA__BOOTSTRAP_SERVERS`` sets
``settings.kafka.bootstrap_servers``.
Lists are comma-separated. Unknown ``VL2INGEST_*`` variables are rejected (a typo must not be
silently ignored), except the ``VL2INGEST_TEST_*`` and ``VL2INGEST_DEV_*`` namespaces that belong to
the test suite and dev stack. Every error names the variable to fix.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal

import msgspec

from vl2ingest.errors import ConfigError
from vl2ingest_events import KeyEncoding, Task

ENV_PREFIX: Final = "VL2INGEST_"
_RESERVED_PREFIXES: Final = ("VL2INGEST_TEST_", "VL2INGEST_DEV_")
_MIB: Final = 1024 * 1024

PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]


class Secret:
    """A value that never shows up in logs, reprs or encoded settings."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class KafkaSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    bootstrap_servers: str = "127.0.0.1:9092"
    requests_topic: str = "vl2ingest.requests"
    results_topic: str = "vl2ingest.results"
    dlq_topic: str = "vl2ingest.dlq"
    group_id: str = "vl2ingest-extractor"
    group_instance_id: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9._-]{1,249}$")] | None = (
        None
    )
    """Static group membership (KIP-345): a name stable across restarts of THIS instance (the
    Helm chart's StatefulSet uses the pod name). A restart within ``session_timeout_ms`` gets
    its partitions back without a rebalance of the other members. Its partitions are then not
    handed over when it stops (no LeaveGroup): after a scale-in they move only once the session
    times out. Unset: dynamic membership."""
    client_id: str = "vl2ingest"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: Secret | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    max_poll_records: PositiveInt = 500
    session_timeout_ms: PositiveInt = 45_000
    max_poll_interval_ms: PositiveInt = 300_000
    commit_interval_ms: PositiveInt = 500
    request_timeout_ms: PositiveInt = 30_000
    transactional_id_prefix: str = "vl2ingest"
    compression_type: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "zstd"
    """Compression of the result and DLQ batches the service produces (both delivery modes).
    zstd by default: on OCR result events it stored a quarter (busy) to a third (quiet) of the
    bytes, as small as gzip and smaller than lz4 and snappy, for less CPU than gzip: 0.03 to
    0.14 ms per event, against tens of ms of CPU per image elsewhere (`make bench`,
    docs/benchmarks.md). Reading compressed requests needs no setting: every
    codec is always installed."""
    """Exactly-once: producers are ``<prefix>.<group>.<topic>.<partition>``; keep it stable."""


class S3Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    endpoint_url: str | None = None
    """None means AWS itself; set it for any other S3-compatible server."""
    region: str = "us-east-1"
    access_key_id: str | None = None
    """None means boto3's default credentials chain (env, IRSA web identity, instance profile)."""
    secret_access_key: Secret | None = None
    addressing_style: Literal["auto", "path", "virtual"] = "auto"
    allowed_buckets: tuple[str, ...] = ()
    """Buckets the service may read; any other bucket fails with ``bucket_not_allowed``."""
    max_object_bytes: PositiveInt = 50 * _MIB
    fetch_concurrency: PositiveInt = 16
    connect_timeout_s: PositiveFloat = 5.0
    read_timeout_s: PositiveFloat = 30.0
    max_attempts: PositiveInt = 3
    """botocore's own attempts per call (standard retry mode)."""


class ImagingSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    max_pixels: PositiveInt = 64_000_000
    """Decompression-bomb guard: images with more pixels are rejected before decoding."""
    workers: Annotated[int, msgspec.Meta(ge=0)] = 0
    """Decode/prepare worker threads; 0 means one per CPU core."""


class EngineSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Literal["rapidocr", "lmdeploy"] = "rapidocr"
    """``rapidocr``: embedded CPU OCR. ``lmdeploy``: DeepSeek-VL2 on GPU."""
    max_new_tokens: PositiveInt = 1024
    threads: Annotated[int, msgspec.Meta(ge=0)] = 0
    """CPU engines: inference threads; 0 means the library's default."""
    # --- lmdeploy (DeepSeek-VL2) --------------------------------------------------------------
    model_path: str | None = None
    """Local directory of the DeepSeek-VL2 checkpoint (mounted; never downloaded at start)."""
    model_name: str = "deepseek-vl2-tiny"
    """Reported as ``model.name`` in every event."""
    model_revision: str = ""
    """Reported as ``model.revision``; empty means a hash of the checkpoint's config.json."""
    backend: Literal["turbomind", "pytorch", "auto"] = "turbomind"
    """Requested backend. DeepSeek-VL2 runs on the PyTorch engine only: the backend that really
    runs is detected and reported, and a start-up line says when it differs."""
    dtype: Literal["auto", "bfloat16", "float16"] = "auto"
    max_batch_size: PositiveInt = 32
    """Sequences the engine runs at once (continuous batching)."""
    cache_max_entry_count: Annotated[float, msgspec.Meta(gt=0, le=0.95)] = 0.8
    """Fraction of free GPU memory for the KV cache."""
    tp: PositiveInt = 1
    temperature: Annotated[float, msgspec.Meta(ge=0, le=0.7)] = 0.0
    """0 means greedy; DeepSeek-VL2 degrades above 0.7."""
    repetition_penalty: Annotated[float, msgspec.Meta(ge=1.0, le=2.0)] = 1.1
    request_timeout_s: PositiveFloat = 120.0
    """Per-request deadline inside the engine."""


class PipelineSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    default_task: Task = "ocr"
    """Task for S3 event-notification requests, which carry none."""
    s3_event_key_encoding: KeyEncoding = "auto"
    """How S3 notifications write object keys: ``url`` (AWS, MinIO: ``+`` is a space), ``raw``
    (versitygw), or ``auto``: decode as AWS does, and if that object does not exist and the key
    as sent differs, fetch the key as sent. ``auto`` costs one extra GET, only for a raw key with
    ``+`` or ``%`` in it; set the server's own encoding where both spellings could exist."""
    max_batch_images: PositiveInt = 8
    max_batch_image_tokens: PositiveInt = 32_768
    """Bound on a batch's estimated image tokens (DeepSeek-VL2 plan), for GPU memory."""
    linger_ms: Annotated[int, msgspec.Meta(ge=0)] = 5
    max_in_flight_messages: PositiveInt = 256
    max_in_flight_bytes: PositiveInt = 512 * _MIB
    """Bound on the Kafka records in flight (their bytes)."""
    max_images_ahead: PositiveInt = 32
    """Images being fetched, prepared or waiting for the engine: how far the CPU stages may run
    ahead of the engine (a few batches keep it fed; more only costs memory)."""
    max_fetched_bytes: PositiveInt = 256 * _MIB
    """Bound on raw object bytes held between download and decode; downloads wait for room."""
    max_attempts: PositiveInt = 10
    """Attempts for a transient failure before the request is dead-lettered as retryable.
    With the defaults the back-off spans roughly 28 to 55 s: a short outage of S3 or of the
    engine is ridden out, not dead-lettered."""
    retry_base_ms: PositiveInt = 200
    retry_max_ms: PositiveInt = 15_000
    drain_timeout_s: PositiveFloat = 25.0


class HealthSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    """Set to 0.0.0.0 in a pod so the kubelet can probe it."""
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8080


class LogSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "console"] = "json"


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    kafka: KafkaSettings = msgspec.field(default_factory=KafkaSettings)
    s3: S3Settings = msgspec.field(default_factory=S3Settings)
    imaging: ImagingSettings = msgspec.field(default_factory=ImagingSettings)
    engine: EngineSettings = msgspec.field(default_factory=EngineSettings)
    pipeline: PipelineSettings = msgspec.field(default_factory=PipelineSettings)
    health: HealthSettings = msgspec.field(default_factory=HealthSettings)
    log: LogSettings = msgspec.field(default_factory=LogSettings)
    delivery: Literal["at_least_once", "exactly_once"] = "at_least_once"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from an environment mapping; errors name the variable to fix."""
        tree = _tree_from_env(environ)
        try:
            settings = msgspec.convert(tree, cls, strict=False, dec_hook=_dec_hook)
        except msgspec.ValidationError as exc:
            raise ConfigError(_explain(exc)) from exc
        settings.validate()
        return settings

    def validate(self) -> None:
        """Cross-field rules msgspec constraints cannot express."""
        if not self.s3.allowed_buckets:
            raise ConfigError(
                "VL2INGEST_S3__ALLOWED_BUCKETS is empty: list the buckets the service may read "
                "(comma-separated)"
            )
        if self.kafka.security_protocol.startswith("SASL") and not (
            self.kafka.sasl_mechanism and self.kafka.sasl_username and self.kafka.sasl_password
        ):
            raise ConfigError(
                "VL2INGEST_KAFKA__SECURITY_PROTOCOL is SASL_*: set "
                "VL2INGEST_KAFKA__SASL_MECHANISM, VL2INGEST_KAFKA__SASL_USERNAME and "
                "VL2INGEST_KAFKA__SASL_PASSWORD"
            )
        if self.engine.name == "lmdeploy" and not self.engine.model_path:
            raise ConfigError(
                "VL2INGEST_ENGINE__MODEL_PATH is required when VL2INGEST_ENGINE__NAME=lmdeploy"
            )
        if self.engine.name == "lmdeploy" and self.engine.tp != 1:
            raise ConfigError(
                "VL2INGEST_ENGINE__TP must be 1: with more GPUs LMDeploy runs the model in worker "
                "processes, where our DeepSeek-VL2 support is not installed"
            )


def _dec_hook(tp: type, obj: object) -> object:
    if tp is Secret and isinstance(obj, str):
        return Secret(obj)
    raise NotImplementedError(f"cannot convert to {tp!r}")


def _tree_from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name.startswith(_RESERVED_PREFIXES):
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        node = tree
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{name} conflicts with {ENV_PREFIX}{part.upper()}")
            node = child
        is_list = name in _list_variables()
        node[path[-1]] = _split_list(value) if is_list else value
    return tree


def setting_variables() -> dict[str, msgspec.inspect.Type]:
    """Every settable variable name with its type, derived from the Structs themselves."""
    out: dict[str, msgspec.inspect.Type] = {}

    def walk(cls: type, prefix: str) -> None:
        info = msgspec.inspect.type_info(cls)
        assert isinstance(info, msgspec.inspect.StructType)  # our own Structs
        for field in info.fields:
            name = prefix + field.name.upper()
            if isinstance(field.type, msgspec.inspect.StructType):
                walk(field.type.cls, name + "__")
            else:
                out[name] = field.type

    walk(Settings, ENV_PREFIX)
    return out


@functools.cache
def _list_variables() -> frozenset[str]:
    """Variables whose values are comma-separated lists in the environment."""
    sequences = (msgspec.inspect.VarTupleType, msgspec.inspect.ListType)
    return frozenset(name for name, tp in setting_variables().items() if isinstance(tp, sequences))


def _split_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


_PATH_RE: Final = re.compile(r"at `\$((?:\.[a-z0-9_]+)*)`")
_UNKNOWN_RE: Final = re.compile(r"unknown field `([^`]+)`")


def _explain(exc: msgspec.ValidationError) -> str:
    """Turn msgspec's ``... - at `$.kafka.port``` into a message naming the variable."""
    message = str(exc)
    match = _PATH_RE.search(message)
    parts = [p for p in match.group(1).split(".") if p] if match else []
    unknown = _UNKNOWN_RE.search(message)
    if unknown:
        parts.append(unknown.group(1))
        variable = ENV_PREFIX + "__".join(p.upper() for p in parts)
        return f"{variable} is not a known setting"
    variable = ENV_PREFIX + "__".join(p.upper() for p in parts)
    reason = message.split(" - at ", 1)[0]
    return f"{variable}: {reason}"
