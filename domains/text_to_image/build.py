"""Builds the `text_to_image` domain's components for a run (InstructEngine + Diffusion-DPO).

Each round: ``sampling.n`` images per prompt from the newest pipeline -> the rules (stage 1) and the
multimodal judge (stage 2), each scoring every image under its own prompt and its analogous prompts ->
score = ``rule_weight`` x share of checks that hold + ``judge_weight`` x judge score -> best-against-worst
pairs per prompt, plus cross-validation pairs between analogous prompts -> Diffusion-DPO
(``optim.backend: diffusion_dpo``) -> compositional accuracy and CLIPScore on held-out prompts.

Synthetic world (``domain.synthetic: true``): the prompts, the starting pipeline and the CLIP judge are
outputs of the preparation stages (:mod:`~polyrlaif.domains.text_to_image.world`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from polyrlaif.core.config import TrainConfig, judge_cache_path
from polyrlaif.core.protocols import BenchmarkRun, DomainBuild, OfflineFeedback
from polyrlaif.core.records import Candidate, Judgment, PromptRecord

__all__ = ["build", "image_score", "score_under"]

RULES_ID = "rules"


def _parts(verdicts: list[Judgment]) -> tuple[Judgment | None, Judgment | None]:
    rules = next((j for j in verdicts if j.judge_id == RULES_ID), None)
    judge = next((j for j in verdicts if j.judge_id != RULES_ID), None)
    return rules, judge


def score_under(cfg: TrainConfig, cand: Candidate, verdicts: list[Judgment], prompt_id: str) -> float | None:
    """A candidate's score under ``prompt_id`` (its own prompt or an analogous one): the weighted sum of
    the rules' share of checks that hold and the judge's score; a part that could not decide is left out
    (the rules, for a prompt no rule checks), ``None`` when nothing decided."""
    d = cfg.domain
    total, parts = 0.0, 0
    for j, weight in zip(_parts(verdicts), (d.rule_weight, d.judge_weight), strict=True):
        if j is None or not j.ok:
            continue
        value = j.score if prompt_id == cand.prompt_id else j.scores.get("under", {}).get(prompt_id)
        if value is None:
            continue
        total, parts = total + weight * float(value), parts + 1
    return total if parts else None


def image_score(cfg: TrainConfig) -> Any:
    """The score function the pair builder ranks by (:func:`score_under` the candidate's own prompt)."""

    def score(prompt: PromptRecord, cand: Candidate, verdicts: list[Judgment]) -> float | None:
        return score_under(cfg, cand, verdicts, cand.prompt_id)

    return score


def _context(prompt: PromptRecord, cand: Candidate, verdicts: list[Judgment]) -> dict[str, Any]:
    """The judge sees the image and the prompt (and its analogs, from the prompt's meta)."""
    return {}


def _judges(cfg: TrainConfig, clip_model: str | None) -> list[Any]:
    from polyrlaif.core.judges.cache import JudgeCache

    d = cfg.domain
    cache_path = judge_cache_path(cfg)
    cache = JudgeCache(cache_path) if cache_path else None
    if d.judge == "clip":
        from polyrlaif.domains.text_to_image.judge import ClipBackend, ClipJudge

        backend = ClipBackend(clip_model or d.clip_model, d.clip_pretrained, device=cfg.model.device)
        return [ClipJudge(backend, cache=cache, batch_size=cfg.judge.batch_size)]
    if d.judge == "vlm":
        from polyrlaif.core.judges.active import configured_judge
        from polyrlaif.core.judges.backends import build_backend
        from polyrlaif.domains.text_to_image.judge import SlotYesNoJudge

        def one(jc: Any) -> Any:  # judge.ensemble's members and judge.active's cheap judge alike
            return SlotYesNoJudge(build_backend(jc), cache=cache, batch_size=jc.batch_size)

        return [configured_judge(cfg.judge, one)]
    return []


def _options(evaluator: Any, values: Mapping[str, Any]) -> Any:
    """The evaluator's options from ``values``, keeping only the fields it has."""
    names = {f.name for f in dataclasses.fields(evaluator.Options)}
    return evaluator.Options(**{k: v for k, v in values.items() if k in names and v is not None})


def build(cfg: TrainConfig, prepared: Mapping[str, dict[str, Any]]) -> DomainBuild:
    """Everything the preference recipe needs, configured from ``cfg``; with a synthetic world, the
    prompts, the starting pipeline and the CLIP judge come from the world's stages."""
    from polyrlaif.core.registry import get_benchmark
    from polyrlaif.domains.text_to_image import DOMAIN
    from polyrlaif.domains.text_to_image.data import load_prompts
    from polyrlaif.domains.text_to_image.judge import cross_validation_pairs
    from polyrlaif.domains.text_to_image.sampler import make_sampler
    from polyrlaif.domains.text_to_image.verifier import RuleVerifier

    d = cfg.domain
    starting_model, clip_model, references = None, None, None
    if d.synthetic:
        data_dir = Path(prepared["world"]["data_dir"])
        prompts_file, eval_prompts = data_dir / "rlaif_prompts.jsonl", data_dir / "heldout_prompts.jsonl"
        starting_model = prepared["policy_pretrain"]["model"]
        references = data_dir / "heldout_reference"
        if d.clip_model == "world":
            clip_model = prepared["clip_judge"]["model"]
    else:
        if not d.prompts:
            raise ValueError("domain.prompts is required (a JSONL of text prompts), or domain.synthetic=true")
        prompts_file, eval_prompts = Path(d.prompts), Path(d.eval_prompts) if d.eval_prompts else None
    prompts = load_prompts(prompts_file)  # checked now, before any model loads

    values = {
        "prompts": str(eval_prompts) if eval_prompts else None,
        "references": str(references) if references else None,
        "clip_model": clip_model or d.clip_model,
        "clip_pretrained": d.clip_pretrained,
        "fid_clip_model": clip_model,
        "device": cfg.model.device,
    }
    evaluations = [
        BenchmarkRun(name, _options(get_benchmark(DOMAIN, name), values)) for name in d.eval_benchmarks
    ]
    offline = OfflineFeedback(
        sampler=make_sampler(cfg),
        prompts=prompts,
        score=image_score(cfg),
        context=_context,
        verifiers=[RuleVerifier(d.rules)] if d.rules else [],
        judges=_judges(cfg, clip_model),
        extra_pairs=functools.partial(cross_validation_pairs, under_score=functools.partial(score_under, cfg))
        if d.cross_validation
        else None,
    )
    return DomainBuild(evaluations=evaluations, starting_model=starting_model, offline=offline)
