"""Train a model to answer yes/no questions the way the judges read it: p(yes) against p(no).

The core's yes/no judge mode (:meth:`polyrlaif.core.judges.backends.TransformersBackend.yes_no`) reads
the next-token distribution after the chat-templated question and compares the mass on "yes" with the
mass on "no". :func:`yes_no_train` fits exactly that quantity: a two-way cross-entropy over the yes and
no token ids at the answer position, nothing else. Fitting the full vocabulary instead (plain SFT on
"yes"/"no" answers) spends the early steps on the answer prior, and a small VLM trained that way from a
config learned to read its image far more slowly (measured in the synthetic shape world: held-out
accuracy 0.66 after 2,000 steps, against 0.89 for this loss with the same model, data and optimiser).

Text-only models and image-text models (conversations with image parts) both work; it is the trainer
to use for verifiers, claim labelers and other yes/no judges that a domain trains itself. The checkpoint
is published in the layout of :mod:`polyrlaif.core.trainers.base`, so a rerun finds it and skips it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyrlaif.core.trainers.base import (
    TrainResult,
    adamw_cosine,
    finished_result,
    publish_trained,
    seeded_batches,
    training_model,
)

__all__ = ["YesNoExample", "YesNoSettings", "yes_no_train"]


@dataclass
class YesNoExample:
    """A question (a conversation; user turns may hold ``{"type": "image", "path": ...}`` parts) and
    its right answer."""

    prompt: list[dict[str, Any]]
    answer: bool


@dataclass
class YesNoSettings:
    """Optimiser settings of :func:`yes_no_train` (AdamW, warm-up then cosine decay, float32)."""

    epochs: float = 10.0
    lr: float = 3e-4
    batch_size: int = 32
    warmup_steps: int = 50
    seed: int = 0
    freeze: tuple[str, ...] = ()  # parameter-name prefixes left untrained, e.g. ("model.vision_tower",)
    yes: tuple[str, ...] = ("Yes", "yes")
    no: tuple[str, ...] = ("No", "no")
    # frames sampled per video part: the count the judge will read with (the run's model.num_frames);
    # None refuses videos
    num_frames: int | None = None


def yes_no_train(
    model_path: str,
    examples: Sequence[YesNoExample],
    output_dir: str | Path,
    settings: YesNoSettings | None = None,
) -> TrainResult:
    """Fine-tune ``model_path`` so that p(yes) / (p(yes) + p(no)) after each prompt matches its answer.

    Returns:
        The checkpoint (``output_dir/model``) and metrics: final loss, training accuracy over the last
        10% of steps, steps, seconds. An already finished checkpoint is returned without training.

    Raises:
        ValueError: no examples, both answers not present, yes/no words without distinct token ids, or
            freeze prefixes that match nothing; an unreadable image names its example.
    """
    done = finished_result(output_dir)
    if done is not None:
        return done
    if not examples:
        raise ValueError("no yes/no examples")
    if len({bool(e.answer) for e in examples}) < 2:
        raise ValueError("yes/no training needs both answers among the examples")

    import torch
    from tqdm.auto import tqdm

    from polyrlaif.core.judges.backends import yes_no_token_ids

    s = settings or YesNoSettings()
    model, saver, encode, tok = training_model(
        model_path, [e.prompt for e in examples], multimodal=None, num_frames=s.num_frames,
        freeze=s.freeze, what="yes/no training",
    )  # fmt: skip
    yes_ids, no_ids = yes_no_token_ids(tok, s.yes, s.no)

    batches = seeded_batches(len(examples), s.batch_size, s.seed)
    steps = max(1, round(s.epochs * math.ceil(len(examples) / s.batch_size)))
    _, opt, sched = adamw_cosine(model, s.lr, s.warmup_steps, steps)
    model.train()
    start, loss_val, right, seen = time.time(), float("nan"), 0, 0
    bar = tqdm(range(steps), desc="yes/no training", unit="step")
    for step in bar:
        batch = [examples[i] for i in next(batches)]
        enc = encode([e.prompt for e in batch])
        pos = (enc["attention_mask"].long().cumsum(-1) - 1).clamp(min=0)  # as the judge reads it
        last = model(**enc, position_ids=pos).logits[:, -1, :].float()
        lp_yes = torch.logsumexp(last[:, yes_ids], dim=-1)
        lp_no = torch.logsumexp(last[:, no_ids], dim=-1)
        two = torch.stack([lp_no, lp_yes], dim=-1)
        target = torch.tensor([int(bool(e.answer)) for e in batch])
        loss = torch.nn.functional.cross_entropy(two, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        loss_val = float(loss.detach())
        if step >= steps * 0.9:
            right += int((two.argmax(-1) == target).sum())
            seen += len(batch)
        if step % 20 == 0:
            bar.set_postfix(loss=f"{loss_val:.4f}")
    bar.close()
    model.eval()
    metrics = {
        "loss": loss_val,
        "train_accuracy": right / max(1, seen),
        "steps": float(steps),
        "examples": float(len(examples)),
        "seconds": time.time() - start,
    }

    return publish_trained(output_dir, model, saver, metrics)
