"""The ``pairs`` recipe (``run.mode: pairs``): preference optimisation on a pairs file the user brings.

    read and check every pair of ``data.pairs`` (before any work) -> setup -> prepare
    -> round 0: evaluate the starting policy -> preference optimisation (optim.backend) on the pairs
    -> evaluate the updated policy -> metrics.json, metrics.png and the summary tables

The file is our own ``pairs.jsonl`` (from ``polyrlaif feedback``, say) or a prompt/chosen/rejected JSONL
in the style of UltraFeedback or CodeUltraFeedback (:mod:`polyrlaif.core.pairs_file`). The domain gives
the policy adapter, the starting model and the benchmarks; its sampler and judges are not used.
"""

from __future__ import annotations

from typing import Any

from polyrlaif.core import run as kit
from polyrlaif.core.config import TrainConfig
from polyrlaif.core.io import atomic_write_jsonl
from polyrlaif.core.log import get_logger
from polyrlaif.core.pairs_file import load_pairs_file
from polyrlaif.core.resume import Level
from polyrlaif.core.trainers.base import build_trainer

__all__ = ["run"]

log = get_logger(__name__)

#: What the pairs recipe writes and the settings it depends on (core.resume).
LEVELS = (
    Level("updates", ("model", "optim", "data", "domain", "run.seed", "run.mode"), ("pairs.jsonl", "train"),
          carries=True),
    Level("evaluations", ("eval",), ("eval_*",)),
)  # fmt: skip

#: What the update reports that is worth a row in the summary.
TRAIN_KEYS = (
    "pairs_kept",
    "train/train_loss",
    "train/rewards/margins",
    "train/rewards/accuracies",
    "train/fit/accuracy",
    "train/fit/margin",
)


def run(cfg: TrainConfig) -> list[dict[str, Any]]:
    """One update on the user's pairs. Returns the history (rounds 0 and 1) written to ``metrics.json``."""
    if not cfg.data.pairs:
        raise ValueError("run.mode=pairs needs data.pairs=FILE (a JSONL of prompt/chosen/rejected rows)")
    pairs = load_pairs_file(cfg.data.pairs)  # every row checked before any model loads
    log.info(f"{len(pairs)} pairs from {cfg.data.pairs}")
    run = kit.setup(cfg, LEVELS)  # refuses artifacts made with other settings
    built = kit.build(run, kit.prepare(run))  # the domain's stages (e.g. its starting policy), in view
    trainer = build_trainer(cfg)  # optim.backend
    model_path = kit.starting_model(run, built)

    # round 0: the starting policy
    policy = kit.load_policy(run, model_path)
    history: list[dict[str, Any]] = [
        {"round": 0, **kit.evaluate_policy(run, built, policy, run.out / "round_0")}
    ]
    start = policy.model_path
    kit.close_policy(policy)

    # round 1: one preference-optimisation pass over the pairs (optim.epochs / optim.max_steps)
    rdir = run.out / "round_1"
    atomic_write_jsonl(rdir / "pairs.jsonl", [p.to_dict() for p in pairs])  # what was trained on
    log.info(f"preference optimisation on {len(pairs)} pairs ({cfg.optim.backend})")
    result = trainer.train(start, pairs, rdir / "train")
    policy = kit.load_policy(run, result.model_path)
    history.append(
        {
            "round": 1,
            **kit.evaluate_policy(run, built, policy, rdir),
            "pairs_kept": len(pairs),
            **{f"train/{k}": v for k, v in result.metrics.items()},
        }
    )
    kit.close_policy(policy)

    kit.finish(
        run, built, history, kit.headline_keys(run, built, history, TRAIN_KEYS), final_model=result.model_path
    )
    return history
