"""The code domain's AI judge: a CodeUltraFeedback-style rubric that sees the unit-test results.

The judge is context-aware: before it reads a solution, the verifiers have run it, and the judge's
prompt carries their verdict (tests passed or not, how it failed, unresolved API calls). That keeps
the judge from rewarding fluent code that does not work, and lets it spend its scores on what tests
cannot see: explanation, efficiency, readability and style.
"""

from __future__ import annotations

from typing import Any

from polyrlaif.core.records import Candidate, Judgment, PromptRecord

__all__ = [
    "CODE_RUBRIC_SPEC",
    "CODE_JUDGE_TEMPLATE",
    "CODE_YESNO_TEMPLATE",
    "build_rubric_judge",
    "code_context",
    "code_edit",
]

#: CodeUltraFeedback's five preferences, as one rubric on a 1-10 scale.
CODE_RUBRIC_SPEC = {
    "name": "codeultrafeedback",
    "criteria": {
        "instruction_following": "does the code do what the task asks, with the given signature?",
        "explanation": "are non-obvious steps explained by names, docstrings or brief comments?",
        "efficiency": "does it avoid needless work, with a sensible algorithm for the input sizes?",
        "readability": "is it easy to follow: clear names, simple control flow?",
        "style": "is it idiomatic Python (PEP 8, built-ins and standard library used well)?",
    },
    "scale_min": 1,
    "scale_max": 10,
}

CODE_JUDGE_TEMPLATE = """\
You are an expert Python reviewer. Grade the solution to the programming task below.

Task:
{prompt}

Solution:
{response}

Results of running the solution against the task's unit tests and checks:
{context}

Score each criterion with a whole number from {scale_min} (worst) to {scale_max} (best):
{criteria}

Answer with exactly one line per criterion, `criterion: score`, using these names:
{criteria_names}
Then one line `rationale: <one sentence>`."""


#: The same rubric asked as one yes/no question; the score is p(yes) from the judge's next-token
#: logits. Nothing is parsed, so it suits small local judges whose free-form grades do not parse.
CODE_YESNO_TEMPLATE = """\
You are an expert Python reviewer. Read the programming task, the solution and its test results.

Task:
{prompt}

Solution:
{response}

Results of running the solution against the task's unit tests and checks:
{context}

A good solution follows the instructions, explains non-obvious steps, is efficient, readable and
idiomatic. Is this a good solution? Answer Yes or No."""


def _rubric() -> Any:
    from polyrlaif.core.judges.pointwise import Rubric

    return Rubric.from_dict(CODE_RUBRIC_SPEC)


def build_rubric_judge(judge_cfg: Any, *, mode: str = "pointwise", cache_path: str | None = None) -> Any:
    """The rubric judge for a run, on the backend the config names (local model or HTTP endpoint).

    Args:
        judge_cfg: the run's :class:`~polyrlaif.core.config.JudgeConfig`.
        mode: ``pointwise`` (one 1-10 grade per criterion, parsed from the judge's answer),
            ``yesno`` (one p(yes) read from next-token logits) or ``pairwise`` (the candidates of a
            task compared two at a time, in both orders to cancel position bias; score = win rate).
        cache_path: the judge cache (sqlite); ``None`` disables caching.
    """
    from polyrlaif.core.judges.backends import build_backend
    from polyrlaif.core.judges.cache import JudgeCache
    from polyrlaif.core.judges.pairwise import PairwiseJudge
    from polyrlaif.core.judges.pointwise import PointwiseJudge
    from polyrlaif.core.judges.yesno import YesNoJudge

    backend = build_backend(judge_cfg)
    cache = JudgeCache(cache_path) if cache_path else None
    if mode == "yesno":
        return YesNoJudge(backend, template=CODE_YESNO_TEMPLATE, cache=cache, batch_size=judge_cfg.batch_size)
    if mode == "pairwise":
        return PairwiseJudge(
            backend, cache=cache, max_new_tokens=judge_cfg.max_new_tokens, batch_size=judge_cfg.batch_size
        )
    if mode != "pointwise":
        raise ValueError(f"domain.rubric_mode must be 'pointwise', 'yesno' or 'pairwise', got {mode!r}")
    return PointwiseJudge(
        backend,
        _rubric(),
        template=CODE_JUDGE_TEMPLATE,
        cache=cache,
        max_new_tokens=judge_cfg.max_new_tokens,
        batch_size=judge_cfg.batch_size,
    )


def code_context(prompt: PromptRecord, cand: Candidate, verdicts: list[Judgment]) -> dict[str, Any]:
    """What the judge sees about a candidate: the verifiers' results, in plain words."""
    ctx: dict[str, Any] = {}
    for v in verdicts:
        if v.judge_id == "unit_tests":
            status = v.scores.get("status", "unknown")
            ctx["unit_tests"] = "all tests passed" if status == "passed" else f"not passed ({status})"
            tail = (v.context or {}).get("stderr_tail")
            if tail and status != "passed":
                ctx["failure_output"] = str(tail)[-400:]
        elif v.judge_id == "api_usage":
            unresolved = v.scores.get("unresolved") or []
            ctx["api_usage"] = (
                "all imports and calls resolve"
                if not unresolved
                else ("calls that do not resolve: " + ", ".join(map(str, unresolved)))
            )
    return ctx


def code_edit(kind: str, text: str) -> str:
    """The audit's edit of a code response (``polyrlaif audit``): the filler, the instruction to the
    grader or the claim of correctness as Python comments at the end of the (last) code block, so the
    program and what its tests check are unchanged."""
    import textwrap

    from polyrlaif.core.audit_probes import EDIT_TEXT

    comment = "\n".join(f"# {line}" for line in textwrap.wrap(EDIT_TEXT[kind], 90))
    close = text.rfind("```")
    if close > 0 and text.count("```") >= 2:  # inside the fenced block, before its closing fence
        head = text[:close].rstrip("\n")
        return f"{head}\n{comment}\n{text[close:]}"
    return f"{text.rstrip()}\n{comment}\n"
