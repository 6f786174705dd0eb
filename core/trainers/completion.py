"""Teach a model to write a short completion after a prompt: next-token cross-entropy on the completion's
tokens only, the prompt chat-templated with the generation prompt (as a judge or a policy will read it).

It is the trainer for judges that score an answer by how likely they find it (a reader that learns to
answer a question from a context, then rates each candidate answer by its probability): unlike
:func:`~polyrlaif.core.trainers.trl_sft.sft_train` (TRL's ``SFTTrainer``), it also trains a
vision-language model on text-only conversations (``multimodal``), so a VLM judge can first learn to
read on many cheap text examples, then with its images. Measured in the synthetic video world: a tiny
VLM trained this way to answer questions from a clip's description rated held-out right answers above
near misses with AUC 0.92 after 4,000 steps; the same model trained on yes/no verdicts for the same
examples stayed at chance (0.51), and yes/no training after this one reached 0.60.

Text-only and image-text models both work; the checkpoint is published in the layout of
:mod:`polyrlaif.core.trainers.base`, so a rerun finds it and skips it.
"""

from __future__ import annotations

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

__all__ = ["CompletionExample", "CompletionSettings", "completion_train"]


@dataclass
class CompletionExample:
    """A prompt (a conversation; user turns may hold image or video parts) and the completion to learn."""

    prompt: list[dict[str, Any]]
    completion: str


@dataclass
class CompletionSettings:
    """Optimiser settings of :func:`completion_train` (AdamW, warm-up then cosine decay, float32,
    gradient norm clipped at 1)."""

    steps: int = 1000
    lr: float = 1e-3
    batch_size: int = 32
    warmup_steps: int = 100
    seed: int = 0
    freeze: tuple[str, ...] = ()  # parameter-name prefixes left untrained, e.g. ("model.vision_tower",)
    num_frames: int | None = None  # frames per video part (the run's model.num_frames); None refuses videos
    # load the model as a vision-language one even when no example has an image; None: when one has
    multimodal: bool | None = None


def completion_train(
    model_path: str,
    examples: Sequence[CompletionExample],
    output_dir: str | Path,
    settings: CompletionSettings | None = None,
) -> TrainResult:
    """Fine-tune ``model_path`` to write each example's completion after its prompt.

    Batches are drawn without replacement, epoch after epoch, from a generator seeded with
    ``settings.seed``.

    Returns:
        The checkpoint (``output_dir/model``) and metrics: the mean loss per completion token over the
        first and the last 10% of steps, steps, examples, seconds. An already finished checkpoint is
        returned without training.

    Raises:
        ValueError: no examples, an empty completion (naming its index), or freeze prefixes that match
            nothing; an unreadable image names its example.
    """
    done = finished_result(output_dir)
    if done is not None:
        return done
    if not examples:
        raise ValueError("no completion examples")
    for i, e in enumerate(examples):
        if not e.completion.strip():
            raise ValueError(f"completion example {i}: the completion is empty")

    import torch
    from tqdm.auto import tqdm

    s = settings or CompletionSettings()
    model, saver, encode, tok = training_model(
        model_path, [e.prompt for e in examples], multimodal=s.multimodal, num_frames=s.num_frames,
        freeze=s.freeze, what="completion training",
    )  # fmt: skip
    targets = [tok(e.completion, add_special_tokens=False)["input_ids"] for e in examples]

    batches = seeded_batches(len(examples), s.batch_size, s.seed)
    params, opt, sched = adamw_cosine(model, s.lr, s.warmup_steps, s.steps)
    model.train()
    start, first, last = time.time(), [], []
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    bar = tqdm(range(s.steps), desc="completion training", unit="step")
    for step in bar:
        idx = next(batches)
        enc = encode([examples[i].prompt for i in idx])
        width = max(len(targets[i]) for i in idx)
        ans = torch.full((len(idx), width), pad, dtype=torch.long)
        ans_mask = torch.zeros((len(idx), width), dtype=enc["attention_mask"].dtype)
        for row, i in enumerate(idx):  # the completion right after each left-padded prompt
            ans[row, : len(targets[i])] = torch.tensor(targets[i])
            ans_mask[row, : len(targets[i])] = 1
        mask = torch.cat([enc["attention_mask"], ans_mask], 1)
        inputs = {**enc, "input_ids": torch.cat([enc["input_ids"], ans], 1), "attention_mask": mask}
        pos = (mask.long().cumsum(-1) - 1).clamp(min=0)
        n_prompt = enc["input_ids"].shape[1]
        logits = model(**inputs, position_ids=pos).logits[:, n_prompt - 1 : -1].float()
        logp = logits.log_softmax(-1).gather(-1, ans[..., None])[..., 0]
        loss = -(logp * ans_mask).sum() / ans_mask.sum()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        value = float(loss.detach())
        if step < max(1, s.steps // 10):
            first.append(value)
        if step >= s.steps - max(1, s.steps // 10):
            last.append(value)
        if step % 20 == 0:
            bar.set_postfix(loss=f"{value:.4f}")
    bar.close()
    model.eval()
    metrics = {
        "loss_first": sum(first) / len(first),
        "loss": sum(last) / len(last),
        "steps": float(s.steps),
        "examples": float(len(examples)),
        "seconds": time.time() - start,
    }
    return publish_trained(output_dir, model, saver, metrics)
