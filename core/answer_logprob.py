"""The mean log-probability of each row's answer: the score of a reward model read from its LM head.

A reward model started from a judge that answers the question itself (an answer-scoring judge)
knows which answer is right through its next-token distribution, not through any hidden state a new
linear head could read after a few hundred pairs. Reading the reward as the answer's own log-probability
keeps that knowledge from the first step; Bradley-Terry training on the pairs then moves it, like DPO's
implicit reward without a reference model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["answer_logprob"]


def answer_logprob(logits: Any, batch: Mapping[str, Any], answer_tokens: Any) -> Any:
    """Per row, the mean log-probability of its last ``answer_tokens`` non-padding tokens.

    Args:
        logits: ``(rows, length, vocabulary)`` next-token logits of the encoded batch.
        batch: the encoded batch (``input_ids`` and ``attention_mask``, right-padded).
        answer_tokens: ``(rows,)`` how many tokens at the end of each row's text are its answer.

    Returns:
        A float32 tensor of ``rows`` scores.
    """
    import torch

    ids, mask = batch["input_ids"], batch["attention_mask"]
    logp = torch.log_softmax(logits[:, :-1].float(), dim=-1).gather(-1, ids[:, 1:, None]).squeeze(-1)
    length = mask.sum(-1)  # right padding: a row's tokens are its first `length` positions
    pos = torch.arange(1, ids.shape[1], device=ids.device)[None, :]  # the position each target sits at
    n = torch.clamp(answer_tokens.to(length.device), min=1)
    span = (pos >= (length - n)[:, None]) & (pos < length[:, None])
    return (logp * span).sum(-1) / span.sum(-1).clamp(min=1)
