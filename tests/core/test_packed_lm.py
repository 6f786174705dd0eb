"""Packing sequences that share prefixes (``core.packed_lm``): layout, grouping, and the forward pass
against each sequence run alone on the tiny model."""

from __future__ import annotations

import pytest
import torch

from polyrlaif.core.packed_lm import (
    attention_blocks,
    body_states,
    group_by_prefix,
    head_logits,
    pack_prefix_groups,
    prefix_branches,
    takes_dense_mask,
)


def test_group_by_prefix_joins_consecutive_sequences_that_share_a_beginning():
    task = list(range(100, 120))  # 20 shared tokens
    seqs = [task + [1, 2], task + [3], task + [1, 4, 5], [7, 8, 9], task + [6]]
    groups = group_by_prefix(seqs, min_shared=16)
    assert [[i for i, _ in members] for _, members in groups] == [[0, 1, 2], [3], [4]]
    assert groups[0][0] == task and groups[0][1][2] == (2, [1, 4, 5])
    assert groups[1] == ([7, 8], [(3, [9])])  # alone: every branch keeps its last token
    # a sequence that is another's prefix still keeps one token of its own
    assert group_by_prefix([task + [1], task], min_shared=16)[0][0] == task[:-1]
    # too few shared tokens, or a group that would outgrow max_tokens: a new group
    assert len(group_by_prefix(seqs[:3], min_shared=21)) == 3
    assert [len(m) for _, m in group_by_prefix(seqs[:3], min_shared=16, max_tokens=24)] == [2, 1]


def test_pack_prefix_groups_layout_with_three_branches():
    packed = pack_prefix_groups([([1, 2], [[3], [4, 5], [6]]), ([7], [[8, 9]])], pad_token_id=0, row_tokens=8)
    assert packed.input_ids.tolist() == [[1, 2, 3, 4, 5, 6], [7, 8, 9, 0, 0, 0]]
    assert packed.position_ids.tolist() == [[0, 1, 2, 2, 3, 2], [0, 1, 2, 0, 0, 0]]
    assert packed.prefix_last == [1, 6] and packed.branch_start == [[2, 3, 5], [7]]
    mask = packed.attention_mask[0, 0]
    assert mask[4].nonzero().flatten().tolist() == [0, 1, 3, 4]  # branch 2 sees its prefix and itself
    assert mask[5].nonzero().flatten().tolist() == [0, 1, 5]
    assert packed.predictors(0, 1, 2) == [1, 3] and packed.last(0, 1, 2) == 4 and packed.last(1, 0, 0) == 6
    no_prefix = pack_prefix_groups([([], [[1, 2]])], pad_token_id=0)
    with pytest.raises(ValueError, match="no prefix"):
        no_prefix.predictors(0, 0, 2)


def test_takes_dense_mask():
    from transformers import LlamaConfig, MistralConfig

    cfg = LlamaConfig()
    cfg._attn_implementation = "sdpa"
    assert takes_dense_mask(cfg, 10_000)
    cfg._attn_implementation = "flash_attention_2"
    assert not takes_dense_mask(cfg, 10)
    mistral = MistralConfig(sliding_window=64)
    mistral._attn_implementation = "eager"
    assert takes_dense_mask(mistral, 64) and not takes_dense_mask(mistral, 65)


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_packed_last_logits_match_each_sequence_alone(attention, tiny_lm_path):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        tiny_lm_path, dtype=torch.float64, attn_implementation=attention
    )
    gen = torch.Generator().manual_seed(0)
    task = torch.randint(5, 60, (30,), generator=gen).tolist()
    seqs = [task + torch.randint(5, 60, (n,), generator=gen).tolist() for n in (3, 9, 1, 5)]
    seqs.append(torch.randint(5, 60, (12,), generator=gen).tolist())
    groups = group_by_prefix(seqs, min_shared=16)
    assert [len(m) for _, m in groups] == [4, 1]
    packed = pack_prefix_groups([(p, [b for _, b in m]) for p, m in groups], pad_token_id=0, row_tokens=40)
    assert packed.input_ids.shape[0] == 2  # the second group does not fit the first row
    with torch.no_grad():
        states = body_states(model, packed)
        last = {i: packed.last(g, k, len(b)) for g, (_, m) in enumerate(groups) for k, (i, b) in enumerate(m)}
        got = head_logits(model, states[torch.tensor([last[i] for i in range(len(seqs))])])
        want = torch.stack([model(torch.tensor([s])).logits[0, -1] for s in seqs])
    # eager attention takes its softmax in float32, also in a float64 model
    assert (got - want).abs().max().item() <= (1e-9 if attention == "sdpa" else 1e-5)


def test_attention_blocks_split_where_nothing_attends_across():
    packed = pack_prefix_groups([([1, 2], [[3], [4, 5]]), ([], [[6], [7, 8]]), ([9], [[10]])], pad_token_id=0)
    # group 1 is one block; group 2 (no prefix) is two, as its branches see nothing in common; then group 3
    assert attention_blocks(packed.attention_mask[0, 0]) == [0, 5, 6, 8, 10]
    causal = torch.ones(4, 4, dtype=torch.bool).tril()
    assert attention_blocks(causal) == [0, 4]
    assert attention_blocks(torch.eye(3, dtype=torch.bool)) == [0, 1, 2, 3]


def test_prefix_branches_find_a_groups_layout_and_nothing_else():
    packed = pack_prefix_groups([([1, 2, 3], [[4], [5, 6], [7, 8, 9]])], pad_token_id=0)
    mask = packed.attention_mask[0, 0]
    assert prefix_branches(mask) == [0, 3, 4, 6, 9]  # the prefix, then each branch's start
    assert prefix_branches(torch.ones(4, 4, dtype=torch.bool).tril()) is None  # causal: no branches
    bent = mask.clone()
    bent[7, 4] = True  # a branch that also sees another branch is not the layout
    assert prefix_branches(bent) is None
    short = mask.clone()
    short[5, 0] = False  # nor one that misses part of the prefix
    assert prefix_branches(short) is None
