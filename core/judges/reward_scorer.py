"""What the text and vision reward-model scorers share: settings, strict scoring, the TRL reward function.

:class:`~polyrlaif.core.judges.reward_model.RewardModelScorer` and
:class:`~polyrlaif.core.judges.vision_reward_model.VisionRewardModelScorer` differ in how they load a
model and turn (prompt, completion) into its input, i.e. in ``try_score``; everything built on
``try_score`` lives here once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polyrlaif.core.io import InputError
from polyrlaif.core.judges.modes import JudgeStats
from polyrlaif.core.protocols import RewardFn

__all__ = ["BaseRewardScorer"]


class BaseRewardScorer:
    """A reward model scorer: batched, no gradients, the model loaded on first use.

    Subclasses implement :meth:`try_score`.

    Args:
        path: the reward model's folder (a registry alias also resolves).
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda[:i]``.
        batch_size: inputs per forward pass.
        dtype: ``auto`` (float32 on CPU, bfloat16 on CUDA) or a dtype name.
        max_length: longest input in tokens; longer ones fail (``None``: the model's
            ``max_position_embeddings`` when it has one).

    Attributes:
        stats: failures of :meth:`as_reward_fn` calls, counted by reason.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        device: str = "auto",
        batch_size: int = 16,
        dtype: str = "auto",
        max_length: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.path = str(path)
        self.device = device
        self.batch_size = batch_size
        self.dtype = dtype
        self.max_length = max_length
        self.stats = JudgeStats()
        self._model: Any = None

    def try_score(
        self, prompts: Sequence[Any], completions: Sequence[Any]
    ) -> tuple[list[float | None], list[str | None]]:
        """Score what can be scored; say why for the rest.

        Returns:
            ``(scores, failures)``: per input, a float and ``None``, or ``None`` and the reason (its
            kind is the text before the first ``:``).

        Raises:
            ValueError: ``prompts`` and ``completions`` differ in length.
        """
        raise NotImplementedError

    def score(self, prompts: Sequence[Any], completions: Sequence[Any]) -> list[float]:
        """One reward per (prompt, completion), in order.

        Raises:
            InputError: a media file cannot be read (``reward_model_media_file``, naming its index and
                the file).
            ValueError: another input cannot be scored (naming its index and the reason).
        """
        scores, failures = self.try_score(prompts, completions)
        for i, failure in enumerate(failures):
            if failure is not None:
                error = InputError if failure.startswith("reward_model_media_file") else ValueError
                raise error(f"input {i}: {failure}")
        return [float(s) for s in scores]  # type: ignore[arg-type]

    def as_reward_fn(self, name: str = "reward_model") -> RewardFn:
        """This model as a TRL reward function named ``name`` (TRL logs ``rewards/<name>/mean``).

        The returned callable takes ``(prompts, completions, **columns)``, ignores the columns, and
        returns one float per completion, ``None`` where it failed; failures are counted by reason in
        :attr:`stats`, which the callable also exposes as ``stats``.
        """

        def reward_fn(
            prompts: Sequence[Any], completions: Sequence[Any], **columns: Any
        ) -> list[float | None]:
            scores, failures = self.try_score(prompts, completions)
            self.stats.calls += 1
            self.stats.judgments += len(scores)
            for failure in failures:
                if failure is not None:
                    self.stats.fail(failure)
            return scores

        reward_fn.__name__ = reward_fn.__qualname__ = name
        reward_fn.stats = self.stats  # type: ignore[attr-defined]
        reward_fn.scorer = self  # type: ignore[attr-defined]
        return reward_fn
