"""The ``online`` recipe (``run.mode: online``): GRPO or RLOO against the domain's rewards.

    setup -> prepare -> round 0: evaluate the starting policy
    for each round:
        rl.max_steps of GRPO / RLOO (TRL samples, or the domain's rollout_func runs its multi-turn
        episodes; the domain's rewards score) -> evaluate the updated policy
    -> metrics.json, metrics.png, rewards.png (every reward's mean per step) and the summary tables

The rewards are the domain's judges and verifiers as TRL reward callables, so the judge that mines pairs
offline scores rollouts here, through the same judge cache. Each round's checkpoint is published
atomically under ``round_<k>/train/model``; a rerun finds finished rounds and trains nothing again.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from polyrlaif.core import run as kit
from polyrlaif.core.config import TrainConfig
from polyrlaif.core.judges.ensemble import with_reward_ensemble
from polyrlaif.core.log import get_logger
from polyrlaif.core.protocols import OnlineTask
from polyrlaif.core.report import plot_steps
from polyrlaif.core.resume import Level
from polyrlaif.core.trainers.base import build_trainer

__all__ = ["run"]

log = get_logger(__name__)

#: What an online round writes and the settings it depends on (core.resume). The rewards may come from a
#: preparation stage (a reward model trained on sampled, judged pairs; a warm start), so a round also
#: depends on the sampling, pairs and optim sections those stages read.
LEVELS = (
    Level("updates", ("model", "rl", "domain", "judge", "data", "sampling", "pairs", "optim", "run.seed",
                      "run.num_prompts", "run.mode"), ("train",), carries=True),
    Level("evaluations", ("eval",), ("eval_*",)),
)  # fmt: skip

#: What TRL logs per step that is worth a curve besides each reward's mean.
CURVES = ("reward", "reward_std", "kl", "completions/mean_length")


def run(cfg: TrainConfig) -> list[dict[str, Any]]:
    """Online RL rounds. Returns the per-round history written to ``metrics.json``."""
    from polyrlaif.core.trainers.trl_grpo import read_steps

    run = kit.setup(cfg, LEVELS)  # refuses artifacts made with other settings
    built = kit.build(run, kit.prepare(run))  # the preparation stages run first, in view
    task = kit.require(run, built.online, "online RL task (prompt rows and rewards)")
    task = with_reward_ensemble(task, cfg.rl.reward_ensemble, cfg.rl.reward_ensemble_aggregate)
    if not task.prompts:
        raise ValueError(f"domain {run.domain.name!r} supplied no prompts for online RL")
    trainer = build_trainer(cfg, cfg.rl.algorithm)
    keys = (
        "train/reward",
        *(f"train/rewards/{name}/mean" for name in task.rewards),
        "train/loss",
        "train/kl",
    )
    model_path = kit.starting_model(run, built)

    # round 0: the starting policy, the "before" of every later round
    policy = kit.load_policy(run, model_path)
    history: list[dict[str, Any]] = [
        {"round": 0, **kit.evaluate_policy(run, built, policy, run.out / "round_0")}
    ]
    kit.close_policy(policy)

    per_round_steps: list[list[dict[str, Any]]] = []
    for r in range(1, cfg.run.rounds + 1):
        rdir = run.out / f"round_{r}"
        rows = kit.round_subset(cfg, task.prompts, r)
        start = model_path
        log.info(f"round {r}: {cfg.rl.algorithm} for {cfg.rl.max_steps} steps on {len(rows)} prompts")
        round_task = dataclasses.replace(task, prompts=rows)
        kit.reset_counters(task.rewards)  # each round reports its own judge calls and failures
        # a fresh sampling seed each round, reproducible overall
        result = trainer.train(model_path, round_task, rdir / "train", seed=cfg.run.seed + r)
        model_path = result.model_path
        per_round_steps.append(read_steps(rdir / "train"))
        policy = kit.load_policy(run, model_path)
        metrics = kit.evaluate_policy(run, built, policy, rdir)
        kit.close_policy(policy)
        history.append(
            {
                "round": r,
                "policy": start,  # what this round trained from: the previous round's checkpoint
                **metrics,
                **{f"train/{k}": v for k, v in result.metrics.items()},
                **kit.counters(task.rewards),
            }
        )
        kit.record_round(run, built, history, kit.headline_keys(run, built, history, keys))
        _plot_rewards(
            run.out, task, per_round_steps, f"{run.domain.name}: rewards per step ({cfg.rl.algorithm})"
        )

    final_keys = kit.headline_keys(run, built, history, keys)
    kit.finish(
        run, built, history, final_keys, final_model=model_path, pictures=("metrics.png", "rewards.png")
    )
    return history


def _plot_rewards(out: Any, task: OnlineTask, per_round: list[list[dict[str, Any]]], title: str) -> None:
    """``rewards.png``: every reward's mean and the total per step, over all rounds."""
    steps: list[dict[str, Any]] = []
    boundaries: list[int] = []
    for logs in per_round:
        for row in logs:
            steps.append({**row, "step": len(steps) + 1})
        boundaries.append(len(steps))
    if steps:
        keys = [f"rewards/{name}/mean" for name in task.rewards] + list(CURVES)
        plot_steps(steps, out / "rewards.png", keys, title=title, boundaries=boundaries[:-1])
