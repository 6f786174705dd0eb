"""Train a tiny open_clip claim checker from scratch, and calibrate it.

For worlds where no pretrained CLIP can be downloaded (the synthetic shape world, tests): a small CLIP
is built from a config dict (:data:`polyrlaif.core.clip.TINY_CLIP_CFG`, open_clip's ``embed_dim`` /
``vision_cfg`` / ``text_cfg`` format), trained contrastively on (image, true claim) pairs by the core's
:func:`~polyrlaif.core.clip.train_clip`, and its cosine is calibrated into a probability by logistic
regression on held-out (image, claim, true/false) rows.

The contrastive loss knows which pairs are true: in a batch where several images share a claim ("There
is a red square."), or an image has several true claims, every true pair is a positive (soft targets)
rather than a false negative, as plain CLIP's diagonal targets would make it.

The output directory (written atomically) loads with
:meth:`~polyrlaif.domains.vision_hallucination.clip_checker.OpenClipChecker.from_dir`, and with open_clip
itself as ``local-dir:<path>``.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polyrlaif.core.clip import CONFIG_FILE, METADATA_FILE, TINY_CLIP_CFG, WEIGHTS_FILE, load_clip, train_clip
from polyrlaif.core.io import atomic_dir
from polyrlaif.domains.vision_hallucination.clip_checker import CALIBRATION_FILE, OpenClipChecker, file_sha256

__all__ = ["TINY_CLIP_CFG", "fit_calibration", "train_clip_checker"]


def fit_calibration(
    cosines: Sequence[float], labels: Sequence[bool], *, steps: int = 300, l2: float = 1e-3
) -> tuple[float, float, dict[str, float]]:
    """Logistic regression ``p = sigmoid(a * cos + b)`` by full-batch Adam on standardised cosines.

    A small L2 penalty keeps ``a`` finite when the classes separate perfectly.

    Returns:
        ``(a, b, metrics)``; metrics: ``calibration_rows``, ``calibration_positives``,
        ``calibration_loss`` (mean log-loss) and ``calibration_accuracy`` (at p = 0.5).

    Raises:
        ValueError: no rows, or only one class.
    """
    import torch

    x = torch.tensor(list(cosines), dtype=torch.float64)
    y = torch.tensor([float(v) for v in labels], dtype=torch.float64)
    if len(x) != len(y) or len(x) == 0 or y.min() == y.max():
        raise ValueError(f"calibration needs rows of both classes; got {int(y.sum())} true of {len(y)}")
    mu, sd = x.mean(), x.std().clamp(min=1e-6)
    z = (x - mu) / sd
    w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([w], lr=0.1)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(w[0] * z + w[1], y) + l2 * w[0] ** 2
        loss.backward()
        opt.step()
    with torch.no_grad():
        a = float(w[0] / sd)
        b = float(w[1] - w[0] * mu / sd)
        logits = a * x + b
        metrics = {
            "calibration_rows": float(len(y)),
            "calibration_positives": float(y.sum()),
            "calibration_loss": float(torch.nn.functional.binary_cross_entropy_with_logits(logits, y)),
            "calibration_accuracy": float(((logits > 0).double() == y).double().mean()),
        }
    return a, b, metrics


def _split(images: Sequence[str], holdout: float, seed: int) -> set[str]:
    """The held-out images: a seeded ``holdout`` share of the distinct images (at least one)."""
    distinct = sorted(set(images))
    random.Random(seed).shuffle(distinct)
    n = min(len(distinct) - 1, max(1, round(holdout * len(distinct))))
    return set(distinct[:n])


def _calibration_rows(
    images: Sequence[str], texts: Sequence[str], labels: Sequence[bool], held: set[str], seed: int
) -> list[tuple[str, str, bool]]:
    """Held-out rows; without explicit false rows, each held-out image is paired with claims that
    are true of other images but not of it (up to as many as it has true ones)."""
    rows = [(i, t, y) for i, t, y in zip(images, texts, labels, strict=True) if i in held]
    if any(not y for _, _, y in rows):
        return rows
    true_of: dict[str, set[str]] = {}
    for i, t, y in zip(images, texts, labels, strict=True):
        if y:
            true_of.setdefault(i, set()).add(t)
    pool = sorted({t for i, t, y in zip(images, texts, labels, strict=True) if y})
    rng = random.Random(seed + 1)
    for img in sorted(held):
        others = [t for t in pool if t not in true_of.get(img, set())]
        rows.extend((img, t, False) for t in rng.sample(others, min(len(others), len(true_of.get(img, ())))))
    return rows


def train_clip_checker(
    out_dir: str | Path,
    images: Sequence[str],
    texts: Sequence[str],
    labels: Sequence[bool] | None = None,
    *,
    model_cfg: dict[str, Any] | None = None,
    epochs: int = 30,
    batch_size: int = 32,
    lr: float = 1e-3,
    holdout: float = 0.25,
    calibration_steps: int = 300,
    seed: int = 0,
    device: str = "cpu",
) -> Path:
    """Train a small open_clip model on (image, claim) rows, calibrate it, and save it atomically.

    Args:
        out_dir: the checker directory to write (replaced only when everything succeeded).
        images: image paths, one per row (an image may appear in many rows).
        texts: claim texts, one per row.
        labels: whether each claim is true of its image; ``None``: every row is true. Training uses the
            true rows of the training images; calibration uses the held-out images' rows, adding false
            rows (claims true of other images) when none are given.
        model_cfg: open_clip model config; :data:`TINY_CLIP_CFG` when ``None``.
        epochs: passes over the training rows.
        batch_size: rows per step.
        lr: AdamW learning rate.
        holdout: share of the distinct images kept for calibration.
        calibration_steps: optimiser steps of the logistic fit.
        seed: seeds the split, the initialisation and the batch order.
        device: where to train.

    Returns:
        ``out_dir``; ``calibration.json`` there holds ``a``, ``b``, the weights' SHA-256 and metrics.

    Raises:
        ValueError: mismatched lengths, fewer than two distinct images, or no true training row.
    """
    import shutil
    import tempfile

    labels = [True] * len(texts) if labels is None else [bool(y) for y in labels]
    if not len(images) == len(texts) == len(labels):
        raise ValueError(f"{len(images)} images, {len(texts)} texts and {len(labels)} labels")
    if len(set(images)) < 2:
        raise ValueError("train_clip_checker needs at least two distinct images (one is held out)")
    cfg = copy.deepcopy(model_cfg or TINY_CLIP_CFG)
    held = _split(images, holdout, seed)
    train = [(i, t) for i, t, y in zip(images, texts, labels, strict=True) if y and i not in held]
    if not train:
        raise ValueError("no true (image, claim) row left for training")

    with tempfile.TemporaryDirectory() as tmp:  # the core's contrastive training, then the calibration
        trained = train_clip(train, Path(tmp) / "clip", cfg=cfg, epochs=epochs, lr=lr, batch_size=batch_size,
                             seed=seed, device=device)  # fmt: skip
        model, preprocess, tokenizer = load_clip(str(trained), device=device)
        training = json.loads((trained / METADATA_FILE).read_text(encoding="utf-8"))
        rows = _calibration_rows(images, texts, labels, held, seed)
        checker = OpenClipChecker.from_model(model, preprocess, tokenizer, fingerprint="training")
        cal_images, cal_texts, cal_labels = zip(*rows, strict=True)
        metrics = checker.calibrate(cal_images, cal_texts, cal_labels, steps=calibration_steps)
        with atomic_dir(out_dir) as staging:
            for name in (CONFIG_FILE, WEIGHTS_FILE):
                shutil.copyfile(trained / name, staging / name)
            calibration = {
                "a": checker.a,
                "b": checker.b,
                "weights_sha256": file_sha256(staging / WEIGHTS_FILE),
                "train_rows": len(train),
                "train_images": training["images"],
                "heldout_images": len(held),
                "epochs": epochs,
                "final_train_loss": training["final_loss"],
                **metrics,
            }
            (staging / CALIBRATION_FILE).write_text(json.dumps(calibration, indent=2))
    return Path(out_dir)
