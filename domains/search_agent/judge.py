"""The search agent's LLM judges, and the trajectory rewards they give.

* :class:`AnswerVerdictJudge`: an answer-correctness judge with a JSON verdict (:func:`parse_verdict`),
  used by :class:`AnswerJudgeReward` and by the QA benchmark's ``llm_judge_accuracy``.
* :class:`AnswerJudgeReward`: 1.0 / 0.0 from that judge's verdict on a trajectory's answer.
* :class:`CitationFaithfulnessReward`: the fraction of cited documents the core
  :class:`~polyrlaif.core.judges.YesNoJudge` finds supportive.

Both judges are core judge modes, so they work with any core backend and the core judge cache, keyed by
``(judge_id, sha256 of the rendered prompt)``. Their prompts live in
:mod:`~polyrlaif.domains.search_agent.prompts`, with the templates' hashes recorded next to the rewards
they produce. A reward is a callable ``reward(trajectory, example) -> float | None`` (see
:mod:`~polyrlaif.domains.search_agent.rewards`); ``None`` when the judge could not decide, counted by
reason in the reward's ``stats``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from polyrlaif.core.io import sha256_text
from polyrlaif.core.judges import JudgeBackend, JudgeCache, JudgeStats, YesNoJudge
from polyrlaif.core.judges.modes import BaseJudge, snippet
from polyrlaif.core.records import Candidate, PromptRecord
from polyrlaif.domains.search_agent.prompts import ANSWER_JUDGE_TEMPLATE, CITATION_JUDGE_TEMPLATE

if TYPE_CHECKING:
    from polyrlaif.domains.search_agent.agent import Trajectory
    from polyrlaif.domains.search_agent.corpus import Document
    from polyrlaif.domains.search_agent.rewards import QAExample

__all__ = ["AnswerJudgeReward", "AnswerVerdictJudge", "CitationFaithfulnessReward", "parse_verdict"]


def parse_verdict(text: str | None, key: str = "correct") -> tuple[bool | None, str]:
    """Read ``{"<key>": true|false, "reason": "..."}`` from a judge's text; never raises.

    The object may sit in a code fence or among other text; the first JSON object holding ``key``
    wins. ``true``/``false`` may also be the strings ``"true"``, ``"false"``, ``"yes"`` or ``"no"``.

    Returns:
        ``(verdict, reason)``; ``verdict`` is ``None`` when no such object is found, and ``reason``
        then says why (``"unparseable_verdict: ..."``).
    """
    if not text or not text.strip():
        return None, "unparseable_verdict: (empty answer)"
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            obj, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if not isinstance(obj, dict) or key not in obj:
            continue
        value = obj[key]
        if isinstance(value, str):
            value = {"true": True, "yes": True, "false": False, "no": False}.get(value.strip().lower())
        if isinstance(value, bool):
            return value, str(obj.get("reason", ""))
        return None, f"unparseable_verdict: {key!r} is {obj[key]!r}, not true/false"
    return None, f"unparseable_verdict: no JSON object with {key!r} in {snippet(text)}"


class AnswerVerdictJudge(BaseJudge):
    """A generation-mode judge asked for a JSON verdict on a predicted answer (cached like any mode).

    Template slots: ``{question}``, ``{gold_answers}``, ``{prediction}``.

    Args:
        backend: the judge model.
        template: the judge prompt (default ``prompts.ANSWER_JUDGE_TEMPLATE``).
        cache: optional answer cache.
        max_new_tokens: room for the JSON verdict.
    """

    mode = "answer_verdict"
    kind = "verdict"
    default_template = ANSWER_JUDGE_TEMPLATE
    required_fields = frozenset({"question", "gold_answers", "prediction"})
    allowed_fields = required_fields
    key: ClassVar[str] = "correct"

    def __init__(
        self,
        backend: JudgeBackend,
        *,
        template: str | None = None,
        cache: JudgeCache | None = None,
        max_new_tokens: int = 96,
    ) -> None:
        self.max_new_tokens = max_new_tokens
        super().__init__(backend, template=template, cache=cache, progress=False)

    def _spec(self) -> dict[str, Any]:
        return {"max_new_tokens": self.max_new_tokens}

    def verdicts(self, rows: Sequence[Mapping[str, str]]) -> list[tuple[bool | None, str]]:
        """``(verdict, reason)`` for each row of template fields, in order; failures are counted."""
        texts = [self.template.format(**row) for row in rows]
        answers = self._ask_complete(texts, max_new_tokens=self.max_new_tokens, temperature=0.0)
        out = []
        for ans in answers:
            if ans.raw is None:
                verdict, reason = None, ans.error or "backend_error: no text"
            else:
                verdict, reason = parse_verdict(ans.raw.get("text"), self.key)
            if verdict is None:
                self.stats.fail(reason)
            out.append((verdict, reason))
        self.stats.judgments += len(out)
        return out


class AnswerJudgeReward:
    """1.0 / 0.0 from an LLM judge's JSON verdict on the answer against the gold answers.

    0.0 without an answer (no call is made); ``None`` when the judge's reply cannot be parsed or the
    backend failed, counted in :attr:`stats`. Replies are cached per ``(judge_id, prompt)``.

    Args:
        backend: any core judge backend (generation mode is used).
        cache: optional core judge cache.
        template: judge prompt (default ``prompts.ANSWER_JUDGE_TEMPLATE``).
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
