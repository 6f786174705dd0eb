"""Supervised fine-tuning through TRL's ``SFTTrainer``: how a domain makes a starting policy or a labeler.

Rows are prompt/completion conversations; the loss is on the completion only. Conversations may carry
images (see :mod:`polyrlaif.core.media`), or videos read as their sampled frames in a row, in which case
the model is trained as a vision-language model through TRL's vision collator. The result is published
like a preference-training checkpoint: a rerun finds it finished and trains nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyrlaif.core import tracking
from polyrlaif.core.trainers.base import (
    TrainResult,
    finished_result,
    freeze_parameters,
    no_checkpointing,
    publish_trained,
)

__all__ = ["SFTExample", "SFTSettings", "sft_train"]

log = logging.getLogger(__name__)


@dataclass
class SFTExample:
    """One supervised example: a conversation to answer and the answer to learn, or, with ``prompt``
    ``None``, a plain text to model whole (language-model pretraining, e.g. a unit LM on its corpus)."""

    prompt: list[dict[str, Any]] | None
    completion: str


@dataclass
class SFTSettings:
    """Optimiser settings for :func:`sft_train` (full fine-tuning, float32 on CPU)."""

    epochs: float = 3.0
    lr: float = 2e-4
    batch_size: int = 8
    seed: int = 0
    max_steps: int = -1
    freeze: tuple[str, ...] = ()  # parameter-name prefixes left untrained, e.g. ("model.vision_tower",)
    # frames sampled per video part, read as images in a row: the run's model.num_frames, which the policy
    # samples with; None refuses videos
    num_frames: int | None = None


def _rows(examples: Sequence[SFTExample], vision: bool, num_frames: int | None) -> list[dict[str, Any]]:
    from polyrlaif.core.media import conversation_image_paths, load_image, strip_image_paths
    from polyrlaif.core.vlm import expand_videos

    rows = []
    for i, ex in enumerate(examples):
        if ex.prompt is None:
            rows.append({"text": ex.completion})  # TRL's language-modelling format: loss on every token
            continue
        if not vision:
            rows.append(
                {"prompt": ex.prompt, "completion": [{"role": "assistant", "content": ex.completion}]}
            )
            continue
        images = [load_image(p, where=f"SFT example {i}") for p in conversation_image_paths(ex.prompt)]
        prompt, frames = expand_videos(ex.prompt, num_frames, as_images=True)  # a video: its frames in a row
        images.extend(frames)
        parts = [
            {**m, "content": [{"type": "text", "text": m["content"]}]} if isinstance(m["content"], str) else m
            for m in prompt
        ]
        rows.append(
            {
                "images": images,
                "prompt": strip_image_paths(parts),
                "completion": [{"role": "assistant", "content": [{"type": "text", "text": ex.completion}]}],
            }
        )
    return rows


def sft_train(
    model_path: str,
    examples: Sequence[SFTExample],
    output_dir: str | Path,
    settings: SFTSettings | None = None,
) -> TrainResult:
    """Fine-tune ``model_path`` on ``examples``; publish the checkpoint to ``output_dir/model``.

    Returns the earlier result, without training, when ``output_dir/model`` is already finished.

    Raises:
        ValueError: no examples.
    """
    from polyrlaif.core.media import has_visual

    output_dir = Path(output_dir)
    done = finished_result(output_dir)
    if done is not None:
        return done
    if not examples:
        raise ValueError("no SFT examples")
    import torch
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from polyrlaif.core.models import resolve_model_path, set_cpu_threads

    s = settings or SFTSettings()
    set_cpu_threads()
    path = resolve_model_path(model_path)
    vision = any(ex.prompt is not None and has_visual(ex.prompt) for ex in examples)
    if len({ex.prompt is None for ex in examples}) > 1:
        raise ValueError("SFT examples mix plain texts (prompt None) and conversations; use one kind")
    if vision:
        from transformers import AutoModelForImageTextToText, AutoProcessor

        processing = AutoProcessor.from_pretrained(path)
        model = AutoModelForImageTextToText.from_pretrained(path, dtype=torch.float32)
    else:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        processing = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    freeze_parameters(model, s.freeze, f"{path} (SFT)")
    args = SFTConfig(
        output_dir=str(output_dir / "trl"),
        num_train_epochs=s.epochs,
        max_steps=s.max_steps,
        learning_rate=s.lr,
        per_device_train_batch_size=s.batch_size,
        lr_scheduler_type="cosine",
        warmup_steps=10,
        seed=s.seed,
        data_seed=s.seed,
        use_cpu=not torch.cuda.is_available(),
        bf16=False,
        max_length=None,
        **no_checkpointing(SFTConfig),
        logging_steps=10,
        save_strategy="no",
        report_to="none",
        dataloader_num_workers=0,
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(_rows(examples, vision, s.num_frames)),
        processing_class=processing,
        callbacks=tracking.callbacks(),  # steps to the run's tracker (run.report_to)
    )
    tracking.quiet(trainer)  # per-step dicts to train.log, not the terminal
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    logged = [h for h in trainer.state.log_history if "loss" in h]
    metrics = {
        "examples": float(len(examples)),
        "steps": float(trainer.state.global_step),
        "train_seconds": round(seconds, 3),
        "loss_first": float(logged[0]["loss"]) if logged else float("nan"),
        "loss": float(logged[-1]["loss"]) if logged else float("nan"),
    }
    if logged and "mean_token_accuracy" in logged[-1]:
        metrics["mean_token_accuracy"] = float(logged[-1]["mean_token_accuracy"])
    result = publish_trained(output_dir, trainer.model, processing, metrics)
    log.info(
        "SFT: %d examples, %.0f s, loss %.3f -> %.3f",
        len(examples),
        seconds,
        metrics["loss_first"],
        metrics["loss"],
    )
    return result
