"""Builds the `video_lmm` domain's components for a run (VLM-RLAIF).

Each round: ``sampling.n`` answers to each (video, question) from the newest policy -> the context-aware
judge's p(yes) that each is right, reading the video's frames and its detailed description (and, for
the report, without it) -> best-against-worst pairs -> DPO on the policy (TRL's vision path, the frames
read as images) -> video QA on held-out clips.

Online (``run.mode: online``, :mod:`~polyrlaif.domains.video_lmm.online`): the ``reward_model`` stage
trains a vision reward model on the same judge's preferences between the starting policy's answers, and
GRPO / RLOO optimises the policy against it.

Synthetic world (``domain.synthetic: true``): the prompts (the ``rlaif`` clips' questions with their
descriptions), the SFT'd policy and the judge are outputs of the preparation stages
(:mod:`~polyrlaif.domains.video_lmm.world`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyrlaif.core.config import TrainConfig, judge_cache_path
from polyrlaif.core.io import read_jsonl
from polyrlaif.core.protocols import BenchmarkRun, DomainBuild, OfflineFeedback, PrepStage
from polyrlaif.core.records import Candidate, Judgment, PromptRecord

__all__ = ["FeedbackParts", "build", "feedback_parts", "judge_score", "stages", "world_prompts"]


def judge_score(prompt: PromptRecord, cand: Candidate, verdicts: list[Judgment]) -> float | None:
    """The judge's p(yes) for the answer (``None`` when it could not decide)."""
    return verdicts[0].score if verdicts and verdicts[0].ok else None


def _no_context(prompt: PromptRecord, cand: Candidate, verdicts: list[Judgment]) -> dict[str, Any]:
    """The judge reads the video and its description from the prompt itself."""
    return {}


def _description(prompt: PromptRecord, cand: Candidate, verdicts: list[Judgment]) -> dict[str, Any]:
    """A pairwise or pointwise judge's context: the video's detailed description, when it has one."""
    description = prompt.meta.get("description")
    return {"video description": description} if description else {}


def _general_judge(cfg: TrainConfig, backend: Any, cache: Any) -> Any:
    """``domain.judge_mode`` ``pairwise`` or ``pointwise``: the core's judge, shown each prompt's video."""
    from polyrlaif.core.judges.pairwise import PairwiseJudge
    from polyrlaif.core.judges.pointwise import PointwiseJudge
    from polyrlaif.domains.video_lmm.prompts import VIDEO_RUBRIC

    j = cfg.judge
    common = {
        "cache": cache,
        "max_new_tokens": j.max_new_tokens,
        "batch_size": j.batch_size,
        "show_media": True,
    }
    if cfg.domain.judge_mode == "pairwise":
        return PairwiseJudge(backend, **common)
    return PointwiseJudge(backend, VIDEO_RUBRIC, **common)


def world_prompts(data_dir: Path, split: str = "rlaif", closed_answers: bool = False) -> list[PromptRecord]:
    """A split's questions as prompts, each with its video and the clip's description (never its answer);
    with ``closed_answers`` also the words an answer of its type can be (``meta["answers"]``), so that the
    judge and the online reward count any other answer as a failed one."""
    from polyrlaif.core.media import video_ref
    from polyrlaif.datasets.video.text import ANSWER_VOCAB

    descriptions = {c["clip_id"]: c["description"] for c in read_jsonl(data_dir / "clips" / f"{split}.jsonl")}
    refs: dict[str, Any] = {}
    out = []
    for r in read_jsonl(data_dir / "qa" / f"{split}.jsonl"):
        if r["video"] not in refs:
            refs[r["video"]] = video_ref(data_dir / r["video"])
        meta = {"description": descriptions[r["clip_id"]], "type": r["type"]}
        if closed_answers:
            meta["answers"] = list(ANSWER_VOCAB[r["type"]])
        out.append(PromptRecord(prompt_id=r["id"], text=r["question"], media=[refs[r["video"]]], meta=meta))
    return out


def _evaluations(cfg: TrainConfig, data_dir: Path | None) -> list[BenchmarkRun]:
    from polyrlaif.core.registry import get_benchmark
    from polyrlaif.domains.video_lmm import DOMAIN

    d = cfg.domain
    values: dict[str, Any] = {}
    if data_dir is not None:
        values = {"annotations": str(data_dir / "qa" / "test.jsonl"), "videos": str(data_dir)}
    elif d.eval_annotations:
        values = {"annotations": d.eval_annotations, "videos": d.videos_root}
    runs = []
    for name in d.eval_benchmarks:
        cls = get_benchmark(DOMAIN, name)
        fields = {f.name for f in dataclasses.fields(cls.Options)}
        runs.append(BenchmarkRun(name, cls.Options(**{k: v for k, v in values.items() if k in fields})))
    return runs


def _judge_backend(cfg: TrainConfig) -> Any:
    """The ``judge`` section's backend; a local VLM judge or an OpenAI-compatible endpoint reads each video
    as the run's ``model.num_frames`` frames, as the policy does."""
    from polyrlaif.core.judges.backends import build_backend

    return build_backend(cfg.judge, num_frames=cfg.model.num_frames)


@dataclass
class FeedbackParts:
    """The judged-answers pipeline of a run: the prompts, sampler and context-aware judge (``offline``), the
    starting policy a synthetic world made, its data folder, and the prompt rows left out."""

    offline: OfflineFeedback
    starting_model: str | None = None
    data_dir: Path | None = None
    skipped: list[dict[str, Any]] = field(default_factory=list)


def feedback_parts(cfg: TrainConfig, prepared: Mapping[str, dict[str, Any]]) -> FeedbackParts:
    """The prompts, the sampler and the context-aware judge, configured from ``cfg`` (cheap: no model loads).

    Raises:
        ValueError: neither ``domain.prompts`` nor ``domain.synthetic``.
    """
    from polyrlaif.core.judges.cache import JudgeCache
    from polyrlaif.core.judges.vlm_backend import VisionTransformersBackend
    from polyrlaif.core.sampling import TextSampler
    from polyrlaif.domains.video_lmm.data import load_prompts
    from polyrlaif.domains.video_lmm.judge import ContextAwareJudge

    d = cfg.domain
    skipped: list[dict[str, Any]] = []
    if d.synthetic:
        data_dir: Path | None = Path(prepared["world"]["data_dir"])
        prompts = world_prompts(data_dir, closed_answers=d.closed_answers)
        if d.curriculum == "length":
            prompts.sort(key=lambda p: len(p.text.split()))
        backend: Any = VisionTransformersBackend(
            prepared["judge"]["model"], batch_size=cfg.judge.batch_size, device=cfg.model.device,
            num_frames=cfg.model.num_frames,
        )  # fmt: skip
        starting_model = prepared["policy_sft"]["model"]
    else:
        if not d.prompts:
            raise ValueError(
                "domain.prompts is required (JSONL of video, question rows), or domain.synthetic=true"
            )
        data_dir, starting_model = None, None
        loaded = load_prompts(d.prompts, d.videos_root, curriculum=d.curriculum)
        prompts, skipped = loaded.prompts, loaded.skipped
        if "captions" in prepared:  # the captioner's descriptions, for the prompts that bring none
            from polyrlaif.domains.video_lmm.captions import with_captions

            prompts = with_captions(prompts, prepared["captions"]["captions"])
        backend = _judge_backend(cfg)
    path = judge_cache_path(cfg)
    cache = JudgeCache(path) if path else None
    context = _no_context
    if d.judge_mode == "context":
        judge: Any = ContextAwareJudge(backend, use_context=d.judge_context, scoring=d.judge_scoring,
                                       cache=cache, batch_size=cfg.judge.batch_size)  # fmt: skip
    else:  # the core's pairwise or pointwise judge, shown the video, reading its description
        judge = _general_judge(cfg, backend, cache)
        context = _description if d.judge_context else _no_context
    offline = OfflineFeedback(
        sampler=TextSampler.from_config(cfg), prompts=prompts, score=judge_score, context=context,
        judges=[judge],
    )  # fmt: skip
    return FeedbackParts(offline, starting_model, data_dir, skipped)


def build(cfg: TrainConfig, prepared: Mapping[str, dict[str, Any]]) -> DomainBuild:
    """Everything the preference recipe (and, with the ``reward_model`` stage's model, the online recipe)
    needs for VLM-RLAIF, configured from ``cfg``."""
    parts = feedback_parts(cfg, prepared)
    online = None
    if "reward_model" in prepared:  # run.mode: online
        from polyrlaif.domains.video_lmm.online import online_task

        online = online_task(cfg, parts.offline.prompts, prepared["reward_model"]["model"])
    return DomainBuild(
        evaluations=_evaluations(cfg, parts.data_dir),
        starting_model=parts.starting_model,
        skipped=parts.skipped,
        offline=parts.offline,
        online=online,
    )


def stages(cfg: TrainConfig) -> list[PrepStage]:
    """The preparation stages, in order: the synthetic world's (:mod:`~polyrlaif.domains.video_lmm.world`)
    or, with ``domain.captioner``, the ``captions`` stage (:mod:`~polyrlaif.domains.video_lmm.captions`);
    then, with ``run.mode: online``, the ``reward_model`` stage (``<output_dir>/reward_model``)."""
    from polyrlaif.domains.video_lmm.captions import captions_stage
    from polyrlaif.domains.video_lmm.online import reward_model_stage
    from polyrlaif.domains.video_lmm.world import stages as world_stages

    out = world_stages(cfg)
    captions = captions_stage(cfg)
    if captions is not None:
        out.append(captions)
    if cfg.run.mode == "online":
        out.append(reward_model_stage(cfg, Path(cfg.run.output_dir) / "reward_model"))
    return out
