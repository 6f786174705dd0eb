"""The search agent's online task: trajectory rewards behind TRL's reward signature, the prompt rows,
the question split, and the domain's reward wiring (weights, judges) from a run config."""

from __future__ import annotations

import pytest
from tiny_configs import tiny_config

from polyrlaif.domains.search_agent.actions import Action
from polyrlaif.domains.search_agent.agent import AgentConfig, Step, Trajectory
from polyrlaif.domains.search_agent.data import split_questions
from polyrlaif.domains.search_agent.online import build_online_task, prompt_rows, trl_reward
from polyrlaif.domains.search_agent.prompts import agent_prompt
from polyrlaif.domains.search_agent.verifier import ExactMatchReward, F1Reward, FormatReward


def _answered(answer: str, cites: list[str]) -> Trajectory:
    action = Action("answer", answer=answer, citations=tuple(cites))
    return Trajectory(
        "q", "Who?", [Step(1, f"<answer>{answer}</answer>", action)], answer, cites, status="answered"
    )


def _unanswered() -> Trajectory:
    return Trajectory(
        "q", "Who?", [Step(1, "blah", Action("invalid", error="no action"))], status="turn_limit"
    )


def _columns(trajs: list[Trajectory], answers: list[str]) -> dict:
    n = len(trajs)
    return {
        "trajectory": [t.to_dict() for t in trajs],  # what the rollout returns, as TRL forwards it
        "question_id": ["q"] * n,
        "question": ["Who?"] * n,
        "answers": [answers] * n,
        "supporting_ids": [["d1"]] * n,
    }


def test_trl_reward_scores_each_rollout_by_its_trajectory():
    trajs = [_answered("Edda Varn", ["d1"]), _answered("the Varn", []), _unanswered()]
    cols = _columns(trajs, ["Edda Varn", "E. Varn"])
    em, f1, fmt = (trl_reward(r) for r in (ExactMatchReward(), F1Reward(), FormatReward()))
    assert em.__name__ == "exact_match" and fmt.__name__ == "format"
    assert em([None] * 3, ["ignored"] * 3, **cols) == [1.0, 0.0, 0.0]
    assert f1([None] * 3, ["ignored"] * 3, **cols) == pytest.approx([1.0, 2 / 3, 0.0])  # "varn" vs "e varn"
    assert fmt([None] * 3, ["ignored"] * 3, **cols) == [1.0, 0.5, 0.0]  # uncited answers get half
    with pytest.raises(ValueError, match="needs the 'trajectory' column"):
        em(["p"], ["c"], answers=[["x"]])


def test_prompt_rows_carry_the_columns_and_refuse_unanswerable_questions(questions):
    cfg = AgentConfig(max_turns=2)
    rows = prompt_rows(questions[:2], cfg)
    assert rows[0]["prompt"] == agent_prompt(questions[0].question, cfg)
    assert rows[1]["answers"] == list(questions[1].answers)
    assert rows[1]["supporting_ids"] == list(questions[1].supporting_ids)

    class NoAnswer:
        id, question, answers = "x", "Why?", ()

    with pytest.raises(ValueError, match="'x' has no answers"):
        prompt_rows([NoAnswer()], cfg)


def test_online_task_weights(index_dirs, documents):
    from polyrlaif.datasets.qa.fictional import corpus_path
    from polyrlaif.domains.search_agent.index import load_retriever
    from polyrlaif.domains.search_agent.tools import SearchTools

    tools = SearchTools(load_retriever(index_dirs["bm25"], corpus_path=corpus_path()), documents)
    rewards = {"f1": F1Reward(), "format": FormatReward()}

    class Q:
        id, question, answers = "q1", "Who?", ("A",)

    task = build_online_task(
        [Q()], tools, AgentConfig(), rewards, {"f1": 1.0}, max_new_tokens=8, temperature=1.0
    )
    assert task.weights == {"f1": 1.0, "format": 0.0}  # unweighted rewards are logged, not optimised
    assert set(task.rewards) == {"f1", "format"} and callable(task.rollout_func)
    with pytest.raises(ValueError, match="unknown reward"):
        build_online_task(
            [Q()], tools, AgentConfig(), rewards, {"em": 1.0}, max_new_tokens=8, temperature=1.0
        )
    with pytest.raises(ValueError, match="non-negative"):
        build_online_task(
            [Q()], tools, AgentConfig(), rewards, {"f1": -1.0}, max_new_tokens=8, temperature=1.0
        )


def test_split_is_stable_and_disjoint(questions):
    train, held = split_questions(questions, 0.3)
    assert {q.id for q in train}.isdisjoint({q.id for q in held})
    assert len(train) + len(held) == len(questions) and 0 < len(held) < len(questions)
    # adding questions does not move the old ones between sides
    train2, held2 = split_questions([*questions[5:], *questions[:5]], 0.3)
    assert {q.id for q in held2} == {q.id for q in held}
    with pytest.raises(ValueError, match="eval_holdout"):
        split_questions(questions, 1.0)
    with pytest.raises(ValueError, match="leaves"):
        split_questions(questions[:1], 0.3)  # one question: one side is always empty


def test_build_refuses_judged_weights_without_a_judge(tmp_path):
    from polyrlaif.core.config import load_config
    from polyrlaif.domains.search_agent.build import build_rewards

    cfg = load_config(tiny_config("search_agent"), [f"run.output_dir={tmp_path}", "judge.backend=none"])
    with pytest.raises(ValueError, match=r"\['answer_judge', 'citation_faithfulness'\].*judge.backend=none"):
        build_rewards(cfg, {})
    cfg = load_config(
        tiny_config("search_agent"),
        [
            f"run.output_dir={tmp_path}",
            "judge.backend=none",
            "domain.reward_weights.answer_judge=0",
            "domain.reward_weights.citation_faithfulness=0",
        ],
    )
    assert set(build_rewards(cfg, {})) == {"exact_match", "f1", "format"}
    bogus = [f"run.output_dir={tmp_path}", "domain.reward_weights={bogus: 1}"]
    cfg = load_config(tiny_config("search_agent"), bogus)
    with pytest.raises(ValueError, match="unknown reward"):
        build_rewards(cfg, {})
