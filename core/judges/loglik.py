"""Log-likelihood judging: how likely a local causal LM finds the response after a context.

The score is the response's geometric-mean token probability, ``exp(mean token log-prob)``, in (0, 1]:
no text is generated and nothing is parsed, and, unlike a small model's yes/no, the judge's whole
distribution over the response is used. It suits continuation tasks ("how well does this continue that
story?"), where the question is the likelihood itself; Align-SLM's CPU runs use it with SmolLM2.
The context is the template rendered with ``{prompt}`` and ``{context}``; the response follows it after
one space. Answers are cached under the judge id and the hash of context and response like every judge.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from polyrlaif.core.judges.modes import ContextResponseJudge
from polyrlaif.core.records import Candidate, Judgment, PromptRecord

__all__ = ["LOGLIK_TEMPLATE", "LogLikelihoodJudge"]

LOGLIK_TEMPLATE = "{prompt}"


class LogLikelihoodJudge(ContextResponseJudge):
    """``Judgment.score = exp(mean token log-prob of the response after the rendered context)``;
    ``scores = {"logprob", "tokens", "mean_logprob"}``.

    With ``pmi`` the score is instead ``sigmoid(mean token PMI)``, the response's log-prob after the
    context minus its log-prob after nothing, per token: how much the context raises it, so fluent text
    that would be likely anywhere (a stock phrase) gains nothing; 0.5 is "the context does not matter".
    ``scores`` then also has ``bare_logprob`` and ``mean_pmi``.

    A backend without :meth:`~polyrlaif.core.judges.backends.TransformersBackend.continuation_logprobs`
    (an endpoint) fails every judgment with a reason; an empty response fails too (no token to score).
    Template slots: ``{prompt}``, ``{context}``; subclasses may override :meth:`render_pair`.
    """

    mode = "loglik"
    kind = "loglik"
    default_template = LOGLIK_TEMPLATE

    def __init__(self, backend: Any, *, pmi: bool = False, **kwargs: Any) -> None:
        self.pmi = pmi
        super().__init__(backend, **kwargs)

    def _spec(self) -> dict[str, Any]:
        return {"pmi": True} if self.pmi else {}  # the plain judge keeps its id

    def judge(
        self,
        prompts: Mapping[str, PromptRecord],
        candidates: Sequence[Candidate],
        contexts: Sequence[dict[str, Any]] | None = None,
    ) -> list[Judgment]:
        """One judgment per candidate, in order."""
        ctxs, texts, by_text = self._pairs(prompts, candidates, contexts)
        scorer = getattr(self.backend, "continuation_logprobs", None)

        def call(convs: list[list[dict[str, Any]]]) -> list[dict[str, Any] | str]:
            if scorer is None:
                return [f"unsupported_backend: {self.backend.name} gives no log-probs" for _ in convs]
            asked = [by_text[str(c[-1]["content"])] for c in convs]
            outs = scorer([(ctx, f" {resp.strip()}" if resp.strip() else "") for ctx, resp in asked])
            bare = scorer([("", resp.strip()) for _, resp in asked]) if self.pmi else [None] * len(asked)
            res: list[dict[str, Any] | str] = []
            for o, b in zip(outs, bare, strict=True):
                if isinstance(o, str) or isinstance(b, str):
                    res.append(o if isinstance(o, str) else str(b))
                else:
                    res.append({"logprob": o[0], "tokens": o[1], **({"bare_logprob": b[0]} if b else {})})
            return res

        answers = self._ask(texts, call)
        out = []
        for cand, ctx, text, ans in zip(candidates, ctxs, texts, answers, strict=True):
            j = self._judgment(cand, ctx, text, ans)
            tokens = int(ans.raw.get("tokens", 0)) if ans.raw else 0
            if ans.raw is None or tokens < 1:
                j.failure = ans.error or "empty_response: no token to score"
                self.stats.fail(j.failure)
            else:
                mean = float(ans.raw["logprob"]) / tokens
                j.score = math.exp(mean)
                j.scores = {"logprob": float(ans.raw["logprob"]), "tokens": tokens, "mean_logprob": mean}
                if self.pmi:
                    pmi = (float(ans.raw["logprob"]) - float(ans.raw["bare_logprob"])) / tokens
                    j.score = 1.0 / (1.0 + math.exp(-pmi))
                    j.scores |= {"bare_logprob": float(ans.raw["bare_logprob"]), "mean_pmi": pmi}
            out.append(j)
        self.stats.judgments += len(out)
        return out
