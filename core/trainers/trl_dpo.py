"""DPO and its variants on a causal LM, through TRL's ``DPOTrainer``.

TRL owns the batching, masking, reference log-probs and the loss family (``optim.loss_type`` is
passed straight through: ``sigmoid`` is DPO, ``ipo``, ``hinge``, ``robust`` and the rest are TRL's).
This module only maps our config and pairs onto it, and turns the result into a plain checkpoint:
with LoRA the adapters are merged into the weights, so the next round loads an ordinary model.

The reference model is never a second copy: with LoRA it is the same network with the adapters
disabled; without LoRA its log-probs are computed once, before the first update.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polyrlaif.core import tracking
from polyrlaif.core.config import LoraConfig, TrainConfig
from polyrlaif.core.records import PreferencePair
from polyrlaif.core.trainers.base import (
    TrainResult,
    finished_result,
    freeze_parameters,
    no_checkpointing,
    publish_trained,
    separate_reference,
)
from polyrlaif.core.trainers.distributed import per_rank_batch, ranks
from polyrlaif.core.trl_options import with_passthrough

__all__ = ["TRLDPOTrainer", "has_image_pairs", "pairs_to_rows", "peft_lora_config", "summarise_history"]

log = logging.getLogger(__name__)

#: TRL's per-step metrics we report, first and last value each.
_REPORTED = ("loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins")


def has_image_pairs(pairs: Sequence[PreferencePair]) -> bool:
    """True when any pair carries images or videos: then the model is trained as a vision-language model."""
    return any(m.kind in ("image", "video") for p in pairs for m in p.media)


def pairs_to_rows(pairs: Sequence[PreferencePair], num_frames: int | None = None) -> list[dict[str, Any]]:
    """TRL's conversational preference format: prompt messages, and one assistant turn each side.

    A string prompt becomes a single user turn, so every row renders through the chat template the
    policy samples with. Pairs with images get TRL's vision format: image placeholders in front of
    the first user turn's text and the loaded images in an ``images`` column; a video is read as its
    ``num_frames`` sampled frames in a row, as the policy saw it (the run's ``model.num_frames``).

    Raises:
        ValueError: a pair's prompt carries a video and ``num_frames`` is not given: there is no safe
            default, the count must be the one the policy sampled with.
        InputError: an image or video is missing or unreadable.
    """
    from polyrlaif.core.media import conversation_image_paths, load_image, strip_image_paths, with_images
    from polyrlaif.core.vlm import expand_videos

    vision = has_image_pairs(pairs)
    rows = []
    for p in pairs:
        prompt = [{"role": "user", "content": p.prompt}] if isinstance(p.prompt, str) else list(p.prompt)
        if not vision:
            rows.append(
                {
                    "prompt": [{"role": str(m["role"]), "content": str(m["content"])} for m in prompt],
                    "chosen": [{"role": "assistant", "content": p.chosen}],
                    "rejected": [{"role": "assistant", "content": p.rejected}],
                }
            )
            continue
        conv = with_images(_as_parts(prompt), p.media)
        images = [load_image(path, where=f"pair {p.pair_id}") for path in conversation_image_paths(conv)]
        conv, frames = expand_videos(conv, num_frames, as_images=True)
        images += frames
        rows.append(
            {
                "images": images,
                "prompt": strip_image_paths(conv),
                "chosen": [{"role": "assistant", "content": [{"type": "text", "text": p.chosen}]}],
                "rejected": [{"role": "assistant", "content": [{"type": "text", "text": p.rejected}]}],
            }
        )
    return rows


def _as_parts(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every turn's content as a list of parts, as vision processors' chat templates expect."""
    return [
        {
            "role": m["role"],
            "content": [{"type": "text", "text": m["content"]}]
            if isinstance(m["content"], str)
            else m["content"],
        }
        for m in messages
    ]


def peft_lora_config(lora: LoraConfig) -> Any:
    """The peft ``LoraConfig`` both DPO backends build their adapters from.

    Args:
        lora: our LoRA settings; ``target_modules`` is ``"all-linear"`` or comma-separated module names.

    Returns:
        A ``peft.LoraConfig`` for a causal LM, or ``None`` when LoRA is disabled.
    """
    if not lora.enabled:
        return None
    from peft import LoraConfig as PeftLoraConfig

    targets: str | list[str] = lora.target_modules
    if targets != "all-linear":
        targets = [t.strip() for t in targets.split(",") if t.strip()]
    return PeftLoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
    )


class TRLDPOTrainer:
    """Preference optimisation with TRL's ``DPOTrainer``; registered as ``"trl"``.

    Args:
        cfg: the run's config; reads ``optim`` (loss type, beta, learning rate, batch sizes, steps, LoRA),
            ``model`` (device and dtype; ``auto``: float32 on CPU, bfloat16 on CUDA; ``num_frames``, the
            frames per video the policy read) and ``run.seed`` (adapter initialisation and data order).
    """

    name = "trl"

    def __init__(self, cfg: TrainConfig) -> None:
        self.optim = cfg.optim
        self.model_cfg = cfg.model
        self.seed = cfg.run.seed

    def rows(self, pairs: Sequence[PreferencePair]) -> list[dict[str, Any]]:
        """The rows ``train`` gives TRL: :func:`pairs_to_rows` with the run's ``model.num_frames``."""
        return pairs_to_rows(pairs, self.model_cfg.num_frames)

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
        ``reference``: the model the update is held to, when not ``model_path`` (``optim.reference``);
        TRL gets it as ``ref_model``.

        Raises:
            ValueError: no pairs.
        """
        output_dir = Path(output_dir)
        if seed is not None:
            self.seed = seed  # this call's adapter initialisation and data order
        done = finished_result(output_dir)
        if done is not None:
            return done
        if not pairs:
            raise ValueError("no preference pairs to train on")

        import torch
        from datasets import Dataset
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from trl import DPOTrainer

        from polyrlaif.core.models import pick_device, pick_dtype, resolve_model_path, set_cpu_threads

        device = pick_device(self.model_cfg.device)
        dtype = pick_dtype(self.model_cfg.dtype, device)
        if device == "cpu":
            set_cpu_threads()
        if device == "cpu" and dtype != torch.float32:
            # CPU half-precision matmuls are slow and its training numerics poor; TRL would also
            # switch on bf16 autocast by default.
            log.warning("training on CPU in float32 (dtype %s ignored)", dtype)
            dtype = torch.float32
        path = resolve_model_path(model_path, self.model_cfg.cache_dir)
        # float16 weights cannot be trained with the fp16 grad scaler: keep float32 masters there
        load_dtype = torch.float32 if dtype == torch.float16 else dtype
        setup_start = time.perf_counter()
        if has_image_pairs(pairs):  # TRL's vision path: a processor makes the pixels per batch
            from transformers import AutoModelForImageTextToText, AutoProcessor

            tokenizer = AutoProcessor.from_pretrained(path)
            if tokenizer.tokenizer.pad_token is None:
                tokenizer.tokenizer.pad_token = tokenizer.tokenizer.eos_token
            model_cls: Any = AutoModelForImageTextToText
        else:
            tokenizer = AutoTokenizer.from_pretrained(path)
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
            model_cls = AutoModelForCausalLM
        model = model_cls.from_pretrained(path, dtype=load_dtype)
        freeze_parameters(model, self.optim.freeze, f"{path} (optim.freeze)")
        other = separate_reference(model_path, reference, self.model_cfg.cache_dir)
        ref_model = None if other is None else model_cls.from_pretrained(other, dtype=load_dtype)
        if ref_model is not None:
            log.info(f"reference: {other} (optim.reference), not the round's starting policy")

        rows = self.rows(pairs)
        dataset = Dataset.from_list(rows)
        if ranks().world > 1:
            # TRL maps the dataset on the main process first and the others then read its cache files,
            # which an in-memory dataset keeps in that process's own temporary folder: give it a folder
            # every rank sees (rank 0 writes it, the others load it)
            from datasets import load_from_disk

            shared = output_dir / "trl" / "dataset"
            if ranks().main:
                dataset.save_to_disk(str(shared))
            ranks().barrier()
            dataset = load_from_disk(str(shared))
        trainer = DPOTrainer(
            model=model,
            ref_model=ref_model,
            args=self._dpo_config(output_dir, device, dtype, vision=has_image_pairs(pairs)),
            train_dataset=dataset,
            eval_dataset=dataset,  # for the fit after training (reference log-probs up front)
            processing_class=tokenizer,
            peft_config=peft_lora_config(self.optim.lora),
            callbacks=tracking.callbacks(),  # steps to the run's tracker (run.report_to)
        )
        tracking.quiet(trainer)  # per-step dicts to train.log, not the terminal
        # setup includes tokenisation and, without LoRA, the up-front reference log-probs
        start = time.perf_counter()
        setup_seconds = start - setup_start
        trainer.train()
        seconds = time.perf_counter() - start
        metrics = summarise_history(trainer.state.log_history, seconds, trainer.state.global_step, len(pairs))
        metrics["setup_seconds"] = round(setup_seconds, 3)
        fit_start = time.perf_counter()  # how well the policy fits its own pairs, as the fast backend says
        fit = trainer.evaluate()
        metrics["fit/accuracy"] = float(fit["eval_rewards/accuracies"])
        metrics["fit/margin"] = float(fit["eval_rewards/margins"])
        metrics["fit_seconds"] = round(time.perf_counter() - fit_start, 3)
        if has_image_pairs(pairs):  # what the update saw: a video counts as its frames
            metrics["images_per_prompt"] = sum(len(r["images"]) for r in rows) / len(rows)

        trained = trainer.model
        if self.optim.lora.enabled:
            trained = trained.merge_and_unload()

        result = publish_trained(output_dir, trained, tokenizer, metrics)  # rank 0 writes, the others wait
        trainer = model = ref_model = None  # drop the references before freeing memory
        gc.collect()
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
        return result

    def _dpo_config(self, output_dir: Path, device: str, dtype: Any, *, vision: bool = False) -> Any:
        import torch
        from trl import DPOConfig

        o = self.optim
        return DPOConfig(**with_passthrough(dict(
            output_dir=str(output_dir / "trl"),
            loss_type=[o.loss_type, "sft"] if o.sft_weight > 0 else [o.loss_type],
            loss_weights=[1.0, o.sft_weight] if o.sft_weight > 0 else None,
            beta=o.beta,
            learning_rate=o.lr,
            num_train_epochs=o.epochs,
            max_steps=o.max_steps,
            # under a launcher each rank takes its share of every batch, so the update is one process's
            per_device_train_batch_size=per_rank_batch(o.batch_size),
            gradient_accumulation_steps=o.grad_accum,
            max_length=o.max_length,
            seed=self.seed,
            data_seed=self.seed,
            use_cpu=device == "cpu",
            # TRL turns bf16 autocast on by default; only use mixed precision when asked for on a GPU
            bf16=dtype == torch.bfloat16,
            fp16=dtype == torch.float16,
            **no_checkpointing(DPOConfig),
            # without LoRA the reference log-probs are computed once up front, so no frozen copy is kept
            # (TRL processes vision data on the fly and cannot precompute; it keeps a reference copy)
            precompute_ref_log_probs=not o.lora.enabled and not vision,
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            dataloader_num_workers=0,
        ), o.trl, "optim.trl"))  # fmt: skip


def summarise_history(
    history: list[dict[str, Any]], seconds: float, steps: int, num_pairs: int
) -> dict[str, float]:
    """First and last logged value of each reported metric, plus steps and timing.

    Args:
        history: TRL-shaped log history: one dict per logged step, then one with ``train_loss``.
        seconds: wall time of the training loop.
        steps: optimiser steps taken.
        num_pairs: preference pairs trained on.

    Returns:
        ``steps``, ``pairs``, ``train_seconds``, ``seconds_per_step``, ``train_loss``, and for each
        reported metric its last value and its first as ``<metric>_first``.
    """
    logged = [h for h in history if "loss" in h and "train_loss" not in h]
    out: dict[str, float] = {
        "steps": float(steps),
        "pairs": float(num_pairs),
        "train_seconds": round(seconds, 3),
        "seconds_per_step": round(seconds / steps, 3) if steps else 0.0,
    }
    for key in _REPORTED:
        values = [float(h[key]) for h in logged if key in h]
        if values:
            out[key] = values[-1]
            out[f"{key}_first"] = values[0]
    final = [h for h in history if "train_loss" in h]
    if final:
        out["train_loss"] = float(final[-1]["train_loss"])
    return out
