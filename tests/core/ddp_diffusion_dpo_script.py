"""Trains Diffusion-DPO once, as ``test_ddp_fast_dpo.py`` asks: in one process, or as each of the processes
``accelerate launch --num_processes 2`` starts. Args: pipeline dir, image dir (red.png, blue.png), output
dir. 7 pairs in micro-batches of 4, so the ranks' shares of the second differ in size. Every checkpoint
write is recorded in ``<output dir>.writers`` with the rank that made it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from polyrlaif.core.config import LoraConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig
from polyrlaif.core.records import MediaRef, PreferencePair
from polyrlaif.core.trainers import diffusion_dpo


def main(pipe: str, images: str, out: str) -> None:
    publish = diffusion_dpo.publish_checkpoint

    def recording(*args, **kwargs):
        with open(f"{out}.writers", "a") as f:
            f.write(f"{os.environ.get('RANK', '0')}\n")
        return publish(*args, **kwargs)

    diffusion_dpo.publish_checkpoint = recording
    with open(f"{out}.ranks", "a") as f:
        f.write(f"{os.environ.get('RANK', '0')}/{os.environ.get('WORLD_SIZE', '1')}\n")
    pairs = [
        PreferencePair(
            pair_id=f"p{i}", prompt_id=f"q{i}", prompt="red", chosen="", rejected="",
            chosen_media=[MediaRef(kind="image", uri=f"{images}/red.png")],
            rejected_media=[MediaRef(kind="image", uri=f"{images}/blue.png")],
        )
        for i in range(7)
    ]  # fmt: skip
    optim = OptimConfig(backend="diffusion_dpo", beta=1000.0, lr=1e-4, epochs=2, batch_size=4,
                        lora=LoraConfig(enabled=False))  # fmt: skip
    cfg = TrainConfig(run=RunConfig(seed=0), model=ModelConfig(device="cpu"), optim=optim)
    diffusion_dpo.DiffusionDPOTrainer(cfg).train(pipe, pairs, Path(out))


if __name__ == "__main__":
    main(*sys.argv[1:4])
