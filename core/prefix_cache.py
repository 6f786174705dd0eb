"""Multi-turn generation that reuses each conversation's KV cache across turns (issue 23).

An agent's conversations grow by a turn and an observation at a time, and ``generate`` on the whole
context re-encodes everything before the new part every turn. :class:`PrefixCache` keeps, after each
batched ``generate``, every row's keys and values for the tokens it has seen; on the next call each new
context is matched to the kept row it extends most (the longest common token prefix: rows are not
named, and the rows of one question share their first turn), and only the tokens after the batch's
cached part are run through the model.

The batch stays left-padded: row ``i`` of length ``T_i`` starts at ``L - T_i`` (``L`` the longest), and
its kept keys and values (computed at the positions its own tokens had, which a left pad does not
change: positions count real tokens) are placed where its tokens now lie. The model runs from
``C = L - max_i(new_i)`` on, the first position some row has no keys for, so every row recomputes at
most the longest new segment of the batch and reuses the rest. Positions come from the attention mask,
as ``generate`` computes them, so a model whose positions follow the mask (Llama, Qwen, Mistral, GPT-2
through ``position_ids``) gives the same logits as without the cache, up to float rounding.

Only the tokens a row was given and the tokens it generated before its end are kept; what the agent
keeps of a turn (its first complete action) is re-rendered by the chat template, and the prefix match
simply stops where the re-rendered text departs from what was generated.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

__all__ = ["PrefixCache"]


class PrefixCache:
    """The kept rows of the last :meth:`generate` call: token ids and per-layer keys and values.

    Attributes:
        reused: tokens whose keys and values came from the cache, over all calls.
        computed: context tokens the model ran on, over all calls.
    """

    def __init__(self) -> None:
        self.rows: list[tuple[list[int], list[tuple[Any, Any]]]] = []
        self.reused = 0
        self.computed = 0

    def _match(self, contexts: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
        """For each context, ``(kept row or -1, tokens it can reuse)``; each kept row used once."""
        free = set(range(len(self.rows)))
        out = []
        for ids in contexts:
            best, got = -1, 0
            for r in free:
                n = len(os.path.commonprefix([self.rows[r][0], list(ids)]))
                if n > got:
                    best, got = r, n
            if best >= 0:
                free.discard(best)
            out.append((best, min(got, len(ids) - 1)))  # the last context token always runs: its logits
        return out

    def generate(
        self, model: Any, contexts: Sequence[Sequence[int]], pad_token_id: int, **kwargs: Any
    ) -> list:
        """``model.generate`` on the left-padded ``contexts`` (token ids), reusing kept keys and values;
        returns each row's generated ids (up to the batch's end; the caller cuts at EOS) and keeps the
        rows for the next call. ``kwargs`` go to ``generate`` (sampling settings, ``max_new_tokens``)."""
        import torch
        from transformers import DynamicCache

        device = next(model.parameters()).device
        matched = self._match(contexts)
        longest = max(len(c) for c in contexts)
        pads = [longest - len(c) for c in contexts]
        start = min(p + n for p, (_, n) in zip(pads, matched, strict=True))  # first position to run
        ids = torch.full((len(contexts), longest), pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(contexts), longest), dtype=torch.long)
        for i, c in enumerate(contexts):
            ids[i, pads[i] :] = torch.tensor(list(c), dtype=torch.long)
            mask[i, pads[i] :] = 1
        cache = None
        if start > 0:
            cache = DynamicCache()
            some = self.rows[next(r for r, _ in matched if r >= 0)][1]
            for layer in range(len(some)):
                like = some[layer][0]
                keys = like.new_zeros((len(contexts), like.shape[0], start, like.shape[2]))
                values = torch.zeros_like(keys)
                for i, (r, _) in enumerate(matched):
                    keep = max(0, start - pads[i])  # this row's tokens before `start`, all kept
                    if keep:
                        k, v = self.rows[r][1][layer]
                        keys[i, :, start - keep :], values[i, :, start - keep :] = k[:, :keep], v[:, :keep]
                cache.update(keys.to(device), values.to(device), layer)
        self.reused += sum(max(0, start - p) for p in pads)
        self.computed += sum(len(c) - max(0, start - p) for c, p in zip(contexts, pads, strict=True))
        with torch.no_grad():
            out = model.generate(
                input_ids=ids.to(device), attention_mask=mask.to(device), cache=cache,
                pad_token_id=pad_token_id, return_dict_in_generate=True, **kwargs,
            )  # fmt: skip
        new = out.sequences[:, longest:]
        eos = kwargs.get("eos_token_id", model.generation_config.eos_token_id)
        self._keep(contexts, pads, new, out.cache, {eos} if isinstance(eos, int) else set(eos or []))
        return new.tolist()

    def _keep(
        self, contexts: Sequence[Sequence[int]], pads: list[int], new: Any, past: Any, stops: set
    ) -> None:
        """Each row's context and generated tokens up to its end (an EOS), with their keys and values
        (the last generated token was never fed back, so it has none)."""
        fed = new.shape[1] - 1
        rows = []
        for i, c in enumerate(contexts):
            gen = new[i].tolist()[:fed]
            cut = next((j + 1 for j, t in enumerate(gen) if t in stops), len(gen))
            ids = [*c, *gen[:cut]]
            span = slice(pads[i], pads[i] + len(ids))
            layers = [
                (layer.keys[i, :, span].detach(), layer.values[i, :, span].detach()) for layer in past.layers
            ]
            rows.append((ids, layers))
        self.rows = rows
