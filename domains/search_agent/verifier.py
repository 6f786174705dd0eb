"""The search agent's deterministic trajectory rewards: answer correctness against the gold answers,
and adherence to the action protocol.

* :class:`ExactMatchReward`, :class:`F1Reward`: SQuAD EM / token F1, best over the gold answers.
* :class:`FormatReward`: did the agent follow the action protocol and finish properly.

Each is a callable ``reward(trajectory, example) -> float | None`` (see
:mod:`~polyrlaif.domains.search_agent.rewards`) that needs no model; online RL reaches them through
:func:`~polyrlaif.domains.search_agent.online.trl_reward`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from polyrlaif.evaluation.qa import exact_match, f1

if TYPE_CHECKING:
    from polyrlaif.domains.search_agent.agent import Trajectory
    from polyrlaif.domains.search_agent.rewards import QAExample

__all__ = ["ExactMatchReward", "F1Reward", "FormatReward"]


class ExactMatchReward:
    """SQuAD exact match of the committed answer, best over the gold answers; 0.0 without an answer."""

    name = "exact_match"

    def __call__(self, trajectory: Trajectory, example: QAExample) -> float | None:
        """The reward for one trajectory."""
        return exact_match(trajectory.answer, list(example.answers)) if trajectory.answer else 0.0


class F1Reward:
    """SQuAD token F1 of the committed answer, best over the gold answers; 0.0 without an answer."""

    name = "f1"

    def __call__(self, trajectory: Trajectory, example: QAExample) -> float | None:
        """The reward for one trajectory."""
        return f1(trajectory.answer, list(example.answers)) if trajectory.answer else 0.0


class FormatReward:
    """Adherence to the action protocol.

    * 0.0 when the run did not end with an answer (status ``turn_limit`` or ``error``).
    * Otherwise a base of 1.0 when the answer cites at least one document, ``uncited_credit`` when not,
    * times the fraction of turns that parsed as a valid action (malformed turns lose credit; a
      *valid* call the tools rejected, e.g. an unknown doc id, is a search mistake, not a format one),
    * times ``over_budget_credit`` when ``max_tool_calls`` is set and the agent made more tool calls.

    Args:
        uncited_credit: base credit of a well-formed answer without citations.
        max_tool_calls: a tool-call budget (``None``: only the turn limit applies).
        over_budget_credit: factor applied when the budget is exceeded.
    """

    name = "format"

    def __init__(
        self,
        *,
        uncited_credit: float = 0.5,
        max_tool_calls: int | None = None,
        over_budget_credit: float = 0.5,
    ) -> None:
        self.uncited_credit = uncited_credit
        self.max_tool_calls = max_tool_calls
        self.over_budget_credit = over_budget_credit

    def __call__(self, trajectory: Trajectory, example: QAExample | None = None) -> float | None:
        """The reward for one trajectory (``example`` is not needed)."""
        if trajectory.status != "answered" or not trajectory.answer or not trajectory.steps:
            return 0.0
        score = 1.0 if trajectory.citations else self.uncited_credit
        valid = sum(step.action.kind != "invalid" for step in trajectory.steps)
        score *= valid / len(trajectory.steps)
        if self.max_tool_calls is not None and trajectory.n_tool_calls > self.max_tool_calls:
            score *= self.over_budget_credit
        return score
