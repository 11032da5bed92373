"""GPU throughput of DeepSeek-VL2 through our adapter: run by ``make gpu-check`` (needs CUDA).

For batch sizes 1, 8 and 32 of the bundled sample images: images/s, output tokens/s, time to
first token (a max_new_tokens=1 pass: prefill latency) and GPU memory in use. Every request
generates exactly ``--max-new-tokens`` tokens (end-of-sequence ignored), so figures compare
across checkpoints, random weights included. Writes JSON and a Markdown table under
bench/results/. Run it as a module from the repository root: ``python -m bench.gpu``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
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


async def measure(engine: LmdeployEngine, batch: int, max_new_tokens: int) -> dict[str, float]:
    names = list(islice(cycle(SAMPLES), batch))
    requests = [engine_request(engine, [n], "ocr", max_new_tokens=max_new_tokens) for n in names]
    first = [engine_request(engine, [n], "ocr", max_new_tokens=1) for n in names]
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
        "ok": len(done),
        "images_per_s": round(len(done) / elapsed, 2),
        "output_tokens_per_s": round(tokens / elapsed, 1),
        "time_to_first_token_ms": round(ttft * 1000, 1),
        "gpu_memory_in_use_gib": round((total - free) / 2**30, 2),
        "wall_s": round(elapsed, 2),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-path", default=os.environ.get("VL2INGEST_TEST_MODEL_PATH"))
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--label", default="", help="e.g. random-weights: shown in the table")
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help="where JSON + table go")
    args = parser.parse_args()
    if not args.model_path or not torch.cuda.is_available():
        raise SystemExit("bench/gpu.py needs CUDA and --model-path (or VL2INGEST_TEST_MODEL_PATH)")
    settings = EngineSettings(
        name="lmdeploy", model_path=args.model_path, model_name=Path(args.model_path).name
    )
    async with LmdeployEngine(settings, fixed_output_length=True) as engine:
        await engine.infer([engine_request(engine, [SAMPLES[0]], "ocr")])  # warm-up
        rows = [await measure(engine, batch, args.max_new_tokens) for batch in (1, 8, 32)]
        info = engine.info
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "gpu": torch.cuda.get_device_name(0),
        "host": platform.node(),
        "model": info.name,
        "label": args.label,
        "backend": info.backend,
        "max_new_tokens": args.max_new_tokens,
        "rows": rows,
    }
    print(save(args.results_dir, report))


def save(results: Path, report: dict[str, Any]) -> str:
    """Write the report as JSON and as a Markdown table under ``results``; return the table."""
    results.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    (results / f"gpu-{stamp}.json").write_text(json.dumps(report, indent=2) + "\n")
    header = (
        "| batch | images/s | output tokens/s | TTFT ms | GPU GiB in use |\n|---|---|---|---|---|"
    )
    lines = [
        f"| {r['batch']} | {r['images_per_s']} | {r['output_tokens_per_s']} | "
        f"{r['time_to_first_token_ms']} | {r['gpu_memory_in_use_gib']} |"
        for r in report["rows"]
    ]
    title = f"{report['gpu']}, {report['model']} {report['label']} on {report['backend']}"
    table = "\n".join([title.replace("  ", " "), "", header, *lines])
    (results / f"gpu-{stamp}.md").write_text(table + "\n")
    return table


if __name__ == "__main__":
    asyncio.run(main())
