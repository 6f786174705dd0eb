"""The functional core of the fast DPO backend: TRL 1.16's batches and loss, computed with less work.

Each function reproduces one piece of TRL's ``DPOTrainer`` exactly, so
:class:`~polyrlaif.core.trainers.fast_dpo.FastDPOTrainer` can be checked against it step for step:

* :func:`tokenize_pairs` makes the prompt and completion token ids TRL's ``_prepare_dataset`` makes,
  dropping the rows TRL drops;
* :func:`collate_pairs` truncates and right-pads them into one batch, chosen rows first, as TRL's
  preference collator does;
* :func:`completion_logps` sums the log-probs of each row's completion tokens;
* :func:`pair_logps` does the same for a batch of pairs, packed without padding by :func:`pack_pairs`
  so each prompt goes through the model once for both of its completions (:func:`cached_pair_logps`
  where the attention kernel takes no dense mask);
* :func:`reference_logps` does so for every pair under the reference (the model as it is, adapters off);
* :func:`dpo_loss` is TRL's loss (:func:`polyrlaif.core.losses.preference_loss` plus its ``"sft"``
  term) and reward metrics.

What makes it fast:

* the reference log-probs are computed once, before the first update, in one no-grad pass (TRL does
  that only without LoRA; with LoRA it runs the reference forward again on every step);
* each prompt is run once, not twice, and nothing is padding: the pairs are packed end to end as
  ``prompt, chosen, rejected`` with an attention mask that keeps the rejected completion from seeing
  the chosen one (:func:`pack_pairs`, :func:`pair_logps`); prompts are most of the tokens of a typical
  preference pair, and one long row makes bigger matrix products than many padded short ones;
* the LM head is applied only at completion positions (the hidden state at ``t`` predicts token
  ``t + 1``), in chunks of tokens; TRL on CPU projects every position onto the vocabulary;
* no entropy, mean-logit or top-1 statistics over the full vocabulary, no activation checkpointing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from polyrlaif.core.packed_lm import (
    ROW_TOKENS,
    body_states,
    common_prefix,
    pack_prefix_groups,
    takes_dense_mask,
    unwrap_lm,
)
from polyrlaif.core.token_logps import token_logps

if TYPE_CHECKING:
    import torch

__all__ = [
    "collate_pairs",
    "completion_logps",
    "cached_pair_logps",
    "pack_pairs",
    "pair_logps",
    "dpo_loss",
    "reference_logps",
    "tokenize_pairs",
]

log = logging.getLogger(__name__)


def tokenize_pairs(
    tokenizer: Any, rows: Sequence[dict[str, Any]], max_length: int | None
) -> list[dict[str, list]]:
    """Token ids of conversational preference rows, as TRL 1.16's ``DPOTrainer._prepare_dataset`` makes them.

    The prompt is rendered with the generation prompt, each side as the whole conversation (no EOS is
    appended: the chat template closes the turn). The completion starts where the tokenised prompt and
    prompt + completion stop agreeing, on both sides. Rows whose prompt alone fills ``max_length`` are
    dropped, as TRL drops them; truncation of the rest happens in :func:`collate_pairs`.

    Args:
        tokenizer: a tokenizer with a chat template.
        rows: ``{"prompt": messages, "chosen": [assistant turn], "rejected": [assistant turn]}`` each.
        max_length: the longest prompt + completion, in tokens; ``None`` for no limit.

    Returns:
        ``{"prompt_ids", "chosen_ids", "rejected_ids"}`` per kept row, in order.
    """

    def ids(messages: list[dict[str, Any]], prompt: bool = False) -> list[int]:
        enc = tokenizer.apply_chat_template(
            messages, tools=None, tokenize=True, return_dict=True, add_generation_prompt=prompt
        )
        return list(enc["input_ids"])

    out = []
    for row in rows:
        prompt_ids = ids(row["prompt"], prompt=True)
        chosen = ids(row["prompt"] + row["chosen"])
        rejected = ids(row["prompt"] + row["rejected"])
        n = min(common_prefix(prompt_ids, chosen), common_prefix(prompt_ids, rejected))
        if max_length is not None and n >= max_length:
            continue
        out.append({"prompt_ids": prompt_ids[:n], "chosen_ids": chosen[n:], "rejected_ids": rejected[n:]})
    if len(out) < len(rows):
        log.warning(
            "dropped %d of %d pairs: prompt of max_length tokens or more", len(rows) - len(out), len(rows)
        )
    return out


def collate_pairs(
    examples: Sequence[dict[str, list]], *, pad_token_id: int, max_length: int | None
) -> dict[str, torch.Tensor]:
    """One batch of ``2 * len(examples)`` rows, all chosen sequences first, as TRL's preference collator.

    Each prompt + completion is cut to its first ``max_length`` tokens, then right-padded to the longest.

    Returns:
        ``input_ids``, ``attention_mask`` and ``completion_mask`` (1 on completion tokens), ``(2B, T)``.
    """
    import torch

    seqs = [e["prompt_ids"] + e[side] for side in ("chosen_ids", "rejected_ids") for e in examples]
    masks = [
        [0] * len(e["prompt_ids"]) + [1] * len(e[side])
        for side in ("chosen_ids", "rejected_ids")
        for e in examples
    ]
    if max_length is not None:
        seqs, masks = [s[:max_length] for s in seqs], [m[:max_length] for m in masks]
    width = max(len(s) for s in seqs)
    input_ids = torch.full((len(seqs), width), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(seqs), width), dtype=torch.long)
    completion_mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, (s, m) in enumerate(zip(seqs, masks, strict=True)):
        input_ids[i, : len(s)] = torch.tensor(s)
        attention_mask[i, : len(s)] = 1
        completion_mask[i, : len(m)] = torch.tensor(m)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "completion_mask": completion_mask}


def completion_logps(
    model: Any, batch: dict[str, torch.Tensor], *, chunk_size: int = 1024
) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed log-probabilities of the completion tokens of each row, and how many there are.

    The transformer body runs once over the padded batch; the LM head, the log-softmax and the gather
    then run only on the hidden states that predict a completion token, ``chunk_size`` tokens at a
    time, so no ``(tokens, vocab)`` tensor is built for prompt or padding positions.

    Args:
        model: a causal LM (``transformers`` ``PreTrainedModel``) or a peft model wrapping one.
        batch: ``input_ids``, ``attention_mask``, ``completion_mask``, shape ``(rows, T)``, right-padded.
        chunk_size: completion tokens per LM-head chunk; bounds the logits held at once without grad.

    Returns:
        ``(logps, n_tokens)``, shape ``(rows,)`` each; ``logps`` in float32 (float64 for a float64 model).
    """

    lm = unwrap_lm(model)
    ids = batch["input_ids"].to(lm.get_output_embeddings().weight.device)
    body = lm.base_model(
        input_ids=ids, attention_mask=batch["attention_mask"].to(ids.device), use_cache=False
    )
    # position t predicts token t + 1: drop the last hidden state and the first label
    targets_mask = batch["completion_mask"][:, 1:].to(ids.device).bool()
    states = body.last_hidden_state[:, :-1][targets_mask]
    targets = ids[:, 1:][targets_mask]
    rows = targets_mask.nonzero()[:, 0]
    flat = token_logps(lm, states, targets, chunk_size=chunk_size)
    logps = flat.new_zeros(len(ids)).index_add(0, rows, flat)
    return logps, targets_mask.sum(1)


def pack_pairs(
    examples: Sequence[dict[str, list]],
    *,
    pad_token_id: int,
    max_length: int | None,
    row_tokens: int = ROW_TOKENS,
) -> dict[str, Any]:
    """Pairs packed without padding, each as ``prompt, chosen, rejected``, in rows of up to ``row_tokens``.

    :func:`polyrlaif.core.packed_lm.pack_prefix_groups` with the prompt as the prefix and the two
    completions as its branches: the rejected completion attends to the prompt but not to the chosen
    one, and both continue the prompt's positions, so each completion's log-probs are those of its
    whole sequence run alone. Truncation is :func:`collate_pairs`'s.

    Returns:
        ``packed`` (the :class:`~polyrlaif.core.packed_lm.PackedGroups`) and, per completion token,
        ``predictors`` (the flat index of the hidden state that predicts it), ``targets`` (the token)
        and ``rows`` (which of the ``2B`` sequences it is in, chosen first as in :func:`collate_pairs`).
    """
    import torch

    groups = []
    for e in examples:
        comps = [e["chosen_ids"], e["rejected_ids"]]
        if max_length is not None:
            comps = [c[: max(max_length - len(e["prompt_ids"]), 0)] for c in comps]
        groups.append((e["prompt_ids"], comps))
    packed = pack_prefix_groups(groups, pad_token_id=pad_token_id, row_tokens=row_tokens)
    predictors: list[int] = []
    targets: list[int] = []
    rows: list[int] = []
    for i, (_, comps) in enumerate(groups):
        for side, c in enumerate(comps):
            predictors += packed.predictors(i, side, len(c))
            targets += c
            rows += [side * len(examples) + i] * len(c)
    return {
        "packed": packed,
        "predictors": torch.tensor(predictors, dtype=torch.long),
        "targets": torch.tensor(targets, dtype=torch.long),
        "rows": torch.tensor(rows, dtype=torch.long),
    }


def pair_logps(
    model: Any,
    examples: Sequence[dict[str, list]],
    *,
    pad_token_id: int,
    max_length: int | None,
    chunk_size: int = 1024,
    row_tokens: int = ROW_TOKENS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`completion_logps` of :func:`collate_pairs`'s batch, with each prompt run once and no padding.

    The pairs are packed by :func:`pack_pairs` and go through the model in one pass
    (:func:`~polyrlaif.core.packed_lm.body_states`: attention block by block). Attention kernels
    that take no dense mask (flash attention), and sliding-window models on sequences longer than
    the window, use :func:`cached_pair_logps` instead. Gradients are those of running each whole
    sequence separately.

    Returns:
        ``(logps, n_tokens)``, shape ``(2 * len(examples),)``, the chosen rows first, as
        :func:`completion_logps` returns them for :func:`collate_pairs`'s batch.
    """
    import torch

    lm = unwrap_lm(model)
    longest = max(len(e["prompt_ids"]) + max(len(e["chosen_ids"]), len(e["rejected_ids"])) for e in examples)
    if not takes_dense_mask(lm.config, longest):
        return cached_pair_logps(
            model, examples, pad_token_id=pad_token_id, max_length=max_length, chunk_size=chunk_size
        )
    batch = pack_pairs(examples, pad_token_id=pad_token_id, max_length=max_length, row_tokens=row_tokens)
    states = body_states(lm, batch["packed"])
    rows = batch["rows"].to(states.device)
    flat = token_logps(
        lm,
        states[batch["predictors"].to(states.device)],
        batch["targets"].to(states.device),
        chunk_size=chunk_size,
    )
    n = 2 * len(examples)
    return flat.new_zeros(n).index_add(0, rows, flat), torch.bincount(rows, minlength=n)


def cached_pair_logps(
    model: Any,
    examples: Sequence[dict[str, list]],
    *,
    pad_token_id: int,
    max_length: int | None,
    chunk_size: int = 1024,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`pair_logps` for attention kernels that take no dense mask (flash attention): padded, with
    each prompt run once through a shared key-value cache.

    The prompts go through the model left-padded, keeping their keys and values; the cache is repeated
    so the chosen and the rejected completion of a pair both attend to it, and the completions go
    through right-padded, with positions continuing each prompt. Gradients flow into the prompt through
    the cache, so the loss and its gradient are those of running each whole sequence separately.
    Truncation is :func:`collate_pairs`'s: each prompt + completion is cut to ``max_length``.

    Returns:
        ``(logps, n_tokens)``, shape ``(2 * len(examples),)``, the chosen rows first, as
        :func:`completion_logps` returns them for :func:`collate_pairs`'s batch.
    """
    import torch

    lm = unwrap_lm(model)
    device = lm.get_output_embeddings().weight.device
    b = len(examples)
    prompts = [e["prompt_ids"] for e in examples]
    # completions in pair order: row 2i is pair i's chosen, row 2i + 1 its rejected (repeat_interleave)
    comps = [e[side] for e in examples for side in ("chosen_ids", "rejected_ids")]
    if max_length is not None:
        comps = [c[: max(max_length - len(prompts[i // 2]), 0)] for i, c in enumerate(comps)]
    p_len = max(len(p) for p in prompts)
    c_len = max(max(len(c) for c in comps), 1)
    p_ids = torch.full((b, p_len), pad_token_id, dtype=torch.long)
    p_mask = torch.zeros((b, p_len), dtype=torch.long)
    for i, p in enumerate(prompts):  # left padding: every prompt ends at the same position
        p_ids[i, p_len - len(p) :] = torch.tensor(p)
        p_mask[i, p_len - len(p) :] = 1
    c_ids = torch.full((2 * b, c_len), pad_token_id, dtype=torch.long)
    c_mask = torch.zeros((2 * b, c_len), dtype=torch.long)
    for i, c in enumerate(comps):
        c_ids[i, : len(c)] = torch.tensor(c, dtype=torch.long)
        c_mask[i, : len(c)] = 1
    p_ids, p_mask, c_ids, c_mask = (t.to(device) for t in (p_ids, p_mask, c_ids, c_mask))

    prompt_out = lm.base_model(
        input_ids=p_ids,
        attention_mask=p_mask,
        position_ids=(p_mask.cumsum(1) - 1).clamp(min=0),
        use_cache=True,
    )
    cache = prompt_out.past_key_values
    cache.batch_repeat_interleave(2)
    lengths = p_mask.sum(1).repeat_interleave(2)
    comp_out = lm.base_model(
        input_ids=c_ids,
        attention_mask=torch.cat([p_mask.repeat_interleave(2, 0), c_mask], 1),
        position_ids=lengths[:, None] + torch.arange(c_len, device=device),
        past_key_values=cache,
        use_cache=True,
    )
    # completion token j is predicted by the state before it: the prompt's last one for j = 0
    last_prompt = prompt_out.last_hidden_state[:, -1:].repeat_interleave(2, 0)
    states = torch.cat([last_prompt, comp_out.last_hidden_state[:, :-1]], 1)
    mask = c_mask.bool()
    flat = token_logps(lm, states[mask], c_ids[mask], chunk_size=chunk_size)
    logps = flat.new_zeros(2 * b).index_add(0, mask.nonzero()[:, 0], flat)
    order = torch.cat([torch.arange(0, 2 * b, 2), torch.arange(1, 2 * b, 2)]).to(device)  # chosen first
    return logps[order], mask.sum(1)[order]


def reference_logps(
    model: Any,
    examples: Sequence[dict[str, list]],
    *,
    pad_token_id: int,
    max_length: int | None,
    batch_size: int,
    chunk_size: int = 1024,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Completion log-probs of every pair under ``model`` as it is now (adapters off for a peft model).

    Returns:
        ``(chosen, rejected)``, float32 on the CPU, shape ``(len(examples),)`` each.
    """
    import contextlib

    import torch

    adapters_off = model.disable_adapter() if hasattr(model, "disable_adapter") else contextlib.nullcontext()
    chosen, rejected = [], []
    with torch.no_grad(), adapters_off:
        for start in range(0, len(examples), batch_size):
            logps, _ = pair_logps(
                model,
                examples[start : start + batch_size],
                pad_token_id=pad_token_id,
                max_length=max_length,
                chunk_size=chunk_size,
            )
            c, r = logps.float().cpu().chunk(2)
            chosen.append(c)
            rejected.append(r)
    return torch.cat(chosen), torch.cat(rejected)


def dpo_loss(
    policy: torch.Tensor,
    reference: torch.Tensor,
    n_tokens: torch.Tensor,
    *,
    loss_type: str,
    beta: float,
    sft_weight: float = 0.0,
    whole_batch: tuple[int, float] | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """TRL's DPO batch loss, ``[loss_type, "sft"]`` with weights ``[1, sft_weight]``, and its reward metrics.

    Args:
        policy: completion log-probs under the policy, ``(2B,)``, the chosen half first.
        reference: the same under the reference.
        n_tokens: completion token counts, ``(2B,)``: IPO's per-token averaging and the SFT mean.
        loss_type: one of :data:`polyrlaif.core.losses.LOSS_TYPES`.
        beta: DPO's beta (IPO's tau).
        sft_weight: weight of the NLL of the chosen completions, averaged over all their tokens.
        whole_batch: when these pairs are one rank's share of a micro-batch, that micro-batch's pair
            count and chosen-token count: the loss is then normalised by them, so the ranks' losses add
            up to the whole batch's (the metrics stay means over these pairs).

    Returns:
        ``(loss, metrics)``: the scalar loss, and ``rewards/chosen``, ``rewards/rejected``,
        ``rewards/accuracies``, ``rewards/margins`` as TRL logs them.
    """
    from polyrlaif.core.losses import preference_loss

    chosen, rejected = (policy - reference).chunk(2)
    chosen_len, rejected_len = n_tokens.to(policy.device).chunk(2)
    per_pair = preference_loss(
        chosen,
        rejected,
        loss_type=loss_type,
        beta=beta,
        chosen_lengths=chosen_len,
        rejected_lengths=rejected_len,
    )
    loss = per_pair.mean() if whole_batch is None else per_pair.sum() / whole_batch[0]
    if sft_weight > 0:  # TRL's "sft": mean NLL over every chosen completion token in the batch
        tokens = chosen_len.sum().clamp(min=1) if whole_batch is None else max(whole_batch[1], 1.0)
        loss = loss + sft_weight * -(policy.chunk(2)[0].sum() / tokens)
    c, r = beta * chosen.detach(), beta * rejected.detach()
    metrics = {
        "rewards/chosen": c.mean().item(),
        "rewards/rejected": r.mean().item(),
        "rewards/accuracies": (c > r).float().mean().item(),
        "rewards/margins": (c - r).mean().item(),
    }
    return loss, metrics
