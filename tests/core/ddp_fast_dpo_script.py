"""Trains a DPO backend once, as ``test_ddp_fast_dpo.py`` asks: run in one process, or as each of the
processes ``accelerate launch --num_processes 2`` starts. Args: model dir, output dir, sft weight, backend
(``fast``: 7 pairs in batches of 4; ``trl`` and ``reward_model``: 8 pairs in one batch of 8, whose order
then cannot differ), ``lora`` or ``full`` (default).
Every checkpoint write (``publish_checkpoint``) is recorded in ``<output dir>.writers`` with the rank that
made it; under an FSDP launch each rank's share of the weights after sharding in ``<output dir>.sharded``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from polyrlaif.core.config import LoraConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig
from polyrlaif.core.records import PreferencePair
from polyrlaif.core.trainers import base, fast_dpo, reward_model, trl_dpo


def pairs(n: int) -> list[PreferencePair]:
    return [
        PreferencePair(
            pair_id=f"p{i}",
            prompt_id=f"q{i}",
            prompt=f"Write a function that adds {i} to x.",
            chosen=f"def f(x):\n    return x + {i}\n" * (1 + i % 3),
            rejected="I am not sure how to do that." + " no" * i,
        )
        for i in range(n)
    ]


def main(model: str, out: str, sft_weight: float, backend: str, lora: bool) -> None:
    publish = base.publish_checkpoint
    shard = fast_dpo.shard_model

    def sharding(m):
        root = shard(m)
        held = sum(p.to_local().numel() for p in m.parameters())
        with open(f"{out}.sharded", "a") as f:
            f.write(f"{os.environ.get('RANK', '0')} {held / sum(p.numel() for p in m.parameters()):.2f}\n")
        return root

    fast_dpo.shard_model = sharding

    def recording(*args, **kwargs):
        with open(f"{out}.writers", "a") as f:
            f.write(f"{os.environ.get('RANK', '0')}\n")
        return publish(*args, **kwargs)

    base.publish_checkpoint = recording
    with open(f"{out}.ranks", "a") as f:  # which processes ran, and in how big a world
        f.write(f"{os.environ.get('RANK', '0')}/{os.environ.get('WORLD_SIZE', '1')}\n")
    # fast: the second micro-batch of each epoch has 3 pairs, so the ranks' shares differ in size
    n, batch, epochs = (7, 4, 2) if backend == "fast" else (8, 8, 3)
    if (
        lora
    ):  # an epoch's last micro-batch holds 1 pair: rank 1's share is empty (sharded, it runs at weight 0)
        n = 5
    optim = OptimConfig(
        beta=0.1, sft_weight=sft_weight, lr=2e-4, batch_size=batch, grad_accum=1, max_length=48,
        epochs=epochs, lora=LoraConfig(enabled=lora, r=4, alpha=8),
    )  # fmt: skip
    if backend == "reward_model":  # every pair trains: none held out, so the ranks' batches are the same
        optim.reward_eval_fraction, optim.max_length = 0.0, 256  # (it counts the chat template's tokens)
    cfg = TrainConfig(optim=optim, model=ModelConfig(device="cpu"), run=RunConfig(seed=5))
    trainers = {"fast": fast_dpo.FastDPOTrainer, "trl": trl_dpo.TRLDPOTrainer,
                "reward_model": reward_model.RewardModelTrainer}  # fmt: skip
    trainer = trainers[backend](cfg)
    trainer.train(model, pairs(n), Path(out))


if __name__ == "__main__":
    main(
        sys.argv[1],
        sys.argv[2],
        float(sys.argv[3]),
        sys.argv[4] if len(sys.argv) > 4 else "fast",
        len(sys.argv) > 5 and sys.argv[5] == "lora",
    )
