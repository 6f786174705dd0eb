"""The search agent's LLM judges: an answer-correctness judge with a JSON verdict, and the prompts of
the judges the rewards use (:mod:`polyrlaif.domains.search_agent.rewards`).

Both are core judge modes, so they work with any core backend and the core judge cache, keyed by
``(judge_id, sha256 of the rendered prompt)``; each template's hash is exported so a changed prompt is
visible next to the rewards it produced.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from polyrlaif.core.io import sha256_text
from polyrlaif.core.judges import JudgeBackend, JudgeCache
from polyrlaif.core.judges.modes import BaseJudge, snippet

__all__ = [
    "ANSWER_JUDGE_TEMPLATE",
    "ANSWER_JUDGE_TEMPLATE_HASH",
    "CITATION_JUDGE_TEMPLATE",
    "CITATION_JUDGE_TEMPLATE_HASH",
    "AnswerVerdictJudge",
    "parse_verdict",
]

ANSWER_JUDGE_TEMPLATE = """\
You check answers to questions. Decide whether the predicted answer means the same as one of the \
gold answers (aliases, spelling variants and extra harmless words are fine; a different entity, \
number or date is not).

<question>
{question}
</question>

<gold_answers>
{gold_answers}
</gold_answers>

<prediction>
{prediction}
</prediction>

Reply with one JSON object and nothing else: {{"correct": true or false, "reason": "one sentence"}}"""

CITATION_JUDGE_TEMPLATE = """\
<question>
{prompt}
</question>

<answer>
{response}
</answer>

<document>
{context}
</document>

Does the document state or directly support the answer to the question? Answer Yes or No."""

#: 12 hex digits of the templates' sha256, recorded next to rewards so a changed prompt is visible.
ANSWER_JUDGE_TEMPLATE_HASH = sha256_text(ANSWER_JUDGE_TEMPLATE)[:12]
CITATION_JUDGE_TEMPLATE_HASH = sha256_text(CITATION_JUDGE_TEMPLATE)[:12]


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
        template: the judge prompt (default :data:`ANSWER_JUDGE_TEMPLATE`).
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
