"""The ``preference`` recipe (``run.mode: preference``): iterative RLAIF from the domain's own feedback.

    setup -> prepare -> round 0: evaluate the starting policy
    for each round:
        sample -> verify -> judge (with the domain's context) -> score -> pairs  (core.feedback)
        -> preference optimisation (optim.backend) -> evaluate the updated policy
    -> metrics.json, metrics.png and the summary tables

Every stage writes its artifact under ``<output_dir>/round_<k>/`` atomically and skips work an earlier,
interrupted run finished, so rerunning the same command resumes.
"""

from __future__ import annotations

from typing import Any

from polyrlaif.core import run as kit
from polyrlaif.core.config import TrainConfig
from polyrlaif.core.feedback import FEEDBACK_KEYS, PREFERENCE_LEVELS, collect_feedback
from polyrlaif.core.judges.endpoints import check_judge_endpoints
from polyrlaif.core.log import get_logger
from polyrlaif.core.trainers.base import build_trainer, is_finished

__all__ = ["run"]

log = get_logger(__name__)

#: What a round's update reports that is worth a row in the summary.
TRAIN_KEYS = ("train/train_loss", "train/rewards/margins", "train/fit/accuracy", "train/fit/margin")


def run(cfg: TrainConfig) -> list[dict[str, Any]]:
    """Preference rounds. Returns the per-round history written to ``metrics.json``."""
    run = kit.setup(cfg, PREFERENCE_LEVELS)  # refuses artifacts made with other settings
    built = kit.build(run, kit.prepare(run))  # the preparation stages run first, in view
    feedback = kit.require(run, built.offline, "offline feedback (sampler, verifiers, judges, score)")
    check_judge_endpoints(cfg, feedback)  # a judge endpoint that does not answer stops the run now
    trainer = build_trainer(cfg)  # optim.backend
    keys = (*FEEDBACK_KEYS, *(f"{v.name}_rate" for v in feedback.verifiers), *TRAIN_KEYS)
    model_path = kit.starting_model(run, built)
    initial = None  # optim.reference=initial: every round's update is held to round 1's starting policy

    # round 0: the starting policy, so every later round has a "before" to compare with
    policy = kit.load_policy(run, model_path)
    history: list[dict[str, Any]] = [
        {
            "round": 0,
            **kit.evaluate_policy(run, built, policy, run.out / "round_0"),
            **({"skipped_records": len(built.skipped)} if built.skipped else {}),
        }
    ]

    for r in range(1, cfg.run.rounds + 1):
        rdir = run.out / f"round_{r}"
        # a failed judgment is retried on a rerun, unless the round already trained on its pairs
        trained = is_finished(rdir / "train")
        pairs, stats = collect_feedback(
            cfg, feedback, policy, r, rdir, retry_failures=not trained, executor=run.executor,
            sampler_executor=run.sampler_executor,
        )  # fmt: skip
        start = policy.model_path  # resolved: an alias's converted checkpoint
        initial = initial or start
        kit.close_policy(policy)  # free the sampler's memory before the update
        train_metrics: dict[str, float] = {}
        if pairs:
            log.info(f"round {r}: preference optimisation on {len(pairs)} pairs ({cfg.optim.backend})")
            reference = initial if cfg.optim.reference == "initial" else None
            result = trainer.train(start, pairs, rdir / "train", reference=reference)
            model_path, train_metrics = result.model_path, result.metrics
        else:
            log.info(f"round {r}: no preference pairs (see stats); the policy is left unchanged")
        policy = kit.load_policy(run, model_path)
        history.append(
            {
                "round": r,
                **kit.evaluate_policy(run, built, policy, rdir),
                **stats,
                **{f"train/{k}": v for k, v in train_metrics.items()},
            }
        )
        kit.record_round(run, built, history, kit.headline_keys(run, built, history, keys))
    kit.close_policy(policy)

    kit.finish(run, built, history, kit.headline_keys(run, built, history, keys), final_model=model_path)
    return history
