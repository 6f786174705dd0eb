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
from typing import Any

from polyrlaif.core.judges.context_response import ContextResponseJudge
from polyrlaif.core.records import Judgment

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

    def score_pairs(self, asked: list[tuple[str, str]]) -> list[dict[str, Any] | str]:
        """The response's summed log-prob and token count after its context (and, for PMI, alone)."""
        scorer = getattr(self.backend, "continuation_logprobs", None)
        if scorer is None:
            return [f"unsupported_backend: {self.backend.name} gives no log-probs" for _ in asked]
        outs = scorer([(ctx, f" {resp.strip()}" if resp.strip() else "") for ctx, resp in asked])
        bare = scorer([("", resp.strip()) for _, resp in asked]) if self.pmi else [None] * len(asked)
        res: list[dict[str, Any] | str] = []
        for o, b in zip(outs, bare, strict=True):
            if isinstance(o, str) or isinstance(b, str):
                res.append(o if isinstance(o, str) else str(b))
            else:
                res.append({"logprob": o[0], "tokens": o[1], **({"bare_logprob": b[0]} if b else {})})
        return res

    def fill(self, judgment: Judgment, raw: dict[str, Any]) -> str | None:
        """``exp(mean token log-prob)``, or ``sigmoid(mean token PMI)``; an empty response fails."""
        tokens = int(raw.get("tokens", 0))
        if tokens < 1:
            return "empty_response: no token to score"
        mean = float(raw["logprob"]) / tokens
        judgment.score = math.exp(mean)
        judgment.scores = {"logprob": float(raw["logprob"]), "tokens": tokens, "mean_logprob": mean}
        if self.pmi:
            pmi = (float(raw["logprob"]) - float(raw["bare_logprob"])) / tokens
            judgment.score = 1.0 / (1.0 + math.exp(-pmi))
            judgment.scores |= {"bare_logprob": float(raw["bare_logprob"]), "mean_pmi": pmi}
        return None
