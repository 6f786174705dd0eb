"""The trainer seam: one small protocol, one constructor, and the checkpoint layout every backend shares.

Every trainer, DPO or GRPO/RLOO (and reward models or Diffusion-DPO when they land), is a class
registered by name in :data:`polyrlaif.core.registry.TRAINERS` and built as ``Cls(cfg)`` from the
run's :class:`~polyrlaif.core.config.TrainConfig`, whose typed sections it reads directly (``optim``
or ``rl``, ``model``, ``run.seed``); no settings class copies a config section. ``train`` takes the
path of the current policy, the round's data (preference pairs, or an
:class:`~polyrlaif.core.protocols.OnlineTask`) and an output directory, and returns the path of a full
checkpoint the next round samples from. What "policy" and "pair" mean is the backend's business: the
DPO backends train a causal LM on text pairs; a Diffusion-DPO backend would read image paths from
``chosen``/``rejected`` and train a UNet. The ``preference`` and ``pairs`` recipes pick the trainer by
``optim.backend``, the ``online`` recipe by ``rl.algorithm``.

Every backend publishes its result the same way, so a rerun finds a finished round and skips it:
the checkpoint is written to ``<output_dir>/model.partial``, a ``DONE`` marker (JSON, holding the
metrics) is written into it last, and the directory is then renamed to ``<output_dir>/model``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from polyrlaif.core.config import ModelConfig, TrainConfig
from polyrlaif.core.io import atomic_write_json
from polyrlaif.core.records import PreferencePair

log = logging.getLogger(__name__)

__all__ = [
    "CHECKPOINT_DIR",
    "DONE_MARKER",
    "PreferenceTrainer",
    "Trainer",
    "TrainResult",
    "build_trainer",
    "finished_result",
    "is_finished",
    "publish_checkpoint",
    "free_memory",
    "freeze_parameters",
    "no_checkpointing",
    "publish_trained",
    "separate_reference",
    "training_device",
    "adamw_cosine",
    "seeded_batches",
    "training_model",
]

CHECKPOINT_DIR = "model"
DONE_MARKER = "DONE"
METRICS_FILE = "train_metrics.json"


@dataclass
class TrainResult:
    """What a training call produced.

    Attributes:
        model_path: directory of the full, plain checkpoint (weights, tokenizer or processor, configs).
        metrics: scalar training metrics (loss, reward accuracy and margins, steps, seconds, ...).
        resumed: True when the checkpoint was found finished and no training ran.
    """

    model_path: str
    metrics: dict[str, float] = field(default_factory=dict)
    resumed: bool = False


@runtime_checkable
class Trainer(Protocol):
    """A training backend. Construct as ``Cls(cfg)`` with the run's ``TrainConfig``."""

    def train(self, model_path: str, data: Any, output_dir: Path, *, seed: int | None = None) -> TrainResult:
        """Train from ``model_path`` on ``data``; write the checkpoint under ``output_dir``.

        ``seed`` overrides ``run.seed`` (e.g. a fresh one per online round). Must return at once,
        without training, when ``output_dir`` already holds a finished checkpoint
        (see :func:`finished_result`).
        """
        ...


@runtime_checkable
class PreferenceTrainer(Trainer, Protocol):
    """A trainer whose ``data`` is a sequence of :class:`~polyrlaif.core.records.PreferencePair`."""

    def train(
        self,
        model_path: str,
        data: Sequence[PreferencePair],
        output_dir: Path,
        *,
        seed: int | None = None,
        reference: str | None = None,
    ) -> TrainResult:
        """Train on preference pairs (see :meth:`Trainer.train`).

        ``reference`` is the model the update is held to (``optim.reference``); ``None``, or the same
        path as ``model_path``, means the policy the call starts from.
        """
        ...


def build_trainer(cfg: TrainConfig, name: str | None = None) -> Trainer:
    """Instantiate the trainer ``name`` (default ``optim.backend``) from the registry as ``Cls(cfg)``.

    Under ``accelerate launch`` rank 0 gets it wrapped in a
    :class:`~polyrlaif.core.trainers.distributed.LaunchedTrainer`, which makes every rank train with it.

    Raises:
        KeyError: listing the registered trainers when the name is unknown.
        ValueError: under a launcher, a trainer that does not train across processes yet.
    """
    from polyrlaif.core.registry import TRAINERS
    from polyrlaif.core.trainers.distributed import (
        LAUNCHED_BACKENDS,
        SHARDED_BACKENDS,
        LaunchedTrainer,
        ranks,
    )

    name = name or cfg.optim.backend
    if os.environ.get("ACCELERATE_USE_DEEPSPEED") == "true":  # set by accelerate launch
        raise ValueError(
            "DeepSpeed is not supported: launch with configs/accelerate/fsdp.yaml (FSDP full sharding, "
            "ZeRO-3's, for optim.backend=fast) or configs/accelerate/ddp.yaml (data parallel)"
        )
    if os.environ.get("ACCELERATE_USE_FSDP") == "true" and name not in SHARDED_BACKENDS:
        raise ValueError(
            f"trainer {name!r} does not shard its model yet (FSDP: {', '.join(SHARDED_BACKENDS)}); launch "
            "it with configs/accelerate/ddp.yaml (data parallel: every rank holds the whole model)"
        )
    trainer = TRAINERS.get(name)(cfg)
    here = ranks()
    if here.world == 1:
        return trainer
    if name not in LAUNCHED_BACKENDS:
        raise ValueError(
            f"trainer {name!r} under a launcher ({here.world} processes): only "
            f"{', '.join(LAUNCHED_BACKENDS)} trains across processes so far; run it in one process"
        )
    return LaunchedTrainer(trainer, name) if here.main else trainer


def separate_reference(model_path: str, reference: str | None, cache_dir: str | None = None) -> str | None:
    """The resolved path of ``reference`` when it is a model other than ``model_path``, else ``None``
    (the policy the update starts from is its own reference)."""
    from polyrlaif.core.models import resolve_model_path

    if reference is None:
        return None
    ref = resolve_model_path(reference, cache_dir)
    if Path(ref).resolve() == Path(resolve_model_path(model_path, cache_dir)).resolve():
        return None
    return ref


def is_finished(output_dir: str | Path) -> bool:
    """True when ``output_dir`` holds a finished, published checkpoint."""
    return (Path(output_dir) / CHECKPOINT_DIR / DONE_MARKER).is_file()


def finished_result(output_dir: str | Path) -> TrainResult | None:
    """The result of an earlier finished run in ``output_dir``, or ``None`` if there is none."""
    ckpt = Path(output_dir) / CHECKPOINT_DIR
    marker = ckpt / DONE_MARKER
    if not marker.is_file():
        return None
    info = json.loads(marker.read_text(encoding="utf-8"))
    log.info("%s: finished checkpoint found, not training again", ckpt)
    return TrainResult(model_path=str(ckpt), metrics=dict(info.get("metrics", {})), resumed=True)


def publish_checkpoint(
    output_dir: str | Path, write: Callable[[Path], None], metrics: dict[str, float]
) -> TrainResult:
    """Write a checkpoint with ``write(staging_dir)`` and publish it atomically as ``<output_dir>/model``.

    Args:
        output_dir: the round's training directory.
        write: saves the model files into the directory it is given.
        metrics: stored in the ``DONE`` marker and in ``<output_dir>/train_metrics.json``.

    Returns:
        The published result.
    """
    output_dir = Path(output_dir)
    final = output_dir / CHECKPOINT_DIR
    staging = output_dir / f"{CHECKPOINT_DIR}.partial"
    if staging.exists():
        shutil.rmtree(staging)  # left by a crash mid-save
    staging.mkdir(parents=True)
    write(staging)
    atomic_write_json(output_dir / METRICS_FILE, metrics)
    atomic_write_json(staging / DONE_MARKER, {"metrics": metrics})  # last: marks the checkpoint whole
    if final.exists():
        shutil.rmtree(final)  # a checkpoint without DONE: an interrupted earlier publish
    staging.rename(final)
    return TrainResult(model_path=str(final), metrics=metrics)


def publish_trained(output_dir: str | Path, model: Any, saver: Any, metrics: dict[str, float]) -> TrainResult:
    """Publish a trained model with its tokenizer or processor (``saver``), as :func:`publish_checkpoint`
    does, and remove the empty ``<output_dir>/trl`` folder a TRL trainer leaves when it saves nothing.

    Under a launcher every rank calls this and rank 0 alone writes; the others wait for it and get the
    same result."""
    from polyrlaif.core.trainers.distributed import ranks

    def write(staging: Path) -> None:
        model.save_pretrained(staging)
        saver.save_pretrained(staging)

    here = ranks()
    if not here.main:
        here.barrier()  # rank 0 is writing
        return TrainResult(str(Path(output_dir) / CHECKPOINT_DIR), metrics)
    result = publish_checkpoint(output_dir, write, metrics)
    trl_dir = Path(output_dir) / "trl"
    if trl_dir.is_dir() and not any(trl_dir.iterdir()):
        trl_dir.rmdir()  # TRL's output_dir; nothing is saved there with save_strategy="no"
    here.barrier()
    return result


def no_checkpointing(config_cls: Any) -> dict[str, bool]:
    """Keyword arguments that turn activation checkpointing off in a TRL config class.

    TRL turns it on by default; for the small models trained here it only costs time (about 30% more
    compute per step). Newer transformers renamed the option and warn on the old name.
    """
    if "activation_checkpointing" in config_cls.__dataclass_fields__:
        return {"activation_checkpointing": False}
    return {"gradient_checkpointing": False}


def training_device(model_cfg: ModelConfig) -> tuple[str, Any]:
    """The device to train on (``model.device``) and the torch dtype to train in (``model.dtype``).

    On CPU, torch's threads are sized to this process and training is in float32 whatever was asked
    (a warning says so): CPUs have no fast half-precision matmuls.
    """
    import torch

    from polyrlaif.core.models import pick_device, pick_dtype, set_cpu_threads

    device = pick_device(model_cfg.device)
    dtype = pick_dtype(model_cfg.dtype, device)
    if device == "cpu":
        set_cpu_threads()
        if dtype != torch.float32:
            log.warning("training on CPU in float32 (dtype %s ignored)", dtype)
            dtype = torch.float32
    return device, dtype


def free_memory(device: str) -> None:
    """Collect garbage and, on CUDA, return the cached blocks: call once the trained model is dropped."""
    import gc

    gc.collect()
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()


def freeze_parameters(model: Any, prefixes: Sequence[str], what: str) -> int:
    """Leave the parameters whose names start with one of ``prefixes`` untrained.

    Returns:
        How many values were frozen.

    Raises:
        ValueError: prefixes were given but match no parameter (``what`` names the model in the message).
    """
    frozen = 0
    for name, param in model.named_parameters():
        if any(name.startswith(prefix) for prefix in prefixes):
            param.requires_grad_(False)
            frozen += param.numel()
    if prefixes and not frozen:
        raise ValueError(f"freeze prefixes {list(prefixes)} match no parameter of {what}")
    return frozen


def _training_encoder(path: str, vision: bool, num_frames: int | None) -> tuple[Any, Any, Any]:
    """A model to train in float32 on CPU, what saves with it (processor or tokenizer), and a batch
    encoder of conversations (chat template with the generation prompt, left padding; a vision model
    reads its images and ``num_frames`` frames per video part)."""
    import torch

    if vision:
        from transformers import AutoModelForImageTextToText, AutoProcessor

        from polyrlaif.core.vlm import encode_multimodal

        processor = AutoProcessor.from_pretrained(path)
        model = AutoModelForImageTextToText.from_pretrained(path, dtype=torch.float32)
        return (
            model,
            processor,
            lambda convs: encode_multimodal(processor, convs, "cpu", num_frames=num_frames),
        )

    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)

    def encode(convs: Sequence[Any]) -> dict[str, Any]:
        texts = [tok.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in convs]
        side, tok.padding_side = tok.padding_side, "left"
        try:
            return dict(tok(texts, return_tensors="pt", padding=True, add_special_tokens=False))
        finally:
            tok.padding_side = side

    return model, tok, encode


def training_model(
    model_path: str,
    prompts: Sequence[Any],
    *,
    multimodal: bool | None,
    num_frames: int | None,
    freeze: Sequence[str],
    what: str,
) -> tuple[Any, Any, Any, Any]:
    """The model for ``model_path`` (a vision model when ``multimodal``, or, when that is
    None, when a prompt has an image or video part), its ``freeze`` prefixes frozen; returns the model, what
    saves with it, the batch encoder and the tokenizer."""
    from polyrlaif.core.media import has_visual
    from polyrlaif.core.models import resolve_model_path, set_cpu_threads

    set_cpu_threads()
    path = resolve_model_path(model_path)
    vision = multimodal if multimodal is not None else any(has_visual(p) for p in prompts)
    model, saver, encode = _training_encoder(path, vision, num_frames)
    freeze_parameters(model, freeze, f"{path} ({what})")
    return model, saver, encode, getattr(saver, "tokenizer", saver)


def adamw_cosine(model: Any, lr: float, warmup_steps: int, steps: int) -> tuple[list[Any], Any, Any]:
    """The trainable parameters, AdamW on them (no weight decay) and a warm-up-then-cosine schedule over
    ``steps`` (warm-up capped at a tenth of them)."""
    import torch
    from transformers import get_cosine_schedule_with_warmup

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    return params, opt, get_cosine_schedule_with_warmup(opt, min(warmup_steps, steps // 10), steps)


def seeded_batches(n: int, batch_size: int, seed: int) -> Iterator[list[int]]:
    """Endless batches of indices into ``n`` examples, drawn without replacement epoch after epoch from a
    generator seeded with ``seed`` (torch's global seed is set to it too, for dropout and the like)."""
    import torch

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    order: list[int] = []
    while True:
        if len(order) < batch_size:
            order += torch.randperm(n, generator=gen).tolist()
        yield order[:batch_size]
        order = order[batch_size:]
