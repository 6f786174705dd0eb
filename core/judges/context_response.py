"""Judges that score a response against a context text, with no judge prompt to render: a local model's
likelihood of the response (:mod:`polyrlaif.core.judges.loglik`), an encoder's similarity
(:mod:`polyrlaif.core.judges.similarity`). They share the judge loop, the cache key and the failure counts
(:class:`ContextResponseJudge`); each says how it scores a pair and how an answer becomes a score."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from polyrlaif.core.judges.modes import BaseJudge, render_context
from polyrlaif.core.records import Candidate, Judgment, PromptRecord

__all__ = ["ContextResponseJudge"]


#: Separates the rendered context from the response in the text a context-response judge hashes.
_PAIR_SEP = "\n<<response>>\n"


class ContextResponseJudge(BaseJudge):
    """A judge that scores a response against a context text with no judge prompt to render (a local
    model's likelihood of it, an encoder's similarity): the template renders the context from
    ``{prompt}`` and ``{context}``, and what is hashed for the cache is context and response together."""

    default_template = "{prompt}"
    required_fields = frozenset()
    allowed_fields = frozenset({"prompt", "context"})

    def render_pair(
        self, prompt: PromptRecord, candidate: Candidate, context: Mapping[str, Any] | None
    ) -> tuple[str, str]:
        """``(context text, response text)`` for one candidate."""
        return self.template.format(prompt=prompt.text, context=render_context(context)), candidate.text

    def judge(
        self,
        prompts: Mapping[str, PromptRecord],
        candidates: Sequence[Candidate],
        contexts: Sequence[dict[str, Any]] | None = None,
    ) -> list[Judgment]:
        """One judgment per candidate, in order: each uncached ``(context, response)`` scored by
        :meth:`score_pairs`, each answer turned into a score by :meth:`fill` (or a counted failure)."""
        ctxs = self._contexts(len(candidates), contexts)
        pairs = [self.render_pair(prompts[c.prompt_id], c, x) for c, x in zip(candidates, ctxs, strict=True)]
        texts = [f"{a}{_PAIR_SEP}{b}" for a, b in pairs]
        by_text = dict(zip(texts, pairs, strict=False))

        def call(convs: list[list[dict[str, Any]]]) -> list[dict[str, Any] | str]:
            return self.score_pairs([by_text[str(c[-1]["content"])] for c in convs])

        out = []
        for cand, ctx, text, ans in zip(candidates, ctxs, texts, self._ask(texts, call), strict=True):
            j = self._judgment(cand, ctx, text, ans)
            failure = (ans.error or "backend_error: no answer") if ans.raw is None else self.fill(j, ans.raw)
            if failure:
                j.failure = failure
                self.stats.fail(failure)
            out.append(j)
        self.stats.judgments += len(out)
        return out

    def score_pairs(self, asked: list[tuple[str, str]]) -> list[dict[str, Any] | str]:
        """The backend's raw answer (a dict, cached) or an error string for each ``(context, response)``."""
        raise NotImplementedError

    def fill(self, judgment: Judgment, raw: dict[str, Any]) -> str | None:
        """Set ``judgment``'s score and scores from a raw answer; return a failure reason instead when
        the answer holds nothing to score."""
        raise NotImplementedError
