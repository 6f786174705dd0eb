"""A scripted expert for the cold start: demonstrations of the action protocol on training questions.

A small instruct model (SmolLM2-135M) writes no valid action at all when first shown the agent's
system prompt, so every rollout scores the same and GRPO has no signal. As in R1-style "cold starts",
a short SFT on demonstrations teaches the format first; GRPO then improves the behaviour.

The expert researches as the agent must, with the real tools: it searches the question, reads a
supporting document once a search has surfaced its id (searching the document's title when the
question's words did not), moves on to the next supporting document the same way, then answers with
the first gold answer and cites the supporting ids. The episodes run through the agent loop itself
(:func:`~polyrlaif.domains.search_agent.agent.run_agents`), so every context is exactly what the
model will see; each model turn becomes one SFT example (the context so far -> that turn).

Example::

    examples, trajs = expert_examples(train_questions, tools, AgentConfig(max_turns=6))
    sft_train("smollm2-135m-instruct", examples, "runs/warm_start")
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from polyrlaif.domains.search_agent.agent import AgentConfig, Trajectory, agent_context, run_agents
from polyrlaif.domains.search_agent.prompts import QUESTION_PREFIX
from polyrlaif.domains.search_agent.tools import SearchTools

__all__ = ["expert_examples", "expert_turns"]


def _call(name: str, **arguments: Any) -> str:
    return f"<tool_call>{json.dumps({'name': name, 'arguments': arguments})}</tool_call>"


def expert_turns(question: Any, tools: SearchTools, *, k: int = 3) -> list[str]:
    """The expert's model turns for one question (``id``, ``question``, ``answers``, ``supporting_ids``).

    Raises:
        ValueError: the question names no supporting documents, or one the corpus lacks.
    """
    sids = list(getattr(question, "supporting_ids", ()) or ())
    if not sids:
        raise ValueError(f"question {question.id!r} has no supporting_ids; the expert needs them")
    missing = [s for s in sids if s not in tools.documents]
    if missing:
        raise ValueError(f"question {question.id!r} cites documents not in the corpus: {missing}")
    turns: list[str] = []
    seen = ""
    for i, sid in enumerate(sids):
        queries = [question.question] if i == 0 else []
        queries.append(tools.documents[sid].title)  # a targeted search when the first did not surface it
        for query in queries:
            if sid in seen:
                break
            turns.append(_call("search", query=query, k=k))
            seen += tools.call("search", {"query": query, "k": k}).content
        turns.append(_call("read", doc_id=sid))
        seen += tools.call("read", {"doc_id": sid}).content
    turns.append(f"<answer>{question.answers[0]}</answer><cite>{', '.join(sids)}</cite>")
    return turns


def expert_examples(
    questions: Sequence[Any], tools: SearchTools, cfg: AgentConfig
) -> tuple[list[Any], list[Trajectory]]:
    """SFT examples (one per expert turn) and the expert's trajectories, through the real agent loop.

    Questions whose script needs more than ``cfg.max_turns`` turns are left out (the model could never
    finish them). ``cfg.verify`` and ``cfg.judge_action`` are not scripted and must be off.

    Raises:
        ValueError: ``cfg.verify`` or ``cfg.judge_action`` is on, or a question cannot be scripted.
    """
    from polyrlaif.core.trainers.trl_sft import SFTExample

    if cfg.verify or cfg.judge_action:
        raise ValueError("the scripted expert covers neither verify mode nor the JUDGE action")
    scripts = {q.id: expert_turns(q, tools) for q in questions}
    kept = [q for q in questions if len(scripts[q.id]) <= cfg.max_turns]
    by_question = {q.question: scripts[q.id] for q in kept}

    def generate(conversations: list[list[dict[str, str]]]) -> list[str]:
        out = []
        for conv in conversations:
            question = conv[1]["content"].removeprefix(QUESTION_PREFIX)
            out.append(by_question[question][sum(m["role"] == "assistant" for m in conv)])
        return out

    trajs = run_agents(generate, tools, kept, cfg)
    examples = []
    for traj in trajs:
        if traj.status != "answered":  # the loop refused a scripted turn: a bug, not a demonstration
            raise ValueError(f"expert episode for {traj.question_id!r} ended {traj.status}")
        steps = traj.steps
        for i, step in enumerate(steps):
            context = agent_context(Trajectory(traj.question_id, traj.question, steps[:i]), cfg)
            examples.append(SFTExample(prompt=context, completion=step.text))
    return examples, trajs
