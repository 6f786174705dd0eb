"""The search agent's LLM judges, and the trajectory rewards they give.

* :class:`AnswerVerdictJudge`: an answer-correctness judge, used by :class:`AnswerJudgeReward` and by the
  QA benchmark's ``llm_judge_accuracy``. Its verdict comes one of two ways (:data:`VerdictMode`):
  a JSON verdict the judge writes (``json``: :data:`VERDICT_SCHEMA`, sent as structured output to an
  OpenAI-compatible endpoint as ``judge.structured_output`` allows, parsed by :func:`parse_verdict`), or
  p(yes) read from the judge's next-token distribution after "Is the predicted answer correct? Answer
  Yes or No." (``yesno``: nothing to parse). ``auto`` picks ``yesno`` for a backend that computes
  next-token probabilities itself (a local ``transformers`` model: small ones rarely write JSON) and
  ``json`` for the rest (an HTTP endpoint).
* :class:`AnswerJudgeReward`: 1.0 / 0.0 from that judge's verdict on a trajectory's answer.
* :class:`CitationFaithfulnessReward`: the fraction of cited documents the core
  :class:`~polyrlaif.core.judges.YesNoJudge` finds supportive.

Both judges are core judge modes, so they work with any core backend and the core judge cache, keyed by
``(judge_id, sha256 of the rendered prompt)``. Their prompts live in
:mod:`~polyrlaif.domains.search_agent.prompts`, with the templates' hashes recorded next to the rewards
they produce. A reward is a callable ``reward(trajectory, example) -> float | None`` (see
:mod:`~polyrlaif.domains.search_agent.rewards`); ``None`` when the judge could not decide, counted by
reason in the reward's ``stats``, with the answers read and the unparseable ones
(:class:`~polyrlaif.core.judges.ParsingStats`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, get_args

from polyrlaif.core.io import sha256_text
from polyrlaif.core.judges import JudgeBackend, JudgeCache, JudgeStats, ParsingStats, YesNoJudge
from polyrlaif.core.judges.backends import reads_next_token
from polyrlaif.core.judges.modes import BaseJudge, snippet
from polyrlaif.core.judges.structured import read_json_fields
from polyrlaif.core.records import Candidate, PromptRecord
from polyrlaif.domains.search_agent.prompts import (
    ANSWER_JUDGE_TEMPLATE,
    ANSWER_YESNO_TEMPLATE,
    CITATION_JUDGE_TEMPLATE,
)

if TYPE_CHECKING:
    from polyrlaif.domains.search_agent.agent import Trajectory
    from polyrlaif.domains.search_agent.corpus import Document
    from polyrlaif.domains.search_agent.rewards import QAExample

__all__ = [
    "VERDICT_MODES",
    "VERDICT_SCHEMA",
    "AnswerJudgeReward",
    "AnswerVerdictJudge",
    "CitationFaithfulnessReward",
    "VerdictMode",
    "parse_verdict",
    "verdict_mode",
]

VerdictMode = Literal["auto", "json", "yesno"]
VERDICT_MODES: tuple[str, ...] = get_args(VerdictMode)

#: The JSON schema of a written verdict: ``correct`` first, so an answer cut short in its reason counts.
VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"correct": {"type": "boolean"}, "reason": {"type": "string"}},
    "required": ["correct", "reason"],
    "additionalProperties": False,
}


def _truth(value: Any) -> bool | None:
    if isinstance(value, str):
        value = {"true": True, "yes": True, "false": False, "no": False}.get(value.strip().lower())
    return value if isinstance(value, bool) else None


def parse_verdict(text: str | None, key: str = "correct") -> tuple[bool | None, str]:
    """Read ``{"<key>": true|false, "reason": "..."}`` from a judge's text; never raises.

    The object may sit in a code fence or among other text; the first JSON object holding ``key``
    wins. ``true``/``false`` may also be the strings ``"true"``, ``"false"``, ``"yes"`` or ``"no"``. An
    object cut short (the answer ran out of tokens in its reason) still gives its complete
    ``"<key>": value`` pair.

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
        verdict = _truth(obj[key])
        if verdict is not None:
            return verdict, str(obj.get("reason", ""))
        return None, f"unparseable_verdict: {key!r} is {obj[key]!r}, not true/false"
    cut = read_json_fields(text) or {}  # no complete object: the pairs written before the cut
    if _truth(cut.get(key)) is not None:
        return _truth(cut[key]), str(cut.get("reason", ""))
    return None, f"unparseable_verdict: no JSON object with {key!r} in {snippet(text)}"


def verdict_mode(backend: JudgeBackend, mode: str = "auto") -> str:
    """The verdict mode a judge on ``backend`` uses: ``mode``, or for ``auto``, ``yesno`` when the backend
    computes next-token probabilities itself (:func:`~polyrlaif.core.judges.backends.reads_next_token`)
    and ``json`` otherwise.

    Raises:
        ValueError: an unknown mode, naming the valid ones.
    """
    if mode not in VERDICT_MODES:
        raise ValueError(f"answer judge verdict mode {mode!r} is not one of {', '.join(VERDICT_MODES)}")
    if mode != "auto":
        return mode
    return "yesno" if reads_next_token(backend) else "json"


class AnswerVerdictJudge(BaseJudge):
    """A judge of predicted answers against gold answers: a written JSON verdict, or p(yes) (cached like
    any mode; see the module docstring for the two modes).

    ``stats`` (:class:`~polyrlaif.core.judges.ParsingStats`) counts the answers read and the unparseable
    ones (a ``json`` answer without a verdict; a ``yesno`` answer always has one). Template slots:
    ``{question}``, ``{gold_answers}``, ``{prediction}``.

    Args:
        backend: the judge model.
        template: the judge prompt (default ``prompts.ANSWER_JUDGE_TEMPLATE`` for ``json``,
            ``prompts.ANSWER_YESNO_TEMPLATE`` for ``yesno``).
        cache: optional answer cache.
        max_new_tokens: room for the JSON verdict.
        verdict: ``auto``, ``json`` or ``yesno`` (:func:`verdict_mode`).
        threshold: with ``yesno``, the p(yes) at or above which the answer is correct.

    Raises:
        ValueError: an unknown verdict mode.
    """

    mode = "answer_verdict"
    kind = "verdict"
    default_template = ANSWER_JUDGE_TEMPLATE
    stats: ParsingStats
    required_fields = frozenset({"question", "gold_answers", "prediction"})
    allowed_fields = required_fields
    key: ClassVar[str] = "correct"
    yes: ClassVar[tuple[str, ...]] = ("Yes", "yes")
    no: ClassVar[tuple[str, ...]] = ("No", "no")

    def __init__(
        self,
        backend: JudgeBackend,
        *,
        template: str | None = None,
        cache: JudgeCache | None = None,
        max_new_tokens: int = 96,
        verdict: str = "auto",
        threshold: float = 0.5,
    ) -> None:
        self.verdict_mode = verdict_mode(backend, verdict)
        self.max_new_tokens, self.threshold = max_new_tokens, threshold
        if template is None and self.verdict_mode == "yesno":
            template = ANSWER_YESNO_TEMPLATE
        super().__init__(backend, template=template, cache=cache, progress=False)

    def _new_stats(self) -> ParsingStats:
        return ParsingStats()

    def _spec(self) -> dict[str, Any]:
        if self.verdict_mode == "yesno":
            return {"verdict": "yesno", "yes": self.yes, "no": self.no, "threshold": self.threshold}
        return {"max_new_tokens": self.max_new_tokens}  # as before: written verdicts cached stay valid

    def verdicts(self, rows: Sequence[Mapping[str, str]]) -> list[tuple[bool | None, str]]:
        """``(verdict, reason)`` for each row of template fields, in order; failures are counted. A
        ``yesno`` verdict's reason is its ``p(yes)`` and the yes/no probability mass."""
        texts = [self.template.format(**row) for row in rows]
        out = []
        if self.verdict_mode == "yesno":
            for ans in self._ask_yes_no(texts, yes=self.yes, no=self.no):
                if ans.raw is None or ans.raw.get("p_yes") is None:
                    out.append((None, ans.error or "backend_error: no probability"))
                    continue
                p, mass = float(ans.raw["p_yes"]), ans.raw.get("mass")
                self.stats.parsed(True)
                reason = f"p(yes)={p:.3f}" + (f", yes/no mass {mass:.3f}" if mass is not None else "")
                out.append((p >= self.threshold, reason))
        else:
            answers = self._ask_complete(
                texts,
                max_new_tokens=self.max_new_tokens,
                temperature=0.0,
                schema=("answer_verdict", VERDICT_SCHEMA),
            )
            for ans in answers:
                if ans.raw is None:
                    out.append((None, ans.error or "backend_error: no text"))
                    continue
                verdict, reason = parse_verdict(ans.raw.get("text"), self.key)
                self.stats.parsed(verdict is not None)
                out.append((verdict, reason))
        for verdict, reason in out:
            if verdict is None:
                self.stats.fail(reason)
        self.stats.judgments += len(out)
        return out


class AnswerJudgeReward:
    """1.0 / 0.0 from an LLM judge's verdict (:class:`AnswerVerdictJudge`) on the answer against the gold
    answers.

    0.0 without an answer (no call is made); ``None`` when the judge's reply cannot be parsed or the
    backend failed, counted in :attr:`stats`. Replies are cached per ``(judge_id, prompt)``.

    Args:
        backend: any core judge backend.
        cache: optional core judge cache.
        template: judge prompt (default: the verdict mode's, see :class:`AnswerVerdictJudge`).
        max_new_tokens: room for a written verdict.
        verdict: ``auto``, ``json`` or ``yesno`` (:func:`verdict_mode`).
    """

    name = "answer_judge"

    def __init__(
        self,
        backend: JudgeBackend,
        *,
        cache: JudgeCache | None = None,
        template: str | None = None,
        max_new_tokens: int = 96,
        verdict: str = "auto",
    ) -> None:
        self.judge = AnswerVerdictJudge(
            backend, template=template, cache=cache, max_new_tokens=max_new_tokens, verdict=verdict
        )
        self.template_hash = sha256_text(self.judge.template)[:12]
        self.last_reason = ""

    @property
    def stats(self) -> ParsingStats:
        """The judge's counters (calls, cache hits, failures by reason, answers read, unparseable)."""
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
