"""The run kit: the public steps every recipe is written in (see :mod:`polyrlaif.core.recipes`).

A recipe reads top to bottom::

    run = setup(cfg)                   # the domain, the output folder, config.yaml
    prepared = prepare(run)            # preparation stages, in view, resumable
    built = build(run, prepared)       # the domain's parts for this run
    policy = load_policy(run, starting_model(run, built))
    history = [{"round": 0, **evaluate_policy(run, built, policy, run.out / "round_0")}]
    ...                                # the recipe's own rounds
    finish(run, built, history, keys)  # metrics.json, metrics.png, summary table, summary.txt

Nothing here knows a domain, a benchmark or a metric by name: headline metrics are those the
evaluators declare (:func:`polyrlaif.core.benchmarks.declared_metrics`) plus the recipe's own.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from polyrlaif.core import tracking
from polyrlaif.core.benchmarks import declared_metrics
from polyrlaif.core.config import TrainConfig, config_dict, save_config
from polyrlaif.core.evidence import ITEMS_FILE, evaluation_difference, evaluation_intervals, run_benchmark
from polyrlaif.core.executor import Executor, LocalExecutor, make_executor
from polyrlaif.core.io import atomic_write_jsonl, atomic_write_text
from polyrlaif.core.log import get_logger
from polyrlaif.core.protocols import Domain, DomainBuild, EvalRequest, Policy, PolicyAdapter, PrepStage
from polyrlaif.core.registry import get_benchmark, get_domain, load_object
from polyrlaif.core.report import print_summary, write_run_metrics
from polyrlaif.core.resume import Level, check_resume, with_domain_keys
from polyrlaif.core.stages import StageReport, place_stages, run_stages, stage_plan, worlds_root

__all__ = [
    "Run",
    "build",
    "close_policy",
    "counters",
    "evaluate_policy",
    "finish",
    "headline_keys",
    "load_policy",
    "prepare",
    "record_round",
    "require",
    "reset_counters",
    "round_subset",
    "setup",
    "starting_model",
]

log = get_logger(__name__)

T = TypeVar("T")


@dataclass
class Run:
    """One training run: its config, domain, output folder and what its preparation stages did."""

    cfg: TrainConfig
    domain: Domain
    out: Path
    adapter: PolicyAdapter
    started: float = field(default_factory=time.time)
    plan: list[PrepStage] = field(default_factory=list)
    stages: list[StageReport] = field(default_factory=list)
    executor: Executor = field(default_factory=LocalExecutor)  # run.executor: verification and judging
    sampler_executor: Executor = field(default_factory=LocalExecutor)  # run.sample_replicas


def setup(cfg: TrainConfig, levels: Sequence[Level] = ()) -> Run:
    """Resolve the domain, its adapter and its preparation stages, and check what is on disk before any
    work: a finished stage built with other settings stops the run, and so do round artifacts made with
    other settings (``levels``: the recipe's, see :mod:`polyrlaif.core.resume`) unless
    ``run.recompute`` is set. Then create the output folder and write ``config.yaml``, which therefore
    always describes what is on disk."""
    domain = get_domain(cfg.domain.name)
    adapter = load_object(domain.adapter)
    if cfg.model.serve and not getattr(adapter, "servable", False):
        raise ValueError(
            f"invalid config at field 'model.serve': domain {domain.name!r}'s policy does not sample through "
            "a chat-completions server (its adapter is not servable); unset model.serve"
        )
    plan = list(load_object(domain.stages)(cfg)) if domain.stages else []
    place_stages(plan, worlds_root() / domain.name)  # stages without a world_dir: the shared cache
    stage_plan(plan, recompute=cfg.run.recompute)
    out = Path(cfg.run.output_dir)
    defaults = config_dict(TrainConfig(domain=type(cfg.domain)()))
    levels = with_domain_keys(levels, cfg.domain)
    check_resume(out, config_dict(cfg), levels, recompute=cfg.run.recompute, defaults=defaults)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    r = cfg.run
    executor = make_executor(r.executor, workers=r.workers, retries=r.worker_retries)
    replicas = r.sample_replicas and make_executor("ray", workers=r.sample_replicas, retries=r.worker_retries)
    return Run(cfg=cfg, domain=domain, out=out, adapter=adapter, plan=plan, executor=executor,
               sampler_executor=replicas or LocalExecutor())  # fmt: skip


def prepare(run: Run) -> dict[str, dict[str, Any]]:
    """Run the domain's preparation stages (worlds, pretraining, warm starts); outputs by stage name."""
    if not run.plan:
        return {}
    log.info(f"{len(run.plan)} preparation stage(s): {', '.join(s.name for s in run.plan)}")
    outputs, run.stages = run_stages(run.plan)
    return outputs


def build(run: Run, prepared: Mapping[str, dict[str, Any]]) -> DomainBuild:
    """The domain's parts for this run; lists the input records it skipped in ``skipped.jsonl``."""
    built: DomainBuild = load_object(run.domain.build)(run.cfg, prepared)
    if built.offline is not None and run.cfg.judge.guard:  # every judge sees responses fenced
        from polyrlaif.core.judges.guard import GuardedJudge

        built.offline.judges = [GuardedJudge(j) for j in built.offline.judges]
    if built.skipped:  # listed and counted, never a silently shorter run
        atomic_write_jsonl(run.out / "skipped.jsonl", built.skipped)
        log.info(f"{len(built.skipped)} input records skipped (reasons in {run.out / 'skipped.jsonl'})")
    return built


def require(run: Run, part: T | None, what: str) -> T:
    """``part`` of the build, which this recipe needs; a clear error naming the domain when it is missing.

    Raises:
        ValueError: ``part`` is ``None``; the message says which of ``run.mode``'s parts the domain has.
    """
    if part is None:
        raise ValueError(f"domain {run.domain.name!r} has no {what}, which run.mode={run.cfg.run.mode} needs")
    return part


def round_subset(cfg: TrainConfig, items: list[Any], round_idx: int) -> list[Any]:
    """A seeded subset of ``run.num_prompts`` items per round, in their order, so rounds see different
    prompts (offline prompt records and online prompt rows alike); all of them when it is unset. With
    ``run.curriculum`` round k takes the k-th slice of ``num_prompts`` items in the domain's order
    (wrapping around), so a domain that orders its prompts from easy to hard gives a curriculum."""
    k = cfg.run.num_prompts
    if k is None or k >= len(items):
        return items
    if cfg.run.curriculum:
        start = ((round_idx - 1) * k) % len(items)
        return [items[(start + i) % len(items)] for i in range(k)]
    rng = random.Random(cfg.run.seed * 7919 + round_idx)
    return [items[i] for i in sorted(rng.sample(range(len(items)), k))]


def starting_model(run: Run, built: DomainBuild) -> str:
    """The policy round 1 starts from: the domain's own if it makes one (a stage's SFT'd model), else
    ``model.name_or_path``."""
    if built.starting_model:
        log.info(f"starting policy from the domain: {built.starting_model} (model.name_or_path not used)")
        return built.starting_model
    return run.cfg.model.name_or_path


def load_policy(run: Run, model_path: str) -> Policy:
    """Load ``model_path`` through the domain's adapter with the run's device, dtype and cache, plus
    whatever else the adapter takes from the run config (its optional ``policy_kwargs(cfg)``, e.g. a
    diffusion policy's steps and guidance)."""
    m = run.cfg.model
    extra = getattr(run.adapter, "policy_kwargs", None)
    served = {"serve": m.serve, "serve_timeout_s": m.serve_timeout_s} if m.serve else {}
    return run.adapter.load(
        model_path,
        dtype=m.dtype,
        device=m.device,
        cache_dir=m.cache_dir,
        batch_size=run.cfg.sampling.batch_size,
        **served,
        **(extra(run.cfg) if callable(extra) else {}),
    )


def close_policy(policy: Policy | None) -> None:
    """Free a policy's memory (a policy without ``close`` is left to the garbage collector)."""
    close = getattr(policy, "close", None)
    if callable(close):
        close()


def evaluate_policy(run: Run, built: DomainBuild, policy: Policy, rdir: Path) -> dict[str, float]:
    """Run the build's benchmarks on ``policy``; metrics come back prefixed with the benchmark name.

    Each declared headline metric also gets its 95% bootstrap interval (``<metric>/low``, ``/high``)
    and, after round 0, its paired difference from round 0 on the same items (``<metric>/delta``,
    ``/delta_low``, ``/delta_high``, ``/p``), from the benchmark's ``items.jsonl``.
    """
    e = run.cfg.eval
    metrics: dict[str, float] = {}
    for bench in built.evaluations:
        log.info(f"evaluating {policy.model_id} on {bench.name}")
        out = rdir / f"eval_{bench.name}"
        request = EvalRequest(
            output_dir=out,
            limit=e.limit,
            samples=e.samples,
            temperature=e.temperature,
            max_new_tokens=e.max_new_tokens,
            seed=run.cfg.run.seed,
            batch_size=run.cfg.sampling.batch_size,
            options=bench.options,
        )
        got = run_benchmark(run.domain, bench.name, policy, request)
        metrics.update({f"{bench.name}/{k}": v for k, v in got.items() if isinstance(v, (int, float))})
        metrics.update(_evidence(run, bench.name, out, run.out / "round_0" / f"eval_{bench.name}"))
    return metrics


def _evidence(run: Run, name: str, out: Path, baseline: Path) -> dict[str, float]:
    """Intervals of ``out``'s headline metrics, and their paired differences from ``baseline``."""
    if not (out / ITEMS_FILE).is_file():
        log.info(f"{name}: the benchmark wrote no {ITEMS_FILE}, so its metrics have no intervals")
        return {}
    seed = run.cfg.run.seed
    found: dict[str, float] = {}
    for m, iv in evaluation_intervals(out, seed=seed).items():
        found.update({f"{name}/{m}/low": iv.low, f"{name}/{m}/high": iv.high})
    if out != baseline and (baseline / ITEMS_FILE).is_file():
        for m, d in evaluation_difference(baseline, out, seed=seed).items():
            found.update(
                {
                    f"{name}/{m}/delta": d.value,
                    f"{name}/{m}/delta_low": d.low,
                    f"{name}/{m}/delta_high": d.high,
                    f"{name}/{m}/p": d.p_value,
                }
            )
    return found


def directions(run: Run, built: DomainBuild) -> dict[str, str]:
    """Headline benchmark metric (prefixed) -> ``higher`` or ``lower``, as the evaluators declare them."""
    out: dict[str, str] = {}
    for bench in built.evaluations:
        for k, d in declared_metrics(get_benchmark(run.domain, bench.name)).items():
            out[f"{bench.name}/{k}"] = d
    return out


def headline_keys(
    run: Run, built: DomainBuild, history: Sequence[Mapping[str, Any]], recipe_keys: Sequence[str] = ()
) -> list[str]:
    """The metrics worth a row in the summary and a panel in the PNG: the benchmarks' declared headline
    metrics, then the recipe's own (what the round's feedback and update did), those any round has."""
    keys = [*directions(run, built), *recipe_keys]
    return [k for k in dict.fromkeys(keys) if any(k in h for h in history)]


def counters(named: Mapping[str, Any], prefix: str = "judge") -> dict[str, float]:
    """Numeric counters of judges or rewards that keep them (``.stats.as_dict()``: calls, cache hits,
    failures, disagreement), as ``<prefix>/<name>/<counter>``."""
    out: dict[str, float] = {}
    for name, obj in named.items():
        stats = getattr(obj, "stats", None)
        as_dict = getattr(stats, "as_dict", None)
        if callable(as_dict):
            out.update(
                {f"{prefix}/{name}/{k}": v for k, v in as_dict().items() if isinstance(v, (int, float))}
            )
    return out


def reset_counters(named: Mapping[str, Any]) -> None:
    """Zero the counters of judges or rewards that keep them, so a round reports its own numbers."""
    for obj in named.values():
        reset = getattr(getattr(obj, "stats", None), "reset", None)
        if callable(reset):
            reset()


def record_round(run: Run, built: DomainBuild, history: list[dict[str, Any]], keys: Sequence[str]) -> None:
    """Rewrite ``metrics.json`` and ``metrics.png`` after a round, so an interrupted run shows progress,
    and log the rounds not logged yet to the run's tracker (``run.report_to``)."""
    write_run_metrics(run.out, history, {"directions": directions(run, built)}, keys=keys)
    for row in history:
        tracking.log_round(int(row["round"]), row)


def _cell(h: Mapping[str, Any], k: str) -> str:
    """A summary cell: the value, its interval, and (after round 0) the paired difference from round 0."""
    v = h.get(k, "")
    if not isinstance(v, (int, float)):
        return str(v)
    text = f"{v:.4g}"
    if f"{k}/low" in h:
        text += f" [{h[f'{k}/low']:.3g}, {h[f'{k}/high']:.3g}]"
    if f"{k}/delta" in h:
        lo, hi = h[f"{k}/delta_low"], h[f"{k}/delta_high"]
        star = " *" if lo > 0 or hi < 0 else ""
        text += f"\nd {h[f'{k}/delta']:+.3g} [{lo:+.3g}, {hi:+.3g}] p={h[f'{k}/p']:.2g}{star}"
    return text


def finish(
    run: Run,
    built: DomainBuild,
    history: list[dict[str, Any]],
    keys: Sequence[str],
    *,
    final_model: str,
    pictures: Sequence[str] = ("metrics.png",),
) -> str:
    """Write ``metrics.json``, ``metrics.png`` and ``summary.txt`` and print the summary tables.

    The first table has a row per preparation stage (what ran, what was skipped, wall times), the
    second a row per headline metric and a column per round (round 0 = before training).
    """
    run.executor.close()  # a local Ray cluster this run started
    run.sampler_executor.close()
    seconds = round(time.time() - run.started, 1)
    extra = {
        "final_model": final_model,
        "seconds": seconds,
        "directions": directions(run, built),
        "stages": [vars(s) for s in run.stages],
    }
    write_run_metrics(run.out, history, extra, keys=keys)
    for row in history:
        tracking.log_round(int(row["round"]), row)
    text = ""
    if run.stages:
        rows = [
            {"stage": s.name, "status": s.status, "seconds": s.seconds, "built in (s)": s.built_seconds}
            for s in run.stages
        ]
        text += print_summary(f"{run.domain.name}: preparation stages", rows)
    dirs = directions(run, built)
    rows = [
        {
            "metric": k
            + {"higher": " (higher is better)", "lower": " (lower is better)"}.get(dirs.get(k, ""), ""),
            **{f"round {h['round']}": _cell(h, k) for h in history},
        }
        for k in keys
    ]
    text += print_summary(f"{run.domain.name}: metrics per round (round 0 = before training)", rows)
    if any(f"{k}/low" in h for h in history for k in keys):
        note = (
            "[low, high]: 95% bootstrap interval over the evaluated items. d: paired difference from round 0 "
            "on the same items, with its 95% paired-bootstrap interval and p-value; * marks a difference "
            "whose interval excludes 0 (significant), and only those.\n"
        )
        print(note, end="")
        text += note
    atomic_write_text(run.out / "summary.txt", text)
    pictures = [*pictures, *_summaries(run, built, history)]
    log.info(
        f"done in {seconds:.0f}s; outputs in {run.out} "
        f"({', '.join(['metrics.json', *pictures])}, summary.txt)"
    )
    return text


def _summaries(run: Run, built: DomainBuild, history: Sequence[Mapping[str, Any]]) -> list[str]:
    """Run-level files of evaluators that make them (an optional ``summarize(eval_dirs, out_dir)``,
    e.g. a grid of the same held-out prompts after every round), from each round's evaluation folder."""
    made = []
    for bench in built.evaluations:
        summarize = getattr(get_benchmark(run.domain, bench.name), "summarize", None)
        if not callable(summarize):
            continue
        dirs = [run.out / f"round_{h['round']}" / f"eval_{bench.name}" for h in history]
        made += [Path(p).name for p in summarize([d for d in dirs if d.is_dir()], run.out) or []]
    return made
