"""Data-parallel training across processes started by ``accelerate launch`` (or torchrun).

A trainer asks :func:`ranks` once. In one process it gets ``Ranks(rank=0, world=1)`` and nothing here
does anything. Under ``accelerate launch --num_processes N`` (gloo on CPU, NCCL on GPUs) the process
group is set up through accelerate's ``PartialState`` from the launcher's environment, and then:

* every rank draws the same schedule of micro-batches (seeded), and takes its share of each one
  (:meth:`Ranks.shard`: indices ``rank::world``);
* each rank's loss is normalised by the *whole* micro-batch's counts (pairs, and completion tokens for
  an SFT term), so after :meth:`Ranks.sum_gradients` adds the ranks' gradients, the update is the one a
  single process makes on the whole batch, up to float summation order;
* logged values are sums over ranks (:meth:`Ranks.sum`), so every rank logs the single-process numbers;
* only rank 0 writes: step logs, checkpoints and run artifacts (:attr:`Ranks.main`), and the others wait
  for it (:meth:`Ranks.barrier`).

``polyrlaif train`` under ``accelerate launch`` runs its recipe on rank 0 alone (sampling, verifying,
judging, evaluation, every artifact and the judge cache), and trains on every rank: rank 0's trainer is a
:class:`LaunchedTrainer`, which sends each ``train`` call to the other ranks, waiting in
:func:`serve_training`, before making it itself.

This is plain all-reduce data parallelism, what DDP does, written out so the fast DPO step keeps its own
batching (packed pairs, the reference log-probs computed once); TRL's trainers get the same from
``Trainer`` under the same launcher.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "LAUNCHED_BACKENDS",
    "SHARDED_BACKENDS",
    "LaunchedTrainer",
    "Ranks",
    "ranks",
    "release_workers",
    "serve_training",
    "shutdown",
]

#: The trainers that train across the ranks of a launcher: the fast DPO step, TRL's DPO, TRL's GRPO and
#: RLOO (each rank generates and scores its share of every batch), the reward model and Diffusion-DPO.
LAUNCHED_BACKENDS = ("fast", "trl", "grpo", "rloo", "reward_model", "diffusion_dpo")

#: The trainers that also shard their model under an FSDP config (:mod:`polyrlaif.core.trainers.sharding`).
SHARDED_BACKENDS = ("fast",)


@dataclass(frozen=True)
class Ranks:
    """This process's place among the training processes."""

    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        """True on the process that writes (rank 0)."""
        return self.rank == 0

    def shard(self, idx: Sequence[int]) -> list[int]:
        """This rank's share of a micro-batch's example indices."""
        return list(idx[self.rank :: self.world])

    def sum(self, values: Sequence[float]) -> list[float]:
        """``values`` summed element-wise over the ranks (float64), on every rank."""
        if self.world == 1:
            return [float(v) for v in values]
        import torch
        import torch.distributed as dist

        t = torch.tensor([float(v) for v in values], dtype=torch.float64)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.tolist()

    def sum_gradients(self, params: Iterable[Any]) -> None:
        """Add the ranks' gradients of ``params`` in place (a rank that saw no example adds zeros)."""
        if self.world == 1:
            return
        import torch
        import torch.distributed as dist

        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)

    def barrier(self) -> None:
        """Wait until every rank gets here."""
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()


def per_rank_batch(batch_size: int) -> int:
    """A ``Trainer``'s per-device batch under a launcher: ``batch_size`` (``optim.batch_size``, the batch
    one process trains on) split over the ranks, so every optimiser step sees as many examples as in one
    process.

    Raises:
        ValueError: ``batch_size`` is not a multiple of the number of processes.
    """
    world = ranks().world
    if batch_size % world:
        raise ValueError(
            f"optim.batch_size={batch_size} does not split over {world} processes: use a multiple of {world}"
        )
    return batch_size // world


def ranks() -> Ranks:
    """The current process's :class:`Ranks`; under a launcher (``WORLD_SIZE`` > 1) the process group is
    started on first use, through accelerate (gloo on CPU, NCCL on GPUs)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return Ranks()
    import torch.distributed as dist

    if not dist.is_initialized():
        from datetime import timedelta

        from accelerate import PartialState

        # the other ranks wait while rank 0 samples, judges and evaluates a round: hours, not minutes
        PartialState(timeout=timedelta(hours=24))
    return Ranks(dist.get_rank(), dist.get_world_size())


def _send(message: tuple) -> None:
    import torch.distributed as dist

    dist.broadcast_object_list([message], src=0)


def _receive() -> tuple:
    import torch.distributed as dist

    box: list[Any] = [None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


class LaunchedTrainer:
    """Rank 0's trainer under a launcher: each ``train`` call is first sent to the other ranks, which
    are waiting in :func:`serve_training`, so every rank trains on the same data at once. The data go
    by cloudpickle, so an online task's reward callables (closures over judges and verifiers, which
    pickle as their settings: a judge cache as its file) reach every rank.

    Args:
        inner: this rank's trainer.
        name: its registry name, which the other ranks build theirs by.
    """

    def __init__(self, inner: Any, name: str) -> None:
        self.inner, self.name = inner, name

    def train(self, model_path: str, data: Any, output_dir: Any, **kwargs: Any) -> Any:
        """Send the call to the other ranks, then train here (see the wrapped trainer's ``train``)."""
        import cloudpickle

        _send(("train", self.name, model_path, cloudpickle.dumps(data), str(output_dir), kwargs))
        return self.inner.train(model_path, data, output_dir, **kwargs)


def serve_training(build: Any) -> None:
    """What a rank other than 0 does for a whole run: wait for rank 0's training calls and join each one,
    until :func:`release_workers`. ``build(name)`` makes this rank's trainer of that registry name (once
    per name). Sampling, judging, evaluation and every run artifact stay with rank 0, which runs the
    recipe."""
    import logging
    import pickle
    from pathlib import Path

    logging.getLogger("polyrlaif").setLevel(logging.WARNING)  # rank 0's log tells the run's story
    trainers: dict[str, Any] = {}
    while True:
        message = _receive()
        if message[0] == "stop":
            return
        _, name, model_path, data, output_dir, kwargs = message
        trainer = trainers.setdefault(name, build(name))
        trainer.train(model_path, pickle.loads(data), Path(output_dir), **kwargs)


def release_workers() -> None:
    """Rank 0, at the end of a run (or on its error): let the ranks in :func:`serve_training` exit."""
    if ranks().world > 1:
        _send(("stop",))


def shutdown() -> None:
    """Every rank, last: destroy the process group, so its communication threads stop before the
    interpreter exits (a gloo group left alive at exit can abort the process with "terminate called
    without an active exception", as PyTorch warns). Nothing to do in one process."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
