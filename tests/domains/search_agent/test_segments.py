"""ReSeek's JUDGE in training: an episode whose "not useful" verdict rewrote earlier context becomes
the sequences its turns actually saw (``encode_segments``), and the fast backend trains on them."""

from __future__ import annotations

import json

import pytest

from polyrlaif.datasets.qa.fictional import corpus_path
from polyrlaif.domains.search_agent.agent import AgentConfig, run_agents
from polyrlaif.domains.search_agent.index import load_retriever
from polyrlaif.domains.search_agent.prompts import DROPPED_NOTE
from polyrlaif.domains.search_agent.sampler import encode_segments, encode_trajectory
from polyrlaif.domains.search_agent.tools import SearchTools

GREYWICK = "Who designed the Greywick Light?"


def _call(name: str, **arguments) -> str:
    return "<tool_call>" + json.dumps({"name": name, "arguments": arguments}) + "</tool_call>"


@pytest.fixture(scope="module")
def tools(index_dirs, documents) -> SearchTools:
    return SearchTools(load_retriever(index_dirs["bm25"], corpus_path=corpus_path()), documents)


def _episode(tools, questions, turns):
    """Run the agent loop on the Greywick question with scripted turns; the contexts it was shown."""
    seen: list[list[dict[str, str]]] = []
    plan = list(turns)

    def generate(conversations):
        seen.extend(conversations)
        return [plan.pop(0) for _ in conversations]

    (q,) = [q for q in questions if q.question == GREYWICK]
    cfg = AgentConfig(max_turns=len(turns), judge_action=True)
    (traj,) = run_agents(generate, tools, [q], cfg)
    return traj, seen, cfg


def test_segments_are_what_each_turn_saw(tiny_lm_path, tools, questions):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_lm_path)
    turns = [
        _call("search", query="Greywick Light designer", k=2),
        "<judge>not useful</judge>",
        _call("read", doc_id="fw-006"),
        "<judge>useful</judge>",
        "<answer>Marta Solvey</answer><cite>fw-006</cite>",
    ]
    traj, seen, cfg = _episode(tools, questions, turns)
    assert traj.status == "answered" and traj.steps[0].dropped and not traj.steps[2].dropped
    assert DROPPED_NOTE in str(seen[2]) and DROPPED_NOTE not in str(seen[1])  # the drop rewrote turn 3's

    segments = encode_segments(tok, traj, cfg)
    assert len(segments) == 2  # cut once, after the turn that dropped an observation
    starts = [0, 2]
    for seg, start, end in zip(segments, starts, [2, 5], strict=True):
        rendered = tok.apply_chat_template(seen[start], tokenize=False, add_generation_prompt=True)
        assert tok.decode(seg.prompt_ids) == rendered  # the prompt is the context the first turn saw
        whole = tok.decode(seg.prompt_ids + seg.completion_ids)
        for t in range(start, end):  # and every later turn of the segment saw a prefix of the sequence
            context = tok.apply_chat_template(seen[t], tokenize=False, add_generation_prompt=True)
            assert whole.startswith(context)
        written = tok.decode([i for i, m in zip(seg.completion_ids, seg.env_mask, strict=True) if m])
        for t in range(start, end):
            assert traj.steps[t].text in written
        assert len(seg.completion_ids) == len(seg.env_mask) and seg.completion_ids[-1] == tok.eos_token_id

    kept = [_call("search", query="Greywick Light designer", k=2), "<judge>useful</judge>",
            "<answer>Marta Solvey</answer><cite>fw-006</cite>"]  # fmt: skip
    traj, _, cfg = _episode(tools, questions, kept)
    (one,) = encode_segments(tok, traj, cfg)  # no drop: one sequence, the whole episode's
    assert vars(one) == vars(encode_trajectory(tok, traj, cfg))


def test_fast_grpo_trains_on_an_episode_given_as_segments(tiny_lm_path, tmp_path):
    """Episodes given as segments train as sequences sharing their episode's advantage: on policy the
    step's loss is minus the advantage-weighted count of unmasked tokens over all segments, divided by
    that count (TRL's default token-level aggregation), and the rewarded episodes' second segment
    becomes more likely."""
    import torch

    from polyrlaif.core.config import RLConfig
    from polyrlaif.core.trainers.fast_grpo import fast_grpo_train

    def rollout(prompts, trainer):
        assert trainer.accepts_segments
        segs, p_ids, c_ids = [], [], []
        for k, _ in enumerate(prompts):
            first = {"prompt_ids": [5, 6, 7], "completion_ids": [10 + k, 11, 12], "env_mask": [1, 1, 1]}
            second = {"prompt_ids": [5, 6, 9, 9], "completion_ids": [20, 21 + k], "env_mask": [1, 0]}
            segs.append([first, second] if k % 2 == 0 else [first])
            p_ids.append(first["prompt_ids"])
            c_ids.append(first["completion_ids"])
        return {"prompt_ids": p_ids, "completion_ids": c_ids, "logprobs": None, "segments": segs}

    def reward(prompts, completions, completion_ids, **kw):
        return [float(i % 2 == 0) for i in range(len(completion_ids))]  # the two-segment episodes win

    rows = [{"prompt": [{"role": "user", "content": "q"}]}]
    rl = RLConfig(lr=1e-2, num_generations=4, batch_size=4, max_steps=1, max_completion_length=4)
    result = fast_grpo_train(tiny_lm_path, rows, {"r": reward}, tmp_path, rl, seed=0, rollout_func=rollout)
    assert result.metrics["steps"] == 1.0
    from polyrlaif.core.rl_loss import group_advantages

    adv = group_advantages(torch.tensor([[1.0], [0.0], [1.0], [0.0]]), torch.tensor([1.0]), 4)
    # four first segments of 3 written tokens, two second segments of 1 (their second token is masked)
    expected = -(3 * adv.sum() + adv[0] + adv[2]) / (4 * 3 + 2 * 1)
    assert result.metrics["loss"] == pytest.approx(float(expected), abs=1e-6) and float(expected) < -0.1

    from transformers import AutoModelForCausalLM

    before = AutoModelForCausalLM.from_pretrained(tiny_lm_path).eval()
    after = AutoModelForCausalLM.from_pretrained(result.model_path).eval()

    def logp(model, prompt, completion):
        ids = torch.tensor([prompt + completion])
        with torch.no_grad():
            out = torch.log_softmax(model(input_ids=ids).logits[0, len(prompt) - 1 : -1], -1)
        return out.gather(-1, torch.tensor(completion)[:, None]).sum().item()

    # the rewarded episodes' second segment (only in them) gained probability; its masked token did not count
    gain = logp(after, [5, 6, 9, 9], [20]) - logp(before, [5, 6, 9, 9], [20])
    assert gain > 0
