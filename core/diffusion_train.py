"""Training a text-to-image pipeline's UNet: the pieces every diffusion trainer shares, and plain
denoising fine-tuning.

:func:`load_train_parts` opens a pipeline (ours in pixel space, or a latent one with a VAE such as
SD 1.5) for training its UNet with the text encoder and VAE frozen. Images become the UNet's inputs
once, up front (:func:`encode_image_files`: pixels in [-1, 1], or VAE latents times the scaling factor),
and prompts become text-encoder states once (:func:`encode_prompts`), since neither changes in training.
The noising uses a ``DDPMScheduler`` built from the saved scheduler's config (the same noise schedule,
whatever scheduler the pipeline samples with), and :func:`noise_target` follows its prediction type.

:func:`denoise_train` is the pretraining stage of a synthetic world: the standard epsilon-MSE denoising
loss on (image, caption) rows, captions dropped 10% of the time so classifier-free guidance has an
unconditional model to contrast with. Diffusion-DPO is in :mod:`polyrlaif.core.trainers.diffusion_dpo`.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyrlaif.core import tracking
from polyrlaif.core.media import load_image
from polyrlaif.core.trainers.base import TrainResult, finished_result, publish_checkpoint

if TYPE_CHECKING:
    import torch

__all__ = [
    "STEPS_FILE",
    "StepLog",
    "TrainParts",
    "denoise_train",
    "encode_image_files",
    "encode_prompts",
    "image_to_tensor",
    "item_noise",
    "load_train_parts",
    "min_snr_weight",
    "noise_target",
    "per_sample_mse",
]

log = logging.getLogger(__name__)

STEPS_FILE = "steps.jsonl"


@dataclass
class TrainParts:
    """A pipeline opened for training its UNet.

    Attributes:
        pipe: the pipeline; its ``unet`` is trained in place, the rest is frozen.
        device: where training runs.
        amp_dtype: the autocast dtype on CUDA, or ``None`` (float32).
        noise_scheduler: a ``DDPMScheduler`` with the pipeline's noise schedule.
        height: training image height in pixels.
        width: training image width in pixels.
    """

    pipe: Any
    device: str
    amp_dtype: Any
    noise_scheduler: Any
    height: int
    width: int

    def autocast(self) -> Any:
        """The autocast context of a forward pass (a no-op in float32)."""
        import torch

        return torch.autocast(
            self.device.split(":")[0], dtype=self.amp_dtype, enabled=self.amp_dtype is not None
        )


def load_train_parts(model_path: str, *, dtype: str = "auto", device: str = "auto") -> TrainParts:
    """Load a text-to-image pipeline for UNet training: float32 weights, text encoder and VAE frozen.

    Args:
        model_path: a pipeline directory or hub id (see :func:`polyrlaif.core.diffusion.load_t2i_pipeline`).
        dtype: the compute dtype; on CUDA anything but float32 runs under autocast, on CPU training is
            float32.
        device: ``auto``, ``cpu`` or ``cuda[:i]``.

    Raises:
        NotImplementedError: a UNet with added conditioning (SDXL's pooled text and size embeddings).
    """
    import torch
    from diffusers import DDPMScheduler

    from polyrlaif.core.diffusion import load_t2i_pipeline
    from polyrlaif.core.models import pick_device, pick_dtype, set_cpu_threads

    dev = pick_device(device)
    compute = pick_dtype(dtype, dev)
    if dev == "cpu":
        set_cpu_threads()
        if compute != torch.float32:
            log.warning("training on CPU in float32 (dtype %s ignored)", compute)
            compute = torch.float32
    pipe = load_t2i_pipeline(model_path, dtype="float32", device=dev)
    if getattr(pipe.unet.config, "addition_embed_type", None) not in (None, "text"):
        raise NotImplementedError(
            f"{model_path}: the UNet takes added conditioning ({pipe.unet.config.addition_embed_type}, "
            "as SDXL does); training supports single-text-encoder pipelines (ours, SD 1.x/2.x)"
        )
    for name in ("text_encoder", "vae"):
        module = getattr(pipe, name, None)
        if module is not None:
            module.requires_grad_(False).eval()
    scale = getattr(pipe, "vae_scale_factor", 1) if getattr(pipe, "vae", None) is not None else 1
    size = pipe.unet.config.sample_size * scale
    return TrainParts(
        pipe=pipe,
        device=dev,
        amp_dtype=None if compute == torch.float32 else compute,
        noise_scheduler=DDPMScheduler.from_config(pipe.scheduler.config),
        height=size,
        width=size,
    )


def image_to_tensor(image: Any, height: int, width: int) -> torch.Tensor:
    """An RGB PIL image as a ``(3, height, width)`` float tensor in [-1, 1] (centre-cropped and resized
    when its size differs)."""
    import numpy as np
    import torch
    from PIL import Image, ImageOps

    if image.size != (width, height):
        image = ImageOps.fit(image, (width, height), Image.Resampling.BICUBIC)
    arr = np.asarray(image.convert("RGB"), dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()


def encode_image_files(
    parts: TrainParts, paths: Sequence[str], wheres: Sequence[str], *, batch_size: int = 16
) -> torch.Tensor:
    """The UNet's clean inputs for image files, on the CPU: pixels in [-1, 1], or VAE latents (the
    posterior mean times the VAE's scaling factor) when the pipeline has a VAE.

    Args:
        parts: the opened pipeline.
        paths: image files.
        wheres: for each file, what refers to it (for the error message).
        batch_size: images per VAE call.

    Raises:
        InputError: a file is missing or not a readable image.
    """
    import torch

    vae = getattr(parts.pipe, "vae", None)
    out = []
    for start in range(0, len(paths), batch_size):
        pix = torch.stack(
            [
                image_to_tensor(load_image(p, where=w), parts.height, parts.width)
                for p, w in zip(
                    paths[start : start + batch_size], wheres[start : start + batch_size], strict=True
                )
            ]
        )
        if vae is None:
            out.append(pix)
            continue
        with torch.no_grad():
            latents = vae.encode(pix.to(parts.device, vae.dtype)).latent_dist.mode()
        shift = getattr(vae.config, "shift_factor", None) or 0.0
        out.append(((latents - shift) * vae.config.scaling_factor).float().cpu())
    return torch.cat(out)


def encode_prompts(parts: TrainParts, texts: Sequence[str], *, batch_size: int = 64) -> torch.Tensor:
    """Frozen text-encoder states for ``texts`` (each distinct text encoded once), on the CPU."""
    import torch

    from polyrlaif.core.diffusion import encode_text

    distinct = list(dict.fromkeys(texts))
    states = []
    with torch.no_grad():
        for start in range(0, len(distinct), batch_size):
            states.append(
                encode_text(parts.pipe, distinct[start : start + batch_size], parts.device).float().cpu()
            )
    table = torch.cat(states)
    index = {t: i for i, t in enumerate(distinct)}
    return table[[index[t] for t in texts]]


def noise_target(scheduler: Any, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """What the UNet is trained to predict under the scheduler's ``prediction_type``.

    Raises:
        ValueError: an unknown prediction type.
    """
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        return noise
    if kind == "v_prediction":
        return scheduler.get_velocity(x0, noise, t)
    if kind == "sample":
        return x0
    raise ValueError(f"unknown prediction_type {kind!r}; valid: epsilon, v_prediction, sample")


def per_sample_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error per sample (over all but the first dimension), in float32."""
    return (pred.float() - target.float()).pow(2).mean(dim=tuple(range(1, pred.ndim)))


def min_snr_weight(scheduler: Any, t: torch.Tensor, gamma: float) -> torch.Tensor:
    """Min-SNR-gamma loss weights of epsilon prediction: ``min(SNR(t), gamma) / SNR(t)`` per sample."""
    import torch

    alphas = scheduler.alphas_cumprod.to(t.device)[t].float()
    snr = alphas / (1 - alphas)
    return torch.clamp(snr, max=gamma) / snr


def item_noise(seed: int, epoch: int, index: int, shape: Sequence[int]) -> torch.Tensor:
    """The Gaussian noise of one training item in one epoch: a function of those three numbers only,
    drawn on the CPU (the same on any device), so any pass can draw it again instead of storing it."""
    import torch

    gen = torch.Generator().manual_seed((seed * 1_000_003 + epoch * 10_007 + index) % (2**63 - 1))
    return torch.randn(tuple(shape), generator=gen)


class StepLog:
    """``<output_dir>/steps.jsonl``: one JSON row per optimiser step, appended as training goes (to a
    ``.partial`` file) and renamed to its final name by :meth:`close`."""

    def __init__(self, output_dir: Path) -> None:
        output_dir.mkdir(parents=True, exist_ok=True)
        self._final = output_dir / STEPS_FILE
        self._partial = output_dir / f"{STEPS_FILE}.partial"
        self._fh = self._partial.open("w", encoding="utf-8")

    def write(self, row: dict[str, Any]) -> None:
        """Append one step's row (and log it to the run's tracker)."""
        self._fh.write(json.dumps(row) + "\n")
        self._fh.flush()
        tracking.log_step(row)

    def close(self) -> None:
        """Publish the file."""
        self._fh.close()
        self._partial.replace(self._final)


def denoise_train(
    model_path: str,
    rows: Sequence[tuple[str | Path, str]],
    output_dir: str | Path,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    max_steps: int | None = None,
    caption_dropout: float = 0.1,
    train_text_encoder: bool = False,
    snr_gamma: float | None = None,
    dtype: str = "auto",
    device: str = "auto",
) -> TrainResult:
    """Fine-tune (or pretrain) a pipeline's UNet with the denoising loss on (image file, caption) rows.

    Each step draws fresh noise and timesteps; a caption is replaced by the empty prompt with
    probability ``caption_dropout``. AdamW (weight decay 0.01), a 5% warm-up then cosine decay,
    gradients clipped to norm 1. The full pipeline is published to ``<output_dir>/model``; a rerun
    with a finished one returns it at once. ``<output_dir>/steps.jsonl`` logs every step.

    From scratch, a frozen random text encoder leaves the UNet little to read: ``train_text_encoder``
    trains it too (the pretraining of a synthetic world; fine-tuning a pretrained pipeline keeps it
    frozen). ``snr_gamma`` weights each sample's loss by ``min(SNR(t), gamma) / SNR(t)`` (Min-SNR,
    Hang et al. 2023, as diffusers' training scripts do for epsilon prediction), which keeps the
    nearly clean timesteps from dominating and speeds up convergence.

    Args:
        model_path: the starting pipeline (directory or hub id).
        rows: ``(image_path, caption)`` pairs.
        output_dir: where the checkpoint and the step log go.
        epochs: passes over ``rows``.
        lr: peak learning rate.
        batch_size: images per step.
        seed: data order, noise, timesteps and caption dropout.
        max_steps: stop after this many steps (default: all epochs).
        caption_dropout: probability of training a row unconditionally.
        train_text_encoder: train the text encoder with the UNet.
        snr_gamma: Min-SNR loss weighting (``None``: plain mean squared error; epsilon prediction only).
        dtype: compute dtype (see :func:`load_train_parts`).
        device: ``auto``, ``cpu`` or ``cuda[:i]``.

    Returns:
        The published result; metrics ``train_loss`` (mean over the last epoch), ``train_loss_first``
        (over the first), ``steps``, ``images``, ``train_seconds``.

    Raises:
        ValueError: no rows.
        InputError: an image file is missing or unreadable (before any training).
    """
    output_dir = Path(output_dir)
    done = finished_result(output_dir)
    if done is not None:
        return done
    if not rows:
        raise ValueError("no (image, caption) rows to train on")
    if snr_gamma is not None and snr_gamma <= 0:
        raise ValueError(f"snr_gamma must be > 0, got {snr_gamma}")
    import torch
    from diffusers.optimization import get_cosine_schedule_with_warmup
    from tqdm.auto import tqdm

    from polyrlaif.core.diffusion import encode_text

    torch.manual_seed(seed)
    parts = load_train_parts(model_path, dtype=dtype, device=device)
    if snr_gamma is not None and parts.noise_scheduler.config.prediction_type != "epsilon":
        raise ValueError("snr_gamma weighting is written for epsilon prediction")
    images = encode_image_files(parts, [str(p) for p, _ in rows], [f"row {i}" for i in range(len(rows))])
    texts = [c for _, c in rows]
    unet, sched, dev = parts.pipe.unet, parts.noise_scheduler, parts.device
    encoder = parts.pipe.text_encoder
    if train_text_encoder:
        encoder.requires_grad_(True).train()
    else:
        captions, empty = encode_prompts(parts, texts), encode_prompts(parts, [""])[0]
    unet.train()
    n = len(rows)
    total = epochs * math.ceil(n / batch_size)
    total = min(total, max_steps) if max_steps else total
    params = [p for m in (unet, encoder) for p in m.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-2, fused=True)
    lr_sched = get_cosine_schedule_with_warmup(opt, max(1, total // 20), total)
    gen = torch.Generator().manual_seed(seed)
    steps_log = StepLog(output_dir)
    bar = tqdm(total=total, desc="denoise", unit="step")
    epoch_means: list[float] = []
    step, start = 0, time.perf_counter()
    for epoch in range(epochs):
        order, losses = torch.randperm(n, generator=gen), []
        for b in range(0, n, batch_size):
            if step >= total:
                break
            idx = order[b : b + batch_size]
            drop = torch.rand(len(idx), generator=gen) < caption_dropout  # unconditional rows, for CFG
            x0, noise = images[idx], torch.randn(images[idx].shape, generator=gen)
            t = torch.randint(0, sched.config.num_train_timesteps, (len(idx),), generator=gen)
            x0, noise, t = x0.to(dev), noise.to(dev), t.to(dev)
            with parts.autocast():
                if train_text_encoder:
                    batch = ["" if d else texts[i] for i, d in zip(idx.tolist(), drop.tolist(), strict=True)]
                    emb = encode_text(parts.pipe, batch, dev)
                else:
                    emb = captions[idx].clone()
                    emb[drop] = empty
                    emb = emb.to(dev)
                pred = unet(sched.add_noise(x0, noise, t), t, encoder_hidden_states=emb).sample
            mse = per_sample_mse(pred, noise_target(sched, x0, noise, t))
            loss = (mse * min_snr_weight(sched, t, snr_gamma)).mean() if snr_gamma else mse.mean()
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(params, 1.0).item()
            opt.step()
            lr_sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            losses.append(loss.item())
            steps_log.write({"step": step, "epoch": epoch, "loss": losses[-1], "grad_norm": grad_norm})
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
            bar.update(1)
        if losses:
            epoch_means.append(sum(losses) / len(losses))
    bar.close()
    steps_log.close()
    unet.eval()
    encoder.requires_grad_(False).eval()
    metrics = {
        "train_loss": epoch_means[-1],
        "train_loss_first": epoch_means[0],
        "steps": float(step),
        "images": float(n),
        "train_seconds": round(time.perf_counter() - start, 3),
    }
    return publish_checkpoint(output_dir, parts.pipe.save_pretrained, metrics)
