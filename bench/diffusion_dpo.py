"""Our Diffusion-DPO step (``optim.backend=diffusion_dpo``) against a straightforward one, in one process.

Both train the same UNet from the same weights on the same pairs with the same hyperparameters (full
fine-tuning, beta 1000, AdamW lr 1e-5 with weight decay 0.01, gradients clipped to norm 1, ``--batch``
pairs per step, 4 by default), and draw the same randomness (the trainer's
:class:`~polyrlaif.core.trainers.diffusion_dpo.DPOPlan`: each epoch's pair order, one timestep and one
noise per pair and epoch), so their losses agree (the first step's exactly: log 2).
Two runs per repeat, alternating:

* ``ours``: :meth:`DiffusionDPOTrainer.reference_errors` (the reference's errors of every step, in one
  no-grad pass before training) then :meth:`DiffusionDPOTrainer.optimise` (chosen and rejected in one
  batched UNet forward), both timed;
* ``straight``: the step written the straightforward way: the reference run on every step, here as a
  frozen copy of the UNet (the DiffusionDPO repository keeps such a copy; diffusers' community LoRA
  script switches the adapters off instead), and the chosen and the rejected images through separate
  UNet forwards, policy and reference (those two scripts batch them, as we do), with PyTorch's default
  AdamW.

Both take the same pre-encoded inputs (pixels or latents, and text-encoder states), so the difference
is the UNet work and the update alone. Presets:

* ``tiny`` (default): the pixel-space pipeline of :func:`polyrlaif.core.diffusion.build_tiny_t2i`
  (32x32 RGB, its own text encoder), float32 on CPU;
* ``sd15``: a UNet of Stable Diffusion 1.5's configuration (860M parameters, random weights) on 64x64x4
  latents with random 77x768 text states, bfloat16 autocast on CUDA. For a GPU.

Printed: per run its seconds, pairs/s and losses; then the median pairs/s of each, and the last line
``ratio=X loss_maxdiff=Y``: our pairs/s over the straightforward step's, and the largest absolute
difference of the two runs' first-step losses.

Usage::

    python bench/diffusion_dpo.py --quick                      # 2 repeats of 3 epochs: 1-2 minutes
    python bench/diffusion_dpo.py --epochs 4 --repeats 3
    python bench/diffusion_dpo.py --preset sd15 --pairs 16 --epochs 2 --repeats 2   # on a GPU
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import PeakRSS

BETA, LR = 1000.0, 1e-5


def sd15_unet_config() -> dict[str, Any]:
    """The ``UNet2DConditionModel`` configuration of Stable Diffusion 1.5 (``unet/config.json``)."""
    return {
        "sample_size": 64,
        "in_channels": 4,
        "out_channels": 4,
        "layers_per_block": 2,
        "block_out_channels": (320, 640, 1280, 1280),
        "down_block_types": ("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        "up_block_types": ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        "cross_attention_dim": 768,
        "attention_head_dim": 8,
        "norm_num_groups": 32,
    }


def setup(preset: str, n_pairs: int, device: str, tmp: Path) -> tuple[Any, dict[str, Any], Any, tuple]:
    """The UNet's class and starting weights, the training parts and the pairs' inputs for ``preset``."""
    import torch
    from diffusers import DDPMScheduler, UNet2DConditionModel

    from polyrlaif.core.diffusion_train import TrainParts, encode_prompts, load_train_parts

    gen = torch.Generator().manual_seed(0)
    if preset == "tiny":
        from polyrlaif.core.diffusion import build_tiny_t2i

        path = build_tiny_t2i(tmp / "tiny", ["a", "red", "blue", "green", "square", "circle"])
        parts = load_train_parts(str(path), device=device)
        words = ["red square", "blue circle", "a green square", "circle"]
        states = encode_prompts(parts, [words[i % len(words)] for i in range(n_pairs)])
        unet, parts.pipe = parts.pipe.unet, None
        shape = (3, parts.height, parts.width)
    else:
        torch.manual_seed(0)
        unet = UNet2DConditionModel(**sd15_unet_config())
        amp = torch.bfloat16 if device.startswith("cuda") else None
        scheduler = DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
        parts = TrainParts(
            pipe=None, device=device, amp_dtype=amp, noise_scheduler=scheduler, height=512, width=512
        )
        states = torch.randn(n_pairs, 77, 768, generator=gen)
        shape = (4, 64, 64)
    x_w = torch.rand(n_pairs, *shape, generator=gen) * 2 - 1
    x_l = torch.rand(n_pairs, *shape, generator=gen) * 2 - 1
    init = {k: v.detach().clone() for k, v in unet.state_dict().items()}
    return unet, init, parts, (x_w, x_l, states)


def fresh_unet(unet: Any, init: dict[str, Any], device: str) -> Any:
    """The UNet at its starting weights, in float32 on ``device``, ready to train."""
    unet.load_state_dict(init)
    return unet.to(device).float().train().requires_grad_(True)


def run_ours(unet: Any, parts: Any, plan: Any, data: tuple, batch: int, out: Path) -> dict[str, Any]:
    from polyrlaif.core.config import LoraConfig, OptimConfig, TrainConfig
    from polyrlaif.core.trainers.diffusion_dpo import DiffusionDPOTrainer

    optim = OptimConfig(
        backend="diffusion_dpo", beta=BETA, lr=LR, batch_size=batch, lora=LoraConfig(enabled=False)
    )
    trainer = DiffusionDPOTrainer(TrainConfig(optim=optim))
    start = time.perf_counter()
    unet.eval()
    reference = trainer.reference_errors(unet, parts, plan, data)
    ref_seconds = time.perf_counter() - start
    unet.train()
    history = trainer.optimise(unet, parts, plan, data, reference, out)
    seconds = _sync(parts) - start
    return {"seconds": seconds, "reference_seconds": ref_seconds, "losses": [h["loss"] for h in history]}


def run_straight(unet: Any, parts: Any, plan: Any, data: tuple) -> dict[str, Any]:
    """The straightforward step: separate forwards, the reference copy run on every step."""
    import torch
    import torch.nn.functional as F

    start = time.perf_counter()
    ref_unet = copy.deepcopy(unet).requires_grad_(False).eval()
    opt = torch.optim.AdamW(unet.parameters(), lr=LR, weight_decay=1e-2)
    dev, (x_w_all, x_l_all, states_all) = parts.device, data
    losses = []
    for epoch, batches in plan.steps:
        n_step, step_loss = sum(len(idx) for idx in batches), 0.0
        for idx in batches:
            x_w, x_l, states = x_w_all[idx].to(dev), x_l_all[idx].to(dev), states_all[idx].to(dev)
            noise = plan.noise(epoch, idx, x_w.shape[1:]).to(dev)
            t = plan.timesteps[0, epoch, idx].to(dev)
            e_w, e_l = (
                _errors(unet, parts, x_w, noise, t, states),
                _errors(unet, parts, x_l, noise, t, states),
            )
            with torch.no_grad():
                r_w = _errors(ref_unet, parts, x_w, noise, t, states)
                r_l = _errors(ref_unet, parts, x_l, noise, t, states)
            loss = -F.logsigmoid(-0.5 * BETA * ((e_w - e_l) - (r_w - r_l))).mean()
            (loss * len(idx) / n_step).backward()
            step_loss += loss.item() * len(idx) / n_step
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(step_loss)
    return {"seconds": _sync(parts) - start, "losses": losses}


def _errors(model: Any, parts: Any, x0: Any, noise: Any, t: Any, states: Any) -> Any:
    """Per-sample denoising errors of one side of the pairs, as the community script computes them."""
    import torch.nn.functional as F

    from polyrlaif.core.diffusion_train import noise_target

    sched = parts.noise_scheduler
    with parts.autocast():
        pred = model(sched.add_noise(x0, noise, t), t, encoder_hidden_states=states).sample
    target = noise_target(sched, x0, noise, t)
    return F.mse_loss(pred.float(), target.float(), reduction="none").mean(dim=[1, 2, 3])


def _sync(parts: Any) -> float:
    import torch

    if parts.device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", choices=["tiny", "sd15"], default="tiny")
    p.add_argument("--pairs", type=int, default=32)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch", type=int, default=4, help="pairs per step")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="auto")
    p.add_argument("--quick", action="store_true", help="3 epochs, 2 repeats")
    args = p.parse_args(argv)
    if args.quick:
        args.epochs, args.repeats = 3, 2

    import logging
    import os

    os.environ["TQDM_DISABLE"] = "1"  # the trainer's progress bars; read when tqdm is imported

    import torch

    from polyrlaif.core.models import pick_device, set_cpu_threads
    from polyrlaif.core.trainers.diffusion_dpo import DPOPlan

    logging.disable(logging.WARNING)
    device = pick_device(args.device)
    set_cpu_threads()
    with tempfile.TemporaryDirectory() as tmp:
        unet, init, parts, data = setup(args.preset, args.pairs, device, Path(tmp))
        steps_per_epoch = -(-args.pairs // args.batch)
        plan = DPOPlan.draw(
            args.pairs,
            epochs=args.epochs,
            batch_size=args.batch,
            grad_accum=1,
            max_steps=-1,
            seed=0,
            timesteps=parts.noise_scheduler.config.num_train_timesteps,
        )
        params = sum(v.numel() for v in init.values()) / 1e6
        print(
            f"preset {args.preset} ({params:.1f}M-parameter UNet, inputs {tuple(data[0].shape[1:])}); "
            f"{args.pairs} pairs x {args.epochs} epochs = {len(plan.steps)} steps of {args.batch} pairs "
            f"({steps_per_epoch} per epoch); {device}, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads",
            flush=True,
        )
        results: dict[str, list[dict[str, Any]]] = {"ours": [], "straight": []}
        for rep in range(args.repeats):
            order = ["ours", "straight"] if rep % 2 == 0 else ["straight", "ours"]  # drift hits both
            for name in order:
                model = fresh_unet(unet, init, device)
                if device.startswith("cuda"):
                    torch.cuda.reset_peak_memory_stats()
                with PeakRSS() as mem:
                    if name == "ours":
                        got = run_ours(model, parts, plan, data, args.batch, Path(tmp) / f"ours{rep}")
                    else:
                        got = run_straight(model, parts, plan, data)
                peak = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else mem.peak_mb
                got["peak_mb"] = peak
                results[name].append(got)
                rate = args.pairs * args.epochs / got["seconds"]
                extra = f" (reference pass {got['reference_seconds']:.1f} s)" if name == "ours" else ""
                print(
                    f"  repeat {rep + 1} {name:8s} {got['seconds']:7.1f} s{extra}  {rate:.2f} pairs/s  "
                    f"peak +{peak:.0f} MB  losses {[round(x, 6) for x in got['losses']]}",
                    flush=True,
                )

    def rate(name: str) -> float:
        return statistics.median(args.pairs * args.epochs / r["seconds"] for r in results[name])

    for name in results:
        print(f"{name}: {rate(name):.2f} pairs/s, peak +{max(r['peak_mb'] for r in results[name]):.0f} MB")
    pairs = list(zip(results["ours"], results["straight"], strict=True))
    all_steps = max(abs(a - b) for o, s in pairs for a, b in zip(o["losses"], s["losses"], strict=True))
    print(f"largest loss difference over all steps: {all_steps:.2e}")
    first = max(abs(o["losses"][0] - s["losses"][0]) for o, s in pairs)
    print(f"ratio={rate('ours') / rate('straight'):.2f} loss_maxdiff={first:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
