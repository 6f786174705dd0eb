"""Experiment tracking: one tracked run per ``polyrlaif train``, through accelerate's trackers.

``run.report_to`` names the tracker, with the values TRL's ``report_to`` takes: ``tensorboard`` (the
default; event files under ``<output_dir>/tensorboard/<run name>/``, no account), ``wandb``, ``trackio``,
``mlflow`` (each when its package is installed), or ``none``. accelerate's tracker classes
(``accelerate.tracking``) do the writing, so each service is driven the way its maintainers wrote it.

What goes in, all under one run:

* every optimiser step of every trainer, the fast DPO loop and TRL's trainers alike, as ``train/<key>``
  against the run's global training step (rounds continue one another's count);
* every round's evaluation and feedback metrics, as ``round/<key>`` against the round index.

The trainers do not hold the tracker: :func:`session` makes it the active one for the length of a
command, and :func:`log_step` (our own loops) and :func:`callbacks` (TRL's trainers, which keep
``report_to="none"`` so they open no second run) forward to it; with no active tracker they do nothing.
"""

from __future__ import annotations

import functools
import importlib.util
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from polyrlaif.core.log import get_logger

__all__ = [
    "REPORT_TO",
    "Tracker",
    "active",
    "callbacks",
    "check_report_to",
    "log_round",
    "log_step",
    "quiet",
    "session",
]

log = get_logger(__name__)

#: ``run.report_to`` values, and the package each needs.
REPORT_TO = {
    "none": None,
    "tensorboard": "tensorboard",
    "wandb": "wandb",
    "trackio": "trackio",
    "mlflow": "mlflow",
}

#: Keys of a step row that are counters, not metrics.
_NOT_METRICS = frozenset({"step", "epoch", "round"})

_ACTIVE: Tracker | None = None


def check_report_to(name: str) -> None:
    """Refuse an unknown tracker, or one whose package is not installed, before any work.

    Raises:
        ValueError: naming the valid values, or the package to install.
    """
    if name not in REPORT_TO:
        raise ValueError(f"run.report_to={name!r}: valid values are {', '.join(REPORT_TO)}")
    package = REPORT_TO[name]
    if package is not None and importlib.util.find_spec(package) is None:
        raise ValueError(
            f"run.report_to={name}: the {package} package is not installed (pip install {package}), "
            "or choose run.report_to=tensorboard or none"
        )


def _numbers(values: Mapping[str, Any]) -> dict[str, float]:
    """The finite numeric entries of ``values`` (booleans and strings left out)."""
    out = {}
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if math.isfinite(value):
            out[key] = float(value)
    return out


class Tracker:
    """One tracked run, opened at its first logged value (so a run refused before any work leaves
    nothing behind).

    Args:
        kind: a ``run.report_to`` value other than ``none``.
        output_dir: the run's folder; TensorBoard writes under ``<output_dir>/tensorboard/<folder name>``.
        config: the resolved run config, stored as the run's hyperparameters (flattened).
    """

    def __init__(self, kind: str, output_dir: str | Path, config: Mapping[str, Any] | None = None) -> None:
        check_report_to(kind)
        self.kind = kind
        self.out = Path(output_dir)
        self.config = dict(config or {})
        self.step = 0
        self._rounds: set[int] = set()
        self._tracker: Any = None

    def _open(self) -> Any:
        if self._tracker is None:
            from accelerate.tracking import LOGGER_TYPE_TO_CLASS

            name, cls = self.out.resolve().name, LOGGER_TYPE_TO_CLASS[self.kind]
            if self.kind == "tensorboard":
                tracker = cls(name, self.out / "tensorboard")
            elif self.kind == "mlflow":
                tracker = cls(
                    experiment_name="polyrlaif", logging_dir=str(self.out / "mlflow"), run_name=name
                )
            else:  # wandb, trackio: the project is polyrlaif, the run is named after its folder
                tracker = cls("polyrlaif", name=name)
            tracker.start()
            if self.config:
                tracker.store_init_configuration(_flat(self.config))
            self._tracker = tracker
            if self.logging_dir:
                log.info(f"tracking to {self.kind}: {self.logging_dir}")
        return self._tracker

    @property
    def logging_dir(self) -> str | None:
        """Where a file-based tracker writes (TensorBoard's event files), else ``None``."""
        return getattr(self._tracker, "logging_dir", None)

    def log_step(self, values: Mapping[str, Any]) -> None:
        """One optimiser step's metrics, as ``train/<key>`` at the next global step."""
        numbers = {f"train/{k}": v for k, v in _numbers(values).items() if k not in _NOT_METRICS}
        if numbers:
            self.step += 1
            self._open().log(numbers, step=self.step)

    def log_round(self, round_idx: int, values: Mapping[str, Any]) -> None:
        """A round's evaluation and feedback metrics, as ``round/<key>`` at step ``round_idx`` (once per
        round: a round already logged is skipped)."""
        if round_idx in self._rounds:
            return
        self._rounds.add(round_idx)
        numbers = {f"round/{k}": v for k, v in _numbers(values).items() if k not in _NOT_METRICS}
        if numbers:
            self._open().log(numbers, step=round_idx)

    def close(self) -> None:
        """Flush and close the run (if it was opened)."""
        if self._tracker is not None:
            self._tracker.finish()


def _flat(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config sections as ``a.b`` keys; lists and ``None`` as strings (what trackers take)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{name}."))
        elif isinstance(value, (bool, int, float, str)):
            out[name] = value
        else:
            out[name] = str(value)
    return out


@contextmanager
def session(
    kind: str, output_dir: str | Path, config: Mapping[str, Any] | None = None
) -> Iterator[Tracker | None]:
    """Make a tracker for ``kind`` the active one while the block runs (``none``: no tracker)."""
    global _ACTIVE
    if kind == "none":
        yield None
        return
    tracker = Tracker(kind, output_dir, config)
    previous, _ACTIVE = _ACTIVE, tracker
    try:
        yield tracker
    finally:
        _ACTIVE = previous
        tracker.close()


def active() -> Tracker | None:
    """The tracker of the running command, if any."""
    return _ACTIVE


def log_step(values: Mapping[str, Any]) -> None:
    """Log a training step to the active tracker (nothing without one)."""
    if _ACTIVE is not None:
        _ACTIVE.log_step(values)


def log_round(round_idx: int, values: Mapping[str, Any]) -> None:
    """Log a round's metrics to the active tracker (nothing without one)."""
    if _ACTIVE is not None:
        _ACTIVE.log_round(round_idx, values)


@functools.cache
def _callback_class() -> type:
    from transformers import TrainerCallback

    class TrackerCallback(TrainerCallback):
        """Forwards each training log row of a transformers ``Trainer`` to the active tracker."""

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:  # noqa: ARG002
            if logs and "train_runtime" not in logs:  # the end-of-training summary is not a step
                log_step(logs)

    return TrackerCallback


@functools.cache
def _quiet_progress_class() -> type:
    from transformers.trainer_callback import ProgressCallback

    class QuietProgress(ProgressCallback):
        """transformers' progress bar without its per-step ``{'loss': ...}`` lines on the terminal: each
        row goes to the run's log file (``train.log``) at debug level instead."""

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:  # noqa: ARG002
            if logs and state.is_world_process_zero:
                log.debug(f"step {state.global_step}: {dict(logs)}")

    return QuietProgress


def quiet(trainer: Any) -> Any:
    """Swap a transformers/TRL trainer's progress bar for one that keeps the per-step log rows off the
    terminal (they go to ``train.log``; the bar and its ETA stay). Returns the trainer."""
    from transformers.trainer_callback import ProgressCallback

    if trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(_quiet_progress_class()())
    return trainer


def callbacks() -> list[Any]:
    """The ``callbacks`` for a transformers/TRL trainer: one that forwards its step logs to the active
    tracker (TRL's DPO, GRPO, RLOO, SFT and reward trainers keep ``report_to="none"``, so the run's
    one tracker gets their steps instead of a second run of their own)."""
    return [_callback_class()()]
