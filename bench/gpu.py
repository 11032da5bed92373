"""GPU throughput of DeepSeek-VL2 through our adapter (needs CUDA).

Run inside the GPU tests' session by ``make gpu-check`` (tests/gpu/test_throughput.py: one engine
start for the tests and the benchmark), or alone with a mounted checkpoint:
``python -m bench.gpu --model-path /models/deepseek-vl2-tiny``.

For OCR-length outputs of 256 and 768 tokens (a receipt, a dense page) and batch sizes 1, 8, 32
and the engine's largest (``max_batch_size``): images/s and pages/s (one single-page request per
image), output tokens/s, time to first token (a ``max_new_tokens=1`` pass of the same batch:
prefill latency), GPU memory in use (weights and the KV cache, allocated up front) and what the
batch adds on top (the PyTorch allocator's peak over its level before the batch). With random
weights, and when run alone, every request generates exactly its ``max_new_tokens``
(end-of-sequence ignored, ``fixed_output_length``), so figures compare across checkpoints; on
the GPU tests' engine with real weights, answers stop at end-of-sequence and the table says so.
Writes JSON and a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import cycle, islice
from pathlib import Path
from typing import Any

import torch
from tests.gpu.test_inference import engine_request

from vl2ingest.engines.lmdeploy_engine import LmdeployEngine
from vl2ingest.pipeline.models import EngineOutput
from vl2ingest.settings import EngineSettings

SAMPLES = ["receipt.png", "document-page.png", "sign-photo.jpg"]
RESULTS = Path(__file__).parent / "results"
OUTPUT_LENGTHS = (256, 768)
MAX_BATCH = 64
"""The engine's max_batch_size for the GPU checks: the largest batch measured."""


def batch_sizes(max_batch: int) -> list[int]:
    return sorted({b for b in (1, 8, 32) if b < max_batch} | {max_batch})


async def measure(engine: LmdeployEngine, batch: int, max_new_tokens: int) -> dict[str, Any]:
    """One batch of ``batch`` single-image OCR requests, each generating ``max_new_tokens``."""
    names = list(islice(cycle(SAMPLES), batch))
    requests = [engine_request(engine, [n], "ocr", max_new_tokens=max_new_tokens) for n in names]
    first = [engine_request(engine, [n], "ocr", max_new_tokens=1) for n in names]
    # The KV cache and the weights are allocated up front: report what a batch adds on top.
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    started = time.perf_counter()
    await engine.infer(first)
    ttft = time.perf_counter() - started
    started = time.perf_counter()
    outputs = await engine.infer(requests)
    elapsed = time.perf_counter() - started
    done = [o for o in outputs if isinstance(o, EngineOutput)]
    tokens = sum(o.output_tokens for o in done)
    free, total = torch.cuda.mem_get_info()
    return {
        "batch": batch,
        "max_new_tokens": max_new_tokens,
        "ok": len(done),
        "failed": [str(o) for o in outputs if not isinstance(o, EngineOutput)][:3],
        "images_per_s": round(len(done) / elapsed, 2),
        "pages_per_s": round(len(done) / elapsed, 2),
        "output_tokens_per_s": round(tokens / elapsed, 1),
        "time_to_first_token_ms": round(ttft * 1000, 1),
        "gpu_memory_in_use_gib": round((total - free) / 2**30, 2),
        "batch_working_memory_gib": round((torch.cuda.max_memory_allocated() - base) / 2**30, 3),
        "wall_s": round(elapsed, 2),
    }


async def run(
    engine: LmdeployEngine,
    *,
    max_batch: int,
    results: Path,
    label: str,
    lengths: Sequence[int] = OUTPUT_LENGTHS,
) -> list[dict[str, Any]]:
    """Every (output length, batch size) row, after one warm-up request. The report is saved
    again after each row, so an interrupted run keeps the rows it measured."""
    await engine.infer([engine_request(engine, [SAMPLES[0]], "ocr", max_new_tokens=8)])
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    rows: list[dict[str, Any]] = []
    table = ""
    for length in lengths:
        for batch in batch_sizes(max_batch):
            rows.append(await measure(engine, batch, length))
            table = save(results, report(engine, rows, label), stamp=stamp)
    print(table)
    return rows


def report(engine: LmdeployEngine, rows: list[dict[str, Any]], label: str) -> dict[str, Any]:
    info = engine.info
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "gpu": torch.cuda.get_device_name(0),
        "host": platform.node(),
        "model": info.name,
        "label": label,
        "backend": info.backend,
        "torch": torch.__version__,
        "rows": rows,
    }


def save(results: Path, data: dict[str, Any], *, stamp: str) -> str:
    """Write the report as JSON and as a Markdown table under ``results``; return the table."""
    results.mkdir(parents=True, exist_ok=True)
    (results / f"gpu-{stamp}.json").write_text(json.dumps(data, indent=2) + "\n")
    header = (
        "| output tokens | batch | images (pages)/s | output tokens/s | TTFT ms "
        "| GPU GiB in use | batch working GiB | failed |\n|---|---|---|---|---|---|---|---|"
    )
    lines = [
        f"| {r['max_new_tokens']} | {r['batch']} | {r['images_per_s']} | "
        f"{r['output_tokens_per_s']} | {r['time_to_first_token_ms']} | "
        f"{r['gpu_memory_in_use_gib']} | {r['batch_working_memory_gib']} | "
        f"{r['batch'] - r['ok']} |"
        for r in data["rows"]
    ]
    title = f"{data['gpu']}, {data['model']} {data['label']} on {data['backend']}"
    table = "\n".join([" ".join(title.split()), "", header, *lines])
    (results / f"gpu-{stamp}.md").write_text(table + "\n")
    return table


def engine_settings(model_path: str, *, max_batch: int = MAX_BATCH) -> EngineSettings:
    return EngineSettings(
        name="lmdeploy",
        model_path=model_path,
        model_name=Path(model_path).name,
        backend="turbomind",  # as a deployment would ask: the fallback must be reported
        max_batch_size=max_batch,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-path", default=os.environ.get("VL2INGEST_TEST_MODEL_PATH"))
    parser.add_argument("--label", default="", help="e.g. random-weights: shown in the table")
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help="where JSON + table go")
    args = parser.parse_args()
    if not args.model_path or not torch.cuda.is_available():
        raise SystemExit("bench/gpu.py needs CUDA and --model-path (or VL2INGEST_TEST_MODEL_PATH)")
    settings = engine_settings(args.model_path)
    async with LmdeployEngine(settings, fixed_output_length=True) as engine:
        await run(
            engine, max_batch=settings.max_batch_size, results=args.results_dir, label=args.label
        )


if __name__ == "__main__":
    asyncio.run(main())
