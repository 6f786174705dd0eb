"""Reward-model training: a scalar head on a causal LM, fitted to preference pairs (Bradley-Terry).

The policy's causal-LM checkpoint is loaded as a sequence-classification model with one label (its LM
head dropped, a fresh ``score`` head added) and trained through TRL's ``RewardTrainer`` on
``-log sigmoid(r(chosen) - r(rejected))``. TRL owns batching, the loss and the optimiser; this module
maps our config and pairs onto it, holds out pairs to measure what was learnt, and publishes a plain
checkpoint (LoRA adapters, when ``optim.lora.enabled``, are merged, and the head is saved with them).

The pairs are tokenized here, not by TRL, with
:func:`polyrlaif.core.judges.reward_model.reward_model_input`, the function the scorer uses at RL
time: the model is scored on exactly the rendering it was trained on. TRL's ``RewardTrainer``
accepts such pre-tokenized rows (``chosen_ids``/``rejected_ids``) and skips its own processing.

Held-out pairs (``optim.reward_eval_fraction``) are split by prompt, so no prompt is both trained and
tested on; the held-out accuracy (chosen reward above rejected reward) is measured before and after
training, which says whether the model learnt the judge's preference or only fitted the training
pairs.

Pairs whose prompts carry images or video go to the vision reward model
(:class:`~polyrlaif.core.trainers.vision_reward.VisionRewardModelTrainer`, also registered as
``vision_reward_model``: an image or video LMM with a scalar head, the same held-out split and metrics),
so ``reward_model`` is the one name a run uses for either kind; which one trained is logged. Pairs whose
answers are media, or with audio, are refused with a clear error.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polyrlaif.core import tracking
from polyrlaif.core.config import TrainConfig
from polyrlaif.core.records import PreferencePair
from polyrlaif.core.trainers.base import (
    CHECKPOINT_DIR,
    TrainResult,
    finished_result,
    free_memory,
    no_checkpointing,
    publish_trained,
    training_device,
)
from polyrlaif.core.trainers.distributed import per_rank_batch, ranks

__all__ = ["RewardModelTrainer", "check_text_pairs", "held_out_metrics", "pair_accuracy", "split_pairs"]

log = logging.getLogger(__name__)

#: TRL's per-step values reported (last value, and first as ``<name>_first``).
_REPORTED = ("loss", "accuracy", "margin")


def check_text_pairs(pairs: Sequence[PreferencePair]) -> None:
    """Refuse pairs a text reward model cannot learn from.

    Raises:
        ValueError: no pairs, or a pair carries media (naming the first such pair and the limitation).
    """
    if not pairs:
        raise ValueError("no preference pairs to train the reward model on")
    for p in pairs:
        if p.media or p.chosen_media or p.rejected_media:
            kinds = sorted({m.kind for m in (*p.media, *p.chosen_media, *p.rejected_media)})
            raise ValueError(
                f"pair {p.pair_id!r} carries {'/'.join(kinds)} media: a text reward model cannot see them "
                "(pairs whose prompts carry images or video train the vision reward model); train on "
                "text-only pairs, or use a judge that sees the media"
            )


def split_pairs(
    pairs: Sequence[PreferencePair], fraction: float, seed: int
) -> tuple[list[PreferencePair], list[PreferencePair]]:
    """Split pairs into (train, held out) by prompt: every pair of a prompt lands on the same side.

    Prompts are shuffled with ``seed`` and taken for the held-out side until it holds about
    ``fraction`` of the pairs (at least one prompt when ``fraction > 0`` and there are two or more
    prompts); the training side always keeps at least one prompt.
    """
    by_prompt: dict[str, list[int]] = {}
    for i, p in enumerate(pairs):
        by_prompt.setdefault(p.prompt_id, []).append(i)
    prompt_ids = sorted(by_prompt)
    random.Random(seed).shuffle(prompt_ids)
    held: set[int] = set()
    for pid in prompt_ids[:-1]:  # the last prompt always trains
        if fraction <= 0 or (held and len(held) >= fraction * len(pairs)):
            break
        held.update(by_prompt[pid])
    return [p for i, p in enumerate(pairs) if i not in held], [p for i, p in enumerate(pairs) if i in held]


def pair_accuracy(chosen: Sequence[float], rejected: Sequence[float]) -> dict[str, float]:
    """Accuracy (chosen strictly above rejected), mean Bradley-Terry loss and mean margin of scored pairs."""
    margins = [c - r for c, r in zip(chosen, rejected, strict=True)]
    if not margins:
        return {}
    # -log sigmoid(m) = log(1 + e^-m), computed stably for either sign of m
    losses = [max(-m, 0.0) + math.log1p(math.exp(-abs(m))) for m in margins]
    return {
        "accuracy": sum(m > 0 for m in margins) / len(margins),
        "loss": sum(losses) / len(losses),
        "margin": sum(margins) / len(margins),
    }


def held_out_metrics(
    summary: dict[str, float],
    before: dict[str, float],
    after: dict[str, float],
    *,
    kind: str,
    pairs: Sequence[PreferencePair],
    train_pairs: Sequence[PreferencePair],
    eval_pairs: Sequence[PreferencePair],
    too_long: int,
    setup_seconds: float,
) -> dict[str, float]:
    """A reward model's metrics, text or vision alike, logged in one line naming ``kind``.

    Args:
        summary: the training loop's (``steps``, ``loss``, ``train_accuracy``, ...).
        before: :func:`pair_accuracy` of the held-out pairs before training (its accuracy is reported as
            ``eval_accuracy_before``).
        after: the same after training (reported as ``eval_<name>``).
        kind: what trained, for the log line.
        pairs: every pair given; train_pairs, eval_pairs: the split of those within the length limit.
        too_long: pairs left out as over ``optim.max_length``.
        setup_seconds: loading and encoding time before training.
    """
    metrics = dict(summary)
    metrics.update({f"eval_{k}": round(v, 6) for k, v in after.items()})
    if "accuracy" in before:
        metrics["eval_accuracy_before"] = before["accuracy"]
    metrics.update(
        pairs=float(len(pairs)),
        train_pairs=float(len(train_pairs)),
        eval_pairs=float(len(eval_pairs)),
        pairs_too_long=float(too_long),
        setup_seconds=round(setup_seconds, 3),
    )
    log.info(
        "%s: held-out accuracy %.3f (untrained %.3f) on %d pairs, %d steps",
        kind,
        metrics.get("eval_accuracy", float("nan")),
        metrics.get("eval_accuracy_before", float("nan")),
        len(eval_pairs),
        int(metrics.get("steps", 0)),
    )
    return metrics


class RewardModelTrainer:
    """A Bradley-Terry reward model through TRL's ``RewardTrainer``; registered as ``"reward_model"``.

    ``train``'s data is a sequence of text :class:`~polyrlaif.core.records.PreferencePair` s; the
    result's ``model_path`` is a sequence-classification checkpoint that
    :class:`~polyrlaif.core.judges.reward_model.RewardModelScorer` loads. Pairs whose prompts carry
    images or video are handed to the ``vision_reward_model`` trainer instead (``model_path`` must then be
    an image-text-to-text model; the scorer is
    :class:`~polyrlaif.core.judges.vision_reward_model.VisionRewardModelScorer`).

    Args:
        cfg: the run's config; reads ``optim`` (lr, epochs, batch size, gradient accumulation, max steps,
            max length, LoRA, ``reward_eval_fraction``), ``model`` (device, dtype, cache; ``num_frames`` for
            pairs whose prompts carry video) and ``run.seed`` (head initialisation, held-out split, data
            order).
    """

    name = "reward_model"

    def __init__(self, cfg: TrainConfig) -> None:
        fraction = cfg.optim.reward_eval_fraction
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"optim.reward_eval_fraction must be in [0, 1), got {fraction}")
        self.cfg = cfg  # for the vision reward model, when the pairs need it
        self.optim = cfg.optim
        self.model_cfg = cfg.model
        self.seed = cfg.run.seed

    def train(
        self, model_path: str, pairs: Sequence[PreferencePair], output_dir: Path, *, seed: int | None = None
    ) -> TrainResult:
        """Train a reward model from the causal LM ``model_path`` on ``pairs``; publish ``output_dir/model``.

        Returns the earlier result without training if ``output_dir/model`` is already finished.

        Returns:
            The published result. Metrics: ``eval_accuracy`` (held-out pairs, chosen reward above
            rejected) and ``eval_accuracy_before`` (the same pairs, untrained head), ``eval_loss``,
            ``eval_margin``, ``train_accuracy`` (TRL's per-batch accuracy averaged over the last epoch's
            steps), ``loss`` (last step) and ``loss_first``, ``train_loss``, ``steps``, ``pairs``,
            ``train_pairs``, ``eval_pairs``, ``pairs_too_long``, ``train_seconds``, ``setup_seconds``.

        Raises:
            ValueError: no pairs, pairs whose answers are media or with audio, or no pair within
                ``optim.max_length`` tokens (and as the vision trainer, for pairs with images or video).
        """
        output_dir = Path(output_dir)
        seed = self.seed if seed is None else seed
        done = finished_result(output_dir)
        if done is not None:
            return done
        if any(m.kind in ("image", "video") for p in pairs for m in p.media):
            from polyrlaif.core.registry import TRAINERS

            log.info("the pairs' prompts carry images or video: training a vision reward model")
            here = ranks()
            if not here.main:  # under a launcher the vision reward model trains on rank 0 alone
                here.barrier()
                return TrainResult(model_path=str(output_dir / CHECKPOINT_DIR), metrics={})
            vision = TRAINERS.get("vision_reward_model")(self.cfg)
            result = vision.train(model_path, pairs, output_dir, seed=seed)
            here.barrier()
            return result
        check_text_pairs(pairs)
        if self.optim.reward_pooling != "last_token":
            raise ValueError(
                f"optim.reward_pooling={self.optim.reward_pooling} is read by vision reward models only; a "
                "text reward model (TRL's RewardTrainer, a sequence classifier) scores from its last token"
            )

        from datasets import Dataset
        from trl import RewardTrainer

        from polyrlaif.core.judges.reward_model import reward_model_input, score_ids

        setup_start = time.perf_counter()
        model, tokenizer, device, dtype = self._load(model_path, seed)
        encoded, too_long = [], 0
        for p in pairs:
            row = {
                "chosen_ids": reward_model_input(tokenizer, p.prompt, p.chosen),
                "rejected_ids": reward_model_input(tokenizer, p.prompt, p.rejected),
            }
            if max(len(row["chosen_ids"]), len(row["rejected_ids"])) > self.optim.max_length:
                too_long += 1  # truncating would cut the answer's end, where the reward is read
                continue
            encoded.append((p, row))
        if not encoded:
            raise ValueError(
                f"all {len(pairs)} pairs are over optim.max_length={self.optim.max_length} tokens"
            )
        if too_long:
            log.warning(
                "%d of %d pairs over optim.max_length=%d tokens left out",
                too_long,
                len(pairs),
                self.optim.max_length,
            )
        rows = {id(p): row for p, row in encoded}
        train_pairs, eval_pairs = split_pairs([p for p, _ in encoded], self.optim.reward_eval_fraction, seed)

        def evaluate() -> dict[str, float]:
            ids = [rows[id(p)][k] for k in ("chosen_ids", "rejected_ids") for p in eval_pairs]
            scores = score_ids(
                model, ids, pad_token_id=tokenizer.pad_token_id, batch_size=self.optim.batch_size * 2
            )
            return pair_accuracy(scores[: len(eval_pairs)], scores[len(eval_pairs) :])

        before = evaluate()
        trainer = RewardTrainer(
            model=model,
            args=self._reward_config(output_dir, device, dtype, seed),
            train_dataset=Dataset.from_list([rows[id(p)] for p in train_pairs]),
            processing_class=tokenizer,
            peft_config=self._lora(),
            callbacks=tracking.callbacks(),  # steps to the run's tracker (run.report_to)
        )
        tracking.quiet(trainer)  # per-step dicts to train.log, not the terminal
        start = time.perf_counter()
        setup_seconds = start - setup_start
        trainer.train()
        seconds = time.perf_counter() - start
        model = trainer.model.merge_and_unload() if self.optim.lora.enabled else trainer.model
        after = evaluate()

        metrics = held_out_metrics(
            self._summarise(trainer, seconds),
            before,
            after,
            kind="reward model",
            pairs=pairs,
            train_pairs=train_pairs,
            eval_pairs=eval_pairs,
            too_long=too_long,
            setup_seconds=setup_seconds,
        )
        result = publish_trained(output_dir, model, tokenizer, metrics)
        trainer = model = None  # drop the references before freeing memory
        free_memory(device)
        return result

    def _load(self, model_path: str, seed: int) -> tuple[Any, Any, str, Any]:
        """The causal LM as a one-label sequence classifier (head seeded by ``seed``), its tokenizer, the
        device and the training dtype (mixed precision on a GPU)."""
        import contextlib

        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer, set_seed

        from polyrlaif.core.models import resolve_model_path

        device, dtype = training_device(self.model_cfg)
        # float16 weights cannot be trained with the fp16 grad scaler: keep float32 masters there
        load_dtype = torch.float32 if dtype == torch.float16 else dtype
        path = resolve_model_path(model_path, self.model_cfg.cache_dir)
        tokenizer = AutoTokenizer.from_pretrained(path)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        try:  # TRL's scoped silencing of "score.weight newly initialised" / "lm_head unexpected"
            from trl.trainer.reward_trainer import suppress_seqcls_warning
        except ImportError:  # pragma: no cover - older or newer TRL without it
            suppress_seqcls_warning = contextlib.nullcontext
        set_seed(seed)  # the new score head's initialisation
        with suppress_seqcls_warning():
            model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, dtype=load_dtype)
        # the classifier reads its score at the last token that is not padding
        model.config.pad_token_id = tokenizer.pad_token_id
        return model.to(device), tokenizer, device, dtype  # on the device for the untrained evaluation

    def _lora(self) -> Any:
        """The peft config for a sequence classifier (its ``score`` head trained in full), or ``None``."""
        from polyrlaif.core.trainers.trl_dpo import peft_lora_config

        config = peft_lora_config(self.optim.lora)
        return None if config is None else dataclasses.replace(config, task_type="SEQ_CLS")

    def _reward_config(self, output_dir: Path, device: str, dtype: Any, seed: int) -> Any:
        import torch
        from trl import RewardConfig

        o = self.optim
        return RewardConfig(
            output_dir=str(output_dir / "trl"),
            learning_rate=o.lr,
            num_train_epochs=o.epochs,
            max_steps=o.max_steps,
            per_device_train_batch_size=per_rank_batch(o.batch_size),  # optim.batch_size over all ranks
            gradient_accumulation_steps=o.grad_accum,
            max_length=None,  # over-long pairs are already left out, and counted
            seed=seed,
            data_seed=seed,
            use_cpu=device == "cpu",
            # TRL turns bf16 autocast on by default; only use mixed precision when asked for on a GPU
            bf16=dtype == torch.bfloat16,
            fp16=dtype == torch.float16,
            **no_checkpointing(RewardConfig),
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            dataloader_num_workers=0,
        )

    @staticmethod
    def _summarise(trainer: Any, seconds: float) -> dict[str, float]:
        """TRL's per-step logs as metrics: first and last loss/accuracy/margin, last epoch's mean accuracy."""
        history = trainer.state.log_history
        logged = [h for h in history if "loss" in h and "train_loss" not in h]
        steps = trainer.state.global_step
        out: dict[str, float] = {
            "steps": float(steps),
            "train_seconds": round(seconds, 3),
            "seconds_per_step": round(seconds / steps, 3) if steps else 0.0,
        }
        for key in _REPORTED:
            values = [float(h[key]) for h in logged if key in h]
            if values:
                out[key] = values[-1]
                out[f"{key}_first"] = values[0]
        # the final epoch's steps: those logged after the last epoch began
        began = math.ceil(float(logged[-1].get("epoch", 0))) - 1 if logged else 0
        last_epoch = [h for h in logged if "accuracy" in h and float(h.get("epoch", 0)) > began]
        if last_epoch:
            out["train_accuracy"] = sum(float(h["accuracy"]) for h in last_epoch) / len(last_epoch)
        final = [h for h in history if "train_loss" in h]
        if final:
            out["train_loss"] = float(final[-1]["train_loss"])
        return out
