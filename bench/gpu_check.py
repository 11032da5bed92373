"""``make gpu-check``: the GPU inference checks (tests/gpu) and the GPU benchmark (bench/gpu.py).

    make gpu-check ARGS="--model-path /models/deepseek-vl2-tiny"   # real weights
    make gpu-check ARGS="--random-weights tiny"                    # or small

GPU machines of this project reach no network: see scripts/gpu_kit.py (``make gpu-kit``) for
the packages to carry there, and the README's GPU section for the command. They cannot download
weights either. The tests and the benchmark run in ONE pytest session, so the engine starts once
(tests/gpu/test_throughput.py runs bench/gpu.py's measurements on the tests' engine).
``--random-weights`` writes a checkpoint with the real architecture and
dimensions of that variant, random weights and a tokenizer with the real vocabulary size
(``tests/support/vl2_model.py``) under ``.cache/random-weights/`` (about 6.7 GB for tiny, 32 GB
for small; reused by the next run), then runs the real engine end to end through our adapter.
Outputs are meaningless then: the checks assert structure only and every request generates a
fixed number of tokens. Prints how long each step took; exits non-zero when a step fails.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RANDOM_WEIGHTS_DIR = ROOT / ".cache" / "random-weights"


GRACE_S = 30
"""How long an interrupted pytest gets to finish its session (JUnit XML, summary)."""


def run_within(command: list[str], *, env: dict[str, str], seconds: float) -> int:
    """Run ``command``; past ``seconds`` (less the grace), interrupt it as ^C would, so pytest
    ends its session and writes its reports, and kill it only if that does not end it."""
    process = subprocess.Popen(command, cwd=ROOT, env=env)  # noqa: S603  # our own command
    try:
        return process.wait(timeout=max(1.0, seconds - GRACE_S))
    except subprocess.TimeoutExpired:
        print(f"gpu-check: time limit reached; interrupting {command[2]}", file=sys.stderr)
        process.send_signal(signal.SIGINT)
        try:
            return process.wait(timeout=GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model-path", default=os.environ.get("VL2INGEST_TEST_MODEL_PATH"))
    source.add_argument("--random-weights", choices=["tiny", "small"])
    parser.add_argument(
        "--results-dir", type=Path, default=ROOT / "bench" / "results",
        help="the benchmark's JSON and table, and the tests' JUnit XML",
    )  # fmt: skip
    parser.add_argument(
        "--time-limit", type=float, default=float("inf"),
        help="seconds for the whole check: pytest is interrupted (SIGINT) with room to write "
        "its JUnit XML before an outer timeout would kill it",
    )  # fmt: skip
    args = parser.parse_args()
    begun = time.monotonic()

    import torch

    if not torch.cuda.is_available():
        print("gpu-check needs a CUDA device; this machine has none", file=sys.stderr)
        return 2
    env = dict(os.environ)
    label = ""
    steps: list[tuple[str, float, int]] = []
    if args.random_weights:
        from tests.support.vl2_model import write_random_checkpoint

        started = time.monotonic()
        path = write_random_checkpoint(
            RANDOM_WEIGHTS_DIR / f"deepseek-vl2-{args.random_weights}",
            args.random_weights,
            device="cuda",
        )
        steps.append(
            (f"write random {args.random_weights} checkpoint", time.monotonic() - started, 0)
        )
        env["VL2INGEST_TEST_RANDOM_WEIGHTS"] = args.random_weights
        label = "(random weights)"
        model_path = str(path)
        # The writer drew the tensors on the GPU: hand its cached blocks back before the engine
        # (a child process) sizes its KV cache from the free memory.
        torch.cuda.empty_cache()
    elif args.model_path:
        model_path = args.model_path
    else:
        parser.error("give --model-path (or VL2INGEST_TEST_MODEL_PATH) or --random-weights")
    env["VL2INGEST_TEST_MODEL_PATH"] = model_path
    env["VL2INGEST_GPU_RESULTS"] = str(args.results_dir)
    # One pytest session: the tests and the benchmark (tests/gpu/test_throughput.py) share one
    # engine start. --confcutdir: only tests/gpu's own conftest (the others need the dev stack's
    # clients); -W default: a warning inside the engine is shown, not turned into an error.
    command = [
        sys.executable, "-m", "pytest", "tests/gpu", "-p", "no:cacheprovider", "-s",
        "--confcutdir=tests/gpu", "-W", "default", "--durations=0",
        f"--junitxml={args.results_dir / 'gpu-tests.xml'}",
    ]  # fmt: skip
    started = time.monotonic()
    rc = run_within(command, env=env, seconds=args.time_limit - (started - begun))
    steps.append((f"tests/gpu + bench {label}".strip(), time.monotonic() - started, rc))
    for name, seconds, rc in steps:
        print(f"gpu-check: {name}: {'ok' if rc == 0 else f'FAILED (exit {rc})'} in {seconds:.0f} s")
    return max(rc for _, _, rc in steps)


if __name__ == "__main__":
    raise SystemExit(main())
