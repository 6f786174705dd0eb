"""Rewards for search-agent trajectories (PokeeResearch / ReSeek).

Every reward is a callable ``reward(trajectory, example) -> float | None``; ``example`` is any object
with ``question``, ``answers`` and optionally ``supporting_ids`` (e.g. a ``FictionalQuestion``).
``None`` means the reward does not apply, or its judge could not decide; judge failures are counted
by reason in the reward's ``stats`` (a :class:`~polyrlaif.core.judges.JudgeStats`).

* :class:`ExactMatchReward`, :class:`F1Reward`: SQuAD EM / token F1, best over the gold answers.
* :class:`FormatReward`: did the agent follow the action protocol and finish properly.
* :class:`AnswerJudgeReward`: an LLM judge's JSON verdict ``{"correct": ..., "reason": ...}``.
* :class:`CitationFaithfulnessReward`: the fraction of cited documents an LLM judge finds supportive.
* :class:`JudgeActionReward`: ReSeek's reward for ``<judge>`` actions, against a MiniLM reranker.
* :class:`CombinedReward`: a weighted sum, renormalised over the components that apply.

The LLM judges (:mod:`polyrlaif.domains.search_agent.judges`, and the core
:class:`~polyrlaif.core.judges.YesNoJudge`) are core judge modes, so they use any core backend and the
core :class:`~polyrlaif.core.judges.JudgeCache`, keyed by ``(judge_id, sha256 of the rendered prompt)``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from polyrlaif.core.io import sha256_text
from polyrlaif.core.judges import JudgeBackend, JudgeCache, JudgeStats, YesNoJudge
from polyrlaif.core.records import Candidate, PromptRecord
from polyrlaif.domains.search_agent.agent import Trajectory
from polyrlaif.domains.search_agent.corpus import Document
from polyrlaif.domains.search_agent.judges import (
    ANSWER_JUDGE_TEMPLATE,
    ANSWER_JUDGE_TEMPLATE_HASH,
    CITATION_JUDGE_TEMPLATE,
    CITATION_JUDGE_TEMPLATE_HASH,
    AnswerVerdictJudge,
    parse_verdict,
)
from polyrlaif.evaluation.qa import exact_match, f1, normalize_answer

if TYPE_CHECKING:
    from polyrlaif.domains.search_agent.encoder import TextEncoder

__all__ = [
    "ANSWER_JUDGE_TEMPLATE",
    "ANSWER_JUDGE_TEMPLATE_HASH",
    "CITATION_JUDGE_TEMPLATE",
    "CITATION_JUDGE_TEMPLATE_HASH",
    "AnswerJudgeReward",
    "AnswerVerdictJudge",
    "CitationFaithfulnessReward",
    "CombinedReward",
    "ExactMatchReward",
    "F1Reward",
    "FormatReward",
    "JudgeActionReward",
    "QAExample",
    "parse_verdict",
]

logger = logging.getLogger(__name__)


class QAExample(Protocol):
    """What the rewards read of a question: its text, gold answers and (optionally) supporting ids."""

    question: str
    answers: Sequence[str]


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


class AnswerJudgeReward:
    """1.0 / 0.0 from an LLM judge's JSON verdict on the answer against the gold answers.

    0.0 without an answer (no call is made); ``None`` when the judge's reply cannot be parsed or the
    backend failed, counted in :attr:`stats`. Replies are cached per ``(judge_id, prompt)``.

    Args:
        backend: any core judge backend (generation mode is used).
        cache: optional core judge cache.
        template: judge prompt (default :data:`ANSWER_JUDGE_TEMPLATE`).
        max_new_tokens: room for the verdict.
    """

    name = "answer_judge"

    def __init__(
        self,
        backend: JudgeBackend,
        *,
        cache: JudgeCache | None = None,
        template: str | None = None,
        max_new_tokens: int = 96,
    ) -> None:
        self.judge = AnswerVerdictJudge(
            backend, template=template, cache=cache, max_new_tokens=max_new_tokens
        )
        self.template_hash = sha256_text(self.judge.template)[:12]
        self.last_reason = ""

    @property
    def stats(self) -> JudgeStats:
        """The judge's counters (calls, cache hits, failures by reason)."""
        return self.judge.stats

    def __call__(self, trajectory: Trajectory, example: QAExample) -> float | None:
        """The reward for one trajectory."""
        if not trajectory.answer:
            return 0.0
        row = {
            "question": example.question,
            "gold_answers": "\n".join(f"- {a}" for a in example.answers),
            "prediction": trajectory.answer,
        }
        verdict, self.last_reason = self.judge.verdicts([row])[0]
        return None if verdict is None else float(verdict)


class CitationFaithfulnessReward:
    """The fraction of cited documents a yes/no LLM judge finds supportive of the answer.

    Each cited id known to ``documents`` is judged with the core :class:`YesNoJudge` (P(yes) read from
    the next token; supportive when ``p_yes >= threshold``); an unknown id counts as unsupported
    without a call. ``None`` when there is no answer or no citation, or when a judge call fails
    (a partial fraction would hide the failure; it is counted in :attr:`stats`).

    Args:
        backend: any core judge backend offering ``yes_no``.
        documents: the corpus, by id.
        cache: optional core judge cache.
        threshold: P(yes) at or above which a document counts as supportive.
        template: judge prompt with ``{prompt}`` (question), ``{response}`` (answer), ``{context}``.
    """

    name = "citation_faithfulness"

    def __init__(
        self,
        backend: JudgeBackend,
        documents: Mapping[str, Document],
        *,
        cache: JudgeCache | None = None,
        threshold: float = 0.5,
        template: str = CITATION_JUDGE_TEMPLATE,
    ) -> None:
        self.documents = documents
        self.threshold = threshold
        self.judge = YesNoJudge(backend, template=template, cache=cache, progress=False)
        self.template_hash = sha256_text(template)[:12]

    @property
    def stats(self) -> JudgeStats:
        """The judge's counters (calls, cache hits, failures by reason)."""
        return self.judge.stats

    def __call__(self, trajectory: Trajectory, example: QAExample) -> float | None:
        """The reward for one trajectory."""
        if not trajectory.answer or not trajectory.citations:
            return None
        known = [d for d in trajectory.citations if d in self.documents]
        prompt = PromptRecord(prompt_id=trajectory.question_id, text=example.question)
        cands = [
            Candidate(
                candidate_id=f"{trajectory.question_id}/{d}",
                prompt_id=prompt.prompt_id,
                text=trajectory.answer,
            )
            for d in known
        ]
        contexts = [
            {"id": d, "title": self.documents[d].title, "text": self.documents[d].text} for d in known
        ]
        judgments = self.judge.judge({prompt.prompt_id: prompt}, cands, contexts) if cands else []
        if any(j.score is None for j in judgments):
            return None
        supported = sum(j.score >= self.threshold for j in judgments)
        return supported / len(trajectory.citations)


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
            from polyrlaif.domains.search_agent.encoder import TextEncoder

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
