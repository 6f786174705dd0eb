"""The packed group layout of a GRPO batch (``core/rl_packed.py``) against each (prompt, completion) run
alone through the model: the same per-token log-probabilities (at temperature 1 and 0.7) and the same
gradients of a loss on them, on the tiny chat model."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM

from polyrlaif.core.rl_packed import group_token_logps


def _groups():
    g = torch.Generator().manual_seed(0)

    def ids(n):
        return torch.randint(5, 300, (n,), generator=g).tolist()

    # two prompts of 4 completions of different lengths, and one of 2 (a group may be smaller)
    return [(ids(7), [ids(5), ids(3), ids(6), ids(1)]), (ids(4), [ids(2), ids(6), ids(4), ids(5)]),
            (ids(9), [ids(3), ids(2)])]  # fmt: skip


def _alone(model, groups, temperature):
    rows = []
    for prompt, completions in groups:
        for c in completions:
            x = torch.tensor([prompt + c])
            logits = model(input_ids=x).logits[0, len(prompt) - 1 : -1].float() / temperature
            rows.append(logits.log_softmax(-1).gather(1, torch.tensor(c)[:, None])[:, 0])
    return rows


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_packed_groups_give_each_sequence_alone(tiny_lm_path, temperature):
    model = AutoModelForCausalLM.from_pretrained(tiny_lm_path, dtype=torch.float32)
    groups = _groups()
    logps, mask = group_token_logps(model, groups, pad_token_id=0, temperature=temperature, row_tokens=40)
    alone = _alone(model, groups, temperature)
    assert logps.shape == (10, 6) and mask.sum().item() == sum(len(r) for r in alone)
    for k, row in enumerate(alone):
        assert torch.allclose(logps[k, : len(row)], row, atol=1e-5)
        assert mask[k, : len(row)].all() and not mask[k, len(row) :].any() and not logps[k, len(row) :].any()

    weights = torch.randn(logps.shape, generator=torch.Generator().manual_seed(1))
    (logps * weights * mask).sum().backward()
    packed_grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    alone = _alone(model, groups, temperature)
    sum((row * weights[k, : len(row)]).sum() for k, row in enumerate(alone)).backward()
    for n, p in model.named_parameters():  # float32 sums in another order: about 3e-5 on gradients near 1
        assert torch.allclose(packed_grads[n], p.grad, atol=1e-4, rtol=1e-4), n
    assert any(g.abs().sum() > 0 for g in packed_grads.values())
