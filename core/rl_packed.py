"""Per-token log-probabilities of a GRPO/RLOO generation batch, each prompt laid out once (issue 23).

A prompt's ``num_generations`` completions share it. TRL's trainers run every (prompt, completion) as a
padded row of its own, so the prompt is computed ``num_generations`` times, and apply the LM head to
every completion position of the padded rows. :func:`group_token_logps` packs each prompt with its
completions as a prefix group (:func:`polyrlaif.core.packed_lm.pack_prefix_groups`: the completions
attend to the prompt and to themselves, positions continue the prompt), runs the model body once over
the packed rows and applies the head only at the states that predict a completion token. The result is
what each (prompt, completion) run alone gives, for the policy and the reference alike
(``tests/core/test_rl_packed.py`` checks values and gradients).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from polyrlaif.core.packed_lm import ROW_TOKENS, body_states, pack_prefix_groups, unwrap_lm
from polyrlaif.core.token_logps import token_logps

if TYPE_CHECKING:
    import torch

__all__ = ["group_token_logps"]


def group_token_logps(
    model: Any,
    groups: Sequence[tuple[Sequence[int], Sequence[Sequence[int]]]],
    *,
    pad_token_id: int,
    temperature: float = 1.0,
    row_tokens: int = ROW_TOKENS,
    chunk_size: int = 1024,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probabilities of every completion token, under ``model`` with its logits divided by
    ``temperature`` (as TRL scores the completions it sampled at that temperature).

    Args:
        model: a causal LM (or a peft model wrapping one) whose attention takes a dense mask (``sdpa``
            or ``eager``).
        groups: ``(prompt ids, [completion ids, ...])`` per prompt; a prompt must not be empty.
        pad_token_id: fills the ends of the packed rows.
        temperature: the sampling temperature.
        row_tokens: the longest packed row.
        chunk_size: states per LM-head call (bounds the logits' memory).

    Returns:
        ``(logps, mask)``, each ``(completions, longest completion)`` in group then completion order:
        the log-probabilities (0 past a completion's end) and 1 where a token is.
    """
    import torch

    lm = unwrap_lm(model)
    packed = pack_prefix_groups(groups, pad_token_id=pad_token_id, row_tokens=row_tokens)
    lengths = [len(c) for _, completions in groups for c in completions]
    width = max(lengths, default=0)
    predictors: list[int] = []
    targets: list[int] = []
    slots: list[int] = []  # flat index into the (completions, width) output
    k = 0
    for g, (_, completions) in enumerate(groups):
        for b, completion in enumerate(completions):
            predictors += packed.predictors(g, b, len(completion))
            targets += list(completion)
            slots += range(k * width, k * width + len(completion))
            k += 1
    states = body_states(lm, packed)
    device = states.device
    index = torch.tensor(predictors, dtype=torch.long, device=device)
    tgt = torch.tensor(targets, dtype=torch.long, device=device)
    picked = states.index_select(0, index)
    flat = token_logps(lm, picked, tgt, temperature=temperature, chunk_size=chunk_size)
    where = torch.tensor(slots, dtype=torch.long, device=device)
    logps = flat.new_zeros(len(lengths) * width).index_put((where,), flat).view(len(lengths), width)
    mask = torch.zeros(len(lengths) * width, device=device).index_fill(0, where, 1.0)
    return logps, mask.view(len(lengths), width)
