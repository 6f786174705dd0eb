"""A trained vision reward model as a scorer and a TRL-style reward function for online RL.

The vision counterpart of :mod:`polyrlaif.core.judges.reward_model`: the model is a
:class:`~polyrlaif.core.vision_reward.VisionRewardModel` folder (what
:class:`~polyrlaif.core.trainers.vision_reward.VisionRewardModelTrainer` publishes), and it scores a
completion to a prompt that carries images or videos by reading them, through the same
:func:`~polyrlaif.core.vision_reward.prepare_input` it was trained on.

Prompts are strings or chat messages whose parts may be ``{"type": "image", "path": ...}``,
``{"type": "image", "image": <PIL image>}`` (how TRL's GRPO hands a VLM's prompts to reward functions)
or ``{"type": "video", "path": ...}``; completions are strings or assistant messages of text. A failure
is a value: ``None`` with a reason, counted in ``stats`` by the text before its first ``:``
(``reward_model_media_file``: an image or video that is missing or unreadable, naming the file;
``reward_model_input``: a malformed prompt or answer; ``reward_model_too_long``; ``reward_model_error``:
a forward pass that raised).

:func:`reward_model_scorer` opens either kind of reward model folder with the right scorer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polyrlaif.core.io import InputError
from polyrlaif.core.judges.reward_scorer import BaseRewardScorer

__all__ = ["VisionRewardModelScorer", "reward_model_scorer"]

log = logging.getLogger(__name__)


class VisionRewardModelScorer(BaseRewardScorer):
    """Scores (prompt, completion) pairs with a vision reward model: batched, no gradients.

    The model loads on first use, in eval mode. Settings and :attr:`stats` are
    :class:`BaseRewardScorer`'s, but ``batch_size`` (conversations per forward pass) defaults to 8 and
    ``max_length`` counts media tokens too. Its reward function ignores TRL's ``images`` column: those
    images are already in its prompts' image parts.
    """

    def __init__(self, path: str | Path, *, batch_size: int = 8, **settings: Any) -> None:
        super().__init__(path, batch_size=batch_size, **settings)

    @property
    def model(self) -> Any:
        """The loaded :class:`~polyrlaif.core.vision_reward.VisionRewardModel`.

        Raises:
            InputError: the folder is not a vision reward model.
        """
        if self._model is None:
            from polyrlaif.core.models import pick_device, pick_dtype, resolve_model_path
            from polyrlaif.core.vision_reward import VisionRewardModel

            device = pick_device(self.device)
            model = VisionRewardModel.load(
                resolve_model_path(self.path), device=device, dtype=pick_dtype(self.dtype, device)
            )
            if self.max_length is None:
                self.max_length = getattr(
                    model.backbone.config.get_text_config(), "max_position_embeddings", None
                )
            self._model = model
        return self._model

    def _batch(
        self, model: Any, chunk: list[tuple[int, Any]], failures: list[str | None]
    ) -> list[float | None]:
        """Rewards of a chunk's inputs, ``None`` for those over ``max_length`` (marked in ``failures``)."""
        import torch

        batch = model.encode([x for _, x in chunk])
        lengths = batch["attention_mask"].sum(-1).tolist()
        kept = [k for k, n in enumerate(lengths) if self.max_length is None or n <= self.max_length]
        for k in sorted(set(range(len(chunk))) - set(kept)):
            failures[chunk[k][0]] = (
                f"reward_model_too_long: {lengths[k]} tokens, over max_length={self.max_length}"
            )
        out: list[float | None] = [None] * len(chunk)
        if not kept:
            return out
        if len(kept) < len(chunk):
            batch = model.encode([chunk[k][1] for k in kept])
        with torch.inference_mode():
            values = model(batch).float().cpu().tolist()
        for k, v in zip(kept, values, strict=True):
            out[k] = float(v)
        return out

    def try_score(
        self, prompts: Sequence[Any], completions: Sequence[Any]
    ) -> tuple[list[float | None], list[str | None]]:
        """Score what can be scored; say why for the rest.

        Returns:
            ``(scores, failures)``: per input, a float and ``None``, or ``None`` and the reason.

        Raises:
            ValueError: ``prompts`` and ``completions`` differ in length.
        """
        if len(prompts) != len(completions):
            raise ValueError(f"{len(prompts)} prompts for {len(completions)} completions")
        from polyrlaif.core.vision_reward import prepare_input

        model = self.model
        scores: list[float | None] = [None] * len(prompts)
        failures: list[str | None] = [None] * len(prompts)
        ready: list[tuple[int, Any]] = []
        memo: dict[str, Any] = {}  # a group's completions share their prompt: its media are read once
        for i, (p, c) in enumerate(zip(prompts, completions, strict=True)):
            try:
                ready.append(
                    (i, prepare_input(model.processor, p, c, num_frames=model.num_frames, memo=memo,
                                   count_answer=model.counts_answers))
                )
            except InputError as exc:
                failures[i] = f"reward_model_media_file: {exc}"
            except ValueError as exc:
                failures[i] = f"reward_model_input: {exc}"
        ready.sort(key=lambda r: -len(r[1].text))  # similar lengths together: little padding per batch
        for start in range(0, len(ready), self.batch_size):
            chunk = ready[start : start + self.batch_size]
            try:
                values = self._batch(model, chunk, failures)
            except Exception as exc:  # a failed forward pass is each input's failure, not the caller's crash
                log.warning("vision reward model forward pass failed: %s: %s", type(exc).__name__, exc)
                for i, _ in chunk:
                    failures[i] = failures[i] or f"reward_model_error: {type(exc).__name__}: {exc}"
                continue
            for (i, _), value in zip(chunk, values, strict=True):
                scores[i] = value
        return scores, failures


def reward_model_scorer(path: str | Path, **kwargs: Any) -> Any:
    """The scorer for a reward model folder: :class:`VisionRewardModelScorer` for a vision reward model,
    :class:`~polyrlaif.core.judges.reward_model.RewardModelScorer` for a text one.

    Args:
        path: the folder (a registry alias or hub id resolves; a hub id is taken as a text reward model).
        **kwargs: the scorer's settings (device, batch size, dtype, max length).
    """
    from polyrlaif.core.judges.reward_model import RewardModelScorer
    from polyrlaif.core.models import resolve_model_path
    from polyrlaif.core.vision_reward import is_vision_reward_model

    if is_vision_reward_model(resolve_model_path(str(path))):
        return VisionRewardModelScorer(path, **kwargs)
    return RewardModelScorer(path, **kwargs)
