"""The online path of the `video_lmm` domain (``run.mode: online``): VLM-RLAIF's reward model and RL.

    reward_model  a preparation stage, in view and resumable: the starting policy answers every training
                  (video, question) ``sampling.n`` times -> the context-aware judge (reading the video's
                  detailed description) scores each answer -> pairs (the core's pair builder, the
                  ``pairs`` section) -> the vision reward model (``TRAINERS["reward_model"]``: pairs whose
                  prompts carry video train the starting policy with a scalar head, ``model.num_frames``
                  frames per video, the ``optim`` section) -> its held-out pair accuracy
    online task   GRPO / RLOO (the ``rl`` section) on the training prompts, the reward model's score of
                  each answer as the reward (``VisionRewardModelScorer(path).as_reward_fn()``), the frames
                  read once into a frame cache; ``rl.beta`` > 0 logs the KL to the round's starting policy

The stage's answers, judgments and pairs are in ``<output_dir>/reward_model/feedback``, the reward model in
``<output_dir>/reward_model/train/model``; its settings hash covers the sampling, judge, pairs and optim
settings, so a changed one is refused (or rebuilt with ``run.recompute=true``), never silently reused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from polyrlaif.core.config import TrainConfig
from polyrlaif.core.log import get_logger
from polyrlaif.core.protocols import OnlineTask, PrepStage
from polyrlaif.core.records import PromptRecord

__all__ = [
    "REWARD",
    "empty_answers_last",
    "online_task",
    "reads_reward_prompt",
    "reward_model_stage",
    "reward_prompt_text",
]

log = get_logger(__name__)

#: The reward's name: TRL logs its mean per step as ``rewards/reward_model/mean``.
REWARD = "reward_model"

#: The ``optim`` fields the reward model trains with (the rest are DPO's).
_RM_OPTIM = (
    "lr",
    "epochs",
    "batch_size",
    "grad_accum",
    "max_length",
    "max_steps",
    "lora",
    "reward_eval_fraction",
)


def _settings(cfg: TrainConfig) -> dict[str, Any]:
    """What the reward model depends on, for the stage's hash (the world's stages cover a synthetic run's
    prompts, starting policy and judge)."""
    d, s = cfg.domain, cfg.sampling
    optim = dataclasses.asdict(cfg.optim)
    out: dict[str, Any] = {
        "num_frames": cfg.model.num_frames,
        "judge_context": d.judge_context,
        **({"closed_answers": True} if d.closed_answers else {}),
        **({"judge_scoring": d.judge_scoring} if d.judge_scoring != "yes_no" else {}),
        **({"reward_init": d.reward_init} if d.reward_init != "policy" else {}),
        **({"reward_context": True} if d.reward_context else {}),
        "seed": cfg.run.seed,
        "sampling": {
            "n": s.n,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_new_tokens": s.max_new_tokens,
        },
        "pairs": dataclasses.asdict(cfg.pairs),
        "optim": {k: optim[k] for k in _RM_OPTIM},
    }
    if cfg.optim.reward_pooling != "last_token":  # the default keeps earlier stages' keys
        out["optim"]["reward_pooling"] = cfg.optim.reward_pooling
    if not d.synthetic:
        j = cfg.judge
        out.update(model=cfg.model.name_or_path, prompts=d.prompts, videos_root=d.videos_root)
        out["judge"] = {
            "backend": j.backend,
            "model": j.model,
            "base_url": j.base_url,
            "max_new_tokens": j.max_new_tokens,
        }
    return out


def reward_model_stage(cfg: TrainConfig, out_dir: Path) -> PrepStage:
    """The ``reward_model`` stage (after the world's stages in a synthetic run).

    Raises:
        ValueError: no prompts to sample on (``domain.prompts`` unset without ``domain.synthetic``), checked
            here, before any stage runs.
    """
    d = cfg.domain
    if not d.synthetic and not d.prompts:
        raise ValueError(
            "domain.prompts is required (JSONL of video, question rows) for the reward_model stage, or "
            "domain.synthetic=true"
        )
    if d.reward_init == "judge" and not d.synthetic and cfg.judge.backend != "transformers_vlm":
        raise ValueError(
            f"domain.reward_init=judge needs a local judge model (judge.backend=transformers_vlm), "
            f"not judge.backend={cfg.judge.backend}"
        )
    if cfg.optim.reward_eval_fraction <= 0:
        log.warning("optim.reward_eval_fraction=0: the reward model will report no held-out pair accuracy")

    def run(out: Path, prepared: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        return _train_reward_model(cfg, out, prepared)

    # the answers it judges read the captioner's descriptions when there is one
    after = ("world", "policy_sft", "judge") if d.synthetic else (("captions",) if d.captioner else ())
    return PrepStage(REWARD, out_dir, _settings(cfg), run, after=after,
                     description="the starting policy's answers, judged with the description -> pairs -> "
                                 "a vision reward model (held-out pair accuracy)")  # fmt: skip


def _train_reward_model(
    cfg: TrainConfig, out: Path, prepared: Mapping[str, dict[str, Any]]
) -> dict[str, Any]:
    from polyrlaif.core.feedback import collect_feedback
    from polyrlaif.core.registry import TRAINERS
    from polyrlaif.domains.video_lmm.adapter import ADAPTER
    from polyrlaif.domains.video_lmm.build import feedback_parts

    m = cfg.model
    parts = feedback_parts(cfg, prepared)
    start = parts.starting_model or m.name_or_path
    # every training prompt, whatever run.num_prompts takes per round: the reward model sees them all
    every = dataclasses.replace(cfg, run=dataclasses.replace(cfg.run, num_prompts=None, curriculum=False))
    log.info(
        f"reward model: {cfg.sampling.n} answers from {start} to each of {len(parts.offline.prompts)} prompts"
    )
    policy = ADAPTER.load(
        start, num_frames=m.num_frames, dtype=m.dtype, device=m.device, cache_dir=m.cache_dir,
        batch_size=cfg.sampling.batch_size,
    )  # fmt: skip
    try:
        pairs, stats = collect_feedback(every, parts.offline, policy, 1, out / "feedback")
    finally:
        close = getattr(policy, "close", None)
        if callable(close):
            close()
    if not pairs:
        raise ValueError(
            f"reward_model stage: no preference pairs from {stats['candidates']} answers "
            f"({stats.get('judge_failures', 0)} judge failures; see {out / 'feedback'}): raise sampling.n or "
            "sampling.temperature, or lower pairs.min_margin"
        )
    if cfg.domain.reward_context:
        described = {p.prompt_id: p for p in parts.offline.prompts}
        pairs = [dataclasses.replace(p, prompt=reward_prompt_text(described[p.prompt_id])) for p in pairs]
    backbone = _reward_backbone(cfg, prepared, start)
    pooled = cfg.optim.reward_pooling == "answer_logprob"
    scored_by = "the answer's log-probability" if pooled else "a scalar head"
    log.info(f"reward model: training {backbone}, scoring by {scored_by}, on {len(pairs)} pairs")
    result = TRAINERS.get("reward_model")(cfg).train(backbone, pairs, out / "train")
    metrics = result.metrics
    if "eval_accuracy" in metrics:
        log.info(
            f"reward model: held-out pair accuracy {metrics['eval_accuracy']:.3f} (untrained "
            f"{metrics.get('eval_accuracy_before', float('nan')):.3f}) on {int(metrics['eval_pairs'])} pairs"
        )
    keep = ("eval_accuracy", "eval_accuracy_before", "eval_loss", "eval_margin", "train_accuracy", "pairs",
            "train_pairs", "eval_pairs", "steps")  # fmt: skip
    feedback = ("candidates", "pairs_kept", "mean_score", "judge_failures", "candidates_held_back")
    return {
        "model": result.model_path,
        "backbone": backbone,
        **{k: metrics[k] for k in keep if k in metrics},
        **{f"feedback/{k}": stats[k] for k in feedback if k in stats},
        **{f"feedback/{k}": v for k, v in stats.items() if k.endswith("context_flip_rate")},
    }


def _reward_backbone(cfg: TrainConfig, prepared: Mapping[str, dict[str, Any]], policy: str) -> str:
    """What the reward model starts from: the starting policy (VLM-RLAIF's SFT model), or, with
    ``domain.reward_init: judge``, the judge's own model (the world's, or a local judge's ``judge.model``).
    """
    if cfg.domain.reward_init == "policy":
        return policy
    if "judge" in prepared:
        return str(prepared["judge"]["model"])
    return str(cfg.judge.model)


def reward_prompt_text(prompt: PromptRecord) -> str:
    """What a reward model with ``domain.reward_context`` reads before an answer: the video's description
    and the question, in the answer-scoring judge's words (with the answer words when the prompt has them).

    Raises:
        ValueError: the prompt has no description.
    """
    from polyrlaif.domains.video_lmm.prompts import ANSWER_TEMPLATE

    description = prompt.meta.get("description")
    if not description:
        raise ValueError(f"domain.reward_context=true, but prompt {prompt.prompt_id} has no description")
    options = ", ".join(prompt.meta.get("answers") or [])
    if options:
        return ANSWER_TEMPLATE.format(description=description, question=prompt.text, options=options)
    return f"Video description: {description}\nQuestion: {prompt.text}"


def online_task(cfg: TrainConfig, prompts: Sequence[PromptRecord], reward_model: str) -> OnlineTask:
    """GRPO / RLOO on ``prompts`` (each its video and question), rewarded by the vision reward model.

    The rows carry the video as a part; the core's trainer samples ``model.num_frames`` frames (the
    count the policy and the reward model read) into ``<output_dir>/frame_cache``, once. With
    ``domain.reward_context`` each row also carries ``reward_prompt``, the conversation the reward model
    reads in place of the policy's (the description before the question).
    """
    from polyrlaif.core.judges.vision_reward_model import VisionRewardModelScorer
    from polyrlaif.core.media import prompt_conversation

    rows = [{"prompt": prompt_conversation(p), "prompt_id": p.prompt_id} for p in prompts]
    if any("answers" in p.meta for p in prompts):  # TRL hands the column to the reward function
        for row, p in zip(rows, prompts, strict=True):
            row["answers"] = list(p.meta.get("answers") or [])
    scorer = VisionRewardModelScorer(reward_model, device=cfg.model.device, dtype=cfg.model.dtype,
                                     batch_size=cfg.judge.batch_size)  # fmt: skip
    reward_fn = scorer.as_reward_fn(REWARD)
    if cfg.domain.reward_context:
        for row, p in zip(rows, prompts, strict=True):
            row["reward_prompt"] = prompt_conversation(dataclasses.replace(p, text=reward_prompt_text(p)))
        reward_fn = reads_reward_prompt(reward_fn)
    return OnlineTask(
        prompts=rows,
        rewards={REWARD: empty_answers_last(reward_fn)},
        frame_cache=str(Path(cfg.run.output_dir) / "frame_cache"),
    )


def reads_reward_prompt(reward_fn: Any) -> Any:
    """``reward_fn`` scoring each completion after its row's ``reward_prompt`` instead of the policy's
    prompt (``domain.reward_context``)."""

    def wrapped(prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
        return list(reward_fn(columns.pop("reward_prompt"), completions, **columns))

    return _like(wrapped, reward_fn)


def _like(wrapped: Any, reward_fn: Any) -> Any:
    """``wrapped`` named as ``reward_fn`` (TRL logs rewards by name), with its ``stats`` and ``scorer``."""
    wrapped.__name__ = wrapped.__qualname__ = getattr(reward_fn, "__name__", REWARD)
    for attr in ("stats", "scorer"):
        if hasattr(reward_fn, attr):
            setattr(wrapped, attr, getattr(reward_fn, attr))
    return wrapped


def _text(completion: Any) -> str:
    """A TRL completion's text: a string, or a conversation whose contents are strings or text parts."""
    if isinstance(completion, str):
        return completion
    parts = []
    for message in completion or []:
        content = message.get("content") if isinstance(message, Mapping) else message
        if isinstance(content, str):
            parts.append(content)
        else:
            parts += [c.get("text") or "" for c in content or [] if isinstance(c, Mapping)]
    return "".join(parts)


def empty_answers_last(reward_fn: Any) -> Any:
    """``reward_fn`` with every failed answer scored below every other answer of the batch: 1 under the
    lowest score of an answer that did not fail (``None`` when none scored). An answer fails when it is
    empty, or not one of its row's ``answers`` column where the rows have one (``judge.answer_failure``).

    A learned reward model has no floor, and one taught by a biased judge can rank an empty answer high;
    GRPO then moves the policy to saying nothing. An empty answer is a failed answer, so it can lose a
    group but never win one. The failed answers are counted in ``empty_answers`` (on the callable).
    """

    from polyrlaif.domains.video_lmm.judge import answer_failure

    def wrapped(prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
        scores = list(reward_fn(prompts, completions, **columns))
        vocab = columns.get("answers") or [None] * len(completions)
        # an empty list means the row has no answer words: anything non-empty is an answer
        empty = [answer_failure(_text(c), v or None) is not None
                 for c, v in zip(completions, vocab, strict=True)]  # fmt: skip
        valid = [s for s, e in zip(scores, empty, strict=True) if s is not None and not e]
        floor = min(valid) - 1.0 if valid else None
        wrapped.empty_answers += sum(empty)  # type: ignore[attr-defined]
        return [floor if e else s for s, e in zip(scores, empty, strict=True)]

    wrapped.empty_answers = 0  # type: ignore[attr-defined]
    return _like(wrapped, reward_fn)
