"""One GRPO step through the multi-turn search-agent rollout, on the tiny random model."""

from __future__ import annotations

import pytest

from polyrlaif.core.config import RLConfig
from polyrlaif.core.trainers.base import DONE_MARKER
from polyrlaif.core.trainers.trl_grpo import grpo_train
from polyrlaif.datasets.qa.fictional import corpus_path
from polyrlaif.domains.search_agent.agent import AgentConfig, Trajectory
from polyrlaif.domains.search_agent.index import load_retriever
from polyrlaif.domains.search_agent.prompts import agent_prompt
from polyrlaif.domains.search_agent.sampler import make_rollout_func
from polyrlaif.domains.search_agent.tools import SearchTools
from polyrlaif.evaluation.qa import f1


def answer_f1(prompts, completions, trajectory, answers, **kwargs) -> list[float]:
    """SQuAD F1 of the committed answer; 0 for a rollout that never answered."""
    return [
        f1(t["answer"], golds) if t["answer"] is not None else 0.0
        for t, golds in zip(trajectory, answers, strict=True)
    ]


def well_formed(prompts, completions, trajectory, **kwargs) -> list[float]:
    """Fraction of the rollout's turns that parsed as an action."""
    return [sum(s["action"]["kind"] != "invalid" for s in t["steps"]) / len(t["steps"]) for t in trajectory]


def test_grpo_step_through_agent_rollouts(tiny_lm_path, tmp_path, index_dirs, documents, questions) -> None:
    from transformers import AutoTokenizer

    tools = SearchTools(load_retriever(index_dirs["bm25"], corpus_path=corpus_path()), documents)
    cfg = AgentConfig(max_turns=2, max_observation_chars=200)
    rows = [
        {"prompt": agent_prompt(q.question, cfg), "question_id": q.id, "answers": list(q.answers)}
        for q in questions[:2]
    ]
    rollout = make_rollout_func(tools, cfg, max_new_tokens=12, temperature=1.0)
    seen: list[tuple[list, dict]] = []

    def recording_rollout(prompts, trainer):
        out = rollout(prompts, trainer)
        seen.append((prompts, out))
        return out

    settings = RLConfig(lr=1e-2, num_generations=2, batch_size=4, max_steps=1, max_prompt_length=None)
    result = grpo_train(
        tiny_lm_path,
        rows,
        {"answer_f1": answer_f1, "well_formed": well_formed},
        tmp_path,
        settings,
        rollout_func=recording_rollout,
    )

    assert (tmp_path / "model" / DONE_MARKER).is_file()
    assert result.metrics["steps"] == 1.0
    assert "rewards/answer_f1/mean" in result.metrics and "rewards/well_formed/mean" in result.metrics

    tokenizer = AutoTokenizer.from_pretrained(tiny_lm_path)
    (prompts, out), *_ = seen
    assert len(out["completion_ids"]) == len(prompts) == 4  # one rollout per (already repeated) prompt
    assert out["logprobs"] is None  # TRL without vLLM computes its own: no forward pass spent on them
    observations = 0
    for p_ids, c_ids, mask, traj in zip(
        out["prompt_ids"],
        out["completion_ids"],
        out["env_mask"],
        out["trajectory"],
        strict=True,
    ):
        t = Trajectory.from_dict(traj)
        assert tokenizer.decode(p_ids) == tokenizer.apply_chat_template(
            agent_prompt(t.question, cfg), tokenize=False, add_generation_prompt=True
        )
        assert len(c_ids) == len(mask)
        # split the completion into runs of equal mask value and decode each
        runs: list[tuple[int, list[int]]] = []
        for tok, m in zip(c_ids, mask, strict=True):
            if runs and runs[-1][0] == m:
                runs[-1][1].append(tok)
            else:
                runs.append((m, [tok]))
        model_runs = [tokenizer.decode(ids) for m, ids in runs if m == 1]
        env_runs = [tokenizer.decode(ids) for m, ids in runs if m == 0]
        # every turn but the last is followed by its observation message and the next assistant header
        expected_env = [
            tokenizer.apply_chat_template(
                [{"role": "user", "content": s.observation}], tokenize=False, add_generation_prompt=True
            )
            for s in t.steps[:-1]
        ]
        assert env_runs == expected_env
        assert [r.removesuffix("\n").removesuffix(tokenizer.eos_token) for r in model_runs] == [
            s.text for s in t.steps
        ]
        assert c_ids[-1] == tokenizer.eos_token_id
        observations += len(expected_env)
    assert observations > 0  # the random model writes no valid action, so it sees error observations


def test_judge_action_needs_a_trainer_that_takes_segments(index_dirs, documents, questions) -> None:
    """TRL's trainers take one sequence per rollout: with the JUDGE action on, a rollout for one of them
    stops before sampling, and a config asking for it stops when it loads."""
    from types import SimpleNamespace

    from tiny_configs import tiny_config

    from polyrlaif.core.config import load_config

    tools = SearchTools(load_retriever(index_dirs["bm25"], corpus_path=corpus_path()), documents)
    cfg = AgentConfig(judge_action=True)
    rollout = make_rollout_func(tools, cfg)
    trl_like = SimpleNamespace(args=SimpleNamespace(use_vllm=False))
    with pytest.raises(ValueError, match=r"judge_action.*rl.backend=fast"):
        rollout([agent_prompt(questions[0].question, cfg)], trl_like)
    with pytest.raises(ValueError, match=r"domain.judge_action.*rl.backend=fast"):
        load_config(tiny_config("search_agent"), ["domain.judge_action=true", "rl.backend=trl"])
    assert load_config(tiny_config("search_agent"), ["domain.judge_action=true"]).domain.judge_action


def test_rollout_returns_logprobs_when_the_trainer_reads_them(tiny_lm_path, index_dirs, documents, questions):
    """With ``use_vllm`` (TRL's importance sampling) the rollout scores its completion tokens under the
    sampling model; they are log-probabilities, one per completion token."""
    from types import SimpleNamespace

    from transformers import AutoModelForCausalLM, AutoTokenizer

    tools = SearchTools(load_retriever(index_dirs["bm25"], corpus_path=corpus_path()), documents)
    cfg = AgentConfig(max_turns=2, max_observation_chars=200)
    rollout = make_rollout_func(tools, cfg, max_new_tokens=8, temperature=1.0)
    model = AutoModelForCausalLM.from_pretrained(tiny_lm_path)
    trainer = SimpleNamespace(
        model=model, processing_class=AutoTokenizer.from_pretrained(tiny_lm_path),
        accelerator=SimpleNamespace(unwrap_model=lambda m: m), args=SimpleNamespace(use_vllm=True),
    )  # fmt: skip
    out = rollout([agent_prompt(questions[0].question, cfg)], trainer)
    (logps,), (ids,) = out["logprobs"], out["completion_ids"]
    assert len(logps) == len(ids) and all(lp <= 0.0 for lp in logps) and min(logps) < -1e-3
    trainer.args = SimpleNamespace(use_vllm=False, off_policy_mask_threshold=None)
    assert rollout([agent_prompt(questions[0].question, cfg)], trainer)["logprobs"] is None
