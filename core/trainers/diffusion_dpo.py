"""Diffusion-DPO (Wallace et al. 2023) on a text-to-image pipeline's UNet; registered as ``diffusion_dpo``.

The loss is :func:`polyrlaif.core.losses.diffusion_dpo_loss`: for each pair, the chosen and the rejected
image are noised with the same noise at the same timestep and go through the UNet in one batched
forward, and the policy is rewarded for denoising the chosen one better, and the rejected one worse,
than the frozen reference does (the loss and implicit accuracy of the DiffusionDPO repository's
``train.py``). What this trainer does differently:

* the run's randomness (each epoch's pair order, a timestep and a noise per pair and epoch) is drawn up
  front from the seed (:class:`DPOPlan`), so the reference errors of every step come from one no-grad
  pass before training: no reference copy of the UNet is kept, and on the first step the policy's errors
  equal the reference's bit for bit (the loss is exactly log 2);
* ``optim.noise_draws`` > 1 draws that many (noise, timestep) per pair and step and averages each
  image's errors over them inside the sigmoid: a lower-variance estimate of the objective's expectation
  than one draw (the repository's), at that many times the compute;
* images and prompts are encoded once (VAE latents or pixels, text-encoder states);
* under ``accelerate launch`` each rank takes its share of every micro-batch (reference errors included)
  and the ranks' gradients are summed before the step (:mod:`~polyrlaif.core.trainers.distributed`), so
  the update is one process's: a pair's noise and timestep depend on the seed, epoch and index only.

Pairs are :class:`~polyrlaif.core.records.PreferencePair` s whose ``chosen_media[0]`` and
``rejected_media[0]`` are image files, all opened before training starts (a missing one fails at once
with the pair's id). ``bench/diffusion_dpo.py`` measures the difference.
"""

from __future__ import annotations

import gc
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyrlaif.core.config import TrainConfig
from polyrlaif.core.media import image_pair_files, pair_prompt_text
from polyrlaif.core.records import PreferencePair
from polyrlaif.core.trainers.base import (
    CHECKPOINT_DIR,
    TrainResult,
    finished_result,
    freeze_parameters,
    publish_checkpoint,
    separate_reference,
)
from polyrlaif.core.trainers.distributed import Ranks, ranks

if TYPE_CHECKING:
    import torch

__all__ = ["DPOPlan", "DiffusionDPOTrainer", "dpo_errors", "image_pair_files", "pair_prompt_text"]

log = logging.getLogger(__name__)

#: How far apart the noise seeds of a pair's draws are (``optim.noise_draws``).
DRAW_SEED_STRIDE = 1_000_003


@dataclass
class DPOPlan:
    """The randomness of a run, drawn up front from the seed.

    Attributes:
        steps: per optimiser step, its epoch and its micro-batches of pair indices.
        timesteps: ``(draws, epochs, pairs)``: the timestep of each pair in each epoch, per draw.
        seed: the noise of pair ``i`` in epoch ``e`` is ``item_noise(seed, e, i, shape)`` (draw 0; draw
            ``k`` offsets the seed by ``k * DRAW_SEED_STRIDE``).
    """

    steps: list[tuple[int, list[list[int]]]]
    timesteps: torch.Tensor
    seed: int

    @classmethod
    def draw(
        cls,
        n: int,
        *,
        epochs: int,
        batch_size: int,
        grad_accum: int,
        max_steps: int,
        seed: int,
        timesteps: int,
        draws: int = 1,
    ) -> DPOPlan:
        """Each epoch's order of the ``n`` pairs, cut into steps of ``grad_accum`` micro-batches of
        ``batch_size``; ``max_steps > 0`` caps the steps (and adds epochs if it asks for more);
        ``draws`` (noise, timestep) draws per pair and epoch, the first as with one draw."""
        import torch

        gen = torch.Generator().manual_seed(seed)
        per_epoch = math.ceil(math.ceil(n / batch_size) / grad_accum)
        total = max_steps if max_steps > 0 else epochs * per_epoch
        n_epochs = math.ceil(total / per_epoch)
        steps: list[tuple[int, list[list[int]]]] = []
        for epoch in range(n_epochs):
            order = torch.randperm(n, generator=gen).tolist()
            batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
            steps += [(epoch, batches[i : i + grad_accum]) for i in range(0, len(batches), grad_accum)]
        drawn = [torch.randint(0, timesteps, (n_epochs, n), generator=gen) for _ in range(draws)]
        return cls(steps=steps[:total], timesteps=torch.stack(drawn), seed=seed)

    def noise(self, epoch: int, idx: Sequence[int], shape: Sequence[int]) -> torch.Tensor:
        """The noise of the pairs ``idx`` in ``epoch``, ``(draws * len(idx), *shape)``, draw by draw
        (each shared by its pair's two images)."""
        import torch

        from polyrlaif.core.diffusion_train import item_noise

        return torch.stack(
            [item_noise(self.seed + k * DRAW_SEED_STRIDE, epoch, i, shape)
             for k in range(len(self.timesteps)) for i in idx]
        )  # fmt: skip


def dpo_errors(
    unet: Any,
    scheduler: Any,
    x_chosen: torch.Tensor,
    x_rejected: torch.Tensor,
    states: torch.Tensor,
    noise: torch.Tensor,
    t: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pair denoising errors of the chosen and the rejected images, in one batched UNet forward.

    Args:
        unet: the UNet (policy or reference).
        scheduler: the noising scheduler (a ``DDPMScheduler``).
        x_chosen: clean chosen inputs (pixels or latents), ``(b, c, h, w)``.
        x_rejected: clean rejected inputs, same shape.
        states: the prompts' text-encoder states, ``(b, tokens, dim)``.
        noise: one noise per pair, ``(b, c, h, w)``, used for both images.
        t: one timestep per pair, ``(b,)``.

    Returns:
        ``(errors_chosen, errors_rejected)``, each ``(b,)`` in float32.
    """
    import torch

    from polyrlaif.core.diffusion_train import noise_target, per_sample_mse

    x0 = torch.cat([x_chosen, x_rejected])
    noise2, t2 = torch.cat([noise, noise]), torch.cat([t, t])
    pred = unet(
        scheduler.add_noise(x0, noise2, t2), t2, encoder_hidden_states=torch.cat([states, states])
    ).sample
    errors = per_sample_mse(pred, noise_target(scheduler, x0, noise2, t2))
    return errors[: len(t)], errors[len(t) :]


class DiffusionDPOTrainer:
    """Diffusion-DPO on image preference pairs; registered as ``diffusion_dpo``.

    Writes ``steps.jsonl`` (step, epoch, loss, rewards, denoising loss, gradient norm) next to the
    checkpoint and publishes the whole pipeline (LoRA merged), which
    :func:`~polyrlaif.core.diffusion.load_t2i_pipeline` loads.

    Args:
        cfg: the run's config; reads ``optim`` (``beta``, Diffusion-DPO's ``beta_dpo``: thousands, not a
            text DPO's 0.1; ``lr``, ``epochs``, ``batch_size``, ``grad_accum``, ``max_steps``, ``lora``),
            ``model`` (device and dtype) and ``run.seed`` (LoRA initialisation, data order, noise and
            timesteps).
    """

    name = "diffusion_dpo"

    def __init__(self, cfg: TrainConfig) -> None:
        self.optim = cfg.optim
        self.model_cfg = cfg.model
        self.seed = cfg.run.seed
        self.ranks: Ranks = Ranks()

    def train(
        self,
        model_path: str,
        pairs: Sequence[PreferencePair],
        output_dir: Path,
        *,
        seed: int | None = None,
        reference: str | None = None,
    ) -> TrainResult:
        """Train the UNet on ``pairs`` from ``model_path``; publish the pipeline to ``output_dir/model``.

        Returns the earlier result if ``output_dir/model`` is finished. ``reference``: the pipeline whose
        UNet the update is held to (``optim.reference``), its errors computed up front, then freed.

        Raises:
            ValueError: no pairs.
            InputError: a pair without images, or a missing or unreadable image file (before training).
        """
        output_dir = Path(output_dir)
        if seed is not None:
            self.seed = seed
        self.ranks = ranks()  # one process, or this one's place under accelerate launch
        done = finished_result(output_dir)
        if done is not None:
            return done
        if not pairs:
            raise ValueError("no preference pairs to train on")
        prompts, chosen, rejected = image_pair_files(pairs)
        if self.optim.beta < 100:
            log.warning(
                "optim.beta=%g is small for Diffusion-DPO (the paper uses 2500-5000)", self.optim.beta
            )

        import torch

        from polyrlaif.core.diffusion import load_reference_unet
        from polyrlaif.core.diffusion_train import encode_image_files, encode_prompts, load_train_parts

        o = self.optim
        setup_start = time.perf_counter()
        parts = load_train_parts(model_path, dtype=self.model_cfg.dtype, device=self.model_cfg.device)
        ids = [p.pair_id for p in pairs]
        x_w = encode_image_files(parts, chosen, [f"pair {i} (chosen)" for i in ids])
        x_l = encode_image_files(parts, rejected, [f"pair {i} (rejected)" for i in ids])
        states = encode_prompts(parts, prompts)
        unet = self._policy(parts.pipe.unet)
        plan = DPOPlan.draw(
            len(pairs),
            epochs=o.epochs,
            batch_size=o.batch_size,
            grad_accum=o.grad_accum,
            max_steps=o.max_steps,
            seed=self.seed,
            timesteps=parts.noise_scheduler.config.num_train_timesteps,
            draws=o.noise_draws,
        )
        data = (x_w, x_l, states)
        ref_start = time.perf_counter()
        # the reference is the starting policy (fresh LoRA adapters add exactly zero), so its errors are
        # those of this UNet before the first update: no frozen copy is kept; a separate reference
        # (optim.reference) is loaded for that one pass only
        unet.eval()
        other = separate_reference(model_path, reference)
        ref_unet = unet if other is None else load_reference_unet(other, parts.device)
        reference = self.reference_errors(ref_unet, parts, plan, data)
        ref_unet = None
        start = time.perf_counter()
        unet.train()
        history = self.optimise(unet, parts, plan, data, reference, output_dir)
        metrics = _summarise(history, len(pairs))
        metrics["train_seconds"] = round(time.perf_counter() - start, 3)
        metrics["reference_seconds"] = round(start - ref_start, 3)
        metrics["seconds"] = round(time.perf_counter() - ref_start, 3)
        metrics["setup_seconds"] = round(ref_start - setup_start, 3)
        parts.pipe.unet = unet.merge_and_unload() if o.lora.enabled else unet
        parts.pipe.unet.eval()
        if self.ranks.main:  # under a launcher rank 0 alone writes; the others wait for it
            result = publish_checkpoint(output_dir, parts.pipe.save_pretrained, metrics)
        else:
            result = TrainResult(model_path=str(output_dir / CHECKPOINT_DIR), metrics=metrics)
        self.ranks.barrier()
        parts = unet = None  # drop the references before freeing memory
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return result

    def _policy(self, unet: Any) -> Any:
        """The trained module: the UNet with fresh LoRA adapters, or the whole UNet."""
        import torch

        lora = self.optim.lora
        if not lora.enabled:
            freeze_parameters(unet, self.optim.freeze, "the UNet (optim.freeze)")
            return unet
        from peft import LoraConfig, get_peft_model

        targets: str | list[str] = lora.target_modules
        if targets != "all-linear":
            targets = [t.strip() for t in targets.split(",") if t.strip()]
        torch.manual_seed(self.seed)  # the adapters' initialisation
        config = LoraConfig(
            r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=targets
        )
        return get_peft_model(unet, config)

    def _batch(
        self, parts: Any, plan: DPOPlan, data: tuple, epoch: int, idx: list[int]
    ) -> tuple[torch.Tensor, ...]:
        """The chosen and rejected inputs, text states, noise and timesteps of one micro-batch, on device."""
        x_w, x_l, states = data
        k = len(plan.timesteps)  # each pair once per draw, draw by draw
        noise = plan.noise(epoch, idx, x_w.shape[1:])
        t = plan.timesteps[:, epoch, idx].flatten()
        rows = [x_w[idx], x_l[idx], states[idx]]
        if k > 1:
            rows = [r.repeat(k, *[1] * (r.dim() - 1)) for r in rows]
        return tuple(v.to(parts.device) for v in (*rows, noise, t))

    def reference_errors(self, unet: Any, parts: Any, plan: DPOPlan, data: tuple) -> list[tuple]:
        """The reference's errors of every micro-batch of the plan, in one no-grad pass before training,
        in the micro-batches training uses (so the first step's policy errors equal them exactly).

        ``unet``: the starting policy before any update (or a separate reference); ``parts``: the opened
        pipeline (device, autocast, noising scheduler); ``data``: chosen inputs, rejected inputs and text
        states, one row per pair, on the CPU. Returns ``(errors_chosen, errors_rejected)`` per micro-batch
        in plan order, of this rank's share under a launcher (``None`` where that share is empty).
        """
        import torch
        from tqdm.auto import tqdm

        micro = [(epoch, self.ranks.shard(idx)) for epoch, batches in plan.steps for idx in batches]
        out: list[tuple | None] = []  # None: this rank's share of that micro-batch is empty
        with torch.no_grad(), parts.autocast():
            bar = tqdm(micro, desc="diffusion dpo reference", unit="batch", disable=not self.ranks.main)
            for epoch, mine in bar:
                batch = self._batch(parts, plan, data, epoch, mine) if mine else None
                out.append(
                    _per_pair(dpo_errors(unet, parts.noise_scheduler, *batch), len(mine)) if batch else None
                )
        return out

    def optimise(
        self, unet: Any, parts: Any, plan: DPOPlan, data: tuple, reference: list[tuple], output_dir: Path
    ) -> list[dict[str, float]]:
        """The optimiser steps of the plan, against :meth:`reference_errors`; each step's row is appended
        to ``<output_dir>/steps.jsonl`` and returned."""
        import torch
        from tqdm.auto import tqdm

        from polyrlaif.core.diffusion_train import StepLog
        from polyrlaif.core.losses import diffusion_dpo_loss

        o, beta = self.optim, self.optim.beta
        params = [p for p in unet.parameters() if p.requires_grad]
        # AdamW with weight decay 0.01 (diffusers' training scripts' default), constant learning rate
        opt = torch.optim.AdamW(params, lr=o.lr, weight_decay=1e-2, fused=True)
        steps_log = StepLog(output_dir) if self.ranks.main else None  # rank 0 alone writes
        history: list[dict[str, float]] = []
        ref_errors = iter(reference)  # one entry per micro-batch, in plan order
        bar = tqdm(total=len(plan.steps), desc="diffusion dpo", unit="step", disable=not self.ranks.main)
        keys = ("loss", "rewards/accuracies", "rewards/margins", "denoise_loss")
        for step, (epoch, batches) in enumerate(plan.steps, 1):
            t0 = time.perf_counter()
            n_step = sum(len(idx) for idx in batches)
            sums = dict.fromkeys(keys, 0.0)
            for idx in batches:
                mine, ref = self.ranks.shard(idx), next(ref_errors)
                if not mine:  # this rank's share of the micro-batch is empty; it adds zero gradients
                    continue
                with parts.autocast():
                    e_w, e_l = _per_pair(
                        dpo_errors(unet, parts.noise_scheduler, *self._batch(parts, plan, data, epoch, mine)),
                        len(mine),
                    )
                r_w, r_l = ref
                loss = diffusion_dpo_loss(e_w, e_l, r_w, r_l, beta)
                (loss * len(mine) / n_step).backward()  # a step's loss is the mean over all its pairs
                with torch.no_grad():
                    # the implicit reward difference: how much more the policy improved on the chosen
                    diff = (r_w - e_w) - (r_l - e_l)
                    sums["loss"] += loss.item() * len(mine)
                    sums["rewards/accuracies"] += (diff > 0).float().sum().item()
                    sums["rewards/margins"] += (beta / 2 * diff).sum().item()
                    sums["denoise_loss"] += (0.5 * (e_w + e_l)).sum().item()
            self.ranks.sum_gradients(params)  # the ranks' shares add up to the whole step's gradient
            grad_norm = torch.nn.utils.clip_grad_norm_(params, 1.0).item()
            opt.step()
            opt.zero_grad(set_to_none=True)
            totals = self.ranks.sum([sums[k] for k in keys])
            row = {"step": step, "epoch": epoch, **{k: v / n_step for k, v in zip(keys, totals, strict=True)}}
            row.update(grad_norm=grad_norm, learning_rate=o.lr, seconds=round(time.perf_counter() - t0, 4))
            if steps_log is not None:
                steps_log.write(row)
            history.append(row)
            bar.set_postfix(loss=f"{row['loss']:.4f}", acc=f"{row['rewards/accuracies']:.2f}")
            bar.update(1)
        bar.close()
        if steps_log is not None:
            steps_log.close()
        return history


def _per_pair(errors: tuple[torch.Tensor, torch.Tensor], b: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each pair's errors averaged over its draws (rows laid out draw by draw): the expectation over
    noise and timesteps sits inside the loss's sigmoid, estimated from every draw."""
    return errors[0].view(-1, b).mean(0), errors[1].view(-1, b).mean(0)


def _summarise(history: list[dict[str, float]], num_pairs: int) -> dict[str, float]:
    """Means over the last epoch's steps (and the first epoch's, as ``<metric>_first``), and counts."""
    out = {"steps": float(len(history)), "pairs": float(num_pairs)}
    epochs = sorted({h["epoch"] for h in history})
    for suffix, epoch in (("_first", epochs[0]), ("", epochs[-1])):
        rows = [h for h in history if h["epoch"] == epoch]
        for key in ("loss", "rewards/accuracies", "rewards/margins", "denoise_loss"):
            name = "train_loss" if key == "loss" else key
            out[f"{name}{suffix}"] = sum(r[key] for r in rows) / len(rows)
    out["loss"] = history[-1]["loss"]  # the last step's, as the text trainers report it
    return out
