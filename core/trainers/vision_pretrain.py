"""Supervised pretraining of a VLM's vision tower: the stage a CLIP tower has had before LLaVA is built.

Real image LMMs start from a pretrained vision encoder and a pretrained language model. A VLM built
from a config (:func:`polyrlaif.core.tiny.build_tiny_vlm`) has neither, and trained end to end from
scratch the language model learns the text prior long before the image path gets a useful gradient
(measured in the synthetic shape world: yes/no accuracy stuck at the question-only prior, 0.59, for
every learning rate and schedule tried; with this stage first and the tower then frozen, 0.96).

:func:`pretrain_vision_tower` trains only the tower, with a linear multi-label head on its patch
features (max-pooled over patches, so each label is "some patch shows it"), on images and label sets
the caller supplies, e.g. the objects of a detection dataset. The head is thrown away; the whole VLM is
written back with the new tower, in the checkpoint layout of :mod:`polyrlaif.core.trainers.base`, so a
rerun finds it finished and skips it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyrlaif.core.trainers.base import TrainResult, finished_result, publish_trained

__all__ = ["VisionPretrainSettings", "pretrain_vision_tower", "vision_tower_of"]


@dataclass
class VisionPretrainSettings:
    """Optimiser settings of :func:`pretrain_vision_tower` (AdamW, one-cycle schedule)."""

    steps: int = 1500
    lr: float = 1e-3
    batch_size: int = 32
    weight_decay: float = 0.01
    seed: int = 0


def vision_tower_of(model: Any) -> Any:
    """The vision tower module of an ``AutoModelForImageTextToText`` model (LLaVA-style layouts).

    Raises:
        ValueError: the model has no ``vision_tower``.
    """
    for owner in (model, getattr(model, "model", None)):
        tower = getattr(owner, "vision_tower", None)
        if tower is not None:
            return tower
    raise ValueError(f"{type(model).__name__} has no vision_tower to pretrain")


def _patch_features(model: Any, tower: Any, pixel_values: Any) -> Any:
    """The features the language model will see: the configured layer, without CLS for "default"."""
    cfg = model.config
    hidden = tower(pixel_values, output_hidden_states=True).hidden_states[cfg.vision_feature_layer]
    return hidden[:, 1:] if cfg.vision_feature_select_strategy == "default" else hidden


def pretrain_vision_tower(
    model_path: str,
    images: Sequence[str],
    labels: Sequence[Sequence[int]],
    n_labels: int,
    output_dir: str | Path,
    settings: VisionPretrainSettings | None = None,
) -> TrainResult:
    """Train the vision tower of ``model_path`` to tell which labels each image shows.

    Args:
        model_path: a VLM directory that ``AutoModelForImageTextToText`` and ``AutoProcessor`` load.
        images: image file paths.
        labels: for each image, the indices (``0 <= i < n_labels``) of the labels it shows.
        n_labels: size of the label set.
        output_dir: the checkpoint goes to ``output_dir/model`` (skipped when already finished).
        settings: optimiser settings.

    Returns:
        The checkpoint and its metrics: final loss, and the exact-match rate of the predicted label sets
        on the last 10% of steps' batches (training data: a sanity check, not a held-out score).

    Raises:
        ValueError: mismatched lengths, a label out of range, no images, or an unreadable image
            (naming it).
    """
    done = finished_result(output_dir)
    if done is not None:
        return done
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} label sets")
    if not images:
        raise ValueError("no images to pretrain the vision tower on")
    for i, ls in enumerate(labels):
        bad = [x for x in ls if not 0 <= int(x) < n_labels]
        if bad:
            raise ValueError(f"image {i} ({images[i]}): labels {bad} outside [0, {n_labels})")

    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from polyrlaif.core.media import load_image
    from polyrlaif.core.models import resolve_model_path, set_cpu_threads

    s = settings or VisionPretrainSettings()
    set_cpu_threads()
    path = resolve_model_path(model_path)
    processor = AutoProcessor.from_pretrained(path)
    model = AutoModelForImageTextToText.from_pretrained(path, dtype=torch.float32)
    tower = vision_tower_of(model)
    pixels = torch.cat(
        [
            processor.image_processor(
                [
                    load_image(p, where=f"vision pretraining image {i + k}")
                    for k, p in enumerate(images[i : i + 256])
                ],
                return_tensors="pt",
            )["pixel_values"]
            for i in range(0, len(images), 256)
        ]
    )
    targets = torch.zeros(len(images), n_labels)
    for i, ls in enumerate(labels):
        targets[i, [int(x) for x in ls]] = 1.0

    gen = torch.Generator().manual_seed(s.seed)
    torch.manual_seed(s.seed)
    head = torch.nn.Linear(tower.config.hidden_size, n_labels)
    params = [*tower.parameters(), *head.parameters()]
    opt = torch.optim.AdamW(params, lr=s.lr, weight_decay=s.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=s.lr, total_steps=s.steps, pct_start=0.1)
    tower.train()
    start, loss_val, exact, seen = time.time(), float("nan"), 0, 0
    bar = tqdm(range(s.steps), desc="vision pretraining", unit="step")
    for step in bar:
        idx = torch.randint(0, len(images), (min(s.batch_size, len(images)),), generator=gen)
        logits = head(_patch_features(model, tower, pixels[idx])).max(dim=1).values
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        loss_val = float(loss.detach())
        if step >= s.steps * 0.9:
            exact += int(((logits > 0).float() == targets[idx]).all(dim=1).sum())
            seen += len(idx)
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss_val:.4f}")
    bar.close()
    tower.eval()
    metrics = {
        "loss": loss_val,
        "train_exact_match": exact / max(1, seen),
        "steps": float(s.steps),
        "images": float(len(images)),
        "seconds": time.time() - start,
    }

    return publish_trained(output_dir, model, processor, metrics)
