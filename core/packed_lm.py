"""Padding-free forward passes of a causal LM over sequences that share prefixes.

Preference pairs (a prompt with a chosen and a rejected completion) and judge prompts (one task, several
candidate responses) are groups of sequences with a common beginning. :func:`pack_prefix_groups` lays
each group out once, as ``prefix, branch 1, branch 2, ...``, end to end in rows, with an attention
mask under which every branch sees its own prefix and its own earlier tokens only, and positions that
continue the prefix in every branch. One forward pass over the packed rows then gives, for every
branch token, the hidden state the model computes when that branch's whole sequence runs alone: each
shared prefix is computed once, and nothing is padding but the ends of the shorter rows.

The mask is dense, so this needs an attention kernel that takes one (``sdpa`` or ``eager``);
:func:`takes_dense_mask` says when it applies. :func:`body_states` runs the model body over a packed
batch and :func:`head_logits` applies the LM head (with any logit scale or soft cap the model uses).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = [
    "BLOCK_SDPA",
    "ROW_TOKENS",
    "PackedGroups",
    "block_sdpa_attention",
    "attention_blocks",
    "body_states",
    "common_prefix",
    "group_by_prefix",
    "head_logits",
    "logit_transform",
    "prefix_branches",
    "pack_prefix_groups",
    "takes_dense_mask",
    "unwrap_lm",
]

#: Default longest packed row (groups longer than this get a row of their own).
ROW_TOKENS = 1024

#: The attention implementation :func:`body_states` runs an ``sdpa`` model with: ``sdpa`` on each block
#: of a packed row that attends only within itself (:func:`block_sdpa_attention`).
BLOCK_SDPA = "polyrlaif_block_sdpa"


@dataclass
class PackedGroups:
    """Groups packed into rows by :func:`pack_prefix_groups`.

    Attributes:
        input_ids: ``(R, L)`` token ids, padding at the ends of rows.
        position_ids: ``(R, L)``; each branch continues its prefix's positions.
        attention_mask: ``(R, 1, L, L)`` bool, True where a query (dim 2) may attend to a key (dim 3).
        prefix_last: per group, the flat index (into the ``R * L`` positions) of its prefix's last
            token, or -1 for an empty prefix.
        branch_start: per group, per branch, the flat index of the branch's first token.
    """

    input_ids: torch.Tensor
    position_ids: torch.Tensor
    attention_mask: torch.Tensor
    prefix_last: list[int]
    branch_start: list[list[int]]

    def predictors(self, group: int, branch: int, length: int) -> list[int]:
        """Flat indices of the states that predict each of a branch's ``length`` tokens (the state
        before a token predicts it; the prefix's last state predicts the branch's first token)."""
        start = self.branch_start[group][branch]
        if length and self.prefix_last[group] < 0:
            raise ValueError(f"group {group} has no prefix: nothing predicts its branches' first tokens")
        return [self.prefix_last[group], *range(start, start + length - 1)][:length]

    def last(self, group: int, branch: int, length: int) -> int:
        """Flat index of the last token of a branch of ``length`` tokens (its prefix's for an empty one)."""
        return self.branch_start[group][branch] + length - 1 if length else self.prefix_last[group]

    def to(self, device: Any) -> PackedGroups:
        """The tensors on ``device``."""
        return PackedGroups(
            self.input_ids.to(device),
            self.position_ids.to(device),
            self.attention_mask.to(device),
            self.prefix_last,
            self.branch_start,
        )


def pack_prefix_groups(
    groups: Sequence[tuple[Sequence[int], Sequence[Sequence[int]]]],
    *,
    pad_token_id: int,
    row_tokens: int = ROW_TOKENS,
) -> PackedGroups:
    """Lay ``(prefix, branches)`` groups end to end in rows of up to ``row_tokens`` tokens.

    Groups keep their order; a row closes when the next group would overflow it, and a group longer
    than ``row_tokens`` gets a row of its own. Within a row, a token attends to the earlier tokens of
    its own group that are in its prefix or its own branch. The ends of shorter rows are padding,
    which attends to earlier padding only.
    """
    import torch

    rows: list[list[tuple[int, Sequence[int], Sequence[Sequence[int]]]]] = [[]]
    sizes = [0]
    for g, (prefix, branches) in enumerate(groups):
        size = len(prefix) + sum(len(b) for b in branches)
        if sizes[-1] and sizes[-1] + size > row_tokens:
            rows.append([])
            sizes.append(0)
        rows[-1].append((g, prefix, branches))
        sizes[-1] += size
    width = max(max(sizes), 1)
    shape = (len(rows), width)
    input_ids = torch.full(shape, pad_token_id, dtype=torch.long)
    position_ids = torch.zeros(shape, dtype=torch.long)
    owner = torch.full(shape, -1, dtype=torch.long)  # each token's group; -1 for padding
    segment = torch.zeros(shape, dtype=torch.long)  # 0 for the prefix, k + 1 for branch k
    prefix_last = [-1] * len(groups)
    branch_start: list[list[int]] = [[] for _ in groups]
    for r, items in enumerate(rows):
        col = 0
        for g, prefix, branches in items:
            spans = [(0, prefix, 0)] + [(k + 1, b, len(prefix)) for k, b in enumerate(branches)]
            for seg, ids, first_position in spans:
                cols = slice(col, col + len(ids))
                input_ids[r, cols] = torch.tensor(list(ids), dtype=torch.long)
                position_ids[r, cols] = torch.arange(first_position, first_position + len(ids))
                owner[r, cols], segment[r, cols] = g, seg
                if seg:
                    branch_start[g].append(r * width + col)
                elif ids:
                    prefix_last[g] = r * width + col + len(ids) - 1
                col += len(ids)
    causal = torch.ones(width, width, dtype=torch.bool).tril()
    same_group = owner[:, :, None] == owner[:, None, :]
    visible = (segment[:, None, :] == 0) | (segment[:, :, None] == segment[:, None, :])
    return PackedGroups(
        input_ids, position_ids, (causal & same_group & visible)[:, None], prefix_last, branch_start
    )


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token sequences."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def group_by_prefix(
    sequences: Sequence[Sequence[int]],
    *,
    min_shared: int = 16,
    min_fraction: float = 0.5,
    max_tokens: int = ROW_TOKENS,
) -> list[tuple[list[int], list[tuple[int, list[int]]]]]:
    """Group consecutive sequences that share a beginning.

    A sequence joins the group before it when it shares at least ``min_shared`` tokens and
    ``min_fraction`` of its length with the group's prefix (a common system prompt alone does not
    make a group of unrelated tasks), and the group, laid out once, stays within ``max_tokens`` (so
    :func:`pack_prefix_groups` can keep rows that short). Every branch keeps at least one token, so its
    last state is its own.

    Returns:
        ``(prefix, [(sequence index, branch), ...])`` per group, in order; prefix + branch is the sequence.
    """
    groups: list[tuple[int, list[int]]] = []  # (shared length, member indices)
    for i, seq in enumerate(sequences):
        if groups:
            shared, members = groups[-1]
            lcp = min(shared, common_prefix(sequences[members[0]], seq), len(seq) - 1)
            size = lcp + sum(len(sequences[m]) - lcp for m in [*members, i])
            if lcp >= max(min_shared, min_fraction * len(seq)) and size <= max_tokens:
                groups[-1] = (lcp, [*members, i])
                continue
        groups.append((max(len(seq) - 1, 0), [i]))
    out = []
    for shared, members in groups:
        prefix = list(sequences[members[0]][:shared])
        out.append((prefix, [(i, list(sequences[i][shared:])) for i in members]))
    return out


def unwrap_lm(model: Any) -> Any:
    """The ``transformers`` causal LM inside a peft wrapper (or the model itself)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def takes_dense_mask(config: Any, longest: int) -> bool:
    """Whether a packed dense mask gives the model's own attention for sequences of up to ``longest``
    tokens: the ``sdpa`` and ``eager`` kernels take one, and no sliding window may cut a sequence."""
    cfg = config.get_text_config()
    if cfg._attn_implementation not in ("sdpa", "eager"):
        return False
    window = getattr(cfg, "sliding_window", None)
    if window is None or getattr(cfg, "use_sliding_window", True) is False:
        return True
    return longest <= window


def attention_blocks(mask: torch.Tensor) -> list[int]:
    """Where a ``(L, L)`` attention mask splits into blocks that attend only within themselves.

    Position ``i`` starts a block when no query at ``i`` or later attends to a key before ``i``.

    Returns:
        The block starts, then ``L``.
    """
    import torch

    size = mask.shape[-1]
    rows = torch.arange(size, device=mask.device)[:, None].expand(size, size)
    # for each key, the last query that attends to it (from below the diagonal; -1 when none)
    last_query = torch.where(mask.tril(-1), rows, -1).amax(0)
    reach = last_query.cummax(0).values  # the furthest query reaching back to key k or earlier
    starts = [0] + (
        torch.nonzero(reach[:-1] < torch.arange(1, size, device=mask.device)) + 1
    ).flatten().tolist()
    return [*starts, size]


def block_sdpa_attention(
    module: Any,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: Any,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """``transformers``' ``sdpa`` attention run on each block of a packed row separately.

    The result is ``sdpa`` over the whole row with the same dense mask; what is saved is the scores of
    query and key pairs in different groups, all masked, which would make attention cost the square
    of the row. A block laid out as a prefix and its branches (:func:`prefix_branches`) goes further:
    the prefix attends to itself, and each branch to the prefix's keys and its own, so the scores
    between branches (all masked) are not computed either. Registered as :data:`BLOCK_SDPA`.
    """
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if attention_mask is None or attention_mask.dim() != 4 or attention_mask.dtype != torch.bool:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)

    def attend(r: int, q: slice, keys: list[slice], mask: torch.Tensor) -> torch.Tensor:
        k = (
            torch.cat([key[r : r + 1, :, ks] for ks in keys], 2)
            if len(keys) > 1
            else key[r : r + 1, :, keys[0]]
        )
        v = (
            torch.cat([value[r : r + 1, :, ks] for ks in keys], 2)
            if len(keys) > 1
            else value[r : r + 1, :, keys[0]]
        )
        return sdpa_attention_forward(module, query[r : r + 1, :, q], k, v, mask[None, None], **kwargs)[0]

    rows = []
    for r in range(query.shape[0]):
        mask = attention_mask[r, 0]
        bounds = attention_blocks(mask)
        parts = []
        for s, e in zip(bounds[:-1], bounds[1:], strict=True):
            cuts = prefix_branches(mask[s:e, s:e])
            if cuts is None:  # one block, one call
                parts.append(attend(r, slice(s, e), [slice(s, e)], mask[s:e, s:e]))
                continue
            prefix = slice(s, s + cuts[1])
            parts.append(attend(r, prefix, [prefix], mask[prefix, prefix]))
            for a, b in zip(cuts[1:-1], cuts[2:], strict=True):  # each branch: the prefix's keys and its own
                branch = slice(s + a, s + b)
                parts.append(
                    attend(
                        r,
                        branch,
                        [prefix, branch],
                        torch.cat([mask[branch, prefix], mask[branch, branch]], 1),
                    )
                )
        rows.append(torch.cat(parts, 1))
    return torch.cat(rows, 0), None


def prefix_branches(mask: torch.Tensor) -> list[int] | None:
    """Where a block's ``(n, n)`` mask is a prefix-group layout (:func:`pack_prefix_groups`): a causal
    prefix, then branches that each attend to the whole prefix and causally to themselves.

    Returns:
        The prefix's start (0), each branch's start, then ``n``; ``None`` for any other mask, or a block
        without branches.
    """
    import torch

    n = mask.shape[-1]
    if n < 2:
        return None
    # every branch but the first starts where a token does not see the one before it; the first
    # continues the prefix, which ends where the second branch stops seeing it
    starts = (torch.nonzero(~mask.diagonal(-1)).flatten() + 1).tolist()
    if not starts:
        return None
    unseen = torch.nonzero(~mask[starts[0], : starts[0]]).flatten()
    prefix = int(unseen[0]) if len(unseen) else starts[0]
    if prefix == 0:
        return None
    cuts = [0, *([prefix] if prefix < starts[0] else []), *starts, n]
    want = torch.zeros(n, n, dtype=torch.bool, device=mask.device)
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        want[a:b, a:b] = torch.ones(b - a, b - a, dtype=torch.bool, device=mask.device).tril()
        want[a:b, : cuts[1]] |= a > 0  # a branch sees the whole prefix
    return cuts if torch.equal(mask, want) else None


@functools.cache
def _register_block_sdpa() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(BLOCK_SDPA, block_sdpa_attention)
    AttentionMaskInterface.register(BLOCK_SDPA, sdpa_mask)


@contextmanager
def _attention_implementation(lm: Any, name: str) -> Iterator[None]:
    """Run ``lm`` with another attention implementation inside the block."""
    before = lm.config._attn_implementation
    if before == name:
        yield
        return
    lm.set_attn_implementation(name)
    try:
        yield
    finally:
        lm.set_attn_implementation(before)


def body_states(model: Any, packed: PackedGroups) -> torch.Tensor:
    """The last hidden states of the model body over the packed rows, flattened to ``(R * L, hidden)``.

    An ``sdpa`` model attends block by block (:data:`BLOCK_SDPA`); an ``eager`` one gets the mask as
    additive scores.
    """
    import torch

    lm = unwrap_lm(model)
    packed = packed.to(lm.get_output_embeddings().weight.device)
    mask = packed.attention_mask
    implementation = lm.config.get_text_config()._attn_implementation
    if implementation == "eager":  # eager adds the mask to the scores
        dtype = lm.get_output_embeddings().weight.dtype
        mask = torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(
            ~mask, torch.finfo(dtype).min
        )
    elif implementation == "sdpa" and getattr(lm, "_can_set_attn_implementation", lambda: False)():
        _register_block_sdpa()
        implementation = BLOCK_SDPA  # models that cannot switch kernels run sdpa on the dense mask
    with _attention_implementation(lm, implementation):
        body = lm.base_model(
            input_ids=packed.input_ids,
            attention_mask=mask,
            position_ids=packed.position_ids,
            use_cache=False,
        )
    return body.last_hidden_state.flatten(0, 1)


def logit_transform(config: Any) -> tuple[float, float | None]:
    """Multiplier and soft cap that some models apply to their logits, as TRL's fused head reads them."""
    cfg = config.get_text_config()
    softcap = getattr(cfg, "final_logit_softcapping", None)
    for name in ("logit_scale", "output_multiplier", "lm_head_multiplier"):
        if getattr(cfg, name, None) is not None:
            return float(getattr(cfg, name)), softcap
    scaling = getattr(cfg, "logits_scaling", None)
    if scaling is not None:  # Granite and MiniCPM3 divide by it, HyperCLOVA X multiplies
        return (scaling if cfg.model_type == "hyperclovax" else 1 / scaling), softcap
    return 1.0, softcap


def head_logits(model: Any, states: torch.Tensor) -> torch.Tensor:
    """The LM head on ``states``, in float32 or wider, with the model's logit scale and soft cap."""
    import torch

    lm = unwrap_lm(model)
    scale, softcap = logit_transform(lm.config)
    logits = lm.get_output_embeddings()(states)
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32)) * scale  # bf16 -> float32
    if softcap is not None:
        logits = softcap * torch.tanh(logits / softcap)
    return logits
