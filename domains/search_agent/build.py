"""Builds the `search_agent` domain's components for a run: the online task, its rewards, the benchmark.

The domain trains online (``run.mode: online``): GRPO rollouts are whole agent episodes (search, read,
answer with citations), scored by the rewards of :mod:`~polyrlaif.domains.search_agent.rewards`,
weighted by ``domain.reward_weights``. The LLM-judged rewards (answer correctness, citation
faithfulness) use the run's judge (``judge.*``) and its cache, the same judge the QA benchmark uses
for ``llm_judge_accuracy``.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from polyrlaif.core.config import TrainConfig, judge_cache_path
from polyrlaif.core.protocols import DomainComponents

__all__ = ["build_components", "build_rewards"]

_JUDGED = ("answer_judge", "citation_faithfulness")


def _log(msg: str) -> None:
    print(f"[polyrlaif search_agent] {msg}", flush=True)


def build_rewards(cfg: TrainConfig, documents: dict[str, Any]) -> dict[str, Any]:
    """The trajectory rewards the config weighs: EM, F1 and format always; the LLM-judged ones when
    ``judge.backend`` is not ``none``.

    Raises:
        ValueError: a weight names no reward, or an LLM-judged reward is weighted without a judge.
    """
    from polyrlaif.domains.search_agent.rewards import (
        AnswerJudgeReward,
        CitationFaithfulnessReward,
        ExactMatchReward,
        F1Reward,
        FormatReward,
    )

    rewards: dict[str, Any] = {"exact_match": ExactMatchReward(), "f1": F1Reward(), "format": FormatReward()}
    weights = cfg.domain.reward_weights
    if cfg.judge.backend == "none":
        judged = sorted(k for k in _JUDGED if weights.get(k, 0) > 0)
        if judged:
            raise ValueError(
                f"domain.reward_weights weighs {judged}, which need an LLM judge, but judge.backend=none; "
                "set a judge backend or give those rewards weight 0"
            )
    else:
        from polyrlaif.core.judges import JudgeCache, build_backend

        backend = build_backend(cfg.judge)
        path = judge_cache_path(cfg)
        cache = JudgeCache(path) if path else None
        rewards["answer_judge"] = AnswerJudgeReward(
            backend, cache=cache, max_new_tokens=cfg.judge.max_new_tokens
        )
        rewards["citation_faithfulness"] = CitationFaithfulnessReward(backend, documents, cache=cache)
    unknown = sorted(set(weights) - set(rewards) - set(_JUDGED))
    if unknown:
        raise ValueError(f"domain.reward_weights names unknown reward(s) {unknown}; known: {sorted(rewards)}")
    return rewards


def _hops(questions: list[Any], max_hops: int | None) -> list[Any]:
    if max_hops is None:
        return questions
    kept = [q for q in questions if len(getattr(q, "supporting_ids", ()) or ()) <= max_hops]
    if not kept:
        raise ValueError(f"no question has at most domain.max_hops={max_hops} supporting documents")
    return kept


def _warm_start(cfg: TrainConfig, train: list[Any], tools: Any, agent_cfg: Any) -> str:
    """SFT on the scripted expert's episodes (resumable: a finished checkpoint is reused)."""
    from polyrlaif.core.trainers.trl_sft import SFTSettings, sft_train
    from polyrlaif.domains.search_agent.agent import write_trajectories
    from polyrlaif.domains.search_agent.expert import expert_examples

    d, out = cfg.domain, Path(cfg.run.output_dir) / "warm_start"
    examples, trajs = expert_examples(train, tools, agent_cfg)
    write_trajectories(out / "expert_trajectories.jsonl", trajs)
    _log(f"warm start: SFT on {len(examples)} expert turns from {len(trajs)} training questions")
    settings = SFTSettings(
        epochs=d.warm_start_epochs, lr=d.warm_start_lr, batch_size=cfg.optim.batch_size, seed=cfg.run.seed
    )
    return sft_train(cfg.model.name_or_path, examples, out, settings).model_path


def build_components(cfg: TrainConfig) -> DomainComponents:
    """Everything the run loop needs for the search agent, configured from ``cfg``."""
    from polyrlaif.core.policy import CAUSAL_LM_ADAPTER
    from polyrlaif.domains.search_agent.agent import AgentConfig
    from polyrlaif.domains.search_agent.data import (
        default_corpus,
        load_questions_file,
        open_tools,
        split_questions,
        write_questions,
    )
    from polyrlaif.domains.search_agent.online import build_online_task

    d = cfg.domain
    out = Path(cfg.run.output_dir)
    corpus = Path(d.corpus) if d.corpus else default_corpus()
    tools = open_tools(
        corpus, index_kind=d.index_kind, index_dir=d.index_dir, max_read_chars=d.max_observation_chars
    )
    questions = _hops(load_questions_file(d.questions, d.questions_format), d.max_hops)
    if d.eval_questions:
        train, held_out = (
            questions,
            _hops(load_questions_file(d.eval_questions, d.questions_format), d.max_hops),
        )
    else:
        train, held_out = split_questions(questions, d.eval_holdout)
    # the split is an artifact of the run: the benchmark reads it back, and a reader can see it
    write_questions(out / "train_questions.jsonl", train)
    eval_file = write_questions(out / "eval_questions.jsonl", held_out) if held_out else None
    _log(
        f"{len(tools.documents)} documents ({d.index_kind} index); {len(train)} training questions, "
        f"{len(held_out)} evaluation questions"
    )

    # training rollouts: no JUDGE action (it rewrites earlier context, which no token sequence holds)
    train_agent = AgentConfig(
        max_turns=d.max_turns, verify=d.verify, max_observation_chars=d.max_observation_chars
    )
    initial_model = _warm_start(cfg, train, tools, train_agent) if d.warm_start else None
    rewards = build_rewards(cfg, tools.documents)
    weights = {name: float(d.reward_weights.get(name, 0.0)) for name in rewards}
    task = build_online_task(
        train,
        tools,
        train_agent,
        rewards,
        weights,
        max_new_tokens=cfg.rl.max_completion_length,
        temperature=cfg.rl.temperature,
    )
    bench: dict[str, Any] = {
        "corpus": str(corpus),
        "annotations": str(eval_file) if eval_file else None,
        "index_kind": d.index_kind,
        "index_dir": d.index_dir,
        "max_turns": d.max_turns,
        "verify": d.verify,
        "judge_action": d.judge_action,
        "max_observation_chars": d.max_observation_chars,
    }
    if d.eval_llm_judge and cfg.judge.backend != "none":
        bench["judge"] = asdict(cfg.judge)
        bench["judge_cache"] = judge_cache_path(cfg)
    return DomainComponents(
        adapter=CAUSAL_LM_ADAPTER,
        online=task,
        initial_model=initial_model,
        eval_benchmarks=[(name, dict(bench)) for name in d.eval_benchmarks] if eval_file else [],
    )
