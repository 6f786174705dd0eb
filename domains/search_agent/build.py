"""Builds the `search_agent` domain's components for a run: the online task, its rewards, the benchmark.

The domain trains online (``run.mode: online``): GRPO rollouts are whole agent episodes (search, read,
answer with citations), scored by the verifiers' and judges' trajectory rewards
(:mod:`~polyrlaif.domains.search_agent.verifier`, :mod:`~polyrlaif.domains.search_agent.judge`),
weighted by ``domain.reward_weights``. The LLM-judged rewards (answer correctness, citation
faithfulness) use the run's judge (``judge.*``) and its cache, the same judge the QA benchmark uses
for ``llm_judge_accuracy``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from polyrlaif.core.config import TrainConfig, judge_cache_path
from polyrlaif.core.log import get_logger
from polyrlaif.core.protocols import BenchmarkRun, DomainBuild, PrepStage
from polyrlaif.domains.search_agent.config import SearchAgentConfig

__all__ = ["build", "build_rewards", "stages"]

log = get_logger(__name__)

_JUDGED = ("answer_judge", "citation_faithfulness")


def build_rewards(cfg: TrainConfig, documents: dict[str, Any]) -> dict[str, Any]:
    """The trajectory rewards the config weighs: EM, F1 and format always; the LLM-judged ones when
    ``judge.backend`` is not ``none``.

    Raises:
        ValueError: a weight names no reward, or an LLM-judged reward is weighted without a judge.
    """
    from polyrlaif.domains.search_agent.judge import AnswerJudgeReward, CitationFaithfulnessReward
    from polyrlaif.domains.search_agent.verifier import ExactMatchReward, F1Reward, FormatReward

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
            backend,
            cache=cache,
            max_new_tokens=cfg.judge.max_new_tokens,
            verdict=cfg.domain.answer_judge_verdict,
        )
        rewards["citation_faithfulness"] = CitationFaithfulnessReward(backend, documents, cache=cache)
    if cfg.domain.judge_action:  # ReSeek's reward for the agent's verdicts on its observations
        from polyrlaif.domains.search_agent.rewards import JudgeActionReward

        rewards["judge_action"] = JudgeActionReward()
    elif weights.get("judge_action", 0) > 0:
        raise ValueError("domain.reward_weights weighs judge_action, but domain.judge_action is off")
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


def _sources(cfg: TrainConfig, prepared: Mapping[str, dict[str, Any]]) -> tuple[Path, str | None, str]:
    """The corpus, the questions file (None: the packaged fictional questions) and its format: the
    ``world`` stage's files with ``domain.source: world``, else ``domain.corpus`` and ``domain.questions``."""
    from polyrlaif.domains.search_agent.data import default_corpus

    d = cfg.domain
    if d.source == "world":
        if "world" not in prepared:
            raise ValueError("domain.source=world, but the preparation stage 'world' has not run")
        return Path(prepared["world"]["corpus"]), prepared["world"]["questions"], "fictional"
    return (Path(d.corpus) if d.corpus else default_corpus()), d.questions, d.questions_format


def _data(cfg: TrainConfig, prepared: Mapping[str, dict[str, Any]]) -> tuple[Path, Any, list[Any], list[Any]]:
    """The corpus, the tools over it, and the training and evaluation questions (a stable split)."""
    from polyrlaif.domains.search_agent.data import load_questions_file, open_tools, split_questions

    d = cfg.domain
    corpus, questions_file, fmt = _sources(cfg, prepared)
    tools = open_tools(
        corpus,
        index_kind=d.index_kind,
        index_dir=d.index_dir,
        max_read_chars=d.max_observation_chars,
        **_encoder(cfg),
    )
    questions = _hops(load_questions_file(questions_file, fmt), d.max_hops)
    if d.eval_questions:
        return (
            corpus,
            tools,
            questions,
            _hops(load_questions_file(d.eval_questions, d.questions_format), d.max_hops),
        )
    train, held_out = split_questions(questions, d.eval_holdout)
    return corpus, tools, train, held_out


def _encoder(cfg: TrainConfig) -> dict[str, Any]:
    """The dense encoder's settings (``domain.encoder``, ``query_prompt``, ``passage_prompt``)."""
    d = cfg.domain
    return {"encoder": d.encoder, "query_prompt": d.query_prompt, "passage_prompt": d.passage_prompt}


def _agent(cfg: TrainConfig) -> Any:
    """The training rollouts' agent settings. With ``judge_action`` (ReSeek's JUDGE rewrites earlier
    context) an episode trains as the sequences its turns saw, which ``rl.backend=fast`` takes."""
    from polyrlaif.domains.search_agent.agent import AgentConfig

    d = cfg.domain
    return AgentConfig(max_turns=d.max_turns, verify=d.verify, max_observation_chars=d.max_observation_chars,
                       judge_action=d.judge_action)  # fmt: skip


def stages(cfg: TrainConfig) -> list[PrepStage]:
    """The preparation stages, in order: with ``domain.source: world``, the generated world
    (:mod:`~polyrlaif.domains.search_agent.world`); with ``domain.warm_start``, SFT of
    ``model.name_or_path`` on the scripted expert's episodes over the training questions
    (``<output_dir>/warm_start``), after the world it reads."""
    from polyrlaif.domains.search_agent.world import stages as world_stages

    d = cfg.domain
    world = world_stages(cfg)
    if not d.warm_start:
        return world

    def warm_start(out: Path, prepared: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        from polyrlaif.core.trainers.trl_sft import SFTSettings, sft_train
        from polyrlaif.domains.search_agent.agent import write_trajectories
        from polyrlaif.domains.search_agent.expert import expert_examples

        _, tools, train, _ = _data(cfg, prepared)
        if d.warm_start_questions is not None:
            train = train[: d.warm_start_questions]
        examples, trajs = expert_examples(train, tools, _agent(cfg))
        write_trajectories(out / "expert_trajectories.jsonl", trajs)
        log.info(f"SFT on {len(examples)} expert turns from {len(trajs)} training questions")
        settings = SFTSettings(
            epochs=d.warm_start_epochs, lr=d.warm_start_lr, batch_size=cfg.optim.batch_size, seed=cfg.run.seed
        )
        return {"model": sft_train(cfg.model.name_or_path, examples, out, settings).model_path}

    settings = {
        "model": cfg.model.name_or_path,
        "epochs": d.warm_start_epochs,
        "lr": d.warm_start_lr,
        "batch_size": cfg.optim.batch_size,
        "seed": cfg.run.seed,
        "corpus": d.corpus,
        "questions": d.questions,
        "eval_questions": d.eval_questions,
        "eval_holdout": d.eval_holdout,
        "max_hops": d.max_hops,
        "agent": [d.max_turns, d.verify, d.max_observation_chars, d.index_kind],
    }
    if d.warm_start_questions is not None:  # absent when unset, so earlier warm starts keep their hash
        settings["warm_start_questions"] = d.warm_start_questions
    defaults = SearchAgentConfig()
    if d.index_kind != "bm25" and (d.encoder, d.query_prompt, d.passage_prompt) != (
        defaults.encoder,
        defaults.query_prompt,
        defaults.passage_prompt,
    ):  # the expert searches with it; absent when default, so earlier warm starts keep their hash
        settings["encoder"] = _encoder(cfg)
    return [
        *world,
        PrepStage(
            name="warm_start",
            output_dir=Path(cfg.run.output_dir) / "warm_start",
            settings=settings,
            run=warm_start,
            after=tuple(s.name for s in world),  # a changed world invalidates the warm start
            description="SFT on the scripted expert's episodes",
        ),
    ]


def build(cfg: TrainConfig, prepared: Mapping[str, dict[str, Any]]) -> DomainBuild:
    """Everything the online recipe needs for the search agent, configured from ``cfg``; the starting
    policy is the ``warm_start`` stage's model when that stage ran."""
    from polyrlaif.core.benchmarks import make_options
    from polyrlaif.core.registry import get_benchmark
    from polyrlaif.domains.search_agent import DOMAIN
    from polyrlaif.domains.search_agent.data import write_questions
    from polyrlaif.domains.search_agent.online import build_online_task

    d = cfg.domain
    out = Path(cfg.run.output_dir)
    corpus, tools, train, held_out = _data(cfg, prepared)
    # the split is an artifact of the run: the benchmark reads it back, and a reader can see it
    write_questions(out / "train_questions.jsonl", train)
    eval_file = write_questions(out / "eval_questions.jsonl", held_out) if held_out else None
    log.info(
        f"{len(tools.documents)} documents ({d.index_kind} index); {len(train)} training questions, "
        f"{len(held_out)} evaluation questions"
    )
    rewards = build_rewards(cfg, tools.documents)
    weights = {name: float(d.reward_weights.get(name, 0.0)) for name in rewards}
    task = build_online_task(
        train,
        tools,
        _agent(cfg),
        rewards,
        weights,
        max_new_tokens=cfg.rl.max_completion_length,
        temperature=cfg.rl.temperature,
        reuse_kv_cache=d.rollout_kv_cache,
    )
    bench: dict[str, Any] = {
        "corpus": str(corpus),
        "annotations": str(eval_file) if eval_file else None,
        "index_kind": d.index_kind,
        "index_dir": d.index_dir,
        **_encoder(cfg),
        "max_turns": d.max_turns,
        "verify": d.verify,
        "judge_action": d.judge_action,
        "max_observation_chars": d.max_observation_chars,
    }
    if d.eval_llm_judge and cfg.judge.backend != "none":
        bench["judge"] = asdict(cfg.judge)
        bench["judge_cache"] = judge_cache_path(cfg)
        bench["judge_verdict"] = d.answer_judge_verdict
    evaluations = [
        BenchmarkRun(name, make_options(get_benchmark(DOMAIN, name), bench, where="domain config"))
        for name in d.eval_benchmarks
    ]
    return DomainBuild(
        evaluations=evaluations if eval_file else [],
        starting_model=prepared.get("warm_start", {}).get("model"),
        online=task,
    )
