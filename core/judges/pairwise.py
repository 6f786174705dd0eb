"""Pairwise judging in both orders, to cancel the judge's position bias.

For each prompt, every pair of its candidates is shown twice: (x as A, y as B) and (y as A, x as B).
If both orders pick the same candidate it wins; if they disagree the pair is a tie (0.5) and counted
as inconsistent; if either order fails the pair is left out of both win rates and the failure is
recorded. Two identical texts tie without a judge call. A candidate's score is its win rate (ties
count half) against the others of its prompt. An endpoint with structured output is asked for
``{"winner": "A" | "B", "reason": ...}`` (:data:`PREFERENCE_SCHEMA`); free text stays the fallback.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from polyrlaif.core.io import sha256_text
from polyrlaif.core.judges.backends import JudgeBackend
from polyrlaif.core.judges.cache import JudgeCache
from polyrlaif.core.judges.modes import Answer, BaseJudge, ParsingStats, prompt_media, render_context, snippet
from polyrlaif.core.judges.structured import read_json_fields
from polyrlaif.core.records import Candidate, Judgment, PromptRecord

__all__ = ["PairwiseJudge", "PairwiseStats", "parse_preference", "PAIRWISE_TEMPLATE", "PREFERENCE_SCHEMA"]

PAIRWISE_TEMPLATE = """\
You are a strict, fair judge. Two responses to the same task follow. Decide which one is better.
Ignore the order in which they are shown and their length; judge correctness and usefulness.

<task>
{prompt}
</task>

<response_a>
{response_a}
</response_a>

<response_b>
{response_b}
</response_b>

<context>
{context}
</context>

Reply with a single letter on the first line, A or B, naming the better response; then one sentence why."""

#: The JSON schema of a structured verdict: the better response's letter, then one sentence why.
PREFERENCE_SCHEMA = {
    "type": "object",
    "properties": {"winner": {"type": "string", "enum": ["A", "B"]}, "reason": {"type": "string"}},
    "required": ["winner", "reason"],
    "additionalProperties": False,
}
#: Keys of a JSON verdict, in the order they are tried.
_JSON_KEYS = ("winner", "better", "preferred", "verdict", "choice", "answer")

_KEYWORDS = r"(?i:winner|verdict|answer|better(?:\s+response)?|preferred(?:\s+response)?|choice|choose)"
_LABEL = r"(?i:response|assistant|output|option)?"


def parse_preference(text: str | None) -> str | None:
    """``"A"``, ``"B"``, ``"tie"`` or ``None`` from a judge's answer.

    A JSON object (a structured answer, :data:`PREFERENCE_SCHEMA`) is read first: its ``winner`` (or
    ``better``, ``preferred``, ``verdict``, ``choice``, ``answer``), read as free text is. Free text:
    ``[[A]]`` (MT-Bench), a leading ``A`` / ``B.`` / ``Response B`` / ``(A)``, and ``winner: B`` /
    ``the better response is A`` / ``B is better`` anywhere. The letter must be upper case, so the
    article "a" is never read as a verdict.
    """
    if not text:
        return None
    obj = read_json_fields(text)
    if obj:
        for key in _JSON_KEYS:
            value = obj.get(key)
            if isinstance(value, str) and "{" not in value:
                return parse_preference(value)
    t = re.sub(r"[*`#]", "", text).strip()
    m = re.search(r"\[\[\s*(A|B|C|(?i:tie))\s*\]\]", t)
    if m:
        return {"A": "A", "B": "B"}.get(m.group(1), "tie")
    m = re.match(r"^\W*(?i:response|assistant|output|option)\s*\(?([AB])\b", t)
    # a bare leading letter counts only when nothing word-like follows: "A good answer" is not a verdict
    m = m or re.match(r"^\W*\(?([AB])\b(?=[ \t]*(?:\n|$)|\s*[.,:;)\]!\-]|\s+(?i:is|because|wins)\b)", t)
    if m:
        return m.group(1)
    m = re.search(rf"{_KEYWORDS}\s*(?i:is|:|-|=)?\s*{_LABEL}\s*\(?([AB])\b", t)
    if m:
        return m.group(1)
    m = re.search(r"\b([AB])\)?\s+(?i:is\s+(?:the\s+)?(?:better|preferred|stronger))", t)
    if m:
        return m.group(1)
    if re.match(r"^\W*(?i:tie|equal|both)\b", t):
        return "tie"
    return None


@dataclass
class PairwiseStats(ParsingStats):
    """:class:`ParsingStats` (answers read, unparseable ones) plus the position-bias audit.

    Attributes:
        pairs: candidate pairs with both orders answered and parsed.
        consistent: pairs where both orders agreed.
        inconsistent: pairs where they disagreed (scored as ties).
        failed_pairs: pairs left out because an order failed.
    """

    pairs: int = 0
    consistent: int = 0
    inconsistent: int = 0
    failed_pairs: int = 0

    @property
    def disagreement_rate(self) -> float:
        """Fraction of decided pairs whose two orders disagreed (0.0 before any pair)."""
        return self.inconsistent / self.pairs if self.pairs else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Counters plus ``disagreement_rate``."""
        return {**super().as_dict(), "disagreement_rate": self.disagreement_rate}


class PairwiseJudge(BaseJudge):
    """Win rates from both-order pairwise comparisons among the candidates of each prompt.

    Returns one :class:`Judgment` per candidate, in input order, with ``kind="pairwise"``, ``score`` =
    win rate (ties half), and ``scores = {"wins", "losses", "ties", "inconsistent", "failed", "vs"}``
    where ``vs[other_id]`` has the result (1 / 0 / 0.5 / None), both raw verdicts and both prompt
    hashes. ``judge_prompt_hash`` hashes the candidate's comparison prompt hashes in order. All
    candidates of a prompt must be in the same call.

    Template slots: ``{prompt}``, ``{response_a}``, ``{response_b}``, ``{context}``. The context is the
    candidates' shared context, or both labelled ``Response A`` / ``Response B`` when they differ.

    Args:
        backend: the judge model.
        template: judge prompt template (default :data:`PAIRWISE_TEMPLATE`).
        cache: optional answer cache.
        max_new_tokens: the judge's answer budget.
        temperature: 0 for greedy judging.
        batch_size: prompts per backend call.
        progress: show a progress bar.
        show_media: a multimodal judge also sees each prompt's images and videos (hashed into the key).
    """

    mode = "pairwise"
    kind = "pairwise"
    default_template = PAIRWISE_TEMPLATE
    required_fields = frozenset({"response_a", "response_b"})
    allowed_fields = frozenset({"prompt", "response_a", "response_b", "context"})
    stats: PairwiseStats

    def __init__(
        self,
        backend: JudgeBackend,
        *,
        template: str | None = None,
        cache: JudgeCache | None = None,
        max_new_tokens: int = 64,
        temperature: float = 0.0,
        batch_size: int = 32,
        progress: bool = True,
        show_media: bool = False,
    ) -> None:
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.show_media = show_media
        super().__init__(backend, template=template, cache=cache, batch_size=batch_size, progress=progress)

    def _new_stats(self) -> PairwiseStats:
        return PairwiseStats()

    def _spec(self) -> dict[str, Any]:
        media = {"show_media": True} if self.show_media else {}  # unset keeps earlier judges' ids
        return {"max_new_tokens": self.max_new_tokens, "temperature": self.temperature, **media}

    def render(
        self,
        prompt: PromptRecord,
        a: Candidate,
        b: Candidate,
        ctx_a: Mapping[str, Any] | None,
        ctx_b: Mapping[str, Any] | None,
    ) -> str:
        """The exact judge prompt with ``a`` shown first."""
        if dict(ctx_a or {}) == dict(ctx_b or {}):
            context = render_context(ctx_a)
        else:
            both = {"Response A": render_context(ctx_a), "Response B": render_context(ctx_b)}
            context = render_context(both)
        return self.template.format(prompt=prompt.text, response_a=a.text, response_b=b.text, context=context)

    def judge(
        self,
        prompts: Mapping[str, PromptRecord],
        candidates: Sequence[Candidate],
        contexts: Sequence[dict[str, Any]] | None = None,
    ) -> list[Judgment]:
        """One win-rate judgment per candidate, in order."""
        ctxs = self._contexts(len(candidates), contexts)
        groups: dict[str, list[int]] = defaultdict(list)
        for i, c in enumerate(candidates):
            groups[c.prompt_id].append(i)
        every = [p for idx in groups.values() for p in itertools.combinations(idx, 2)]
        # identical texts tie by definition: no judge call, and no say in the disagreement rate
        same = {(i, k) for i, k in every if candidates[i].text == candidates[k].text}
        pairs = [p for p in every if p not in same]
        texts, media = [], []
        for i, k in pairs:
            p, ci, ck = prompts[candidates[i].prompt_id], candidates[i], candidates[k]
            texts.append(self.render(p, ci, ck, ctxs[i], ctxs[k]))  # i first
            texts.append(self.render(p, ck, ci, ctxs[k], ctxs[i]))  # k first
            media += [prompt_media(p)] * 2 if self.show_media else []
        answers = self._ask_complete(
            texts,
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            schema=("pairwise_verdict", PREFERENCE_SCHEMA),
            images=media if any(media) else None,
        )

        vs: list[dict[str, dict[str, Any]]] = [{} for _ in candidates]
        cached = [True for _ in candidates]
        for n, (i, k) in enumerate(pairs):
            first, second = answers[2 * n], answers[2 * n + 1]
            result_i, detail = self._combine(first, second)
            for x in (i, k):
                cached[x] = cached[x] and first.cached and second.cached
            vs[i][candidates[k].candidate_id] = {**detail, "result": result_i, "first": "self"}
            vs[k][candidates[i].candidate_id] = {
                **detail,
                "result": None if result_i is None else 1.0 - result_i,
                "first": "other",
            }
        for i, k in same:
            tie = {"verdicts": [], "hashes": [], "identical": True, "result": 0.5}
            vs[i][candidates[k].candidate_id] = vs[k][candidates[i].candidate_id] = tie
        return [self._judgment(c, ctxs[i], vs[i], cached[i]) for i, c in enumerate(candidates)]

    def _verdict(self, ans: Answer) -> tuple[str | None, str | None]:
        """``(verdict, failure)`` for one order."""
        if ans.raw is None:
            return None, ans.error
        raw = ans.raw.get("text") or ""
        verdict = parse_preference(raw)
        self.stats.parsed(verdict is not None)
        return (verdict, None) if verdict else (None, f"unparseable: {snippet(raw)}")

    def _combine(self, first: Answer, second: Answer) -> tuple[float | None, dict[str, Any]]:
        """Result for the candidate shown first in ``first`` (1 win, 0 loss, 0.5 tie, None failed)."""
        (v1, f1), (v2, f2) = self._verdict(first), self._verdict(second)
        detail: dict[str, Any] = {"verdicts": [v1, v2], "hashes": [first.prompt_hash, second.prompt_hash]}
        if f1 or f2:
            self.stats.failed_pairs += 1
            for f in (f1, f2):
                if f:
                    self.stats.fail(f)
            detail["failure"] = "; ".join(f for f in (f1, f2) if f)
            return None, detail
        # map both verdicts onto "did the candidate shown first in `first` win"
        win1 = {"A": 1.0, "B": 0.0, "tie": 0.5}[v1]  # type: ignore[index]
        win2 = {"A": 0.0, "B": 1.0, "tie": 0.5}[v2]  # type: ignore[index]
        self.stats.pairs += 1
        if win1 == win2:
            self.stats.consistent += 1
            detail["consistent"] = True
            return win1, detail
        self.stats.inconsistent += 1
        detail["consistent"] = False
        return 0.5, detail

    def _judgment(
        self, cand: Candidate, ctx: dict[str, Any], vs: dict[str, dict[str, Any]], cached: bool
    ) -> Judgment:
        results = [d["result"] for d in vs.values() if d["result"] is not None]
        wins, losses = results.count(1.0), results.count(0.0)
        ties = len(results) - wins - losses
        hashes = [h for d in vs.values() for h in d["hashes"]]
        j = Judgment(
            candidate_id=cand.candidate_id,
            judge_id=self.judge_id,
            kind=self.kind,
            prompt_id=cand.prompt_id,
            scores={
                "wins": wins,
                "losses": losses,
                "ties": ties,
                "inconsistent": sum(1 for d in vs.values() if d.get("consistent") is False),
                "failed": len(vs) - len(results),
                "vs": vs,
            },
            judge_prompt_hash=sha256_text("\n".join(hashes)),
            context=ctx,
            cached=bool(vs) and cached,
        )
        if results:
            j.score = (wins + 0.5 * ties) / len(results)
            j.rationale = f"{wins} wins, {losses} losses, {ties} ties in {len(results)} comparisons"
        elif not vs:
            j.failure = "no_opponent: no other candidate of this prompt to compare with"
        else:
            reasons = sorted({d["failure"].split(":", 1)[0] for d in vs.values() if d.get("failure")})
            j.failure = f"all_comparisons_failed: {', '.join(reasons)} ({len(vs)} comparisons)"
        if j.failure:
            self.stats.fail(j.failure)
        self.stats.judgments += 1
        return j
