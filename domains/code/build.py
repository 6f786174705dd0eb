"""Builds the `code` domain's parts for a run: sampler, verifiers, judge, scoring, benchmarks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from polyrlaif.core.config import TrainConfig, judge_cache_path
from polyrlaif.core.protocols import BenchmarkRun, DomainBuild, Judge, OfflineFeedback
from polyrlaif.core.records import Candidate, Judgment, PromptRecord
from polyrlaif.domains.code.verifier import is_stub

__all__ = ["build", "score_candidate"]


def score_candidate(
    prompt: PromptRecord,
    cand: Candidate,
    verdicts: list[Judgment],
    *,
    test_weight: float = 1.0,
    judge_weight: float = 0.5,
    api_penalty: float = 0.25,
    runnable_credit: float = 0.0,
) -> float | None:
    """Fold a candidate's verdicts into one scalar.

    Unit tests dominate: ``test_weight`` x 1 when every test passed, x ``runnable_credit`` when the
    program ran through its tests to a failed assertion (``status == "failed"``: runnable, but wrong)
    and is not a body-less stub (:func:`is_stub`),
    x 0 when it crashed (a syntax error, an exception, a timeout or out of memory). So the score has
    up to three tiers, passing > runnable > crashing, the strongest signals a small model gets. The
    rubric judge breaks ties within a tier (``judge_weight`` x its [0, 1] score); unresolved API
    calls cost ``api_penalty``. A sandbox failure or a failed judgment gives ``None``: the candidate
    is left out of every pair, and counted.
    """
    by_judge = {j.judge_id: j for j in verdicts}
    tests = by_judge.get("unit_tests")
    if tests is None or tests.score is None:
        return None
    # a body-less function (signature and docstring) also "runs" to a failed assertion: no credit, or a
    # policy learns to write stubs (measured: 95 of 100 held-out answers after three rounds)
    ran = tests.score == 0.0 and tests.scores.get("status") == "failed"
    ran = ran and not is_stub(cand.meta.get("code", cand.text))
    score = test_weight * (runnable_credit if ran else tests.score)
    for j in verdicts:
        if j.kind in ("pointwise", "pairwise", "yesno"):
            if j.score is None:  # a failed judgment: the candidate is held back, never graded 0
                return None
            score += judge_weight * j.score
    api = by_judge.get("api_usage")
    if api is not None and api.score == 0.0:
        score -= api_penalty
    return score


def build(cfg: TrainConfig, prepared: Mapping[str, dict[str, Any]]) -> DomainBuild:
    """Everything the recipes need for the code domain, configured from ``cfg`` (it has no preparation
    stages, so ``prepared`` is empty)."""
    from functools import partial

    from polyrlaif.core.benchmarks import make_options
    from polyrlaif.core.judges.active import configured_judge
    from polyrlaif.core.registry import get_benchmark
    from polyrlaif.domains.code import DOMAIN
    from polyrlaif.domains.code.api_usage import ApiUsageVerifier
    from polyrlaif.domains.code.data import load_prompts
    from polyrlaif.domains.code.judge import build_rubric_judge, code_context, code_edit
    from polyrlaif.domains.code.sampler import CodeSampler
    from polyrlaif.domains.code.verifier import CodeTestVerifier

    d = cfg.domain
    judges: list[Judge] = []
    if d.rubric_judge and cfg.judge.backend != "none":  # one judge, judge.ensemble's members as one, and
        cache = judge_cache_path(cfg)  # with judge.active a cheap judge that asks it only when unsure

        def one(jc: Any) -> Any:
            return build_rubric_judge(jc, mode=d.rubric_mode, cache_path=cache)

        judges.append(configured_judge(cfg.judge, one))
    bench_opts = {
        "timeout_s": d.eval_timeout_s,
        "workers": d.workers,
        "unsafe_no_isolation": d.unsafe_no_isolation,
    }
    feedback = OfflineFeedback(
        sampler=CodeSampler.from_config(cfg),
        prompts=load_prompts(d.split, d.families),
        score=partial(
            score_candidate,
            test_weight=d.test_weight,
            judge_weight=d.judge_weight,
            api_penalty=d.api_penalty,
            runnable_credit=d.runnable_credit,
        ),
        context=code_context,
        verifiers=[
            CodeTestVerifier(
                timeout_s=d.timeout_s, workers=d.workers, unsafe_no_isolation=d.unsafe_no_isolation
            ),
            ApiUsageVerifier(),
        ],
        judges=judges,
        perturb=code_edit,  # polyrlaif audit: its edits as comments inside the code
    )
    evaluations = [
        BenchmarkRun(name, make_options(get_benchmark(DOMAIN, name), bench_opts, where="domain config"))
        for name in d.eval_benchmarks
    ]
    return DomainBuild(evaluations=evaluations, offline=feedback)
