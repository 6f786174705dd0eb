"""Rewards for search-agent trajectories (PokeeResearch / ReSeek): the reward interface, ReSeek's JUDGE
reward, and the weighted combination of rewards.

Every reward is a callable ``reward(trajectory, example) -> float | None``; ``example`` is any object
with ``question``, ``answers`` and optionally ``supporting_ids`` (a :class:`QAExample`, e.g. a
``FictionalQuestion``). ``None`` means the reward does not apply, or its judge could not decide; judge
failures are counted by reason in the reward's ``stats`` (a :class:`~polyrlaif.core.judges.JudgeStats`).

* The deterministic rewards (EM, F1, format) are the domain's verifiers:
  :mod:`~polyrlaif.domains.search_agent.verifier`.
* The LLM-judged rewards (answer correctness, citation faithfulness) are its judges:
  :mod:`~polyrlaif.domains.search_agent.judge`.
* Here: :class:`JudgeActionReward`, ReSeek's reward for ``<judge>`` actions against a MiniLM
  reranker, and :class:`CombinedReward`, a weighted sum renormalised over the components that apply.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from polyrlaif.evaluation.qa import normalize_answer

if TYPE_CHECKING:
    from polyrlaif.core.text_encoder import TextEncoder
    from polyrlaif.domains.search_agent.agent import Trajectory

__all__ = ["CombinedReward", "JudgeActionReward", "QAExample"]

logger = logging.getLogger(__name__)


class QAExample(Protocol):
    """What the rewards read of a question: its text, gold answers and (optionally) supporting ids."""

    question: str
    answers: Sequence[str]


_OBSERVATION = re.compile(r"^\s*<observation>(.*)</observation>\s*$", re.DOTALL)


class JudgeActionReward:
    """ReSeek's JUDGE reward: (+1 per correct ``<judge>`` verdict, -1 per wrong one) / number of verdicts.

    The ideal verdict on an observation is "useful" when it contains a gold answer literally (after
    SQuAD normalisation, on word boundaries), or when a reranker scores it at or above ``threshold``:
    the cosine similarity, under the MiniLM :class:`TextEncoder`, between the observation and
    ``"<question> <gold answer>"``, best over the gold answers. The question is part of the query
    because a bare short answer ("Marta Solvey") embeds far from any passage, relevant or not.
    ``None`` when the agent made no accepted judgment.

    Args:
        encoder: a loaded encoder; by default the packaged all-MiniLM-L6-v2, loaded on first use.
        threshold: reranker score at or above which an observation is useful.
        literal_match: also count a literal gold-answer match as useful.
        with_question: prefix the question to each gold answer in the reranker query.
    """

    name = "judge_action"

    def __init__(
        self,
        encoder: TextEncoder | None = None,
        *,
        threshold: float = 0.5,
        literal_match: bool = True,
        with_question: bool = True,
    ) -> None:
        self._encoder = encoder
        self.threshold = threshold
        self.literal_match = literal_match
        self.with_question = with_question

    @property
    def encoder(self) -> TextEncoder:
        """The encoder, loaded on first use."""
        if self._encoder is None:
            from polyrlaif.core.text_encoder import TextEncoder

            self._encoder = TextEncoder()
        return self._encoder

    def scores(self, observations: Sequence[str], example: QAExample) -> list[float]:
        """Reranker score of each observation (its ``<observation>`` wrapper removed)."""
        texts = [_unwrap(o) for o in observations]
        prefix = f"{example.question} " if self.with_question else ""
        vectors = self.encoder.encode([*texts, *(prefix + a for a in example.answers)])
        obs, gold = vectors[: len(texts)], vectors[len(texts) :]
        return (obs @ gold.T).max(axis=1).astype(float).tolist()

    def ideal(self, observations: Sequence[str], example: QAExample) -> list[bool]:
        """The verdict a perfect judge would give on each observation."""
        if not observations:
            return []
        golds = [f" {normalize_answer(a)} " for a in example.answers if normalize_answer(a)]
        scores = self.scores(observations, example)
        out = []
        for text, score in zip(observations, scores, strict=True):
            literal = self.literal_match and any(g in f" {normalize_answer(_unwrap(text))} " for g in golds)
            out.append(literal or score >= self.threshold)
        return out

    def __call__(self, trajectory: Trajectory, example: QAExample) -> float | None:
        """The reward for one trajectory."""
        if not trajectory.judgments:
            return None
        observations = [trajectory.steps[i].observation for i, _ in trajectory.judgments]
        ideal = self.ideal(observations, example)
        hits = sum(
            1 if want == got else -1 for want, (_, got) in zip(ideal, trajectory.judgments, strict=True)
        )
        return hits / len(trajectory.judgments)


def _unwrap(observation: str) -> str:
    match = _OBSERVATION.match(observation)
    return match.group(1) if match else observation


class CombinedReward:
    """A weighted sum of reward components, renormalised over the components that apply.

    ``total = sum(w_i * r_i) / sum(w_i)`` over the components whose value ``r_i`` is not ``None``, so
    a trajectory is not penalised because, say, it made no JUDGE action; ``None`` when no weighted
    component applies. Every component is computed (and logged at DEBUG) even at weight 0, and
    running means per component are kept for metrics (:meth:`metrics`).

    Args:
        weights: component name -> non-negative weight; every name must be in ``components``.
        components: component name -> reward callable.

    Raises:
        ValueError: a negative weight, or a weight for an unknown component.
    """

    def __init__(self, weights: Mapping[str, float], components: Mapping[str, Any]) -> None:
        unknown = sorted(set(weights) - set(components))
        if unknown:
            raise ValueError(f"weights for unknown reward component(s) {unknown}; have {sorted(components)}")
        negative = sorted(k for k, w in weights.items() if w < 0)
        if negative:
            raise ValueError(f"reward weights must be non-negative; negative: {negative}")
        self.weights = {k: float(w) for k, w in weights.items()}
        self.components = dict(components)
        self._sums = {k: 0.0 for k in self.components}
        self._counts = {k: 0 for k in self.components}
        self._nones = {k: 0 for k in self.components}

    def __call__(
        self, trajectory: Trajectory, example: QAExample
    ) -> tuple[float | None, dict[str, float | None]]:
        """``(total, {component: value})`` for one trajectory."""
        values: dict[str, float | None] = {}
        for name, reward in self.components.items():
            value = reward(trajectory, example)
            values[name] = value
            if value is None:
                self._nones[name] += 1
            else:
                self._sums[name] += value
                self._counts[name] += 1
            logger.debug("reward %s[%s] = %s", name, trajectory.question_id, value)
        applicable = {k: w for k, w in self.weights.items() if values[k] is not None and w > 0}
        norm = sum(applicable.values())
        total = sum(w * values[k] for k, w in applicable.items()) / norm if norm > 0 else None
        return total, values

    def metrics(self) -> dict[str, float | None]:
        """``<name>/mean`` over applicable values and ``<name>/none_rate`` for every component."""
        out: dict[str, float | None] = {}
        for k in self.components:
            n = self._counts[k] + self._nones[k]
            out[f"{k}/mean"] = self._sums[k] / self._counts[k] if self._counts[k] else None
            out[f"{k}/none_rate"] = self._nones[k] / n if n else None
        return out
