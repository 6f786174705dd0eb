"""Our GRPO step (``rl.backend=fast``) against TRL's ``GRPOTrainer``, side by side in one process (issue 23).

Same model (SmolLM2-135M-Instruct in float32 by default), same prompts, rollouts, rewards, seed and
hyperparameters (TRL's GRPO defaults: dapo loss, one update per generation batch; ``--beta``), the same
number of optimiser steps. Both sides get their completions from the same deterministic
``rollout_func``, so what is timed is the step itself (the log-probabilities, the reference pass, the
loss, the update, the rewards) and not sampling, whose speed is :mod:`bench.sampling`'s business:

* ``single``: HumanEval prompts (the code domain's task, as chat messages); each prompt's
  ``--generations`` completions are canonical solutions of HumanEval problems, cut to
  ``--completion-tokens``; the reward is the share of the completion's lines that are not blank.
* ``multi``: the same prompts continued by a two-turn episode: model text, a tool observation (masked
  out of the loss by ``env_mask``, as the search agent's rollouts mark them) and model text again.

A step's time is each side's own ``step_time`` (TRL logs it around its whole training step: rollout,
rewards, log-probabilities, loss, update; ours is timed the same way), the first step left out as
warm-up, then the median over steps and over ``--repeats``; runs alternate (trl, ours, then ours, trl).
Also printed: each run's peak resident memory above its start. The last line is
``ratio_single=X ratio_multi=Y loss_maxdiff=Z``: our steps/s over TRL's, and the largest absolute
difference of a step's loss between the two.

Usage::

    python bench/grpo_vs_trl.py --quick           # 2 steps, 1 repeat
    python bench/grpo_vs_trl.py --steps 4 --repeats 3 --beta 0.04
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import PeakRSS


def _rows(n: int) -> list[dict[str, Any]]:
    from polyrlaif.datasets.code_tasks import load_humaneval

    problems = sorted(load_humaneval(), key=lambda p: len(p["prompt"]))[:n]
    return [{"prompt": [{"role": "user", "content": f"Complete this function.\n\n{p['prompt']}"}],
             "task": p["task_id"]} for p in problems]  # fmt: skip


def _rollout(tokenizer: Any, kind: str, generations: int, completion_tokens: int):
    """Deterministic rollouts: per prompt, ``generations`` solutions of other problems as completions."""
    from polyrlaif.datasets.code_tasks import load_humaneval

    bodies = [
        tokenizer(p["canonical_solution"], add_special_tokens=False)["input_ids"] for p in load_humaneval()
    ]
    observation = tokenizer("\n[tool] 3 results: ok, ok, failed\n", add_special_tokens=False)["input_ids"]
    seen: dict[str, int] = {}

    def rollout(prompts: list, trainer: Any) -> dict[str, list]:
        out: dict[str, Any] = {"prompt_ids": [], "completion_ids": [], "env_mask": []}
        for p in prompts:
            text = tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=False)
            key = p[-1]["content"]
            k = seen[key] = seen.get(key, -1) + 1
            body = bodies[(len(key) * 7 + k) % len(bodies)][:completion_tokens]
            if kind == "multi":
                half = body[: len(body) // 2]
                ids, mask = (
                    half + observation + half,
                    [1] * len(half) + [0] * len(observation) + [1] * len(half),
                )
            else:
                ids, mask = body, [1] * len(body)
            out["prompt_ids"].append(tokenizer(text, add_special_tokens=False)["input_ids"])
            out["completion_ids"].append(ids)
            out["env_mask"].append(mask)
        return {**out, "logprobs": None}  # no sampling log-probs: nothing to correct for

    return rollout


def non_blank(prompts: list, completions: list, **kw: Any) -> list[float]:
    """The share of a completion's lines with a ``return`` or an assignment (varies between solutions)."""
    texts = [c[0]["content"] if isinstance(c, list) else c for c in completions]
    lines = [[x for x in t.splitlines() if x.strip()] for t in texts]
    return [sum(("return" in x) or ("=" in x) for x in ls) / max(1, len(ls)) for ls in lines]


def _run(side: str, kind: str, args: argparse.Namespace, model: str, out: Path) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from polyrlaif.core.config import RLConfig

    tok = AutoTokenizer.from_pretrained(model)
    rows = _rows(args.prompts)
    rollout = _rollout(tok, kind, args.generations, args.completion_tokens)
    batch = args.generations * args.prompts_per_step
    with PeakRSS() as peak:
        start = time.perf_counter()
        if side == "ours":
            from polyrlaif.core.trainers.fast_grpo import fast_grpo_train

            rl = RLConfig(lr=1e-6, beta=args.beta, num_generations=args.generations, batch_size=batch,
                          max_steps=args.steps, max_completion_length=args.completion_tokens)  # fmt: skip
            fast_grpo_train(model, rows, {"non_blank": non_blank}, out, rl, seed=0, rollout_func=rollout)
            logged = [json.loads(x) for x in (out / "steps.jsonl").read_text().splitlines()]
        else:
            from datasets import Dataset
            from trl import GRPOConfig, GRPOTrainer

            cfg = GRPOConfig(
                output_dir=str(out), learning_rate=1e-6, beta=args.beta, num_generations=args.generations,
                per_device_train_batch_size=batch, max_steps=args.steps,
                max_completion_length=args.completion_tokens, seed=0, data_seed=0, use_cpu=True, bf16=False,
                logging_steps=1, save_strategy="no", report_to="none", dataloader_num_workers=0,
                activation_checkpointing=False,
            )  # fmt: skip
            policy = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
            trainer = GRPOTrainer(
                model=policy, reward_funcs=[non_blank], args=cfg, train_dataset=Dataset.from_list(rows),
                processing_class=tok, rollout_func=rollout,
            )  # fmt: skip
            trainer.train()
            logged = [h for h in trainer.state.log_history if "loss" in h and "train_loss" not in h]
        seconds = time.perf_counter() - start
    times = [float(h["step_time"]) for h in logged]  # each side's own clock around a whole step
    per_step = statistics.median(times[1:] or times)  # the first step warms up
    return {
        "s_per_step": per_step,
        "wall": seconds,
        "peak_mb": peak.peak_mb,
        "losses": [h["loss"] for h in logged],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="smollm2-135m-instruct")
    p.add_argument("--prompts", type=int, default=16, help="HumanEval prompts in the dataset")
    p.add_argument("--prompts-per-step", type=int, default=2)
    p.add_argument("--generations", type=int, default=4)
    p.add_argument("--completion-tokens", type=int, default=96)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--beta", type=float, default=0.0)
    p.add_argument("--quick", action="store_true", help="2 steps, 1 repeat")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.repeats = 2, 1
    import logging

    import torch

    from polyrlaif.core.models import resolve_model_path, set_cpu_threads

    logging.disable(logging.WARNING)
    os.environ["TRL_EXPERIMENTAL_SILENCE"] = "1"
    threads = set_cpu_threads()
    model = resolve_model_path(args.model)
    print(f"model {args.model}; {args.prompts_per_step} prompts x {args.generations} completions a step, "
          f"{args.completion_tokens} completion tokens at most; {args.steps} steps, {args.repeats} repeats; "
          f"beta {args.beta}; torch {torch.__version__}, {threads} threads", flush=True)  # fmt: skip
    ratios, loss_diff = {}, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("single", "multi"):
            got: dict[str, list[dict[str, Any]]] = {"trl": [], "ours": []}
            for rep in range(args.repeats):
                for side in ("trl", "ours") if rep % 2 == 0 else ("ours", "trl"):
                    r = _run(side, kind, args, model, Path(tmp) / f"{kind}-{side}-{rep}")
                    got[side].append(r)
                    losses = [round(x, 6) for x in r["losses"]]
                    print(f"{kind} repeat {rep + 1} {side}: {r['s_per_step']:.2f} s/step, "
                          f"peak {r['peak_mb']:.0f} MB, losses {losses}", flush=True)  # fmt: skip
            med = {s: statistics.median(r["s_per_step"] for r in got[s]) for s in got}
            ratios[kind] = med["trl"] / med["ours"]
            for a, b in zip(got["ours"][0]["losses"], got["trl"][0]["losses"], strict=True):
                loss_diff = max(loss_diff, abs(a - b))
            print(f"{kind}: trl {med['trl']:.2f} s/step, ours {med['ours']:.2f} s/step", flush=True)
    print(
        f"ratio_single={ratios['single']:.2f} ratio_multi={ratios['multi']:.2f} loss_maxdiff={loss_diff:.2e}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
