"""DeepSeek-VL2 on LMDeploy, behind the pipeline's ``Engine`` protocol.

lmdeploy (and torch) are imported only in :meth:`LmdeployEngine.start`, so this module imports
on a machine without CUDA or lmdeploy. The engine runs on OUR event loop through LMDeploy's async
API (``start_loop(loop, use_async_api=True)``); each request of a micro-batch is submitted at
once and LMDeploy's continuous batching runs them together.

Facts that shape it (../shared/LMDEPLOY_VL2.md): DeepSeek-VL2 runs on the PyTorch engine only,
and a TurboMind request silently falls back to it, so the backend that really runs is detected
and reported (events, logs, spans); the stock vision wrapper cannot load with current
transformers and fails on several images, so ours (``vl2_support``) replaces it.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from vl2ingest import vl2
from vl2ingest.errors import (
    ConfigError,
    ContextOverflow,
    DeadlineExceeded,
    EngineDead,
    EngineOutOfMemory,
    InferenceFailed,
    InvalidRequest,
    VL2IngestError,
)
from vl2ingest.lifecycle import AsyncResource
from vl2ingest.pipeline.models import EngineInfo, EngineOutput, EngineRequest
from vl2ingest.settings import EngineSettings
from vl2ingest_events import Region

log = structlog.get_logger("vl2ingest.engines.lmdeploy")

ENGINE = "lmdeploy"
SUPPORTED_TASKS = frozenset(vl2.TASKS)


@dataclass(frozen=True, slots=True)
class BackendChoice:
    requested: str
    actual: str

    @property
    def notice(self) -> str | None:
        """The one plain start-up line that says when the backend differs from the request."""
        if self.requested in {self.actual, "auto"}:
            return None
        return (
            f"deepseek-vl2 is not supported by {_pretty(self.requested)}; "
            f"running on the {_pretty(self.actual)} engine"
        )


def _pretty(backend: str) -> str:
    return {"turbomind": "TurboMind", "pytorch": "PyTorch"}.get(backend, backend)


def generation_kwargs(
    task: str, max_new_tokens: int, settings: EngineSettings, *, ignore_eos: bool = False
) -> dict[str, Any]:
    """LMDeploy ``GenerationConfig`` arguments for one request.

    Greedy by default. LMDeploy applies ``repetition_penalty`` only when sampling, so greedy with
    a penalty is ``do_sample=True, top_k=1``. Special tokens are kept so grounding markup can be
    parsed. Free prompts and captions may sample (temperature <= 0.7, validated in settings).
    ``ignore_eos`` generates exactly ``max_new_tokens``: for measurements only (see
    :class:`LmdeployEngine`).
    """
    sampling = settings.temperature > 0 and task in {"prompt", "caption"}
    return {
        "max_new_tokens": max_new_tokens,
        "do_sample": True,
        "top_k": 40 if sampling else 1,
        "top_p": 0.9 if sampling else 1.0,
        "temperature": settings.temperature if sampling else 1.0,
        "repetition_penalty": settings.repetition_penalty,
        "skip_special_tokens": False,
        "ignore_eos": ignore_eos,
    }


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    input_tokens: int
    output_tokens: int
    finish_reason: str | None


def join_answer(chunks: Sequence[Any]) -> Answer | None:
    """The answer from the items LMDeploy's ``generate`` yielded, or None if it yielded none.

    Each item carries the text generated since the previous one (the PyTorch engine streams
    whether or not ``stream_response`` is asked) and the token counts as of that item, so the
    answer is the joined text with the last item's counts and finish reason.
    """
    if not chunks:
        return None
    last = chunks[-1]
    return Answer(
        text="".join(chunk.response or "" for chunk in chunks),
        input_tokens=int(last.input_token_len),
        output_tokens=int(last.generate_token_len),
        finish_reason=last.finish_reason,
    )


def translate_error(exc: BaseException) -> VL2IngestError:
    """Map an LMDeploy/torch failure of ONE request onto our classes (by name and code, so
    this needs no lmdeploy import). LMDeploy wraps what fails inside generation in a generic
    internal error, so the chain of causes is searched for an out-of-memory error first."""
    for link in _chain(exc):
        if "OutOfMemory" in type(link).__name__ or "out of memory" in str(link).lower():
            return EngineOutOfMemory(f"{type(link).__name__}: {link}"[:500])
    name = type(exc).__name__
    code = str(getattr(getattr(exc, "code", None), "value", getattr(exc, "code", "")))
    message = f"{name}: {exc}"[:500]
    if code == "context_length_exceeded":
        return ContextOverflow(message)
    if code in {"invalid_request", "preprocess_failed", "unsupported_feature"}:
        return InvalidRequest(message)
    if code == "engine_unavailable":
        return EngineDead(message)
    return InferenceFailed(message)


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and its causes and contexts, each once."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not s for s in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def checkpoint_revision(model_path: str) -> str:
    """A stable revision for a checkpoint directory: a hash of its config.json."""
    config = Path(model_path) / "config.json"
    if not config.is_file():
        raise ConfigError(f"VL2INGEST_ENGINE__MODEL_PATH: no config.json in {model_path}")
    return "cfg-" + hashlib.sha256(config.read_bytes()).hexdigest()[:12]


class LmdeployEngine(AsyncResource):
    """DeepSeek-VL2 through LMDeploy.

    ``fixed_output_length`` makes every request generate exactly its ``max_new_tokens``,
    ignoring end-of-sequence: GPU throughput measurements (``bench/gpu.py``) and checks with
    random weights use it. It is a constructor argument, never a setting: the service does not
    offer it.
    """

    def __init__(self, settings: EngineSettings, *, fixed_output_length: bool = False) -> None:
        if not settings.model_path:
            raise ConfigError("VL2INGEST_ENGINE__MODEL_PATH is required for the lmdeploy engine")
        if settings.tp != 1:
            raise ConfigError(
                "VL2INGEST_ENGINE__TP must be 1: with more GPUs LMDeploy runs the model in worker "
                "processes, where our DeepSeek-VL2 support is not installed"
            )
        self._settings = settings
        self._fixed_output_length = fixed_output_length
        self._model_path = settings.model_path
        self._engine: Any = None
        self._gen_config_cls: Any = None
        self._sessions = itertools.count(1)
        self._info: EngineInfo | None = None

    @property
    def info(self) -> EngineInfo:
        if self._info is None:
            raise RuntimeError("LmdeployEngine is not started")
        return self._info

    async def start(self) -> None:
        if self._engine is not None:
            raise RuntimeError("LmdeployEngine already started")
        revision = self._settings.model_revision or checkpoint_revision(self._model_path)
        loop = asyncio.get_running_loop()
        # Building loads weights and allocates the KV cache: seconds to minutes, off the loop.
        engine, choice, gen_config_cls = await loop.run_in_executor(None, self._build)
        if choice.notice:
            log.warning(choice.notice, requested_backend=choice.requested, backend=choice.actual)
        engine.start_loop(loop, use_async_api=True)
        self._engine = engine
        self._gen_config_cls = gen_config_cls
        self._info = EngineInfo(
            name=self._settings.model_name,
            revision=revision,
            engine=ENGINE,
            backend=choice.actual,
            supported_tasks=SUPPORTED_TASKS,
            image_input="vl2_views",
            context_tokens=vl2.CONTEXT_TOKENS,
            prompt_version=vl2.PROMPT_VERSION,
        )

    def _build(self) -> tuple[Any, BackendChoice, Any]:
        from vl2ingest.engines.lmdeploy_engine.env_check import disable_env_check

        disable_env_check()  # first: LMDeploy reads the switch when it is imported
        from lmdeploy import (  # lazy: only GPU pods load lmdeploy
            ChatTemplateConfig,
            GenerationConfig,
            PytorchEngineConfig,
            TurbomindEngineConfig,
        )
        from lmdeploy.archs import autoget_backend_config
        from lmdeploy.serve.core import VLAsyncEngine

        from vl2ingest.engines.lmdeploy_engine.vl2_support import (
            install_vl2_support,
        )

        install_vl2_support()
        s = self._settings
        common = {
            "dtype": s.dtype,
            "tp": s.tp,
            "session_len": vl2.CONTEXT_TOKENS,
            "max_batch_size": s.max_batch_size,
            "cache_max_entry_count": s.cache_max_entry_count,
        }
        requested: Any = (
            PytorchEngineConfig(**common)
            if s.backend == "pytorch"
            else TurbomindEngineConfig(**common)
        )
        actual, config = autoget_backend_config(self._model_path, requested)
        engine = VLAsyncEngine(
            self._model_path,
            backend=actual,
            backend_config=config,
            chat_template_config=ChatTemplateConfig(model_name="deepseek-vl2"),
        )
        return engine, BackendChoice(requested=s.backend, actual=actual), GenerationConfig

    async def stop(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            # On the loop, not in a worker thread: close() cancels the engine's asyncio task.
            engine.close()
            await asyncio.sleep(0)  # let the cancelled engine loop run its clean-up

    async def check_health(self) -> bool:
        if self._engine is None:
            return False
        try:
            # LMDeploy's own probe: the backend is alive, and its scheduler has made progress
            # within a request deadline whenever requests are dispatched (a stalled engine is
            # as unhealthy as a dead one).
            probe = await self._engine.health_probe(
                scheduler_stall_timeout=self._settings.request_timeout_s
            )
        except Exception:  # noqa: BLE001  # any failure to answer means unhealthy
            return False
        return bool(probe.get("status") == "healthy")

    async def infer(self, batch: Sequence[EngineRequest]) -> list[EngineOutput | VL2IngestError]:
        engine = self._engine  # stop() may clear the attribute while requests are in flight
        if engine is None:
            raise EngineDead("the lmdeploy engine is not running")
        results = await asyncio.gather(*(self._one(engine, request) for request in batch))
        dead = [r for r in results if isinstance(r, EngineDead)]
        if dead:
            raise dead[0]  # a dead engine fails the process, not the request
        return list(results)

    async def _one(self, engine: Any, request: EngineRequest) -> EngineOutput | VL2IngestError:
        from vl2ingest.engines.lmdeploy_engine.vl2_support import (
            build_messages,
        )

        task = request.request
        started = time.monotonic()
        try:
            user_text = vl2.build_user_message(
                task.task,
                request.image_count,
                ref=task.ref,
                prompt=task.prompt,
                placeholder=vl2.LMDEPLOY_IMAGE_PLACEHOLDER,
            )
        except ValueError as exc:
            return InvalidRequest(str(exc))
        views = []
        for image in request.images:
            if image.views is None:
                return InferenceFailed("image reached the engine without DeepSeek-VL2 views")
            views.append((image.plan, image.views))
        gen_config = self._gen_config_cls(
            **generation_kwargs(
                task.task,
                request.max_new_tokens,
                self._settings,
                ignore_eos=self._fixed_output_length,
            )
        )
        session_id = next(self._sessions)
        chunks: list[Any] = []
        try:
            async with asyncio.timeout(self._settings.request_timeout_s) as deadline:
                prepared = await engine.preprocess(
                    build_messages(user_text, views), session_id=session_id, gen_config=gen_config
                )
                generated = engine.generate(prepared, stream_response=False)
                chunks.extend([chunk async for chunk in generated])
        except TimeoutError:
            return self._deadline_exceeded()
        except Exception as exc:  # noqa: BLE001  # translated per item below
            return translate_error(exc)
        finally:
            # Idempotent; covers a request cancelled before LMDeploy's own clean-up ran.
            engine.session_mgr.remove(session_id)
        if deadline.expired():
            # LMDeploy turns the cancellation into a normal end of generate(): what came back
            # is a truncated answer, not a result.
            return self._deadline_exceeded()
        answer = join_answer(chunks)
        if answer is None or answer.finish_reason not in {"stop", "length"}:
            reason = answer.finish_reason if answer else "no output"
            return InferenceFailed(f"the engine ended the request without an answer ({reason})")
        parsed = vl2.parse_output(answer.text, [(i.width, i.height) for i in request.images])
        return EngineOutput(
            text=parsed.text,
            regions=tuple(_region(r) for r in parsed.regions),
            input_tokens=answer.input_tokens,
            output_tokens=answer.output_tokens,
            finish_reason=answer.finish_reason,
            infer_ms=(time.monotonic() - started) * 1000,
            problems=parsed.problems,
        )

    def _deadline_exceeded(self) -> DeadlineExceeded:
        return DeadlineExceeded(
            f"no answer within {self._settings.request_timeout_s:g} s in the engine"
        )


def _region(region: vl2.Region) -> Region:
    return Region(
        image_index=region.image_index,
        label=region.label,
        box_px=region.box_px,
        box_norm=region.box_norm,
    )
