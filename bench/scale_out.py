"""Scale-out on one machine (issue 17): data-parallel and fully sharded DPO steps against one process, and
verification and judging on 1 and 2 Ray workers against the local executor, as ratios in one run.

    python bench/scale_out.py                       # SmolLM2-135M-Instruct, 32 pairs, batch 8, 2 processes
    python bench/scale_out.py --model DIR --pairs 8 --batch 4 --steps 2 --programs 32 --judgments 16

The same fast-DPO training (``optim.backend=fast``: the same pairs, seed, batch and steps) runs twice:
once in one process with every core (``OMP_NUM_THREADS`` = cores), and once under ``accelerate launch
--multi_gpu --num_processes P`` (torchrun; gloo without GPUs, NCCL with them), each process with
cores / P threads. Each run's seconds per optimiser step come from the trainer's own ``steps.jsonl``
(the first step left out: it warms up). Then a third time under ``configs/accelerate/fsdp.yaml`` (FSDP2
full sharding: each process holds 1/P of the weights, gradients and Adam state). Each process's peak
resident memory is reported, the smallest and the largest of a run (under FSDP rank 0 alone also gathers
the whole checkpoint at the end, so the smallest is the training's). The last line is ``ratio=X
max_weight_diff=Y fsdp_ratio=Z fsdp_weight_diff=W fsdp_memory=M``: one process's seconds per step over the
launched run's (above 1: the processes are faster), the largest difference between their trained weights
(they make the same update), the same two for FSDP, and the smallest FSDP process's peak memory over the
one process's.

Then the stages ``run.executor`` moves (:mod:`polyrlaif.core.executor`), each on the local executor and
on Ray with 1 and 2 workers (a local Ray cluster started once, before the timing, as a running cluster
would be; each stage's actors are started inside the timing, as a round starts them):

- verification: the code domain's unit-test verifier on ``--programs`` HumanEval programs (canonical
  solutions and ``pass`` stubs, alternating), its sandbox ``--sandbox-workers`` processes wherever it runs;
- judging: a yes/no judge (``--model`` through transformers, float32, batch 16) on ``--judgments``
  HumanEval answers, four per problem; each Ray worker loads the model itself.

Both must give the local executor's verdicts (scores equal; p(yes) within 1e-4). The last line is
``ratio=X max_weight_diff=Y verify_ray1=A verify_ray2=B judge_ray1=C judge_ray2=D``: the ``ray`` ratios
are items/s over the local executor's.
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
    import resource  # this process's peak resident memory (KiB on Linux), for the launcher to read

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    Path(f"{args.out}.rss.{os.environ.get('RANK', '0')}").write_text(str(peak))


def _verify_work(n: int) -> tuple[dict, list]:
    """``n`` HumanEval programs as code-domain prompts and candidates: canonical solutions and stubs."""
    from polyrlaif.core.records import Candidate, PromptRecord
    from polyrlaif.datasets.code_tasks import load_humaneval

    prompts, cands = {}, []
    for i, t in enumerate((load_humaneval() * 2)[:n]):
        pid = t["task_id"]
        meta = {"prompt": t["prompt"], "test": t["test"], "entry_point": t["entry_point"]}
        prompts[pid] = PromptRecord(prompt_id=pid, text=t["prompt"], meta=meta)
        body = t["canonical_solution"] if i % 2 == 0 else "    pass\n"
        cands.append(Candidate(candidate_id=f"{pid}/{i}", prompt_id=pid, text=body))
    return prompts, cands


def _verify_chunk(verifier, chunk):
    prompts, cands = chunk
    return verifier.verify(prompts, cands)


def _judge_chunk(judge, chunk):
    prompts, cands = chunk
    return judge.judge(prompts, cands, [{}] * len(cands))


def _stage(executor, checker, call, prompts: dict, cands: list) -> tuple[float, list]:
    """Items/s of one stage on ``executor`` (chunks of whole prompt groups, as core.feedback makes them)."""
    import time

    from polyrlaif.core.executor import chunk_groups

    parts = (
        [cands]
        if executor.workers == 1 and executor.name == "local"
        else chunk_groups(cands, lambda c: c.prompt_id, 4 * executor.workers)
    )
    chunks = [({c.prompt_id: prompts[c.prompt_id] for c in p}, p) for p in parts]
    start = time.perf_counter()
    out = [j for js in executor.map(checker, call, chunks, desc="bench") for j in js]
    return len(cands) / (time.perf_counter() - start), out


def _executors(args: argparse.Namespace) -> dict[str, float]:
    """Items/s ratios of verification and judging on Ray with 1 and 2 workers over the local executor."""
    import logging

    import ray
    from judging import humaneval_judgments  # bench/judging.py: the same judgments that bench judges
    from ray import cloudpickle

    from polyrlaif.core.executor import LocalExecutor, RayExecutor
    from polyrlaif.core.judges import TransformersBackend, YesNoJudge
    from polyrlaif.domains.code.verifier import CodeTestVerifier

    logging.disable(logging.WARNING)
    if __name__ != "__main__":  # (__main__ is pickled by value anyway) the chunk functions, to the workers
        cloudpickle.register_pickle_by_value(sys.modules[__name__])
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
    executors = {"local": LocalExecutor(), "ray1": RayExecutor(workers=1), "ray2": RayExecutor(workers=2)}
    stages = {
        "verify": (lambda: CodeTestVerifier(timeout_s=10, workers=args.sandbox_workers), _verify_chunk,
                   *_verify_work(args.programs)),
        "judge": (lambda: YesNoJudge(TransformersBackend(args.model, batch_size=16, dtype="float32"),
                                     batch_size=16, progress=False), _judge_chunk,
                  *humaneval_judgments(args.judgments)),
    }  # fmt: skip
    ratios: dict[str, float] = {}
    try:
        for stage, (make, call, prompts, cands) in stages.items():
            rates, verdicts = {}, {}
            for name, executor in executors.items():
                checker = make()  # a fresh one: nothing loaded or started before the timing
                rates[name], got = _stage(executor, checker, call, prompts, cands)
                verdicts[name] = {j.candidate_id: (j.score, j.failure) for j in got}
                getattr(checker, "close", lambda: None)()
                print(f"{stage}, {name}: {rates[name]:.2f} items/s ({len(cands)} items)", flush=True)
            for name in ("ray1", "ray2"):
                for cid, (score, failure) in verdicts["local"].items():
                    other, why = verdicts[name][cid]
                    same = score == other if stage == "verify" else abs((score or 0) - (other or 0)) <= 1e-4
                    if not same or failure != why:
                        raise SystemExit(f"{stage} on {name} differs from local on {cid}: {other} vs {score}")
                ratios[f"{stage}_{name}"] = rates[name] / rates["local"]
    finally:
        if started:
            ray.shutdown()
    return ratios


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(prefix: list[str], out: Path, args: argparse.Namespace, threads: int) -> tuple[float, float, float]:
    """Seconds per optimiser step (median after the first), and the peak resident GiB of the smallest
    and the largest process."""
    cmd = [*prefix, str(Path(__file__).resolve()), "--worker", "--out", str(out), "--model", args.model,
           "--pairs", str(args.pairs), "--batch", str(args.batch), "--steps", str(args.steps)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:6])} ... failed:\n{res.stderr[-3000:]}")
    steps = [json.loads(x)["seconds"] for x in (out / "steps.jsonl").read_text().splitlines()]
    peaks = [int(f.read_text()) / 2**20 for f in out.parent.glob(f"{out.name}.rss.*")]
    return statistics.median(steps[1:] or steps), min(peaks), max(peaks)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="smollm2-135m-instruct")
    p.add_argument("--pairs", type=int, default=32)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--programs", type=int, default=164, help="HumanEval programs verified per executor")
    p.add_argument("--sandbox-workers", type=int, default=2, help="sandbox processes per verifier")
    p.add_argument("--judgments", type=int, default=64, help="answers judged per executor")
    p.add_argument("--skip-ddp", action="store_true", help="only the executors")
    p.add_argument("--skip-executors", action="store_true", help="only the data-parallel steps")
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
    ratios = {} if args.skip_executors else _executors(args)
    if args.skip_ddp:
        print(" ".join(f"{k}={v:.3g}" for k, v in ratios.items()))
        return 0
    fsdp = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
            str(Path(__file__).resolve().parents[1] / "configs" / "accelerate" / "fsdp.yaml"),
            "--num_processes", str(args.processes), "--main_process_port", str(_free_port())]  # fmt: skip
    threads = max(cores // args.processes, 1)
    with tempfile.TemporaryDirectory() as tmp:
        one, mem_one, _ = _run([sys.executable], Path(tmp) / "one", args, cores)
        many, *mem_many = _run(launch, Path(tmp) / "many", args, threads)
        shard, *mem_shard = _run(fsdp, Path(tmp) / "fsdp", args, threads)
        wa = load_file(Path(tmp) / "one" / "model" / "model.safetensors")
        diffs = []
        for name in ("many", "fsdp"):
            wb = load_file(Path(tmp) / name / "model" / "model.safetensors")
            diffs.append(max((wa[k] - wb[k]).abs().max().item() for k in wa))
    print(f"one process, {cores} threads: {one:.3f} s/step, peak {mem_one:.2f} GiB")
    for kind, sec, mem in (("DDP", many, mem_many), ("FSDP", shard, mem_shard)):
        print(
            f"{args.processes} processes ({kind}), {threads} threads each: {sec:.3f} s/step, "
            f"peak {mem[0]:.2f}-{mem[1]:.2f} GiB a process"
        )
    print(f"pairs={args.pairs} batch={args.batch} steps={args.steps} model={args.model}")
    print(
        f"ratio={one / many:.2f} max_weight_diff={diffs[0]:.2e} fsdp_ratio={one / shard:.2f} "
        f"fsdp_weight_diff={diffs[1]:.2e} fsdp_memory={mem_shard[0] / mem_one:.2f} "
        + " ".join(f"{k}={v:.3g}" for k, v in ratios.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
