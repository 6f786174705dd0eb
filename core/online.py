"""The online RL loop (``run.mode: online``). Reads top to bottom, like :mod:`polyrlaif.core.pipeline`.

    setup -> evaluate the starting policy (round 0)
    for each round:
        GRPO / RLOO for ``rl.max_steps`` steps: TRL samples (or the domain's ``rollout_func`` runs
        its multi-turn episodes), the domain's rewards score, the policy updates -> evaluate
    -> metrics.json, metrics.png, rewards.png (every reward's mean per step) and a summary table

The rewards are the domain's judges and verifiers as TRL reward callables (:class:`OnlineTask`), so
the judge that mines pairs offline scores rollouts here, through the same judge cache. Each round's
checkpoint is published atomically under ``round_<k>/train/model``; a rerun finds finished rounds and
trains nothing again.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from polyrlaif.core.config import TrainConfig
from polyrlaif.core.pipeline import (
    _close,
    _headline_keys,
    _load_policy,
    _log,
    _starting_model,
    evaluate_policy,
    round_subset,
    setup,
)
from polyrlaif.core.protocols import OnlineTask
from polyrlaif.core.report import plot_steps, print_summary, write_run_metrics

__all__ = ["run_online"]

#: What TRL logs per step that is worth a curve besides each reward's mean.
_CURVES = ("reward", "reward_std", "kl", "completions/mean_length")


def _settings(cfg: TrainConfig, task: OnlineTask, round_idx: int) -> Any:
    from polyrlaif.core.trainers.trl_grpo import GRPOSettings

    rl = cfg.rl
    unknown = sorted(set(task.weights) - set(task.rewards))
    if unknown:
        raise ValueError(
            f"reward weights for unknown reward(s) {unknown}; the domain has {sorted(task.rewards)}"
        )
    return GRPOSettings(
        algorithm=rl.algorithm,
        lr=rl.lr,
        beta=rl.beta,
        num_generations=rl.num_generations,
        batch_size=rl.batch_size,
        max_steps=rl.max_steps,
        max_prompt_length=rl.max_prompt_length,
        max_completion_length=rl.max_completion_length,
        temperature=rl.temperature,
        seed=cfg.run.seed + round_idx,  # fresh sampling each round, reproducible overall
        reward_weights=[float(task.weights.get(name, 1.0)) for name in task.rewards],
    )


def _reward_stats(task: OnlineTask) -> dict[str, float]:
    """Judge counters (calls, cache hits, failures) of rewards that keep them, e.g. LLM-judge rewards."""
    out: dict[str, float] = {}
    for name, reward in task.rewards.items():
        stats = getattr(reward, "stats", None)
        if stats is not None and hasattr(stats, "as_dict"):
            for k, v in stats.as_dict().items():
                if isinstance(v, (int, float)):
                    out[f"judge/{name}/{k}"] = v
    return out


def _plot_rewards(out: Path, task: OnlineTask, per_round: list[list[dict[str, Any]]], title: str) -> None:
    """``rewards.png``: every reward's mean and the total per step, over all rounds."""
    steps: list[dict[str, Any]] = []
    boundaries: list[int] = []
    for logs in per_round:
        for row in logs:
            steps.append({**row, "step": len(steps) + 1})
        boundaries.append(len(steps))
    if not steps:
        return
    keys = [f"rewards/{name}/mean" for name in task.rewards] + list(_CURVES)
    plot_steps(steps, out / "rewards.png", keys, title=title, boundaries=boundaries[:-1])


def run_online(cfg: TrainConfig) -> list[dict[str, Any]]:
    """Online RL rounds. Returns the per-round history written to ``metrics.json``."""
    from polyrlaif.core.trainers.trl_grpo import grpo_train, read_steps

    t0 = time.time()
    domain, components, out = setup(cfg)
    task = components.online
    if task is None:
        raise ValueError(f"domain {domain.name!r} has no online RL task; train it with run.mode=offline")
    if not task.prompts:
        raise ValueError(f"domain {domain.name!r} supplied no prompts for online RL")
    model_path = _starting_model(cfg, components)
    history: list[dict[str, Any]] = []

    # round 0: the starting policy, the "before" of every later round
    policy = _load_policy(cfg, components, model_path)
    history.append({"round": 0, **evaluate_policy(cfg, domain, components, policy, out / "round_0")})
    _close(policy)

    per_round_steps: list[list[dict[str, Any]]] = []
    for r in range(1, cfg.run.rounds + 1):
        rdir = out / f"round_{r}"
        rows = round_subset(cfg, task.prompts, r)
        start = model_path
        settings = _settings(cfg, task, r)
        _log(f"round {r}: {settings.algorithm} for {settings.max_steps} steps on {len(rows)} prompts")
        result = grpo_train(
            model_path, rows, task.rewards, rdir / "train", settings, rollout_func=task.rollout_func
        )
        model_path = result.model_path
        per_round_steps.append(read_steps(rdir / "train"))
        policy = _load_policy(cfg, components, model_path)
        metrics = evaluate_policy(cfg, domain, components, policy, rdir)
        _close(policy)
        history.append(
            {
                "round": r,
                "policy": start,  # what this round trained from: the previous round's checkpoint
                **metrics,
                **{f"train/{k}": v for k, v in result.metrics.items()},
                **_reward_stats(task),
            }
        )
        write_run_metrics(out, history, keys=_online_keys(history, task))
        _plot_rewards(out, task, per_round_steps, f"{domain.name}: rewards per step ({settings.algorithm})")

    extra = {"final_model": model_path, "seconds": round(time.time() - t0, 1)}
    write_run_metrics(out, history, extra, keys=_online_keys(history, task))
    rows_out = [
        {"metric": k, **{f"round {h['round']}": h.get(k, "") for h in history}}
        for k in _online_keys(history, task)
    ]
    text = print_summary(f"{domain.name}: metrics per round (round 0 = before training)", rows_out)
    (out / "summary.txt").write_text(text)
    _log(f"done in {time.time() - t0:.0f}s; outputs in {out} (metrics.json, metrics.png, rewards.png)")
    return history


def _online_keys(history: list[dict[str, Any]], task: OnlineTask) -> list[str]:
    """Benchmark metrics first, then the last step's total reward and each reward's mean."""
    keys = [k for k in _headline_keys(history) if not k.startswith(("pairs_", "train/", "mean_score"))]
    keys += ["train/reward"] + [f"train/rewards/{name}/mean" for name in task.rewards]
    keys += ["train/loss", "train/kl"]
    return [k for k in dict.fromkeys(keys) if any(k in h for h in history)]
