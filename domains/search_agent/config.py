"""Configuration of the `search_agent` domain (the ``domain:`` section of a run config)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["DEFAULT_REWARD_WEIGHTS", "SearchAgentConfig"]

#: Reward name -> weight. The LLM-judged rewards need ``judge.backend`` != none.
DEFAULT_REWARD_WEIGHTS = {
    "answer_judge": 1.0,
    "f1": 0.5,
    "exact_match": 0.0,
    "format": 0.2,
    "citation_faithfulness": 0.5,
}


@dataclass
class SearchAgentConfig:
    """Options of the search-agent domain.

    Attributes:
        name: always ``search_agent``.
        corpus: JSONL corpus ``{id, title, text}``; default: the packaged fictional corpus.
        questions: training questions (see :func:`polyrlaif.datasets.qa.loaders.load_qa` for the
            formats); default: the packaged fictional questions.
        questions_format: ``auto`` or one of the loader's formats (``nq``, ``hotpotqa``, ``musique``, ...).
        eval_questions: evaluation questions; default: a held-out share of ``questions``.
        max_hops: keep only questions with at most this many supporting documents (``None``: all); a
            one-hop curriculum for small models and short CPU runs.
        eval_holdout: share of ``questions`` held out for evaluation when ``eval_questions`` is unset
            (chosen by a hash of each id, so the split is stable as questions are added).
        index_kind: ``bm25``, ``dense`` (all-MiniLM-L6-v2 + faiss) or ``hybrid`` (both, fused).
        index_dir: where the index is built once and reused; default: a cache directory named by
            the corpus's sha256 and the kind.
        max_turns: model turns per question before the episode ends unanswered.
        verify: PokeeResearch's verification mode (a draft answer is checked before it commits).
        judge_action: ReSeek's JUDGE action during evaluation (its accuracy is a benchmark metric).
            Training rollouts cannot use it: it rewrites earlier context.
        max_observation_chars: tool output cut to this many characters.
        reward_weights: reward name -> weight (see :data:`DEFAULT_REWARD_WEIGHTS`); 0 keeps a reward
            logged but out of the total.
        eval_benchmarks: benchmarks run before training and after every round.
        eval_llm_judge: also score evaluation answers with the LLM answer judge (``llm_judge_accuracy``).
        warm_start: before RL, fine-tune the policy on the scripted expert's demonstrations of the
            action protocol on the training questions (:mod:`~polyrlaif.domains.search_agent.expert`);
            round 0 then evaluates the warm-started policy. For small models that write no valid action.
        warm_start_epochs: SFT epochs of the warm start.
        warm_start_lr: SFT learning rate of the warm start.
    """

    name: str = "search_agent"
    corpus: str | None = None
    questions: str | None = None
    questions_format: Literal[
        "auto", "fictional", "nq", "hotpotqa", "2wiki", "musique", "bamboogle", "flashrag"
    ] = "auto"
    eval_questions: str | None = None
    max_hops: int | None = None
    eval_holdout: float = 0.3
    index_kind: Literal["bm25", "dense", "hybrid"] = "bm25"
    index_dir: str | None = None
    max_turns: int = 4
    verify: bool = False
    judge_action: bool = False
    max_observation_chars: int = 1200
    reward_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_REWARD_WEIGHTS))
    eval_benchmarks: list[str] = field(default_factory=lambda: ["qa"])
    eval_llm_judge: bool = True
    warm_start: bool = False
    warm_start_epochs: float = 2.0
    warm_start_lr: float = 5e-5
