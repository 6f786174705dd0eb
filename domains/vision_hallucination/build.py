"""Builds the `vision_hallucination` domain's components for a run (RLAIF-V).

Real data: prompts from ``domain.prompts`` (images under ``domain.image_root``), the policy from
``model.name_or_path`` and the labeler from the ``judge`` section (``transformers_vlm`` for a local
multimodal model, ``openai`` for an OpenAI-compatible vision endpoint).

Synthetic world (``domain.synthetic: true``): the world is generated and its models trained by the
preparation stages of :mod:`~polyrlaif.domains.vision_hallucination.world`, which the recipe runs before
``build``; the SFT'd policy is the starting model and the separately trained labeler gives the feedback.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from polyrlaif.core.config import TrainConfig, judge_cache_path
from polyrlaif.core.protocols import BenchmarkRun, DomainBuild, OfflineFeedback
from polyrlaif.core.records import Candidate, Judgment, PromptRecord

__all__ = ["build", "claim_score", "claim_context"]


def claim_score(prompt: PromptRecord, cand: Candidate, verdicts: list[Judgment]) -> float | None:
    """RLAIF-V's response score: minus the claims the labeler rejected (``None`` if it failed)."""
    for j in verdicts:
        if j.kind == "claims":
            return j.score
    return None


def claim_context(prompt: PromptRecord, cand: Candidate, verdicts: list[Judgment]) -> dict[str, Any]:
    """The labeler sees the image itself (through the conversation); its text context is the instruction."""
    return {"instruction": prompt.text}


def _extractor(d: Any, cfg: TrainConfig) -> Any:
    from polyrlaif.domains.vision_hallucination.claims import LLMClaimExtractor, RuleClaimExtractor

    if d.claim_extractor == "rule":
        return RuleClaimExtractor()
    if d.claim_extractor == "llm":
        if not d.claims_llm:
            raise ValueError(
                "domain.claims_llm is required with domain.claim_extractor=llm (e.g. openai:MODEL)"
            )
        from dataclasses import replace

        from polyrlaif.core.judges.backends import build_backend

        backend, _, model = d.claims_llm.partition(":")
        if not model:
            raise ValueError(f"domain.claims_llm must read BACKEND:MODEL, got {d.claims_llm!r}")
        return LLMClaimExtractor(build_backend(replace(cfg.judge, backend=backend, model=model)))
    raise ValueError(f"domain.claim_extractor must be 'rule' or 'llm', got {d.claim_extractor!r}")


def build(cfg: TrainConfig, prepared: Mapping[str, dict[str, Any]]) -> DomainBuild:
    """Everything the preference recipe needs for RLAIF-V, configured from ``cfg``; with a synthetic world,
    the data, starting policy, labeler and checker are the outputs of the world's stages."""
    from polyrlaif.core.benchmarks import make_options
    from polyrlaif.core.judges.backends import build_backend
    from polyrlaif.core.judges.cache import JudgeCache
    from polyrlaif.core.registry import get_benchmark
    from polyrlaif.core.sampling import TextSampler
    from polyrlaif.domains.vision_hallucination import DOMAIN
    from polyrlaif.domains.vision_hallucination.data import load_prompts
    from polyrlaif.domains.vision_hallucination.judge import DivideConquerJudge

    d = cfg.domain
    starting_model = None
    if d.synthetic:
        from polyrlaif.core.judges.vlm_backend import VisionTransformersBackend

        data_dir = Path(prepared["world"]["data_dir"])
        image_root = data_dir / "images"
        loaded = load_prompts(data_dir / "prompts" / "rlaif.jsonl", image_root, on_bad_image=d.on_bad_image)
        labeler: Any = (
            VisionTransformersBackend(
                prepared["labeler"]["model"], batch_size=cfg.judge.batch_size, device=cfg.model.device
            )
            if d.labeler == "world"
            else build_backend(cfg.judge)
        )
        starting_model = prepared["policy_sft"]["model"]
        annotations = str(data_dir / "annotations" / f"instances_{d.eval_split}.json")
        pope = str(data_dir / "pope" / f"{d.eval_split}_adversarial.jsonl")
    else:
        if not d.prompts:
            raise ValueError("domain.prompts is required when domain.synthetic is false")
        image_root = Path(d.image_root)
        loaded = load_prompts(d.prompts, image_root, on_bad_image=d.on_bad_image)
        labeler = build_backend(cfg.judge)
        annotations, pope = d.annotations, d.pope_questions

    checker = None
    if d.cascade:
        from polyrlaif.domains.vision_hallucination.clip_checker import OpenClipChecker

        if "clip_checker" in prepared:
            checker = OpenClipChecker.from_dir(prepared["clip_checker"]["dir"])
        elif not d.clip_model or d.clip_model == "world":
            raise ValueError("domain.cascade needs domain.clip_model (NAME:TAG, hf-hub:..., or a directory)")
        else:
            checker = OpenClipChecker.load(d.clip_model)
    cache_path = judge_cache_path(cfg)
    judge = DivideConquerJudge(
        labeler,
        _extractor(d, cfg),
        threshold=d.labeler_threshold,
        min_claims=d.min_claims,
        checker=checker,
        band=(d.clip_band[0], d.clip_band[1]),
        cache=JudgeCache(cache_path) if cache_path else None,
        batch_size=cfg.judge.batch_size,
    )
    bench: dict[str, dict[str, Any]] = {
        "chair": {
            "annotations": annotations,
            "image_root": str(image_root),
            "instruction": d.caption_instruction,
        },
        "pope": {"questions": pope, "image_root": str(image_root)},
    }
    evaluations = []
    for name in d.eval_benchmarks:
        opts = bench.get(name, {})
        if name in bench and not next(iter(opts.values())):
            raise ValueError(
                f"benchmark {name!r} needs domain.{'annotations' if name == 'chair' else 'pope_questions'}"
            )
        evaluations.append(
            BenchmarkRun(name, make_options(get_benchmark(DOMAIN, name), opts, where="domain config"))
        )
    feedback = OfflineFeedback(
        sampler=TextSampler.from_config(cfg),
        prompts=loaded.prompts,
        score=claim_score,
        context=claim_context,
        judges=[judge],
    )
    return DomainBuild(
        evaluations=evaluations, starting_model=starting_model, skipped=loaded.skipped, offline=feedback
    )
