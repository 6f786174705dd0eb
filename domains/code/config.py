"""Configuration of the `code` domain (the ``domain:`` section of a run config)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

__all__ = ["CodeDomainConfig"]


@dataclass
class CodeDomainConfig:
    """Options of the code domain.

    Attributes:
        name: always ``code``.
        split: task split sampled for training (``train``; ``heldout`` is for evaluation).
        families: restrict training to these task families (default: all).
        timeout_s: wall-clock limit per program in the sandbox.
        workers: sandbox worker processes.
        unsafe_no_isolation: run without Linux namespaces (only where the kernel refuses them).
        test_weight: weight of the unit-test verdict (1 = all tests pass) in a candidate's score.
        runnable_credit: the fraction of ``test_weight`` a program earns when it runs through its
            tests to a failed assertion instead of crashing (0: only passing counts); with it, pairs
            separate runnable from crashing code as well as passing from failing.
        judge_weight: weight of the rubric judge's normalised score.
        api_penalty: subtracted when the API-usage check finds calls that do not resolve.
        rubric_judge: run the CodeUltraFeedback-style rubric judge (needs ``judge.backend`` != none).
        rubric_mode: ``pointwise`` (a parsed 1-10 grade per criterion; for capable judges) or
            ``yesno`` (p(yes) of one rubric question from next-token logits; for small local judges)
            or ``pairwise`` (both-order comparisons within a task; score = win rate).
        eval_benchmarks: benchmarks run before training and after every round.
        eval_timeout_s: sandbox timeout during evaluation.
    """

    #: settings only the judgments or the pairs depend on (core.resume): a rerun with another rubric
    #: judge rejudges the candidates on disk, one with new weights rebuilds the pairs from the judgments
    LEVEL_KEYS: ClassVar[dict[str, tuple[str, ...]]] = {
        "judgments": ("rubric_judge", "rubric_mode"),
        "pairs": ("test_weight", "runnable_credit", "judge_weight", "api_penalty"),
    }

    name: str = "code"
    split: str = "train"
    families: list[str] | None = None
    timeout_s: float = 10.0
    workers: int = 2
    unsafe_no_isolation: bool = False
    test_weight: float = 1.0
    runnable_credit: float = 0.0
    judge_weight: float = 0.5
    api_penalty: float = 0.25
    rubric_judge: bool = True
    rubric_mode: Literal["pointwise", "yesno", "pairwise"] = "pointwise"
    eval_benchmarks: list[str] = field(default_factory=lambda: ["heldout"])
    eval_timeout_s: float = 10.0

    @property
    def judge_sets(self) -> bool:
        """judge.ensemble and judge.active shape the rubric judge (core.judges.active.configured_judge)."""
        return self.rubric_judge
