"""Data-parallel DPO steps against one process, on the same machine's cores (issue 17).

    python bench/scale_out.py                       # SmolLM2-135M-Instruct, 32 pairs, batch 8, 2 processes
    python bench/scale_out.py --model DIR --pairs 8 --batch 4 --steps 2     # a quick run

The same fast-DPO training (``optim.backend=fast``: the same pairs, seed, batch and steps) runs twice:
once in one process with every core (``OMP_NUM_THREADS`` = cores), and once under ``accelerate launch
--multi_gpu --num_processes P`` (torchrun; gloo without GPUs, NCCL with them), each process with
cores / P threads. Each run's seconds per optimiser step come from the trainer's own ``steps.jsonl``
(the first step left out: it warms up). The last line is ``ratio=X max_weight_diff=Y``: one process's
seconds per step over the launched run's (above 1: the processes are faster), and the largest
difference between the two runs' trained weights (they make the same update).

The Ray parts of the issue's bench (verification and judge throughput on 1 and 2 workers) are not here
yet.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def _pairs(n: int) -> list:
    from polyrlaif.core.records import PreferencePair

    return [
        PreferencePair(
            pair_id=f"p{i}",
            prompt_id=f"q{i}",
            prompt=f"Write a Python function that returns the sum of the first {i + 2} square numbers.",
            chosen=f"def f():\n    return sum(k * k for k in range(1, {i + 3}))\n",
            rejected=f"def f():\n    total = 0\n    for k in range({i + 2}):\n        total += k\n"
            "    return total\n",
        )
        for i in range(n)
    ]


def _worker(args: argparse.Namespace) -> None:
    from polyrlaif.core.config import LoraConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig
    from polyrlaif.core.trainers.fast_dpo import FastDPOTrainer

    optim = OptimConfig(
        beta=0.1, lr=1e-5, batch_size=args.batch, grad_accum=1, max_length=256, epochs=100,
        max_steps=args.steps, lora=LoraConfig(enabled=False),
    )  # fmt: skip
    cfg = TrainConfig(optim=optim, model=ModelConfig(device="auto"), run=RunConfig(seed=0))
    FastDPOTrainer(cfg).train(args.model, _pairs(args.pairs), Path(args.out))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(prefix: list[str], out: Path, args: argparse.Namespace, threads: int) -> float:
    cmd = [*prefix, str(Path(__file__).resolve()), "--worker", "--out", str(out), "--model", args.model,
           "--pairs", str(args.pairs), "--batch", str(args.batch), "--steps", str(args.steps)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:6])} ... failed:\n{res.stderr[-3000:]}")
    steps = [json.loads(x)["seconds"] for x in (out / "steps.jsonl").read_text().splitlines()]
    return statistics.median(steps[1:] or steps)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="smollm2-135m-instruct")
    p.add_argument("--pairs", type=int, default=32)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        _worker(args)
        return 0

    from safetensors.torch import load_file

    from polyrlaif.core.models import resolve_model_path

    args.model = resolve_model_path(args.model)
    cores = os.cpu_count() or 1
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes",
              str(args.processes), "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
              "--main_process_port", str(_free_port())]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        one = _run([sys.executable], Path(tmp) / "one", args, cores)
        many = _run(launch, Path(tmp) / "many", args, max(cores // args.processes, 1))
        wa = load_file(Path(tmp) / "one" / "model" / "model.safetensors")
        wb = load_file(Path(tmp) / "many" / "model" / "model.safetensors")
        diff = max((wa[k] - wb[k]).abs().max().item() for k in wa)
    print(f"one process, {cores} threads: {one:.3f} s/step")
    print(f"{args.processes} processes, {max(cores // args.processes, 1)} threads each: {many:.3f} s/step")
    print(f"pairs={args.pairs} batch={args.batch} steps={args.steps} model={args.model}")
    print(f"ratio={one / many:.2f} max_weight_diff={diff:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
