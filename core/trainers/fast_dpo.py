"""DPO on a text causal LM in plain PyTorch: TRL's loss and update for less compute; registered as ``fast``.

:class:`FastDPOTrainer` is interchangeable with :class:`~polyrlaif.core.trainers.trl_dpo.TRLDPOTrainer`:
the same rows (:func:`~polyrlaif.core.trainers.trl_dpo.pairs_to_rows`), tokenised, truncated and padded
the way TRL 1.16's ``DPOTrainer`` does it, the same loss (:func:`polyrlaif.core.losses.preference_loss`
plus TRL's ``"sft"`` term), and the optimiser, schedule, clipping and data order its ``Trainer`` uses
for the ``DPOConfig`` that backend builds. ``tests/core/test_fast_dpo.py`` checks the per-step losses
and the trained weights against TRL. The batches, log-probs and loss, and what they save over TRL, are
in :mod:`polyrlaif.core.trainers.dpo_step`; this module is the training loop around them.

Image pairs are not handled here: they go to the TRL backend.
"""

from __future__ import annotations

import gc
import json
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyrlaif.core import tracking
from polyrlaif.core.config import TrainConfig
from polyrlaif.core.records import PreferencePair
from polyrlaif.core.trainers.base import (
    TrainResult,
    finished_result,
    freeze_parameters,
    publish_trained,
    separate_reference,
    training_device,
)
from polyrlaif.core.trainers.distributed import Ranks, ranks
from polyrlaif.core.trainers.dpo_step import (
    dpo_loss,
    pair_logps,
    reference_logps,
    tokenize_pairs,
)
from polyrlaif.core.trainers.sharding import fsdp_requested, full_state_dict, grad_norm_value, shard_model
from polyrlaif.core.trainers.trl_dpo import (
    TRLDPOTrainer,
    has_image_pairs,
    pairs_to_rows,
    peft_lora_config,
    summarise_history,
)

if TYPE_CHECKING:
    import torch

__all__ = ["FastDPOTrainer"]

log = logging.getLogger(__name__)

STEPS_FILE = "steps.jsonl"


def _epoch_steps(n: int, batch_size: int, grad_accum: int, seed: int) -> list[list[list[int]]]:
    """One epoch's optimiser steps, each a list of micro-batches of example indices.

    The order is the one ``Trainer`` draws through accelerate's seedable sampler: a permutation from a
    generator seeded with ``data_seed + epoch``; the last step of an epoch may have fewer micro-batches.
    """
    import torch

    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    return [batches[i : i + grad_accum] for i in range(0, len(batches), grad_accum)]


class FastDPOTrainer:
    """Preference optimisation with TRL's DPO loss and update in a plain PyTorch loop; registered as ``fast``.

    Writes ``steps.jsonl`` (step, loss, seconds, learning rate, gradient norm, rewards) next to the
    checkpoint; the metrics are those of the TRL backend.

    Args:
        cfg: the run's config; reads ``optim`` (loss type, beta, sft weight, learning rate, batch sizes,
            steps, LoRA), ``model`` (device and dtype; ``auto``: float32 on CPU, bfloat16 on CUDA) and
            ``run.seed`` (adapter initialisation and data order).
    """

    name = "fast"
    ranks: Ranks = Ranks()
    sharded: bool = False
    _scorer: Any = None  # the FSDP root over the policy (core/trainers/sharding.py), when sharded
    #: completion tokens per LM-head chunk (see :func:`completion_logps`)
    chunk_size = 1024

    def __init__(self, cfg: TrainConfig) -> None:
        self.optim = cfg.optim
        self.model_cfg = cfg.model
        self.seed = cfg.run.seed
        # image pairs go to the TRL backend; LoRA adapters come from its peft_lora_config, so both build
        # the same ones
        self._trl = TRLDPOTrainer(cfg)

    def train(
        self,
        model_path: str,
        pairs: Sequence[PreferencePair],
        output_dir: Path,
        *,
        seed: int | None = None,
        reference: str | None = None,
    ) -> TrainResult:
        """Train on ``pairs`` from ``model_path``; publish the merged checkpoint to ``output_dir/model``.

        Returns the earlier result without training if ``output_dir/model`` is already finished.
        ``reference``: the model the update is held to, when not ``model_path`` (``optim.reference``).

        Raises:
            ValueError: no pairs, or none whose prompt is shorter than ``optim.max_length``.
        """
        output_dir = Path(output_dir)
        if seed is not None:
            self.seed = seed  # this call's adapter initialisation and data order
        self.ranks = ranks()  # one process, or this one's place under accelerate launch
        self.sharded = self.ranks.world > 1 and fsdp_requested()  # FSDP: core/trainers/sharding.py
        if self.ranks.world > 1 and self.ranks.main:
            how = "fully sharded (FSDP)" if self.sharded else "data-parallel"
            log.info(f"{how} over {self.ranks.world} processes: each takes its share of every batch")
        done = finished_result(output_dir)
        if done is not None:
            return done
        if not pairs:
            raise ValueError("no preference pairs to train on")
        if has_image_pairs(pairs):
            if self.sharded:
                raise ValueError("image pairs train with TRL's DPOTrainer, not sharded: launch with ddp.yaml")
            log.info("image pairs: the fast backend is text-only, training with TRL's DPOTrainer instead")
            return self._trl.train(model_path, pairs, output_dir, seed=self.seed, reference=reference)

        import torch

        o = self.optim
        setup_start = time.perf_counter()
        model, tokenizer, device, amp_dtype = self._load(model_path)
        self._scorer = shard_model(model) if self.sharded else None
        examples = tokenize_pairs(tokenizer, pairs_to_rows(pairs), o.max_length)
        if not examples:
            raise ValueError(f"every pair's prompt is at least max_length={o.max_length} tokens")
        # the reference is the starting policy (the base model with the adapters off, for LoRA), or the
        # separate model optim.reference names; its log-probs never change, so they are computed once
        # instead of on every step, and a separate reference is freed before training
        model.eval()
        ref_start = time.perf_counter()
        other = separate_reference(model_path, reference, self.model_cfg.cache_dir)
        with torch.autocast(device.split(":")[0], dtype=amp_dtype, enabled=amp_dtype is not None):
            ref = self._run(
                reference_logps,
                model if other is None else self._reference(other, device),
                examples,
                pad_token_id=tokenizer.pad_token_id,
                max_length=o.max_length,
                batch_size=o.batch_size,
                chunk_size=self.chunk_size,
            )
        model.train()
        start = time.perf_counter()
        history = self._loop(model, examples, ref, tokenizer.pad_token_id, device, amp_dtype, output_dir)
        seconds = time.perf_counter() - start
        metrics = summarise_history(history, seconds, len(history) - 1, len(pairs))
        metrics["setup_seconds"] = round(start - setup_start, 3)
        metrics["reference_seconds"] = round(start - ref_start, 3)  # part of the work TRL does per step
        fit_start = time.perf_counter()
        with torch.autocast(device.split(":")[0], dtype=amp_dtype, enabled=amp_dtype is not None):
            metrics.update(self._fit(model, examples, ref, tokenizer.pad_token_id))
        metrics["fit_seconds"] = round(time.perf_counter() - fit_start, 3)

        if self.sharded:  # every rank gathers the shards; rank 0 publishes them in an unsharded copy
            state, model = full_state_dict(self._scorer), None
            if self.ranks.main:
                model = self._load(model_path)[0]
                model.load_state_dict(state)
        trained = model.merge_and_unload() if o.lora.enabled and model is not None else model
        result = publish_trained(output_dir, trained, tokenizer, metrics)  # rank 0 writes, the others wait
        model = trained = None  # drop the references before freeing memory
        gc.collect()
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
        return result

    def _load(self, model_path: str) -> tuple[Any, Any, str, Any]:
        """Model (with fresh adapters under LoRA), tokenizer, device, and the autocast dtype (or None)."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

        from polyrlaif.core.models import resolve_model_path

        device, dtype = training_device(self.model_cfg)
        path = resolve_model_path(model_path, self.model_cfg.cache_dir)
        tokenizer = AutoTokenizer.from_pretrained(path)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        # float16 weights cannot be trained with the fp16 grad scaler: keep float32 masters there
        model = AutoModelForCausalLM.from_pretrained(
            path, dtype=torch.float32 if dtype == torch.float16 else dtype
        )
        # TRL mirrors the pad token onto the configs; the published checkpoint keeps it
        model.config.get_text_config().pad_token_id = tokenizer.pad_token_id
        if model.generation_config is not None:
            model.generation_config.pad_token_id = tokenizer.pad_token_id
        freeze_parameters(model, self.optim.freeze, f"{path} (optim.freeze)")
        set_seed(self.seed)  # as TRL does right before creating the adapters: the same LoRA initialisation
        peft_config = peft_lora_config(self.optim.lora)
        if peft_config is not None:
            from peft import get_peft_model

            model = get_peft_model(model, peft_config)
        for module in model.modules():  # TRL's disable_dropout (LoRA dropout included)
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
        model.to(device)
        return model, tokenizer, device, (dtype if device != "cpu" and dtype != torch.float32 else None)

    def _shard_loss(
        self,
        model: Any,
        examples: list[dict[str, list]],
        ref: tuple[torch.Tensor, torch.Tensor],
        idx: list[int],
        pad_token_id: int,
        autocast: Any,
    ) -> tuple[torch.Tensor | None, dict[str, float]]:
        """This rank's part of :func:`dpo_loss` on micro-batch ``idx``, normalised by the whole micro-batch
        (``whole_batch``), so the ranks' losses and gradients add up to one process's; the metrics are
        summed over the ranks. ``None`` for the loss when this rank's share is empty (sharded: 0 x a pair)."""
        import torch

        o, mine = self.optim, self.ranks.shard(idx)
        loss, metrics, chosen_tokens = None, {}, 0.0
        idle = self.sharded and not mine  # sharded, every rank runs every forward: one example at weight 0
        if mine or idle:
            with autocast:
                policy, n_tokens = self._run(
                    pair_logps, model, [examples[i] for i in (mine or idx[:1])], pad_token_id=pad_token_id,
                    max_length=o.max_length, chunk_size=self.chunk_size,
                )  # fmt: skip
            reference = torch.cat([ref[0][mine], ref[1][mine]]).to(policy.device)
            chosen_tokens = float(n_tokens.chunk(2)[0].sum()) if mine else 0.0
            loss = policy.sum() * 0.0 if idle else None
        whole = (len(idx), self.ranks.sum([chosen_tokens])[0])
        if mine:
            loss, metrics = dpo_loss(
                policy, reference, n_tokens, loss_type=o.loss_type, beta=o.beta,
                sft_weight=o.sft_weight, whole_batch=whole,
            )  # fmt: skip
        keys = ("rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins")
        share = len(mine) / len(idx)  # a mean over this rank's pairs, weighted to its part of the batch
        total = self.ranks.sum([loss.item() if mine else 0.0, *(metrics.get(k, 0.0) * share for k in keys)])
        return loss, {"loss": total[0], **dict(zip(keys, total[1:], strict=True))}

    def _run(self, fn: Any, model: Any, *args: Any, **kwargs: Any) -> Any:
        """``fn(model, ...)``; through the FSDP root when the model is sharded (unless ``model`` is a
        separate reference, which is not)."""
        if self._scorer is not None and model is self._scorer.model:
            return self._scorer(fn, *args, **kwargs)
        return fn(model, *args, **kwargs)

    def _reference(self, path: str, device: str) -> Any:
        """A separate reference model, loaded as :meth:`_load` loads the policy (no adapters), for eval."""
        import torch
        from transformers import AutoModelForCausalLM

        dtype = training_device(self.model_cfg)[1]
        dtype = torch.float32 if dtype == torch.float16 else dtype
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
        log.info(f"reference: {path} (optim.reference), not the round's starting policy")
        return model.to(device).eval()

    def _fit(
        self,
        model: Any,
        examples: list[dict[str, list]],
        ref: tuple[torch.Tensor, torch.Tensor],
        pad_token_id: int,
    ) -> dict[str, float]:
        """How well the trained policy fits its own pairs: over every training pair, the implicit reward
        margin ``beta * ((pi_c - ref_c) - (pi_r - ref_r))`` (summed completion log-probs, as the loss uses
        them) and the fraction above 0. Before training both are 0 (the policy is its reference), so
        ``fit/accuracy`` and ``fit/margin`` show whether DPO fitted the pairs, where the per-step numbers
        only see one batch each, once."""
        import torch

        o = self.optim
        margins = []
        model.eval()
        with torch.no_grad():
            for start in range(0, len(examples), o.batch_size):
                logps, _ = self._run(
                    pair_logps,
                    model,
                    examples[start : start + o.batch_size],
                    pad_token_id=pad_token_id,
                    max_length=o.max_length,
                    chunk_size=self.chunk_size,
                )
                c, r = logps.float().cpu().chunk(2)
                rc, rr = ref[0][start : start + len(c)], ref[1][start : start + len(c)]
                margins.append(o.beta * ((c - rc) - (r - rr)))
        model.train()
        m = torch.cat(margins)
        return {"fit/accuracy": float((m > 0).float().mean()), "fit/margin": float(m.mean())}

    def _loop(
        self,
        model: Any,
        examples: list[dict[str, list]],
        ref: tuple[torch.Tensor, torch.Tensor],
        pad_token_id: int,
        device: str,
        amp_dtype: Any,
        output_dir: Path,
    ) -> list[dict[str, float]]:
        """The optimiser steps; returns TRL-shaped log history (one row per step, then ``train_loss``)."""
        import itertools

        import torch
        from tqdm.auto import tqdm
        from transformers import get_scheduler

        o = self.optim
        per_epoch = max(math.ceil(math.ceil(len(examples) / o.batch_size) / o.grad_accum), 1)
        max_steps = o.max_steps if o.max_steps > 0 else math.ceil(o.epochs * per_epoch)
        params = [p for p in model.parameters() if p.requires_grad]
        # what Trainer builds for the TRL backend's DPOConfig: fused AdamW without weight decay, linear
        # decay to 0 without warm-up, gradients clipped to norm 1
        opt = torch.optim.AdamW(
            params, lr=o.lr, weight_decay=0.0, fused=not self.sharded
        )  # betas, eps: defaults
        sched = get_scheduler("linear", opt, num_warmup_steps=0, num_training_steps=max_steps)
        device_type = device.split(":")[0]
        scaler = torch.amp.GradScaler(device_type, enabled=amp_dtype == torch.float16)
        autocast = torch.autocast(device_type, dtype=amp_dtype, enabled=amp_dtype is not None)
        n = len(examples)
        schedule = (
            s for e in itertools.count() for s in _epoch_steps(n, o.batch_size, o.grad_accum, self.seed + e)
        )
        history: list[dict[str, float]] = []
        # one line appended per step (progress shows as it trains), published whole at the end
        output_dir.mkdir(parents=True, exist_ok=True)
        partial = output_dir / f"{STEPS_FILE}.partial"
        steps_file = partial.open("w", encoding="utf-8") if self.ranks.main else None
        bar = tqdm(total=max_steps, desc="fast dpo", unit="step", disable=not self.ranks.main)
        for step, micro_batches in zip(range(1, max_steps + 1), schedule, strict=False):
            t0 = time.perf_counter()
            logged: dict[str, float] = {}
            for idx in micro_batches:
                if self.ranks.world > 1:  # this rank's share, normalised by the whole micro-batch
                    loss, metrics = self._shard_loss(model, examples, ref, idx, pad_token_id, autocast)
                else:
                    with autocast:
                        policy, n_tokens = pair_logps(
                            model,
                            [examples[i] for i in idx],
                            pad_token_id=pad_token_id,
                            max_length=o.max_length,
                            chunk_size=self.chunk_size,
                        )
                    reference = torch.cat([ref[0][idx], ref[1][idx]]).to(policy.device)
                    loss, metrics = dpo_loss(
                        policy, reference, n_tokens,
                        loss_type=o.loss_type, beta=o.beta, sft_weight=o.sft_weight,
                    )  # fmt: skip
                    metrics = {"loss": loss.item(), **metrics}
                # as in Trainer: a micro-batch weighs 1 / this step's micro-batches (fewer at an epoch's end)
                if loss is not None:
                    scaler.scale(loss / len(micro_batches)).backward()
                for key, value in metrics.items():
                    logged[key] = logged.get(key, 0.0) + value / len(micro_batches)
            if not self.sharded:  # FSDP has summed them in its reduce-scatter
                self.ranks.sum_gradients(params)
            scaler.unscale_(opt)
            grad_norm = grad_norm_value(torch.nn.utils.clip_grad_norm_(params, 1.0))
            lr, scale = sched.get_last_lr()[0], scaler.get_scale()
            scaler.step(opt)
            scaler.update()
            if scaler.get_scale() >= scale:  # a step the fp16 scaler skipped does not advance the schedule
                sched.step()
            opt.zero_grad(set_to_none=True)
            history.append(logged)
            seconds = round(time.perf_counter() - t0, 4)
            row = {"step": step, "seconds": seconds, "learning_rate": lr, "grad_norm": grad_norm, **logged}
            if steps_file is not None:  # rank 0 writes
                steps_file.write(json.dumps(row) + "\n")
                steps_file.flush()
                tracking.log_step(row)
            bar.set_postfix(loss=f"{logged['loss']:.4f}")
            bar.update(1)
        bar.close()
        if steps_file is not None:
            steps_file.close()
            partial.replace(output_dir / STEPS_FILE)
        history.append({"train_loss": sum(h["loss"] for h in history) / max(len(history), 1)})
        return history
