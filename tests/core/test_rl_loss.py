"""GRPO and RLOO losses and advantages (``core/rl_loss.py``) against TRL's own code on fixed tensors: the
loss and its gradient from TRL's ``GRPOTrainer._compute_loss`` / ``RLOOTrainer._compute_loss`` (called
unbound, with the trainer state it reads and the log-probabilities it would compute), per loss type, with
and without beta and a tool-observation mask; the advantages against the formulas TRL applies, computed
here with TRL's ``nanstd``."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch
from trl.trainer.grpo_trainer import GRPOTrainer
from trl.trainer.rloo_trainer import RLOOTrainer
from trl.trainer.utils import nanstd

from polyrlaif.core.rl_loss import group_advantages, grpo_loss, rloo_advantages, rloo_loss

B, T = 6, 5


def _tensors(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    logps = (-torch.rand(B, T, generator=g) * 3).requires_grad_(True)
    old = logps.detach() + 0.3 * torch.randn(B, T, generator=g)  # ratios both inside and outside the clip
    ref = logps.detach() + 0.2 * torch.randn(B, T, generator=g)
    adv = torch.randn(B, generator=g)
    mask = torch.ones(B, T)
    mask[0, 3:] = 0  # a short completion
    mask[2, 4:] = 0
    tool = torch.ones(B, T)
    tool[1, 1:3] = 0  # a tool observation inside a completion
    return logps, old, ref, adv, mask, tool


def _accelerator():
    return SimpleNamespace(
        gather=lambda x: x, gather_for_metrics=lambda x: x, reduce=lambda x, reduction="sum": x,
        num_processes=1, sync_gradients=True,
    )  # fmt: skip


def _trl_grpo(logps, old, ref, adv, mask, tool, *, beta, loss_type, num_items, grad_accum):
    state = SimpleNamespace(
        _get_per_token_logps_and_entropies=lambda *a, **k: (logps, torch.zeros_like(logps), None),
        aux_loss_enabled=False, top_entropy_quantile=1.0, off_policy_mask_threshold=None,
        importance_sampling_level="token", beta=beta, loss_type=loss_type, epsilon_low=0.2, epsilon_high=0.28,
        use_vllm=False, model=SimpleNamespace(training=True), current_gradient_accumulation_steps=grad_accum,
        max_completion_length=T, accelerator=_accelerator(), _entropy_bonus_enabled=False,
        _metrics={"train": defaultdict(list)},
        args=SimpleNamespace(use_bias_correction_kl=False, delta=None, steps_per_generation=4),
    )  # fmt: skip
    inputs = {
        "prompt_ids": torch.zeros(B, 2, dtype=torch.long), "prompt_mask": torch.ones(B, 2),
        "completion_ids": torch.zeros(B, T, dtype=torch.long), "completion_mask": mask,
        "advantages": adv, "old_per_token_logps": old, "ref_per_token_logps": ref,
        "num_items_in_batch": torch.tensor(float(num_items)),
    }  # fmt: skip
    if tool is not None:
        inputs["tool_mask"] = tool
    return GRPOTrainer._compute_loss(state, None, inputs), state._metrics["train"]


@pytest.mark.parametrize("loss_type", ["dapo", "grpo", "bnpo", "dr_grpo"])
@pytest.mark.parametrize("beta", [0.0, 0.04])
@pytest.mark.parametrize("with_tool_mask", [False, True], ids=["plain", "tool-mask"])
def test_grpo_loss_and_gradient_match_trl(loss_type, beta, with_tool_mask):
    logps, old, ref, adv, mask, tool = _tensors()
    tool = tool if with_tool_mask else None
    train_mask = mask * tool if tool is not None else mask
    # this micro-batch is a quarter of the generation batch, which spans two optimiser steps of 2
    num_items, grad_accum = float(train_mask.sum()) * 4, 2

    want, metrics = _trl_grpo(logps, old, ref, adv, mask, tool, beta=beta, loss_type=loss_type,
                              num_items=num_items, grad_accum=grad_accum)  # fmt: skip
    (want_grad,) = torch.autograd.grad(want, logps)
    got, ours = grpo_loss(logps, old, adv, train_mask, ref_logps=ref, beta=beta, epsilon_low=0.2,
                          epsilon_high=0.28, loss_type=loss_type, num_items=num_items, grad_accum=grad_accum,
                          steps_per_generation=4, max_completion_length=T)  # fmt: skip
    (got_grad,) = torch.autograd.grad(got, logps)
    assert got.item() == pytest.approx(want.item(), abs=1e-7, rel=1e-6)
    assert torch.allclose(got_grad, want_grad, atol=1e-8, rtol=1e-6)
    assert ours["clip_ratio/region_mean"] == pytest.approx(metrics["clip_ratio/region_mean"][0], abs=1e-7)
    assert 0 < ours["clip_ratio/region_mean"] < 1  # the fixture clips some tokens, not all
    if beta:
        assert ours["kl"] == pytest.approx(metrics["kl"][0], abs=1e-7)


def test_grpo_without_old_logps_is_the_on_policy_loss():
    logps, _, _, adv, mask, _ = _tensors(1)
    got, _ = grpo_loss(logps, None, adv, mask, loss_type="bnpo")
    assert got.item() == pytest.approx(-(adv.unsqueeze(1) * mask).sum().item() / mask.sum().item(), rel=1e-6)


def test_rloo_loss_matches_trl():
    logps, old, _, adv, mask, _ = _tensors(2)
    old_seq = (old * mask).sum(1) + 0.05  # sequence-level old log-probs, ratios near the clip edge
    state = SimpleNamespace(
        _get_per_token_logps_and_entropies=lambda *a, **k: (logps, torch.zeros_like(logps), None),
        aux_loss_enabled=False, epsilon_low=0.2, epsilon_high=0.2, model=SimpleNamespace(training=True),
        accelerator=_accelerator(), _metrics={"train": defaultdict(list)},
    )  # fmt: skip
    inputs = {"prompt_ids": torch.zeros(B, 2, dtype=torch.long), "prompt_mask": torch.ones(B, 2),
              "completion_ids": torch.zeros(B, T, dtype=torch.long), "completion_mask": mask,
              "advantages": adv, "old_logps": old_seq}  # fmt: skip
    want = RLOOTrainer._compute_loss(state, None, inputs)
    (want_grad,) = torch.autograd.grad(want, logps)
    got = rloo_loss(logps, old_seq, adv, mask)
    (got_grad,) = torch.autograd.grad(got, logps)
    assert got.item() == pytest.approx(want.item(), abs=1e-7, rel=1e-6)
    assert torch.allclose(got_grad, want_grad, atol=1e-8, rtol=1e-6)


def _rewards():
    r = torch.tensor([[1.0, 0.5], [0.0, float("nan")], [2.0, 0.0], [float("nan"), float("nan")],
                      [0.3, 0.3], [0.3, 0.3]])  # fmt: skip
    return r, torch.tensor([1.0, 0.5])


@pytest.mark.parametrize("scale", ["group", "batch", "none"])
def test_group_advantages_follow_trl(scale):
    r, w = _rewards()
    total = (r * w).nansum(1)
    total[torch.isnan(r).all(1)] = torch.nan  # no function scored row 3
    grouped = total.view(-1, 2)
    mean = torch.nanmean(grouped, 1).repeat_interleave(2)
    std = nanstd(total).expand_as(total) if scale == "batch" else nanstd(grouped, dim=1).repeat_interleave(2)
    want = total - mean if scale == "none" else (total - mean) / (std + 1e-4)
    got = group_advantages(r, w, 2, scale=scale)
    assert torch.allclose(got, torch.nan_to_num(want, nan=0.0), atol=1e-6)
    assert got[3] == 0 and got[4] == got[5] == 0  # unscorable, and a group whose rewards tie


def test_rloo_advantages_leave_one_out_with_a_kl_penalty():
    r, w = _rewards()
    kl = torch.tensor([0.1, 0.2, 0.0, 0.4, 0.1, 0.3])
    got = rloo_advantages(r, w, 2, kl=kl, beta=0.5)
    total = (r * w).nansum(1) - 0.5 * kl
    assert got[0].item() == pytest.approx((total[0] - total[1]).item(), abs=1e-6)  # each other's baseline
    assert got[2] == 0 and got[3] == 0  # a pair with one scorable completion: no baseline, no signal
    assert got[4].item() == pytest.approx((total[4] - total[5]).item(), abs=1e-6)


def test_rloo_loss_over_segments_is_the_loss_of_the_joined_sequences():
    """An episode given as several sequences (``episodes``) has the log-probability of their join."""
    torch.manual_seed(0)
    logps = torch.randn(3, 4, requires_grad=True)
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 0], [1, 0, 1, 1]], dtype=torch.float32)
    old, adv = torch.tensor([-3.0, -2.5]), torch.tensor([0.7, -0.7])
    split = rloo_loss(logps, old, adv, mask, episodes=torch.tensor([0, 0, 1]))
    zero = torch.zeros(4)
    joined_logps = torch.stack([torch.cat([logps[0], logps[1]]), torch.cat([logps[2], zero])])
    joined_mask = torch.stack([torch.cat([mask[0], mask[1]]), torch.cat([mask[2], zero])])
    joined = rloo_loss(joined_logps, old, adv, joined_mask)
    assert split.item() == pytest.approx(joined.item(), abs=1e-6)
    (g_split,) = torch.autograd.grad(split, logps)
    assert g_split.abs().sum() > 0
