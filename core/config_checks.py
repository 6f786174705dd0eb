"""Checks of a loaded config that no type can express, made when it loads, before any work: ranges,
registry names, fields one mode needs, then the trainer options (:mod:`polyrlaif.core.trl_options`),
the tracker (:mod:`polyrlaif.core.tracking`), hub models (:mod:`polyrlaif.core.hub`) and the domain
config's own ``check_run(cfg, where)`` when it defines one. ``cfg`` is a
loaded ``TrainConfig``; this module does not import :mod:`polyrlaif.core.config`, which calls it."""

from __future__ import annotations

from typing import Any, get_args, get_type_hints

__all__ = ["check_config"]


def check_config(cfg: Any, *, where: str = "config") -> None:
    """Checks no type can express, made when the config loads (before any work): ranges, registry names,
    and fields one mode needs.

    Raises:
        ValueError: naming the file, the field, the value and what is valid.
    """
    from polyrlaif.core.registry import JUDGE_BACKENDS, TRAINERS

    def bad(key: str, value: Any, valid: str) -> ValueError:
        return ValueError(f"{where}: invalid config at field {key!r}: {value!r}; {valid}")

    minimums = {
        "sampling.n": (cfg.sampling.n, 1),
        "sampling.batch_size": (cfg.sampling.batch_size, 1),
        "sampling.max_new_tokens": (cfg.sampling.max_new_tokens, 1),
        "run.rounds": (cfg.run.rounds, 0),
        "optim.batch_size": (cfg.optim.batch_size, 1),
        "optim.grad_accum": (cfg.optim.grad_accum, 1),
        "optim.noise_draws": (cfg.optim.noise_draws, 1),
        "optim.epochs": (cfg.optim.epochs, 1),
        "rl.num_generations": (cfg.rl.num_generations, 2),
        "rl.batch_size": (cfg.rl.batch_size, 1),
        "rl.max_steps": (cfg.rl.max_steps, 1),
        "eval.samples": (cfg.eval.samples, 1),
        "judge.retries": (cfg.judge.retries, 0),
        "judge.concurrency": (cfg.judge.concurrency, 1),
        "judge.batch_size": (cfg.judge.batch_size, 1),
        "model.num_frames": (cfg.model.num_frames, 1),
        "run.workers": (cfg.run.workers, 1),
        "run.worker_retries": (cfg.run.worker_retries, 0),
        "run.sample_replicas": (cfg.run.sample_replicas, 0),
    }
    for key, (value, least) in minimums.items():
        if value < least:
            raise bad(key, value, f"must be at least {least}")
    if cfg.run.sample_replicas and cfg.model.serve:
        raise bad(
            "run.sample_replicas", cfg.run.sample_replicas, "with model.serve the server samples: set 0"
        )
    if cfg.run.executor == "ray" or cfg.run.sample_replicas:
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            key = "run.executor" if cfg.run.executor == "ray" else "run.sample_replicas"
            raise bad(
                key, getattr(cfg.run, key[4:]), "needs Ray: pip install 'polyrlaif[ray]' (or ray>=2.40)"
            )
    from polyrlaif.core.tracking import check_report_to

    try:
        check_report_to(cfg.run.report_to)
    except ValueError as exc:
        raise ValueError(f"{where}: invalid config at field 'run.report_to': {exc}") from None
    positive = {"judge.timeout_s": cfg.judge.timeout_s, "optim.lr": cfg.optim.lr, "rl.lr": cfg.rl.lr}
    for key, value in positive.items():
        if not value > 0 or value == float("inf"):
            raise bad(key, value, "must be a finite number above 0")
    if not 0.0 <= cfg.optim.reward_eval_fraction < 1.0:
        raise bad("optim.reward_eval_fraction", cfg.optim.reward_eval_fraction, "must be in [0, 1)")
    if cfg.run.num_prompts is not None and cfg.run.num_prompts < 1:
        raise bad("run.num_prompts", cfg.run.num_prompts, "must be at least 1 (or unset: all)")
    if cfg.rl.batch_size % cfg.rl.num_generations:
        raise bad(
            "rl.batch_size",
            cfg.rl.batch_size,
            f"must be a multiple of rl.num_generations ({cfg.rl.num_generations})",
        )
    # optim.backend names a preference trainer: any registered one but the online-RL algorithms and the
    # reward-model trainers (they train a scorer, not a policy)
    scorers = ("reward_model", "vision_reward_model")
    algorithms = get_args(get_type_hints(type(cfg.rl))["algorithm"])  # grpo, rloo: online RL, not preference
    preference = [n for n in TRAINERS.names() if n not in (*algorithms, *scorers)]
    if cfg.optim.freeze and cfg.optim.lora.enabled:
        hint = "is for full fine-tuning; with LoRA set optim.lora.target_modules"
        raise bad("optim.freeze", cfg.optim.freeze, hint)
    if cfg.optim.backend not in preference:
        raise bad("optim.backend", cfg.optim.backend, f"valid: {', '.join(preference)}")
    if cfg.optim.noise_draws != 1 and cfg.optim.backend != "diffusion_dpo":
        raise bad("optim.noise_draws", cfg.optim.noise_draws, "only optim.backend=diffusion_dpo draws noise")
    backends = ["none", *JUDGE_BACKENDS.names()]
    if cfg.judge.backend not in backends:
        raise bad("judge.backend", cfg.judge.backend, f"valid: {', '.join(backends)}")
    from polyrlaif.core.trl_options import check_trainer_options

    check_trainer_options(cfg, where)
    from polyrlaif.core.hub import check_hub_model

    check_hub_model(cfg.model.name_or_path, "model.name_or_path", where)
    if cfg.judge.backend == "transformers":
        check_hub_model(cfg.judge.model, "judge.model", where)
    _check_judge_sets(cfg, bad, backends)
    from polyrlaif.core.screening import SCREENS

    if cfg.pairs.repeats < 1:
        raise bad("pairs.repeats", cfg.pairs.repeats, "must be at least 1 (1: each judge asked once)")
    unknown = sorted(set(cfg.pairs.screen) - set(SCREENS))
    if unknown:
        raise bad(
            "pairs.screen",
            list(cfg.pairs.screen),
            f"unknown screen(s) {unknown}; valid: {', '.join(SCREENS)}",
        )
    if "repeats" in cfg.pairs.screen and cfg.pairs.repeats < 2:
        raise bad("pairs.screen", list(cfg.pairs.screen), "the repeats screen needs pairs.repeats >= 2")
    if (cfg.pairs.screen or cfg.pairs.repeats > 1) and cfg.pairs.random_direction:
        raise bad(
            "pairs.random_direction",
            True,
            "a control's coin flips would be screened away; unset pairs.screen "
            "and pairs.repeats for the control",
        )
    _check_poison(cfg, bad)
    if cfg.optim.reward_pooling != "last_token" and not getattr(cfg.domain, "vision_reward_model", False):
        # read only by a vision reward model; a domain that trains one says so (``vision_reward_model``)
        raise bad("optim.reward_pooling", cfg.optim.reward_pooling,
                  f"domain {getattr(cfg.domain, 'name', '?')} trains no vision reward model; only those read "
                  "the answer's log-probability (leave last_token)")  # fmt: skip
    if cfg.run.mode == "pairs" and not cfg.data.pairs:
        raise bad("data.pairs", cfg.data.pairs, "run.mode=pairs trains on a pairs file: set data.pairs=FILE")
    # a domain's own checks across sections (its settings against the run's mode or trainers): a domain
    # config may define ``check_run(cfg, where)``, raising ValueError as ``bad`` words it
    domain_check = getattr(cfg.domain, "check_run", None)
    if callable(domain_check):
        domain_check(cfg, where)


def _check_judge_sets(cfg: Any, bad: Any, backends: list[str]) -> None:
    """``judge.ensemble`` members and the ``judge.active`` cheap judge: overrides of ``judge``'s own
    fields; an ensemble has two members or more; the active budget is a share."""
    import dataclasses

    nested = {"ensemble", "ensemble_aggregate", "uwo_lambda", "active", "active_budget"}
    own = {f.name for f in dataclasses.fields(cfg.judge)} - nested
    members = [(f"judge.ensemble[{i}]", dict(m)) for i, m in enumerate(cfg.judge.ensemble)]
    if len(members) == 1:
        raise bad(
            "judge.ensemble", list(cfg.judge.ensemble), "an ensemble needs at least two members (or none)"
        )
    for key, m in [*members, *([("judge.active", dict(cfg.judge.active))] if cfg.judge.active else [])]:
        wrong = sorted(set(m) - own)
        if wrong:
            raise bad(key, m, f"unknown judge field(s) {wrong}; valid: {sorted(own)}")
        if m.get("backend", cfg.judge.backend) not in backends:
            raise bad(f"{key}.backend", m.get("backend"), f"valid: {', '.join(backends)}")
    if not 0.0 <= cfg.judge.active_budget <= 1.0:
        raise bad("judge.active_budget", cfg.judge.active_budget, "a share of prompts, in [0, 1]")
    # a domain builds its judges itself: one that takes these sets says so (``judge_sets`` on its config,
    # True when it builds its judge through core.judges.active.configured_judge); others would ignore them
    if (cfg.judge.ensemble or cfg.judge.active) and not getattr(cfg.domain, "judge_sets", False):
        key = "judge.ensemble" if cfg.judge.ensemble else "judge.active"
        raise bad(key, getattr(cfg.judge, key.split(".")[1]),
                  f"domain {getattr(cfg.domain, 'name', '?')} does not build its judge from judge sets "
                  "(in this mode); leave judge.ensemble and judge.active empty")  # fmt: skip


def _check_poison(cfg: Any, bad: Any) -> None:
    """``pairs.poison`` is a share in [0, 1) of a kind :mod:`polyrlaif.core.poison` makes, and not on
    top of the coin-flip control."""
    from polyrlaif.core.poison import KINDS

    if not 0.0 <= cfg.pairs.poison < 1.0:
        raise bad("pairs.poison", cfg.pairs.poison, "a share of the round's pairs, in [0, 1)")
    if cfg.pairs.poison_kind not in KINDS:
        raise bad("pairs.poison_kind", cfg.pairs.poison_kind, f"one of {', '.join(KINDS)}")
    if cfg.pairs.poison and cfg.pairs.random_direction:
        raise bad(
            "pairs.poison", cfg.pairs.poison, "a control's pairs are flipped already; unset one of the two"
        )
