"""TRL's options, passed through: ``optim.trl`` into ``DPOConfig``, ``rl.trl`` into ``GRPOConfig`` or
``RLOOConfig``, checked against those classes when the config loads.

Anything TRL offers (loss types and their weights, Liger kernels, vLLM generation, gradient
checkpointing, ...) is then one line of YAML away:

.. code-block:: yaml

    optim:
      backend: trl
      trl: {loss_type: [robust], label_smoothing: 0.1}
    rl:
      trl: {use_vllm: true, vllm_mode: colocate}

A name the class does not have, a value its ``__post_init__`` refuses, or a setting the run owns
(``output_dir``, ``report_to``: see :data:`OWNED`) stops the run before any work. The pass-through wins
over the values the run derives from its own fields (``optim.lr`` and the like); each such override is
logged. The fast DPO backend takes no TRL options: it implements the loss types in
:data:`polyrlaif.core.losses.LOSS_TYPES`, each parity-tested against TRL's ``DPOTrainer``, and names
``optim.backend=trl`` for the others. The fast online backend takes ``epsilon`` and ``epsilon_high``; any
other ``rl.trl`` option that would change what it computes sends ``rl.backend=auto`` to TRL's trainer and
stops an explicit ``rl.backend=fast``.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import tempfile
from collections.abc import Mapping
from typing import Any

from polyrlaif.core.log import get_logger
from polyrlaif.core.losses import LOSS_TYPES

__all__ = ["OWNED", "check_trainer_options", "documented_values", "with_passthrough"]

log = get_logger(__name__)

#: TrainingArguments the run sets itself: where checkpoints and logs go, and how steps are tracked.
OWNED = frozenset({"output_dir", "report_to", "logging_steps", "save_strategy", "logging_dir"})


def _bad(where: str, key: str, value: Any, why: str) -> ValueError:
    return ValueError(f"{where}: invalid config at field {key!r}: {value!r}; {why}")


def documented_values(config_cls: Any, name: str) -> list[str]:
    """The values a TRL config field's help text lists (```'sigmoid'```-quoted), in TRL's own order."""
    meta = next((f.metadata for f in dataclasses.fields(config_cls) if f.name == name), {})
    return re.findall(r"`'([\w-]+)'`", meta.get("help", ""))


def _validate(config_cls: Any, options: Mapping[str, Any], key: str, where: str) -> None:
    names = {f.name for f in dataclasses.fields(config_cls)}
    for name in options:
        if name in OWNED:
            raise _bad(where, f"{key}.{name}", options[name], "the run sets this itself")
        if name not in names:
            near = difflib.get_close_matches(name, sorted(names), n=3)
            hint = f"did you mean {', '.join(near)}?" if near else f"see trl.{config_cls.__name__}"
            why = f"{config_cls.__name__} has no such field; {hint}"
            raise _bad(where, f"{key}.{name}", options[name], why)
    if "loss_type" in names and "loss_type" in options:  # the trainer, not the config, checks these
        valid = documented_values(config_cls, "loss_type")
        given = options["loss_type"]
        for kind in [given] if isinstance(given, str) else list(given):
            if valid and kind not in valid:
                why = f"{config_cls.__name__}'s loss types are {', '.join(valid)}"
                raise _bad(where, f"{key}.loss_type", kind, why)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            config_cls(output_dir=tmp, report_to="none", use_cpu=True, **options)
        except (ValueError, TypeError) as exc:
            raise _bad(where, key, dict(options), f"{config_cls.__name__} refuses it: {exc}") from None


def check_trainer_options(cfg: Any, where: str) -> None:
    """The loss type against the backend, and ``optim.trl`` / ``rl.trl`` against TRL's config classes.

    Raises:
        ValueError: naming the file, the field and what is valid.
    """
    o = cfg.optim
    if o.backend == "fast" and o.loss_type not in LOSS_TYPES:
        raise _bad(
            where, "optim.loss_type", o.loss_type,
            f"the fast backend implements {', '.join(LOSS_TYPES)} (each parity-tested against TRL's "
            "DPOTrainer); for other TRL loss types use optim.backend=trl",
        )  # fmt: skip
    if o.backend not in ("fast", "trl") and o.loss_type != "sigmoid":
        why = f"optim.backend={o.backend} trains the sigmoid loss only"
        raise _bad(where, "optim.loss_type", o.loss_type, why)
    if o.trl and o.backend != "trl":
        raise _bad(where, "optim.trl", dict(o.trl), "options for TRL's DPOConfig need optim.backend=trl")
    if o.backend == "trl" and (o.trl or o.loss_type not in LOSS_TYPES):
        from trl import DPOConfig

        _validate(DPOConfig, {"loss_type": [o.loss_type], **o.trl}, "optim.trl", where)
    if cfg.rl.trl:
        from trl import GRPOConfig, RLOOConfig

        _validate(GRPOConfig if cfg.rl.algorithm == "grpo" else RLOOConfig, cfg.rl.trl, "rl.trl", where)
    foreign = fast_foreign_options(cfg.rl.trl)
    if cfg.run.mode == "online" and cfg.rl.backend == "fast" and foreign:
        raise _bad(
            where, "rl.trl", foreign,
            "the fast backend implements TRL's defaults (loss_type dapo, scale_rewards group, one update "
            "per generation batch) with rl.trl.epsilon / epsilon_high; for other TRL options use "
            "rl.backend=trl",
        )  # fmt: skip


def fast_foreign_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The ``rl.trl`` options the fast online backend does not implement (with ``rl.backend=auto`` they
    send the run to TRL's trainer; with ``fast`` they stop it)."""
    return {
        k: v
        for k, v in options.items()
        if k not in FAST_RL_FREE and (k not in FAST_RL_OPTIONS or FAST_RL_OPTIONS[k] != v)
    }


#: ``rl.trl`` options the fast online backend honours at any value.
FAST_RL_FREE = frozenset({"epsilon", "epsilon_high"})
#: ``rl.trl`` options the fast backend accepts only at the value it implements (TRL's default).
FAST_RL_OPTIONS: dict[str, Any] = {"loss_type": "dapo", "scale_rewards": "group", "num_iterations": 1}


def with_passthrough(ours: dict[str, Any], passthrough: Mapping[str, Any], key: str) -> dict[str, Any]:
    """``ours`` updated by the user's pass-through options, each override of a derived value logged."""
    for name, value in passthrough.items():
        if name in ours and ours[name] != value:
            log.info(f"{key}.{name}={value!r} overrides the run's {name}={ours[name]!r}")
    return {**ours, **passthrough}
