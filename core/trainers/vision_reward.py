"""Reward-model training on pairs whose prompts carry images or video: a VLM with a scalar head.

VLM-RLAIF's reward model reads what the policy read, the video's frames and the question, then the answer;
:class:`~polyrlaif.core.vision_reward.VisionRewardModel` is that model for any image-text-to-text
backbone. It is fitted here with the Bradley-Terry loss ``-log sigmoid(r(chosen) - r(rejected))`` in a
short loop of our own (TRL's ``RewardTrainer`` takes text sequence classifiers only): each batch holds
``optim.batch_size`` pairs, both sides in one forward pass, and AdamW (linear decay, gradient norm clipped
at 1, as TRL's defaults) trains the head and the backbone, or the head and LoRA adapters on the backbone
with ``optim.lora.enabled``.

The ``reward_model`` trainer (:class:`~polyrlaif.core.trainers.reward_model.RewardModelTrainer`) hands
pairs with prompt images or video to this one, so a run names ``reward_model`` for either kind; it is
also registered on its own as ``vision_reward_model``. Held-out pairs, the split and the metric names
are the text reward model's: ``eval_accuracy`` (before and after), ``eval_loss``, ``eval_margin``,
``train_accuracy``, ``loss``/``loss_first``, ``train_loss``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polyrlaif.core.config import TrainConfig
from polyrlaif.core.io import InputError
from polyrlaif.core.records import PreferencePair
from polyrlaif.core.trainers.base import (
    TrainResult,
    finished_result,
    free_memory,
    publish_checkpoint,
    training_device,
)
from polyrlaif.core.trainers.reward_model import held_out_metrics, pair_accuracy, split_pairs
from polyrlaif.core.vision_reward import VisionRewardModel, bradley_terry_loss, prepare_input

__all__ = ["VisionRewardModelTrainer", "check_vision_pairs", "has_visual_pairs", "pair_prompt"]

log = logging.getLogger(__name__)


def has_visual_pairs(pairs: Sequence[PreferencePair]) -> bool:
    """True when any pair's prompt carries an image or a video: a vision reward model is needed."""
    return any(m.kind in ("image", "video") for p in pairs for m in p.media)


def check_vision_pairs(pairs: Sequence[PreferencePair]) -> None:
    """Refuse pairs a vision reward model cannot learn from.

    Raises:
        ValueError: no pairs, answers that are media (a text-to-image pair), or audio in a prompt.
    """
    if not pairs:
        raise ValueError("no preference pairs to train the reward model on")
    for p in pairs:
        if p.chosen_media or p.rejected_media:
            raise ValueError(
                f"pair {p.pair_id!r}: its answers are media; the vision reward model scores text answers "
                "to prompts with images or video"
            )
        if any(m.kind not in ("image", "video") for m in p.media):
            kinds = sorted({m.kind for m in p.media} - {"image", "video"})
            raise ValueError(f"pair {p.pair_id!r} carries {'/'.join(kinds)} media, which a VLM cannot see")


def pair_prompt(pair: PreferencePair) -> list[dict[str, Any]]:
    """The conversation the policy answered: the pair's prompt with its media in the first user turn."""
    from polyrlaif.core.media import with_images

    messages = [{"role": "user", "content": pair.prompt}] if isinstance(pair.prompt, str) else pair.prompt
    return with_images(list(messages), pair.media)


class VisionRewardModelTrainer:
    """A Bradley-Terry vision reward model; registered as ``"vision_reward_model"``.

    ``train``'s data is a sequence of :class:`~polyrlaif.core.records.PreferencePair` s with prompt media;
    the result's ``model_path`` is a :class:`~polyrlaif.core.vision_reward.VisionRewardModel` folder that
    :class:`~polyrlaif.core.judges.vision_reward_model.VisionRewardModelScorer` loads.

    Args:
        cfg: the run's config; reads ``optim`` (lr, epochs, batch size in pairs, gradient accumulation, max
            steps, max length in tokens with the media's, LoRA, ``reward_eval_fraction``), ``model``
            (device, dtype, cache; ``num_frames``, the frames per video the policy reads, which the reward
            model is saved with and scores at) and ``run.seed`` (head initialisation, held-out split, data
            order).
    """

    name = "vision_reward_model"

    def __init__(self, cfg: TrainConfig) -> None:
        fraction = cfg.optim.reward_eval_fraction
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"optim.reward_eval_fraction must be in [0, 1), got {fraction}")
        if cfg.model.num_frames < 1:
            raise ValueError(f"model.num_frames must be >= 1, got {cfg.model.num_frames}")
        self.optim, self.model_cfg, self.seed = cfg.optim, cfg.model, cfg.run.seed
        self.num_frames = cfg.model.num_frames

    def train(
        self, model_path: str, pairs: Sequence[PreferencePair], output_dir: Path, *, seed: int | None = None
    ) -> TrainResult:
        """Train a vision reward model from the VLM ``model_path`` on ``pairs``; publish ``output_dir/model``.

        Returns the earlier result without training if ``output_dir/model`` is already finished.

        Returns:
            The published result, with the text reward model's metrics (see
            :meth:`~polyrlaif.core.trainers.reward_model.RewardModelTrainer.train`).

        Raises:
            InputError: a pair's image or video is missing or unreadable (naming the pair and the file).
            ValueError: no pairs, pairs a VLM cannot read, ``model_path`` not an image-text-to-text model,
                or no pair within ``optim.max_length`` tokens.
        """
        output_dir = Path(output_dir)
        seed = self.seed if seed is None else seed
        done = finished_result(output_dir)
        if done is not None:
            return done
        check_vision_pairs(pairs)
        setup_start = time.perf_counter()
        model, device = self._load(model_path, seed)
        kept, too_long = self._within_length(model, pairs)
        train_pairs, eval_pairs = split_pairs(kept, self.optim.reward_eval_fraction, seed)
        before = self._evaluate(model, eval_pairs)
        start = time.perf_counter()
        steps = self._fit(model, train_pairs, seed)
        seconds = time.perf_counter() - start
        after = self._evaluate(model, eval_pairs)

        metrics = held_out_metrics(
            self._summarise(steps, seconds),
            before,
            after,
            kind="vision reward model",
            pairs=pairs,
            train_pairs=train_pairs,
            eval_pairs=eval_pairs,
            too_long=too_long,
            setup_seconds=start - setup_start,
        )
        result = publish_checkpoint(output_dir, model.write_into, metrics)
        model = None  # drop the reference before freeing memory
        free_memory(device)
        return result

    def _load(self, model_path: str, seed: int) -> tuple[VisionRewardModel, str]:
        """The backbone with a new head (and LoRA adapters when asked), on its device, in training dtype."""
        import torch

        from polyrlaif.core.models import resolve_model_path
        from polyrlaif.core.trainers.trl_dpo import peft_lora_config

        device, dtype = training_device(self.model_cfg)
        if dtype == torch.float16:
            dtype = torch.float32  # float16 weights do not train without a grad scaler; keep float32
        path = resolve_model_path(model_path, self.model_cfg.cache_dir)
        model = VisionRewardModel.from_backbone(
            path, num_frames=self.num_frames, device=device, dtype=dtype, seed=seed,
            pooling=self.optim.reward_pooling,
        )  # fmt: skip
        lora = peft_lora_config(self.optim.lora)
        if lora is not None:
            model.add_lora(lora)
        return model, device

    def _batch(self, model: VisionRewardModel, pairs: Sequence[PreferencePair]) -> dict[str, Any]:
        """Both sides of each pair, chosen first then rejected, encoded as one batch.

        Raises:
            InputError: naming the pair and the file it cannot read.
        """
        items = []
        for side in ("chosen", "rejected"):
            for p in pairs:
                items.append((p, (pair_prompt(p), getattr(p, side))))
        memo: dict[str, Any] = {}
        inputs = []
        for p, (prompt, answer) in items:
            try:
                inputs.append(
                    prepare_input(model.processor, prompt, answer, num_frames=model.num_frames, memo=memo,
                                  count_answer=model.counts_answers)
                )
            except InputError as exc:
                raise InputError(f"pair {p.pair_id!r}: {exc}") from None
            except ValueError as exc:
                raise ValueError(f"pair {p.pair_id!r}: {exc}") from None
        return model.encode(inputs)

    def _within_length(
        self, model: VisionRewardModel, pairs: Sequence[PreferencePair]
    ) -> tuple[list[PreferencePair], int]:
        """The pairs whose both sides fit ``optim.max_length`` tokens (media tokens included), and how many
        did not. Every pair's media is read once here, so an unreadable file fails before training."""
        kept = []
        for p in pairs:
            lengths = self._batch(model, [p])["attention_mask"].sum(-1)
            if int(lengths.max()) <= self.optim.max_length:
                kept.append(p)  # truncating would cut the answer's end, where the reward is read
        if not kept:
            raise ValueError(
                f"all {len(pairs)} pairs are over optim.max_length={self.optim.max_length} tokens"
            )
        if len(kept) < len(pairs):
            log.warning("%d of %d pairs over optim.max_length=%d tokens left out",
                        len(pairs) - len(kept), len(pairs), self.optim.max_length)  # fmt: skip
        return kept, len(pairs) - len(kept)

    def _evaluate(self, model: VisionRewardModel, pairs: Sequence[PreferencePair]) -> dict[str, float]:
        """Held-out accuracy, loss and margin; no gradients."""
        import torch

        if not pairs:
            return {}
        chosen: list[float] = []
        rejected: list[float] = []
        model.eval()
        with torch.inference_mode():
            for i in range(0, len(pairs), self.optim.batch_size):
                chunk = pairs[i : i + self.optim.batch_size]
                rewards = model(self._batch(model, chunk)).float().cpu().tolist()
                chosen += rewards[: len(chunk)]
                rejected += rewards[len(chunk) :]
        return pair_accuracy(chosen, rejected)

    def _fit(
        self, model: VisionRewardModel, pairs: Sequence[PreferencePair], seed: int
    ) -> list[dict[str, float]]:
        """The training loop; returns one log row per optimiser step (loss, accuracy, margin, epoch)."""
        import torch
        from transformers import get_linear_schedule_with_warmup

        o = self.optim
        per_epoch = math.ceil(len(pairs) / o.batch_size)  # batches; the last one of an epoch may be short
        steps = o.max_steps if o.max_steps > 0 else max(1, math.ceil(o.epochs * per_epoch / o.grad_accum))
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=o.lr, weight_decay=0.0)
        sched = get_linear_schedule_with_warmup(opt, 0, steps)
        gen = torch.Generator().manual_seed(seed)
        batches: list[list[int]] = []
        epoch = 0
        logs = []
        model.train()
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            margins = []
            total = 0.0
            for _ in range(o.grad_accum):
                if not batches:  # a new epoch: a fresh order, cut into batches
                    order = torch.randperm(len(pairs), generator=gen).tolist()
                    batches = [order[i : i + o.batch_size] for i in range(0, len(order), o.batch_size)]
                    epoch += 1
                chunk = [pairs[i] for i in batches.pop(0)]
                rewards = model(self._batch(model, chunk))
                chosen, rejected = rewards[: len(chunk)], rewards[len(chunk) :]
                loss = bradley_terry_loss(chosen, rejected) / o.grad_accum
                loss.backward()
                total += float(loss.detach())
                margins += (chosen - rejected).detach().float().cpu().tolist()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            logs.append(
                {
                    "loss": total,
                    "accuracy": sum(m > 0 for m in margins) / len(margins),
                    "margin": sum(margins) / len(margins),
                    "epoch": float(epoch),
                }
            )
        model.eval()
        return logs

    @staticmethod
    def _summarise(logs: list[dict[str, float]], seconds: float) -> dict[str, float]:
        """Per-step logs as the text reward model reports them: first and last loss/accuracy/margin, the
        last epoch's mean accuracy, the mean loss over all steps (``train_loss``)."""
        out: dict[str, float] = {
            "steps": float(len(logs)),
            "train_seconds": round(seconds, 3),
            "seconds_per_step": round(seconds / len(logs), 3) if logs else 0.0,
        }
        if not logs:
            return out
        for key in ("loss", "accuracy", "margin"):
            out[key] = logs[-1][key]
            out[f"{key}_first"] = logs[0][key]
        last = [row["accuracy"] for row in logs if row["epoch"] == logs[-1]["epoch"]]
        out["train_accuracy"] = sum(last) / len(last)
        out["train_loss"] = sum(row["loss"] for row in logs) / len(logs)
        return out
