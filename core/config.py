"""Typed run configuration: dataclasses, YAML files and dotted overrides, merged by OmegaConf.

A config file looks like ``configs/code/demo.yaml``; every field can be overridden on the command
line as ``optim.lr=1e-5 sampling.n=8 domain.timeout_s=5``. OmegaConf's structured configs validate
types, so ``optim.lr=abc`` fails with the field's name. The domain section is typed by the domain's own
config dataclass. The resolved config is written next to every output (``config.yaml``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "DataConfig",
    "EvalConfig",
    "JudgeConfig",
    "LoraConfig",
    "ModelConfig",
    "OptimConfig",
    "PairsConfig",
    "RLConfig",
    "RunConfig",
    "SamplingConfig",
    "TrainConfig",
    "load_config",
    "save_config",
    "builtin_config_path",
    "config_dict",
    "judge_cache_path",
]


@dataclass
class ModelConfig:
    """The policy. ``name_or_path``: a registry alias, a hub id or a local directory.

    ``num_frames`` is the run's one frame count for video: each video part of a prompt is read as that
    many frames (the middle frame of equal segments) by every model of the run that sees it: the policy
    when it samples and is evaluated, every trainer (DPO rows, SFT, the reward model, GRPO rows) and the
    judges a domain builds. Models without video input ignore it.
    """

    name_or_path: str = "smollm2-135m-instruct"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = (
        "auto"  # auto: float32 on CPU (bf16 CPU matmul speed varies by chip), bfloat16 on GPU
    )
    device: str = "auto"
    cache_dir: str | None = None
    num_frames: int = 8
    # sample through an OpenAI-compatible server this command starts for each checkpoint ({model}: its
    # local directory, {port}: a free port), e.g. "vllm serve {model} --port {port}" (core/served_policy.py);
    # unset: transformers in this process. Training always loads the checkpoint with transformers.
    serve: str | None = None
    serve_timeout_s: float = 900.0  # how long a starting server may take to answer /v1/models


@dataclass
class SamplingConfig:
    """Decoding settings for the sampling stage.

    ``steps``, ``guidance_scale`` and ``scheduler`` are for policies that produce media by denoising (a
    text-to-image pipeline): the inference steps, the classifier-free guidance scale and the inference
    scheduler (a diffusers scheduler class name, or ``ddim``/``ddpm``/``euler``). Text policies ignore them.
    """

    n: int = 4
    temperature: float = 0.8
    top_p: float = 0.95
    max_new_tokens: int = 256
    batch_size: int = 8
    steps: int = 20
    guidance_scale: float = 3.0
    scheduler: str = "ddim"


@dataclass
class JudgeConfig:
    """The AI judge. ``backend``: ``transformers``, ``openai`` or ``none`` (verifiers only)."""

    backend: str = "transformers"  # a JUDGE_BACKENDS name or "none"; checked when the config loads
    model: str = "smollm2-135m-instruct"
    base_url: str = "http://127.0.0.1:8000/v1"
    api_key_env: str = "OPENAI_API_KEY"
    max_new_tokens: int = 96
    batch_size: int = 8
    timeout_s: float = 60.0
    retries: int = 3
    concurrency: int = 4
    cache: bool = True
    cache_path: str | None = None  # default: <output_dir>/judge_cache.sqlite
    # openai: ask for the judge's JSON schema (response_format): auto (unless refused), on, off
    structured_output: Literal["auto", "on", "off"] = "auto"
    # several judges as one (core/judges/ensemble.py): each entry overrides the fields above for one member;
    # scores combine by mean, uwo (mean - uwo_lambda * variance) or wco (the lowest)
    ensemble: list[dict[str, Any]] = field(default_factory=list)
    ensemble_aggregate: Literal["mean", "uwo", "wco"] = "mean"
    uwo_lambda: float = 1.0
    guard: bool = False  # fence each response, flag text addressed to the grader (core/judges/guard.py)
    active: dict[str, Any] = field(default_factory=dict)  # a cheap judge first (core/judges/active.py)
    active_budget: float = 0.5  # the share of prompts the cheap judge sends on to this one


@dataclass
class PairsConfig:
    """Pair building (see :func:`polyrlaif.core.pairs.build_pairs`); ties are always dropped.

    ``strategy``: ``best_worst`` (i-th best against i-th worst) or ``all`` (every pair whose margin
    qualifies, largest margin first; RLAIF-V). ``length_balance`` applies RLAIF-V's length filter
    (:func:`polyrlaif.core.pairs.length_balance`) and reports mean lengths before and after.

    ``chosen_min`` and ``rejected_max`` are a curriculum (Align-SLM): a pair is kept only when its chosen
    score is at least ``chosen_min[k]`` and its rejected score at most ``rejected_max[k]`` in round
    ``k + 1``; the last value holds for later rounds, so ``[0.5, 0.6, 0.7]`` raises the bar over three
    rounds. Empty: no threshold.

    ``random_direction`` is a control run: each pair's order flipped by a fair coin (same update, no judge
    signal). ``repeats`` (repeated ranking) asks every judge ``repeats - 1`` more times and keeps pairs every
    repeat ranks alike; ``screen: [verifiers]`` drops pairs a verifier contradicts (:mod:`polyrlaif.core
    .screening`; listed in ``screened.jsonl``). ``poison`` (red team) poisons that share of the pairs
    before the screens, ``poison_kind`` as :mod:`polyrlaif.core.poison` does, and counts what they catch.
    """

    min_margin: float = 0.1
    max_pairs_per_prompt: int = 2
    strategy: Literal["best_worst", "all"] = "best_worst"
    max_uses_per_candidate: int | None = None
    length_balance: bool = False
    length_adjust: bool = False  # scores minus what length buys within a prompt (core/screening.py)
    length_tolerance: float = 0.02
    chosen_min: list[float] = field(default_factory=list)
    rejected_max: list[float] = field(default_factory=list)
    random_direction: bool = False
    repeats: int = 1
    screen: list[str] = field(default_factory=list)
    poison: float = 0.0
    poison_kind: str = "flipped"


@dataclass
class LoraConfig:
    """LoRA adapters through peft."""

    enabled: bool = True
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: str = "all-linear"


@dataclass
class OptimConfig:
    """Preference optimisation. ``backend`` names an entry of ``polyrlaif.core.registry.TRAINERS``:
    ``fast`` (default; :mod:`polyrlaif.core.trainers.fast_dpo`, the same loss and update as TRL's
    ``DPOTrainer`` for about a third of the time on CPU, see ``docs/benchmarks.md``) or ``trl``."""

    # a TRAINERS name, checked at load: "fast" (our DPO step), "trl" (TRL's DPOTrainer), "diffusion_dpo"
    backend: str = "fast"
    # TRL's DPOConfig names: the fast backend implements sigmoid, hinge and ipo; trl takes any of TRL's
    loss_type: str = "sigmoid"
    beta: float = 0.1
    # weight of an NLL term on the chosen responses (RPO; TRL's "sft" loss); keeps their likelihood up
    sft_weight: float = 0.0
    lr: float = 5e-5
    epochs: int = 1
    batch_size: int = 4
    grad_accum: int = 1
    noise_draws: int = 1  # diffusion_dpo: (noise, timestep) draws per pair a step, averaged in the loss
    max_length: int = 512
    max_steps: int = -1
    lora: LoraConfig = field(default_factory=LoraConfig)
    # what each round's update is held to: "round", the policy the round starts from; "initial", round 1's
    # starting policy in every round (the fixed reference of iterative DPO)
    reference: Literal["round", "initial"] = "round"
    # parameter-name prefixes no preference backend trains (full fine-tuning), e.g. [model.vision_tower];
    # a prefix matching no parameter stops the update. With LoRA, choose lora.target_modules instead.
    freeze: list[str] = field(default_factory=list)
    # the reward-model trainer's held-out share of the pairs (split by prompt); a vision reward model's score:
    # a head on the last token, or the answer's mean token log-probability (its LM head, no new weights)
    reward_eval_fraction: float = 0.1
    reward_pooling: Literal["last_token", "answer_logprob"] = "last_token"
    # with backend trl: more DPOConfig fields, passed through (core/trl_options.py), checked at load
    trl: dict[str, Any] = field(default_factory=dict)


RLAlgorithm = Literal["grpo", "rloo"]


@dataclass
class RLConfig:
    """Online RL (``run.mode: online``): TRL's GRPO or RLOO, rewards from the domain's judges and verifiers.

    Each round trains ``max_steps`` optimiser steps from the previous round's policy, then evaluates.
    The domain names its rewards and their weights (``domain.reward_weights``).
    """

    algorithm: RLAlgorithm = "grpo"
    lr: float = 1e-6
    beta: float = 0.0  # KL coefficient against the starting policy; 0 keeps no reference model
    num_generations: int = 4  # completions per prompt (the group)
    batch_size: int = 8  # completions per step; a multiple of num_generations
    max_steps: int = 50  # per round
    max_prompt_length: int | None = 1024
    max_completion_length: int = 256  # per completion, or per model turn for a multi-turn domain
    temperature: float = 1.0
    # fast: core/trainers/fast_grpo.py (TRL's losses, 3.4x its CPU step; text); trl: TRL; auto: fast if it can
    backend: Literal["auto", "trl", "fast"] = "auto"
    # more GRPOConfig / RLOOConfig fields, passed through (core/trl_options.py), checked at load
    trl: dict[str, Any] = field(default_factory=dict)
    # rewards of the domain combined into one, "ensemble", with their summed weight (core/judges/ensemble.py)
    reward_ensemble: list[str] = field(default_factory=list)
    reward_ensemble_aggregate: Literal["mean", "uwo", "wco"] = "mean"
    freeze: list[str] = field(default_factory=list)  # parameter-name prefixes RL leaves untrained


@dataclass
class EvalConfig:
    """Evaluation after every round; the domain chooses the benchmarks."""

    limit: int | None = None
    samples: int = 1
    temperature: float = 0.0
    max_new_tokens: int | None = None  # None: each benchmark's own default


@dataclass
class DataConfig:
    """Data a run brings besides the domain's own. ``pairs``: the pairs file ``run.mode: pairs`` trains on
    (our ``pairs.jsonl``, or prompt/chosen/rejected JSONL; see :mod:`polyrlaif.core.pairs_file`)."""

    pairs: str | None = None


RunMode = Literal["preference", "online", "pairs"]


@dataclass
class RunConfig:
    """Where and how long."""

    output_dir: str = "runs/default"
    # preference: sample, judge, pair, optimise (optim); online: GRPO/RLOO (rl); pairs: optimise data.pairs
    mode: RunMode = "preference"
    rounds: int = 1
    seed: int = 0
    num_prompts: int | None = None  # limit on training prompts per round
    curriculum: bool = False  # round k takes the k-th slice of num_prompts, in the domain's order
    # rerunning in a folder made with other settings: recompute what they invalidate (else: refuse)
    recompute: bool = False
    # experiment tracking (core/tracking.py) of every trainer's steps and every round's metrics: tensorboard
    # (event files under <output_dir>/tensorboard), wandb, trackio, mlflow (when installed) or none
    report_to: str = "tensorboard"
    # where verification and judging run (core/executor.py), with the same judgments and pairs either way:
    # local (this process) or ray (run.workers Ray actors; RAY_ADDRESS's cluster, else a local one)
    executor: Literal["local", "ray"] = "local"
    workers: int = 2  # Ray actors per stage
    worker_retries: int = 3  # restarts of a worker that died, and retries of its chunk, before a stage fails
    # sampling on this many Ray actors, each with a copy of the policy (0: in this process; same candidates);
    # with a GPU, a server (model.serve: vLLM's own data parallelism) is the fast way
    sample_replicas: int = 0


@dataclass
class TrainConfig:
    """The whole run. ``domain`` is typed by the chosen domain's config class at load time."""

    domain: Any = field(default_factory=dict)
    run: RunConfig = field(default_factory=RunConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    judge: JudgeConfig = field(default_factory=JudgeConfig)
    pairs: PairsConfig = field(default_factory=PairsConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    rl: RLConfig = field(default_factory=RLConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    data: DataConfig = field(default_factory=DataConfig)


def judge_cache_path(cfg: TrainConfig) -> str | None:
    """The run's judge cache file: ``judge.cache_path``, else ``<output_dir>/judge_cache.sqlite``;
    ``None`` when ``judge.cache`` is off."""
    if not cfg.judge.cache:
        return None
    return cfg.judge.cache_path or str(Path(cfg.run.output_dir) / "judge_cache.sqlite")


def builtin_config_path(name: str) -> Path | None:
    """Resolve ``code/demo`` to the packaged ``configs/code/demo.yaml``, or ``toy/tiny`` to
    ``tiny.yaml`` in the ``configs`` package a registered third-party domain ``toy`` names; ``None`` if
    neither exists."""
    from importlib.resources import files

    parts = f"{name.removesuffix('.yaml')}.yaml".split("/")
    candidate = files("polyrlaif.configs").joinpath(*parts)
    if candidate.is_file():
        return Path(str(candidate))
    from polyrlaif.core.registry import get_domain, list_domains

    if len(parts) > 1 and parts[0] in list_domains():
        package = get_domain(parts[0]).configs
        if package:
            candidate = files(package).joinpath(*parts[1:])
            if candidate.is_file():
                return Path(str(candidate))
    return None


def load_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Load a YAML config, apply dotted overrides and validate every field.

    Args:
        path: a YAML file, a run folder (the ``config.yaml`` a run writes there), or a packaged name
            such as ``code/demo``.
        overrides: ``key.sub=value`` strings, applied last.

    Raises:
        ValueError: naming the file and the field for unknown keys or wrong types.
    """
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from polyrlaif.core.registry import get_domain, load_object

    p = Path(path)
    p = p / "config.yaml" if p.is_dir() and (p / "config.yaml").is_file() else p  # a run's own folder
    if not p.is_file():
        builtin = builtin_config_path(str(path))
        if builtin is None:
            raise FileNotFoundError(f"{path}: no such config file (nor a packaged config of that name)")
        p = builtin
    raw = _read_yaml(p)
    try:
        cli = OmegaConf.from_dotlist(list(overrides or []))
        merged_raw = OmegaConf.merge(raw, cli)
        domain_name = OmegaConf.select(merged_raw, "domain.name")
        if not domain_name:
            raise ValueError(f"{p}: field 'domain.name' is required")
        domain = get_domain(str(domain_name))
        schema = OmegaConf.structured(TrainConfig)
        schema.domain = OmegaConf.structured(load_object(domain.config))
        cfg = OmegaConf.merge(schema, raw, cli)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None)
        msg = str(exc.msg).splitlines()[0]
        raise ValueError(f"{p}: invalid config{f' at field {key!r}' if key else ''}: {msg}") from None
    out: TrainConfig = OmegaConf.to_object(cfg)  # type: ignore[assignment]
    from polyrlaif.core.config_checks import check_config

    check_config(out, where=str(p))
    return out


def _read_yaml(path: Path) -> Any:
    """The config file as an OmegaConf mapping.

    Raises:
        ValueError: the file is not UTF-8, not YAML (naming the line and column: a syntax error, a tab
            in the indentation), or not a mapping at the top level.
    """
    import yaml
    from omegaconf import DictConfig, OmegaConf

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        hint = " (YAML indents with spaces, not tabs)" if "'\\t'" in str(exc) else ""
        raise ValueError(f"{where}: invalid YAML: {problem}{hint}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError(
            f"{path}: a config is a mapping of sections (domain:, run:, ...), got a {type(data).__name__}"
        )
    cfg = OmegaConf.create(data)
    assert isinstance(cfg, DictConfig)
    return cfg


def config_dict(cfg: TrainConfig) -> dict[str, Any]:
    """The resolved config as plain data (what ``config.yaml`` holds)."""
    from omegaconf import OmegaConf

    return OmegaConf.to_container(OmegaConf.structured(cfg))  # type: ignore[return-value]


def save_config(cfg: TrainConfig, path: str | Path) -> None:
    """Write the resolved config as YAML, atomically."""
    from omegaconf import OmegaConf

    from polyrlaif.core.io import atomic_write_text

    atomic_write_text(path, OmegaConf.to_yaml(OmegaConf.structured(cfg)))
