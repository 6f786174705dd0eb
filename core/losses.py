"""DPO-family losses on precomputed log-ratios, for backends TRL does not cover, and Diffusion-DPO's.

TRL's ``DPOTrainer`` computes these itself for causal LMs. A backend for another model family
(Diffusion-DPO over a UNet, a speech-unit LM) computes its own implicit log-ratios and calls
:func:`preference_loss`, so every backend reads ``optim.loss_type`` and ``optim.beta`` the same way,
with the same conventions as TRL (``tests/core/test_dpo.py`` checks both against the papers).

Notation: for a pair (y_w preferred, y_l rejected), the log-ratios are
``r_w = log pi(y_w|x) - log pi_ref(y_w|x)`` and ``r_l`` likewise, and ``h = r_w - r_l``.

Diffusion-DPO (Wallace et al. 2023) has no tractable log-likelihood; :func:`diffusion_dpo_loss` takes
the denoising errors of the policy and the frozen reference instead, whose differences stand in for
the log-ratios (a lower error than the reference's is a higher implicit likelihood).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["LOSS_TYPES", "diffusion_dpo_loss", "preference_loss"]

#: Loss types implemented here (a subset of TRL's ``DPOConfig.loss_type`` values, same names).
LOSS_TYPES = ("sigmoid", "hinge", "ipo")


def preference_loss(
    chosen_logratios: torch.Tensor,
    rejected_logratios: torch.Tensor,
    *,
    loss_type: str = "sigmoid",
    beta: float = 0.1,
    chosen_lengths: torch.Tensor | None = None,
    rejected_lengths: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-pair preference loss; take ``.mean()`` for the batch loss.

    * ``sigmoid`` (DPO, Rafailov et al. 2023, eq. 7): ``-log sigmoid(beta * h)``.
    * ``hinge`` (SLiC-HF, Zhao et al. 2023): ``max(0, 1 - beta * h)``.
    * ``ipo`` (Azar et al. 2023, eq. 17, with ``beta`` as tau): ``(h' - 1 / (2 beta))^2``, where
      ``h'`` uses log-ratios averaged per token when lengths are given, as TRL does.

    Args:
        chosen_logratios: ``r_w``, shape ``(batch,)``.
        rejected_logratios: ``r_l``, shape ``(batch,)``.
        loss_type: one of :data:`LOSS_TYPES`.
        beta: inverse temperature (DPO, hinge) or regularisation strength tau (IPO).
        chosen_lengths: completion token counts for IPO's per-token averaging.
        rejected_lengths: likewise for the rejected side.

    Raises:
        ValueError: an unknown loss type.
    """
    import torch
    import torch.nn.functional as F

    if loss_type == "sigmoid":
        return -F.logsigmoid(beta * (chosen_logratios - rejected_logratios))
    if loss_type == "hinge":
        return torch.relu(1 - beta * (chosen_logratios - rejected_logratios))
    if loss_type == "ipo":
        if chosen_lengths is not None:
            chosen_logratios = chosen_logratios / chosen_lengths.clamp(min=1)
        if rejected_lengths is not None:
            rejected_logratios = rejected_logratios / rejected_lengths.clamp(min=1)
        return (chosen_logratios - rejected_logratios - 1 / (2 * beta)) ** 2
    raise ValueError(f"unknown loss_type {loss_type!r}; valid: {', '.join(LOSS_TYPES)}")


def diffusion_dpo_loss(
    policy_err_chosen: torch.Tensor,
    policy_err_rejected: torch.Tensor,
    ref_err_chosen: torch.Tensor,
    ref_err_rejected: torch.Tensor,
    beta: float,
) -> torch.Tensor:
    """Diffusion-DPO loss (Wallace et al. 2023, eq. 14, in the form of their ``DiffusionDPO`` code).

    With per-sample denoising errors ``e = ||eps - eps_theta(x_t, t)||^2`` (mean over elements) of the
    chosen (w) and rejected (l) images, all four at the same noise and timestep::

        loss = mean( -log sigmoid( -beta / 2 * ((e_pol_w - e_pol_l) - (e_ref_w - e_ref_l)) ) )

    The loss falls as the policy denoises the chosen image better than the reference does, relative to
    the rejected one. ``beta`` is the repository's ``beta_dpo`` (2500 to 5000 for Stable Diffusion):
    the errors' differences are small, so it is thousands of times larger than a text DPO beta.

    Args:
        policy_err_chosen: ``e_pol_w``, shape ``(batch,)``.
        policy_err_rejected: ``e_pol_l``, shape ``(batch,)``.
        ref_err_chosen: ``e_ref_w``, shape ``(batch,)``.
        ref_err_rejected: ``e_ref_l``, shape ``(batch,)``.
        beta: the KL regularisation strength.

    Returns:
        The batch mean, a 0-d tensor.
    """
    import torch.nn.functional as F

    inside = -0.5 * beta * ((policy_err_chosen - policy_err_rejected) - (ref_err_chosen - ref_err_rejected))
    return -F.logsigmoid(inside).mean()
