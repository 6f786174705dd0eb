"""The search agent's online-RL task: the rewards as TRL reward callables, and the GRPO prompts.

TRL calls a reward as ``reward(prompts, completions, **columns)``, one value per completion. Here the
columns are the prompt rows' ``question_id``, ``question``, ``answers`` and ``supporting_ids``, plus
``trajectory`` that :func:`~polyrlaif.domains.search_agent.sampler.make_rollout_func` adds per rollout.
:func:`trl_reward` rebuilds each :class:`Trajectory` and its question and calls a trajectory reward
(:mod:`~polyrlaif.domains.search_agent.verifier`, :mod:`~polyrlaif.domains.search_agent.judge`,
:mod:`~polyrlaif.domains.search_agent.rewards`) on them, so the judges that score evaluation answers
score rollouts too, with the same prompts and cache.

Example::

    task = build_online_task(questions, tools, agent_cfg, rewards, weights, max_new_tokens=192)
    grpo_train(policy, task.prompts, task.rewards, "runs/x", RLConfig(), rollout_func=task.rollout_func)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from polyrlaif.core.judges.reward import row_reward
from polyrlaif.core.protocols import OnlineTask, RewardFn
from polyrlaif.domains.search_agent.agent import AgentConfig, Trajectory
from polyrlaif.domains.search_agent.prompts import agent_prompt
from polyrlaif.domains.search_agent.sampler import make_rollout_func
from polyrlaif.domains.search_agent.tools import SearchTools

__all__ = ["TrajectoryReward", "build_online_task", "prompt_rows", "trl_reward"]

#: A trajectory reward (see the module `rewards`): ``(trajectory, example) -> float | None``.
TrajectoryReward = Callable[[Trajectory, Any], "float | None"]


@dataclass(frozen=True)
class _Example:
    id: str
    question: str
    answers: tuple[str, ...]
    supporting_ids: tuple[str, ...] = ()


def prompt_rows(questions: Sequence[Any], cfg: AgentConfig) -> list[dict[str, Any]]:
    """One GRPO dataset row per question: the agent's first context and the columns the rewards read.

    Raises:
        ValueError: a question without answers (a reward could not score it).
    """
    rows = []
    for q in questions:
        if not q.answers:
            raise ValueError(f"question {q.id!r} has no answers; the rewards cannot score it")
        rows.append(
            {
                "prompt": agent_prompt(q.question, cfg),
                "question_id": q.id,
                "question": q.question,
                "answers": list(q.answers),
                "supporting_ids": list(getattr(q, "supporting_ids", ()) or ()),
            }
        )
    return rows


def trl_reward(reward: TrajectoryReward, name: str | None = None) -> RewardFn:
    """Wrap a trajectory reward in TRL's reward signature (through the core
    :func:`~polyrlaif.core.judges.reward.row_reward`).

    The returned callable exposes the wrapped reward's ``stats`` (judge calls, cache hits, failures),
    if it has any, so the run can log them.

    Raises:
        ValueError: (per call) the ``trajectory`` column is missing: the rollouts did not come from the
            search agent's ``rollout_func``.
    """
    label = name or getattr(reward, "name", type(reward).__name__)

    def score(row: dict[str, Any]) -> float | None:
        traj = row.get("trajectory")
        if traj is None:
            raise ValueError(
                f"reward {label!r} needs the 'trajectory' column that the search agent's rollout_func returns"
            )
        if not isinstance(traj, Trajectory):
            traj = Trajectory.from_dict(traj, f"rollout of {row.get('question_id')!r}")
        example = _Example(
            id=row["question_id"],
            question=row["question"],
            answers=tuple(row["answers"]),
            supporting_ids=tuple(row.get("supporting_ids") or ()),
        )
        return reward(traj, example)

    return row_reward(score, label, stats=getattr(reward, "stats", None))


def build_online_task(
    questions: Sequence[Any],
    tools: SearchTools,
    agent_cfg: AgentConfig,
    rewards: Mapping[str, TrajectoryReward],
    weights: Mapping[str, float],
    *,
    max_new_tokens: int,
    temperature: float,
    reuse_kv_cache: bool = True,
) -> OnlineTask:
    """The :class:`~polyrlaif.core.protocols.OnlineTask` for GRPO on ``questions``.

    Args:
        questions: objects with ``id``, ``question``, ``answers`` (and optionally ``supporting_ids``).
        tools: the search and read tools the rollouts call.
        agent_cfg: the agent settings.
        rewards: name -> trajectory reward.
        weights: name -> weight; every name must be one of ``rewards``.
        max_new_tokens: tokens per model turn.
        temperature: sampling temperature (the trainer's).
        reuse_kv_cache: keep each conversation's keys and values across turns (see ``make_rollout_func``).

    Raises:
        ValueError: a weight for an unknown reward, a negative weight, or a question without answers.
    """
    unknown = sorted(set(weights) - set(rewards))
    if unknown:
        raise ValueError(f"reward weights for unknown reward(s) {unknown}; available: {sorted(rewards)}")
    negative = sorted(k for k, w in weights.items() if w < 0)
    if negative:
        raise ValueError(f"reward weights must be non-negative; negative: {negative}")
    return OnlineTask(
        prompts=prompt_rows(questions, agent_cfg),
        rewards={name: trl_reward(r, name) for name, r in rewards.items()},
        weights={name: float(weights.get(name, 0.0)) for name in rewards},
        rollout_func=make_rollout_func(
            tools, agent_cfg, max_new_tokens=max_new_tokens, temperature=temperature,
            reuse_kv_cache=reuse_kv_cache,
        ),  # fmt: skip
    )
