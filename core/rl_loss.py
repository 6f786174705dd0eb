"""GRPO and RLOO advantages and losses on tensors, with TRL's semantics (issue 23's fast online step).

These are the pieces of TRL's ``GRPOTrainer`` and ``RLOOTrainer`` (trl 1.x) that decide what a step
optimises, written as functions of plain tensors so a packed step can call them and a test can hold
them to TRL's own code (``tests/core/test_rl_loss.py`` runs TRL's ``_compute_loss`` on the same tensors):

* :func:`group_advantages` (GRPO): the weighted sum of the reward functions (a ``NaN`` reward: the
  function does not apply), minus its group mean, divided by the group's standard deviation + 1e-4
  (``scale="group"``, TRL's default; ``"batch"``: the batch's; ``"none"``: not divided). A completion
  no function scored gets advantage 0 and is left out of its group's statistics.
* :func:`rloo_advantages` (RLOO): the reward minus the mean of its scorable siblings (leave-one-out),
  after an optional sequence-level KL penalty ``beta * sum(old - ref)``.
* :func:`grpo_loss`: the clipped objective per token, ``-min(r A, clip(r, 1-eps_low, 1+eps_high) A)``
  with ``r = exp(logp - old_logp)``, plus ``beta`` times the k3 KL estimate to the reference, aggregated
  by ``loss_type`` (``dapo``, TRL's default: over every completion token of the generation batch;
  ``grpo``: per sequence, then over sequences; ``bnpo``: over the micro-batch's tokens; ``dr_grpo``:
  over sequences times the completion budget).
* :func:`rloo_loss`: the same clip on the sequence-level ratio, averaged over sequences.

Shapes: per-token tensors are ``(sequences, completion tokens)``; ``mask`` is 1 on tokens that train
(completion tokens, times the tool-observation mask where there is one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["LOSS_TYPES", "group_advantages", "grpo_loss", "rloo_advantages", "rloo_loss"]

#: The GRPO loss aggregations :func:`grpo_loss` implements (TRL's names).
LOSS_TYPES = ("dapo", "grpo", "bnpo", "dr_grpo")


def _nanstd(x: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Sample standard deviation ignoring NaN (Bessel's correction), as TRL's ``nanstd``."""
    import torch

    mean = torch.nanmean(x, dim=dim, keepdim=dim is not None)
    var = torch.nanmean((x - mean) ** 2, dim=dim)
    count = torch.sum(~torch.isnan(x), dim=dim)
    return torch.sqrt(var * count / (count - 1))


def _weighted(rewards_per_func: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The weighted sum over reward functions; NaN where no function scored the completion."""
    import torch

    rewards = (rewards_per_func * weights.to(rewards_per_func).unsqueeze(0)).nansum(dim=1)
    rewards[torch.isnan(rewards_per_func).all(dim=1)] = torch.nan
    return rewards


def group_advantages(
    rewards_per_func: torch.Tensor, weights: torch.Tensor, num_generations: int, *, scale: str = "group"
) -> torch.Tensor:
    """GRPO's advantages of a generation batch (its prompts' groups of ``num_generations`` in a row).

    Args:
        rewards_per_func: ``(completions, reward functions)``; NaN where a function does not apply.
        weights: ``(reward functions,)``.
        num_generations: completions per prompt.
        scale: ``group``, ``batch`` or ``none`` (TRL's ``scale_rewards``).

    Returns:
        ``(completions,)``.
    """
    import torch

    rewards = _weighted(rewards_per_func, weights)
    grouped = rewards.view(-1, num_generations)
    mean = torch.nanmean(grouped, dim=1).repeat_interleave(num_generations)
    if scale == "batch":
        std = _nanstd(rewards).expand_as(rewards)
    elif scale in ("group", "none"):
        std = _nanstd(grouped, dim=1).repeat_interleave(num_generations)
    else:
        raise ValueError(f"scale must be group, batch or none, got {scale!r}")
    advantages = rewards - mean
    if scale != "none":
        advantages = advantages / (std + 1e-4)
    return torch.nan_to_num(advantages, nan=0.0)


def rloo_advantages(
    rewards_per_func: torch.Tensor,
    weights: torch.Tensor,
    num_generations: int,
    *,
    kl: torch.Tensor | None = None,
    beta: float = 0.0,
    normalize: bool = False,
) -> torch.Tensor:
    """RLOO's leave-one-out advantages.

    Args:
        rewards_per_func, weights, num_generations: as :func:`group_advantages`.
        kl: ``(completions,)``: each completion's summed ``old_logp - ref_logp``, subtracted from its
            reward times ``beta`` (RLOO's KL penalty lives in the reward).
        normalize: divide by the batch's standard deviation after centring (TRL's
            ``normalize_advantages``).
    """
    import torch

    rewards = _weighted(rewards_per_func, weights)
    if beta != 0.0 and kl is not None:
        rewards = rewards - beta * kl
    grouped = rewards.view(-1, num_generations)
    scorable = (~torch.isnan(grouped)).sum(dim=1, keepdim=True)
    total = torch.nansum(grouped, dim=1, keepdim=True)
    advantages = rewards - ((total - grouped) / (scorable - 1)).view(-1)
    if normalize:
        advantages = (advantages - torch.nanmean(advantages)) / (_nanstd(advantages) + 1e-4)
    return torch.nan_to_num(advantages, nan=0.0)


def grpo_loss(
    logps: torch.Tensor,
    old_logps: torch.Tensor | None,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    ref_logps: torch.Tensor | None = None,
    beta: float = 0.0,
    epsilon_low: float = 0.2,
    epsilon_high: float = 0.2,
    loss_type: str = "dapo",
    num_items: float | None = None,
    grad_accum: int = 1,
    steps_per_generation: int | None = None,
    max_completion_length: int | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The GRPO loss of one micro-batch, as TRL computes it (``importance_sampling_level="token"``).

    Args:
        logps: ``(sequences, tokens)``: the policy's log-probabilities of the completion tokens.
        old_logps: the same under the policy that sampled; ``None``: ``logps`` detached (one update per
            generation batch, where TRL skips computing them).
        advantages: ``(sequences,)``.
        mask: ``(sequences, tokens)``: 1 where a token trains.
        ref_logps: the reference's log-probabilities, needed when ``beta`` is not 0.
        loss_type: one of :data:`LOSS_TYPES`.
        num_items: ``dapo``: the generation batch's training tokens per process (TRL's
            ``num_items_in_batch`` over the processes); the denominator is ``num_items * grad_accum /
            steps_per_generation``, so the generation batch's steps together average over its tokens.
        grad_accum: micro-batches per optimiser step (the loss is scaled for them).
        steps_per_generation: micro-batches per generation batch (TRL's default: ``grad_accum``).
        max_completion_length: ``dr_grpo``'s denominator per sequence.

    Returns:
        The loss to backpropagate, and ``{"kl", "clip_ratio/low_mean", "clip_ratio/high_mean",
        "clip_ratio/region_mean"}`` over the micro-batch's training tokens.
    """
    import torch

    if loss_type not in LOSS_TYPES:
        raise ValueError(f"loss_type must be one of {', '.join(LOSS_TYPES)}, got {loss_type!r}")
    mask = mask.to(logps.dtype)
    adv = advantages.unsqueeze(1)
    old = logps.detach() if old_logps is None else old_logps
    coef_1 = torch.exp(logps - old)
    coef_2 = torch.clamp(coef_1, 1 - epsilon_low, 1 + epsilon_high)
    per_token = -torch.min(coef_1 * adv, coef_2 * adv)
    kl = None
    if beta != 0.0:
        if ref_logps is None:
            raise ValueError("beta is not 0: grpo_loss needs ref_logps")
        kl = torch.exp(ref_logps - logps) - (ref_logps - logps) - 1
        per_token = per_token + beta * kl
    if loss_type == "grpo":
        loss = ((per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean() / grad_accum
    elif loss_type == "bnpo":
        loss = (per_token * mask).sum() / mask.sum().clamp(min=1.0) / grad_accum
    elif loss_type == "dr_grpo":
        if max_completion_length is None:
            raise ValueError("loss_type dr_grpo needs max_completion_length")
        loss = (per_token * mask).sum() / (per_token.size(0) * max_completion_length) / grad_accum
    else:  # dapo: over every training token of the generation batch
        if num_items is None:
            raise ValueError("loss_type dapo needs num_items (the generation batch's training tokens)")
        per_generation = steps_per_generation or grad_accum
        loss = (per_token * mask).sum() / (max(float(num_items), 1.0) * grad_accum / per_generation)
    with torch.no_grad():
        tokens = mask.sum().clamp(min=1.0)
        low = ((coef_1 < 1 - epsilon_low) & (adv < 0)).to(mask.dtype)
        high = ((coef_1 > 1 + epsilon_high) & (adv > 0)).to(mask.dtype)
        metrics = {
            "clip_ratio/low_mean": float((low * mask).sum() / tokens),
            "clip_ratio/high_mean": float((high * mask).sum() / tokens),
            "clip_ratio/region_mean": float((torch.maximum(low, high) * mask).sum() / tokens),
        }
        if kl is not None:
            metrics["kl"] = float((kl * mask).sum() / tokens)
    return loss, metrics


def rloo_loss(
    logps: torch.Tensor,
    old_logps: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    epsilon_low: float = 0.2,
    epsilon_high: float = 0.2,
    episodes: torch.Tensor | None = None,
) -> torch.Tensor:
    """RLOO's loss of one micro-batch (TRL's ``RLOOTrainer``): the clipped objective on each sequence's
    ratio ``exp(sum logp - old)``, averaged over sequences.

    Args:
        logps: ``(sequences, tokens)``.
        old_logps: ``(episodes,)``: each episode's summed log-probability under the sampling policy.
        advantages: ``(episodes,)``.
        mask: ``(sequences, tokens)``: 1 on completion tokens.
        episodes: ``(sequences,)``, the episode each sequence belongs to, when an episode is several
            sequences (its log-probability is their sum); ``None``: one sequence an episode.
    """
    import torch

    seq = (logps * mask.to(logps.dtype)).sum(1)
    if episodes is not None:
        seq = seq.new_zeros(len(old_logps)).index_add(0, episodes, seq)
    coef_1 = torch.exp(seq - old_logps)
    coef_2 = torch.clamp(coef_1, 1 - epsilon_low, 1 + epsilon_high)
    return (-torch.min(coef_1 * advantages, coef_2 * advantages)).mean()
