"""Online RL on a causal LM through TRL's ``GRPOTrainer`` (or ``RLOOTrainer``): sample, score, update.

Unlike the preference trainers, nothing is sampled ahead of time: every step TRL draws
``num_generations`` completions per prompt from the current policy, scores them with the reward
callables, normalises the rewards within each prompt's group and takes a policy-gradient step.

Rewards are plain callables with TRL's signature, ``(prompts, completions, **columns) ->
list[float | None]``: every extra dataset column arrives as a keyword argument (one value per
completion), and ``None`` means "does not apply" (TRL turns it into NaN and leaves it out of that
reward's mean; a completion every reward skips gets advantage 0). Each reward is logged by TRL under
its name, ``rewards/<name>/mean``, the name being its key in ``reward_funcs``.

A vision-language policy (a checkpoint ``AutoModelForImageTextToText`` loads) trains through TRL's
vision path with its processor: the prompts' image and video parts become each row's ``images`` (a video
as ``model.num_frames`` sampled frames, through a frame cache), prompt lengths count the image tokens, and the
rewards see the prompts with those images (:mod:`polyrlaif.core.trainers.grpo_vision`).

A multi-turn domain passes ``rollout_func`` (GRPO only; TRL's RLOO trainer has none) and generates
the completions itself, e.g. :func:`polyrlaif.domains.search_agent.sampler.make_rollout_func`.
The result is published like every other checkpoint
(:func:`~polyrlaif.core.trainers.base.publish_checkpoint`): a rerun finds it finished and trains nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from polyrlaif.core import tracking
from polyrlaif.core.config import ModelConfig, RLConfig, TrainConfig
from polyrlaif.core.io import atomic_write_jsonl
from polyrlaif.core.trainers.base import (
    TrainResult,
    finished_result,
    freeze_parameters,
    no_checkpointing,
    publish_trained,
)
from polyrlaif.core.trainers.distributed import per_rank_batch, ranks
from polyrlaif.core.trl_options import with_passthrough

__all__ = [
    "ALGORITHMS",
    "STEPS_FILE",
    "OnlineRLTrainer",
    "RewardFunc",
    "check_rl",
    "grpo_train",
    "read_steps",
    "step_logs",
]

log = logging.getLogger(__name__)

#: A reward callable, TRL's signature: one score (or ``None``, "does not apply") per completion.
RewardFunc = Callable[..., list[float | None]]

ALGORITHMS = ("grpo", "rloo")

#: Per-step logs (one JSON row per optimiser step), written next to the published checkpoint.
STEPS_FILE = "steps.jsonl"

#: TRL's per-step values we report (their last value); each reward's mean is added by name.
_REPORTED = ("loss", "reward", "reward_std", "kl", "completions/mean_length")


def check_rl(rl: RLConfig) -> None:
    """The constraints TRL puts on the group settings, checked before any model loads.

    Raises:
        ValueError: naming the ``rl.*`` field.
    """
    if rl.algorithm not in ALGORITHMS:
        raise ValueError(f"rl.algorithm must be one of {ALGORITHMS}, got {rl.algorithm!r}")
    if rl.num_generations < 2:
        raise ValueError(f"rl.num_generations must be >= 2, got {rl.num_generations}")
    if rl.batch_size % rl.num_generations:
        raise ValueError(
            f"rl.batch_size ({rl.batch_size}) must be a multiple of rl.num_generations ({rl.num_generations})"
        )


def _named(name: str, func: RewardFunc) -> RewardFunc:
    """``func`` under ``name``, the name TRL logs its mean under (a lambda or partial has none)."""

    def reward(prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
        return func(prompts, completions, **kwargs)

    reward.__name__ = reward.__qualname__ = name
    return reward


def _check_prompts(prompts: Sequence[dict[str, Any]], tokenizer: Any, max_length: int | None) -> None:
    for i, row in enumerate(prompts):
        if not isinstance(row, dict) or not isinstance(row.get("prompt"), list):
            raise ValueError(f"prompt row {i} needs a 'prompt' list of chat messages")
        if max_length is None:
            continue
        text = tokenizer.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=False)
        n = len(tokenizer(text, add_special_tokens=False)["input_ids"])
        if n > max_length:
            raise ValueError(f"prompt row {i} has {n} tokens, over max_prompt_length={max_length}")


def _config(
    s: RLConfig, output_dir: Path, use_cpu: bool, seed: int, reward_weights: list[float] | None
) -> Any:
    from trl import GRPOConfig, RLOOConfig

    config_cls = GRPOConfig if s.algorithm == "grpo" else RLOOConfig
    return config_cls(**with_passthrough(dict(
        output_dir=str(output_dir / "trl"),
        learning_rate=s.lr,
        beta=s.beta,
        num_generations=s.num_generations,
        per_device_train_batch_size=per_rank_batch(s.batch_size),  # rl.batch_size over all ranks
        max_steps=s.max_steps,
        max_completion_length=s.max_completion_length,
        temperature=s.temperature,
        top_k=0,  # pure temperature sampling: the distribution TRL's loss assumes
        top_p=1.0,
        reward_weights=reward_weights,
        seed=seed,
        data_seed=seed,
        use_cpu=use_cpu,
        bf16=False,  # TRL's default is bf16 autocast; training here is float32
        **no_checkpointing(config_cls),
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        dataloader_num_workers=0,
    ), s.trl, "rl.trl"))  # fmt: skip


def step_logs(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The per-step entries of TRL's ``log_history`` (not the end-of-training summary), numbers only."""
    return [
        {k: v for k, v in h.items() if isinstance(v, (int, float))}
        for h in history
        if "loss" in h and "train_loss" not in h
    ]


def read_steps(output_dir: str | Path) -> list[dict[str, Any]]:
    """The per-step logs :func:`grpo_train` wrote into ``output_dir`` (empty if there are none)."""
    from polyrlaif.core.io import read_jsonl

    path = Path(output_dir) / STEPS_FILE
    return read_jsonl(path) if path.is_file() else []


def _summarise(
    history: list[dict[str, Any]], names: Sequence[str], seconds: float, steps: int
) -> dict[str, float]:
    """The last logged value of each reported metric and of each reward's mean, plus steps and timing."""
    logged = step_logs(history)
    out: dict[str, float] = {"steps": float(steps), "train_seconds": round(seconds, 3)}
    for key in (*_REPORTED, *(f"rewards/{n}/mean" for n in names)):
        values = [float(h[key]) for h in logged if key in h]
        if values:
            out[key] = values[-1]
    return out


def grpo_train(
    model_path: str,
    prompts: Sequence[dict[str, Any]],
    reward_funcs: dict[str, RewardFunc],
    output_dir: str | Path,
    rl: RLConfig | None = None,
    *,
    model: ModelConfig | None = None,
    seed: int = 0,
    reward_weights: list[float] | None = None,
    rollout_func: Callable[[list[Any], Any], dict[str, list[Any]]] | None = None,
    frame_cache: str | Path | None = None,
) -> TrainResult:
    """Train ``model_path`` online on ``prompts`` against ``reward_funcs``; publish to ``output_dir/model``.

    A policy that ``AutoModelForImageTextToText`` loads trains as a VLM (TRL's vision path, with its
    processor): image and video parts of the prompts become the rows' ``images``, a video as
    ``model.num_frames`` sampled frames (:mod:`polyrlaif.core.trainers.grpo_vision`), and the reward functions
    receive the prompts with those images in their parts.

    Args:
        model_path: a local model directory or hub id (resolved like every other trainer's).
        prompts: rows ``{"prompt": [messages...], **columns}``; TRL passes the columns to every reward.
        reward_funcs: name -> reward callable; the name is what TRL logs the reward's mean under.
        output_dir: the run's training directory.
        rl: the ``rl`` config section (algorithm, lr, beta, group and batch sizes, steps, lengths,
            temperature); default ``RLConfig()``.
        model: the ``model`` section: device (``auto``: CUDA when present), dtype (``auto``: float32 on
            CPU, the checkpoint's on CUDA), cache folder, and ``num_frames`` (frames sampled per video part
            for a VLM policy, the count the policy and the reward model read); default ``ModelConfig()``.
        seed: seeds data order, sampling and initialisation.
        reward_weights: one weight per reward, in ``reward_funcs`` order; ``None``: all 1.
        rollout_func: TRL's custom generation hook ``(prompts, trainer) -> dict`` (GRPO only).
        frame_cache: a :class:`~polyrlaif.core.media.FrameCache` folder for the videos' frames, so later
            rounds decode nothing; ``None`` decodes every time.

    Returns:
        The published result; metrics hold the last step's loss, reward, each reward's mean
        (``rewards/<name>/mean``), steps and seconds. Returns the earlier result, without training,
        when ``output_dir/model`` is already finished.

    Raises:
        ValueError: no prompts, no rewards, a malformed or over-long prompt (image tokens counted),
            invalid group settings, ``rollout_func`` with RLOO, or prompts with images or video for a
            policy that is not a VLM.
        InputError: a prompt's image or video is missing or unreadable (naming the row and the file).
    """
    output_dir = Path(output_dir)
    done = finished_result(output_dir)
    if done is not None:
        return done
    s = rl or RLConfig()
    m = model or ModelConfig()
    check_rl(s)
    if not prompts:
        raise ValueError("no prompts to train on")
    if not reward_funcs:
        raise ValueError("no reward functions")
    if reward_weights is not None and len(reward_weights) != len(reward_funcs):
        raise ValueError(f"{len(reward_weights)} reward weights for {len(reward_funcs)} reward functions")
    if rollout_func is not None and s.algorithm != "grpo":
        raise ValueError("rollout_func needs algorithm='grpo': TRL's RLOOTrainer has no rollout hook")

    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from polyrlaif.core.models import pick_device, pick_dtype, resolve_model_path, set_cpu_threads
    from polyrlaif.core.trainers import grpo_vision as gv

    device = pick_device(m.device)
    use_cpu = device == "cpu"
    if use_cpu:
        set_cpu_threads()
    path = resolve_model_path(model_path, m.cache_dir)
    vision = gv.is_vision_checkpoint(path)
    if vision:  # images and video frames into TRL's rows, lengths with image tokens, before the model loads
        from transformers import AutoProcessor

        processing: Any = AutoProcessor.from_pretrained(path)
        if processing.tokenizer.pad_token is None:
            processing.tokenizer.pad_token = processing.tokenizer.eos_token
        prompts = gv.vision_rows(prompts, m.num_frames, frame_cache)
        gv.check_vision_prompts(prompts, processing, s.max_prompt_length)
    elif gv.rows_have_visual(prompts):
        raise ValueError(
            f"{model_path}: the prompts carry images or video, and this checkpoint is not an "
            "image-text-to-text model (AutoModelForImageTextToText)"
        )
    else:
        processing = AutoTokenizer.from_pretrained(path)
        if processing.pad_token is None:
            processing.pad_token = processing.eos_token
        _check_prompts(prompts, processing, s.max_prompt_length)
    # float32 on CPU (half-precision CPU training is slow and imprecise); model.dtype (auto: the
    # checkpoint's) on CUDA
    if use_cpu:
        dtype: Any = torch.float32
        if m.dtype not in ("auto", "float32"):
            log.warning("training on CPU in float32 (model.dtype=%s ignored)", m.dtype)
    else:
        dtype = "auto" if m.dtype == "auto" else pick_dtype(m.dtype, device)
    if vision:
        from transformers import AutoModelForImageTextToText

        policy = AutoModelForImageTextToText.from_pretrained(path, dtype=dtype)
    else:
        policy = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    freeze_parameters(policy, s.freeze, f"{path} (rl.freeze)")
    names = list(reward_funcs)
    funcs = [_named(name, f) for name, f in reward_funcs.items()]
    args = _config(s, output_dir, use_cpu, seed, reward_weights)
    world = ranks().world
    if world > 1:
        per = args.per_device_train_batch_size
        log.info(f"{s.algorithm}: {per} completions a step on each of {world} processes (of {s.batch_size})")
    dataset = Dataset.from_list([dict(row) for row in prompts])
    if s.algorithm == "grpo":
        from trl import GRPOTrainer

        trainer = GRPOTrainer(
            model=policy,
            reward_funcs=funcs,
            args=args,
            train_dataset=dataset,
            processing_class=processing,
            rollout_func=rollout_func,
            callbacks=tracking.callbacks(),  # steps to the run's tracker (run.report_to)
        )
    else:
        from trl import RLOOTrainer

        trainer = RLOOTrainer(
            model=policy, reward_funcs=funcs, args=args, train_dataset=dataset, processing_class=processing,
            callbacks=tracking.callbacks(),
        )  # fmt: skip
    tracking.quiet(trainer)  # per-step dicts to train.log, not the terminal
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    metrics = _summarise(trainer.state.log_history, names, seconds, trainer.state.global_step)
    # every step's logged values (rewards per reward, loss, KL, lengths), for reward curves
    if ranks().main:  # under a launcher rank 0 alone writes
        atomic_write_jsonl(output_dir / STEPS_FILE, step_logs(trainer.state.log_history))
    return publish_trained(output_dir, trainer.model, processing, metrics)


class OnlineRLTrainer:
    """GRPO or RLOO (``rl.algorithm``) through TRL; registered as ``grpo`` and ``rloo``.

    ``train``'s data is the round's :class:`~polyrlaif.core.protocols.OnlineTask`: its prompt rows,
    rewards, weights, optional ``rollout_func``, and for a VLM policy the frame cache.

    Args:
        cfg: the run's config; reads ``rl``, ``model`` (device, dtype, cache; ``num_frames`` per video for a
            VLM policy) and ``run.seed``.
    """

    def __init__(self, cfg: TrainConfig) -> None:
        check_rl(cfg.rl)
        if cfg.rl.backend == "fast" and ranks().world > 1:  # before any rollout is sampled
            raise ValueError(
                "rl.backend=fast trains in one process so far; use rl.backend=trl under a launcher"
            )
        self.rl, self.model_cfg, self.seed = cfg.rl, cfg.model, cfg.run.seed

    def train(self, model_path: str, data: Any, output_dir: Path, *, seed: int | None = None) -> TrainResult:
        """Train on the task's prompts against its rewards (see :func:`grpo_train`).

        Raises:
            ValueError: a weight names a reward the task does not have, and as :func:`grpo_train`.
        """
        unknown = sorted(set(data.weights) - set(data.rewards))
        if unknown:
            raise ValueError(
                f"reward weights for unknown reward(s) {unknown}; the task has {sorted(data.rewards)}"
            )
        weights = [float(data.weights.get(name, 1.0)) for name in data.rewards]
        if self._backend(model_path, data) == "fast":
            return self._fast(model_path, data, output_dir, weights, self.seed if seed is None else seed)
        return grpo_train(
            model_path,
            data.prompts,
            data.rewards,
            output_dir,
            self.rl,
            model=self.model_cfg,
            seed=self.seed if seed is None else seed,
            reward_weights=weights,
            rollout_func=data.rollout_func,
            frame_cache=getattr(data, "frame_cache", None),
        )

    def _backend(self, model_path: str, data: Any) -> str:
        """``rl.backend``, with ``auto`` resolved: the fast step for a text policy in one process without
        TRL-only options, else TRL's trainer (the choice is logged)."""
        from polyrlaif.core.models import resolve_model_path
        from polyrlaif.core.trainers import grpo_vision as gv
        from polyrlaif.core.trl_options import fast_foreign_options

        if self.rl.backend != "auto":
            return self.rl.backend
        path = resolve_model_path(model_path, self.model_cfg.cache_dir)
        foreign = sorted(fast_foreign_options(self.rl.trl))
        vision = gv.is_vision_checkpoint(path) or gv.rows_have_visual(data.prompts)
        why = "a launcher" if ranks().world > 1 else "a vision-language policy" if vision else None
        why = why or (f"rl.trl options {foreign}" if foreign else None)
        log.info(f"rl.backend=auto: {'TRL trainer for ' + why if why else 'the fast GRPO step'}")
        return "trl" if why else "fast"

    def _fast(
        self, model_path: str, data: Any, output_dir: Path, weights: list[float], seed: int
    ) -> TrainResult:
        """``rl.backend=fast``: :func:`~polyrlaif.core.trainers.fast_grpo.fast_grpo_train` (GRPO or RLOO on
        a text policy in one process, so far)."""
        from transformers import AutoTokenizer

        from polyrlaif.core.models import resolve_model_path
        from polyrlaif.core.trainers import grpo_vision as gv
        from polyrlaif.core.trainers.fast_grpo import fast_grpo_train

        path = resolve_model_path(model_path, self.model_cfg.cache_dir)
        if gv.is_vision_checkpoint(path) or gv.rows_have_visual(data.prompts):
            raise ValueError(
                "rl.backend=fast trains text policies so far; use rl.backend=trl for images or video"
            )
        _check_prompts(data.prompts, AutoTokenizer.from_pretrained(path), self.rl.max_prompt_length)
        return fast_grpo_train(
            path, data.prompts, data.rewards, output_dir, self.rl, model=self.model_cfg, seed=seed,
            reward_weights=weights, rollout_func=data.rollout_func,
        )  # fmt: skip
