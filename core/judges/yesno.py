"""Yes/no judging: the score is P(yes) / (P(yes) + P(no)) read from the judge's next-token distribution.

No text is generated, so nothing needs parsing; this is the mode for claim checking ("Is this
statement supported by the image?"), where a calibrated probability is worth more than a verdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from polyrlaif.core.judges.backends import JudgeBackend
from polyrlaif.core.judges.cache import JudgeCache
from polyrlaif.core.judges.modes import BaseJudge, render_context
from polyrlaif.core.records import Candidate, Judgment, PromptRecord

__all__ = ["YesNoJudge", "YESNO_TEMPLATE"]

YESNO_TEMPLATE = """\
<task>
{prompt}
</task>

<response>
{response}
</response>

<context>
{context}
</context>

Is the response correct, complete and faithful to the task and the context? Answer Yes or No."""


class YesNoJudge(BaseJudge):
    """``Judgment.score = p(yes)``; ``scores = {"p_yes", "mass"}`` where ``mass`` = P(yes) + P(no).

    A low ``mass`` means the judge wanted to say something else entirely; the domain may treat
    such scores as unreliable. Template slots: ``{prompt}``, ``{response}``, ``{context}``.

    Args:
        backend: the judge model.
        template: judge prompt template (default :data:`YESNO_TEMPLATE`).
        cache: optional answer cache.
        yes: token texts that mean yes (leading spaces are handled by the backend).
        no: token texts that mean no.
        batch_size: prompts per backend call.
        progress: show a progress bar.
    """

    mode = "yesno"
    kind = "yesno"
    default_template = YESNO_TEMPLATE
    required_fields = frozenset({"response"})
    allowed_fields = frozenset({"prompt", "response", "context"})

    def __init__(
        self,
        backend: JudgeBackend,
        *,
        template: str | None = None,
        cache: JudgeCache | None = None,
        yes: Sequence[str] = ("Yes", "yes"),
        no: Sequence[str] = ("No", "no"),
        batch_size: int = 32,
        progress: bool = True,
    ) -> None:
        self.yes, self.no = tuple(yes), tuple(no)
        super().__init__(backend, template=template, cache=cache, batch_size=batch_size, progress=progress)

    def _spec(self) -> dict[str, Any]:
        return {"yes": self.yes, "no": self.no}

    def render(self, prompt: PromptRecord, candidate: Candidate, context: Mapping[str, Any] | None) -> str:
        """The exact judge prompt for one candidate."""
        ctx = render_context(context)
        return self.template.format(prompt=prompt.text, response=candidate.text, context=ctx)

    def judge(
        self,
        prompts: Mapping[str, PromptRecord],
        candidates: Sequence[Candidate],
        contexts: Sequence[dict[str, Any]] | None = None,
    ) -> list[Judgment]:
        """One judgment per candidate, in order."""
        ctxs = self._contexts(len(candidates), contexts)
        texts = [self.render(prompts[c.prompt_id], c, x) for c, x in zip(candidates, ctxs, strict=True)]
        answers = self._ask_yes_no(texts, yes=self.yes, no=self.no)
        out = []
        for cand, ctx, text, ans in zip(candidates, ctxs, texts, answers, strict=True):
            j = self._judgment(cand, ctx, text, ans)
            if ans.raw is None or ans.raw.get("p_yes") is None:
                j.failure = ans.error or "backend_error: no probability"
                self.stats.fail(j.failure)
            else:
                j.score = float(ans.raw["p_yes"])
                j.scores = {"p_yes": j.score, "mass": ans.raw.get("mass")}
            out.append(j)
        self.stats.judgments += len(out)
        return out
