"""Fully sharded data parallelism (FSDP, ZeRO-3's sharding) for the fast DPO step under ``accelerate launch``.

An accelerate config with ``distributed_type: FSDP`` (``configs/accelerate/fsdp.yaml``) makes the launcher
set ``ACCELERATE_USE_FSDP=true`` and the ``FSDP_*`` settings in every process's environment. The fast DPO
trainer then shards its policy with PyTorch's ``fully_shard`` (FSDP2, the engine accelerate's own FSDP2
path calls), one group per transformer block (the model's ``_no_split_modules``, accelerate's
``TRANSFORMER_BASED_WRAP``) and one for the rest, so each rank holds ``1 / world`` of the parameters,
gradients and optimiser state, and gathers a block's weights only while it runs.

PyTorch's ``fully_shard`` is called directly rather than through ``Accelerator.prepare``: accelerate turns
an FSDP config into no distribution at all on a machine without GPUs, while ``fully_shard`` runs over gloo
on CPU as over NCCL on GPUs, so the same path is tested here and used on a cluster.

The update is the data-parallel one (:mod:`polyrlaif.core.trainers.distributed`): each rank's loss is
normalised by the whole micro-batch and the gradients are *summed* over the ranks (the reduce-scatter's
divide factor set to 1), so a step is one process's step up to float summation order. Every rank must
run every forward, so a rank whose share of a micro-batch is empty runs one example at weight 0.
"""

from __future__ import annotations

import functools
import os
from typing import Any

__all__ = ["fsdp_requested", "full_state_dict", "grad_norm_value", "scorer_over", "shard_model"]


def fsdp_requested() -> bool:
    """True when ``accelerate launch`` was given an FSDP config (it sets ``ACCELERATE_USE_FSDP``)."""
    return os.environ.get("ACCELERATE_USE_FSDP") == "true"


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.lower() in ("1", "true", "yes")


def _blocks(model: Any) -> list[Any]:
    """The model's transformer blocks: the modules whose class its ``_no_split_modules`` names (looked
    up on the transformers model under any peft wrapper)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    names = set(getattr(base, "_no_split_modules", None) or [])
    return [m for m in model.modules() if type(m).__name__ in names]


def shard_model(model: Any) -> Any:
    """Shard ``model`` over the process group and return the FSDP root over it (:func:`scorer_over`):
    each transformer block its own FSDP group, the scorer the root (the embeddings, final norm and head,
    which the fast step calls outside the model's ``forward``); gradients summed, not averaged, over ranks.
    ``FSDP_RESHARD_AFTER_FORWARD`` (default true: ZeRO-3) and ``FSDP_OFFLOAD_PARAMS`` (parameters kept
    on the CPU between uses) are read from the launcher's environment.

    Raises:
        ValueError: the model names no transformer block to shard by.
    """
    from torch.distributed.fsdp import CPUOffloadPolicy, FSDPModule, fully_shard

    blocks = _blocks(model)
    if not blocks:
        raise ValueError(
            f"{type(model).__name__} names no transformer block (_no_split_modules) to shard by; launch "
            "it with configs/accelerate/ddp.yaml instead"
        )
    kwargs: dict[str, Any] = {"reshard_after_forward": _flag("FSDP_RESHARD_AFTER_FORWARD", True)}
    if _flag("FSDP_OFFLOAD_PARAMS", False):
        kwargs["offload_policy"] = CPUOffloadPolicy()
    for block in blocks:
        fully_shard(block, **kwargs)
    scorer = fully_shard(scorer_over(model), **kwargs)
    for module in scorer.modules():
        if isinstance(module, FSDPModule):
            module.set_gradient_divide_factor(1.0)  # each rank's loss is normalised by the whole batch
            module.set_force_sum_reduction_for_comms(True)  # plain sums: gloo has no pre-scaled sum
    return scorer


@functools.cache
def _scorer_class() -> Any:
    import torch

    class _Scorer(torch.nn.Module):
        """The FSDP root over a model: ``scorer(fn, *args)`` is ``fn(model, *args)`` run as the root's
        forward, so the root's weights are gathered for it and its gradients reduced after backward."""

        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
            return fn(self.model, *args, **kwargs)

    return _Scorer


def scorer_over(model: Any) -> Any:
    """A :class:`torch.nn.Module` whose ``forward(fn, *args)`` calls ``fn(model, *args)`` (its class is
    made on first use, so importing this module needs no torch)."""
    return _scorer_class()(model)


def full_state_dict(scorer: Any) -> dict[str, Any]:
    """The sharded model's whole state dict (its own keys), gathered to CPU on rank 0 (empty on the
    others). Every rank must call it: it is a collective."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    full = get_model_state_dict(scorer, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    return {k.removeprefix("model."): v for k, v in full.items()}


def grad_norm_value(norm: Any) -> float:
    """``clip_grad_norm_``'s result as a float (over sharded parameters it is a DTensor)."""
    return float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)
