"""The RLAIF run loop. Reads top to bottom, like a torchtune recipe.

    setup -> evaluate the starting policy (round 0)
    for each round:
        sample -> verify -> judge (with the domain's context) -> score -> pairs -> update -> evaluate
    -> metrics.json, metrics.png and a summary table

Every stage writes its artifact under ``<output_dir>/round_<k>/`` atomically, and skips work that an
earlier, interrupted run already finished, so rerunning the same command resumes.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from polyrlaif.core.config import TrainConfig, save_config
from polyrlaif.core.io import StageWriter, atomic_write_jsonl, read_jsonl
from polyrlaif.core.pairs import build_pairs, length_balance
from polyrlaif.core.protocols import Domain, DomainComponents, Policy
from polyrlaif.core.records import Candidate, Judgment, PreferencePair
from polyrlaif.core.registry import TRAINERS, get_benchmark, get_domain, load_object
from polyrlaif.core.report import print_summary, write_run_metrics

__all__ = ["run_feedback", "run_train", "collect_feedback", "evaluate_policy", "round_subset", "setup"]


def _log(msg: str) -> None:
    print(f"[polyrlaif {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def setup(cfg: TrainConfig) -> tuple[Domain, DomainComponents, Path]:
    """Resolve the domain, build its components and prepare the output directory."""
    out = Path(cfg.run.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    domain = get_domain(cfg.domain.name)
    components = load_object(domain.build)(cfg)
    if components.skipped:  # listed and counted, never a silently shorter run
        atomic_write_jsonl(out / "skipped.jsonl", components.skipped)
        _log(f"{len(components.skipped)} input records skipped (reasons in {out / 'skipped.jsonl'})")
    return domain, components, out


def round_subset(cfg: TrainConfig, items: list[Any], round_idx: int) -> list[Any]:
    """A seeded subset of ``run.num_prompts`` items per round, in their order, so rounds see different
    prompts (offline prompt records and online prompt rows alike); all of them when it is unset."""
    k = cfg.run.num_prompts
    if k is None or k >= len(items):
        return items
    rng = random.Random(cfg.run.seed * 7919 + round_idx)
    return [items[i] for i in sorted(rng.sample(range(len(items)), k))]


def _run_checker(
    stage: StageWriter, name: str, cands: list[Candidate], fn: Any, *, whole: bool = False
) -> list[Judgment]:
    """Run one verifier or judge over the candidates it has not yet covered, and record its judgments.

    With ``whole=True`` (judges) an unfinished checker sees every candidate again, since a pairwise
    judge must rank each prompt's full group; its cache replays what an earlier run already paid for.
    """
    done = stage.finished_keys
    todo = [c for c in cands if f"{name}|{c.candidate_id}" not in done]
    if todo:
        _log(f"{name}: {len(todo)} candidates")
        judgments = fn(cands if whole else todo)
        rows = [{"key": f"{name}|{j.candidate_id}", **j.to_dict()} for j in judgments]
        stage.append([r for r in rows if r["key"] not in done])
    return [Judgment.from_dict(r) for r in stage.rows() if r["key"].startswith(f"{name}|")]


def collect_feedback(
    cfg: TrainConfig, components: DomainComponents, policy: Policy, round_idx: int, rdir: Path
) -> tuple[list[PreferencePair], dict[str, Any]]:
    """Sample, verify, judge and build pairs for one round. Returns the pairs and the round's stats."""
    prompts = round_subset(cfg, components.train_prompts, round_idx)
    by_id = {p.prompt_id: p for p in prompts}

    # 1. sample: the newest policy answers every prompt n times, with one set of decoding settings
    cands = components.sampler.sample(
        policy, prompts, round_idx=round_idx, out_path=rdir / "candidates.jsonl"
    )

    # 2. verify, then judge: judges see the verifiers' results through the domain's context hook
    stage = StageWriter(rdir / "judgments.jsonl", key="key")
    verdicts: dict[str, list[Judgment]] = defaultdict(list)
    for v in components.verifiers:
        for j in _run_checker(stage, v.name, cands, lambda cs, v=v: v.verify(by_id, cs)):
            verdicts[j.candidate_id].append(j)
    for judge in components.judges:

        def run_judge(cs: list[Candidate], judge: Any = judge) -> list[Judgment]:
            ctx = [components.context(by_id[c.prompt_id], c, verdicts[c.candidate_id]) for c in cs]
            return judge.judge(by_id, cs, ctx)

        for j in _run_checker(stage, judge.judge_id, cands, run_judge, whole=True):
            verdicts[j.candidate_id].append(j)
    if not stage.done:
        stage.finish()

    # 3. score and pair: failures (None) are counted, never silently turned into zeros
    scores = {
        c.candidate_id: components.score(by_id[c.prompt_id], c, verdicts[c.candidate_id]) for c in cands
    }
    lineage = {
        cid: {j.judge_id: {"score": j.score, "hash": j.judge_prompt_hash} for j in js}
        for cid, js in verdicts.items()
    }
    pairs_path = rdir / "pairs.jsonl"
    pairs, pstats = build_pairs(
        by_id,
        cands,
        scores,
        min_margin=cfg.pairs.min_margin,
        max_pairs_per_prompt=cfg.pairs.max_pairs_per_prompt,
        provenance=lineage,
        strategy=cfg.pairs.strategy,
        max_uses_per_candidate=cfg.pairs.max_uses_per_candidate,
    )
    length_stats: dict[str, Any] = {}
    if cfg.pairs.length_balance and pairs:
        # RLAIF-V: a judge that prefers long (or short) answers teaches length, not truth
        pairs, report = length_balance(pairs, tolerance=cfg.pairs.length_tolerance)
        length_stats = {f"length/{k}": v for k, v in report.as_dict().items() if isinstance(v, (int, float))}
        _log(
            f"length filter: {report.n_before} -> {report.n_after} pairs; mean chosen/rejected words "
            f"{report.mean_chosen_before:.1f}/{report.mean_rejected_before:.1f} -> "
            f"{report.mean_chosen_after:.1f}/{report.mean_rejected_after:.1f}"
        )
    atomic_write_jsonl(pairs_path, [p.to_dict() for p in pairs])

    failures = Counter(j.failure.split(":")[0] for js in verdicts.values() for j in js if j.failure)
    valid = [s for s in scores.values() if s is not None]
    stats: dict[str, Any] = {
        "candidates": len(cands),
        "mean_score": sum(valid) / len(valid) if valid else 0.0,
        **{f"pairs_{k}": v for k, v in pstats.as_dict().items()},
        "pairs_kept": len(pairs),
        **length_stats,
        "judge_failures": sum(failures.values()),
    }
    for judge in components.judges:  # e.g. calls, cache hits, and a pairwise judge's disagreement rate
        judge_stats = getattr(judge, "stats", None)
        if judge_stats is not None and hasattr(judge_stats, "as_dict"):
            mode = judge.judge_id.split(":")[0]
            for k, val in judge_stats.as_dict().items():
                if isinstance(val, (int, float)):
                    stats[f"judge/{mode}/{k}"] = val
    for v in components.verifiers:
        got = [
            j.score for js in verdicts.values() for j in js if j.judge_id == v.name and j.score is not None
        ]
        stats[f"{v.name}_rate"] = sum(got) / len(got) if got else 0.0
    _log(
        f"round {round_idx}: {len(pairs)} pairs from {len(cands)} candidates; failures: {dict(failures) or 0}"
    )
    return pairs, stats


def evaluate_policy(
    cfg: TrainConfig, domain: Domain, components: DomainComponents, policy: Policy, rdir: Path
) -> dict[str, float]:
    """Run the domain's per-round benchmarks; metrics are prefixed with the benchmark name."""
    metrics: dict[str, float] = {}
    for name, kwargs in components.eval_benchmarks:
        evaluator = get_benchmark(domain, name)(**kwargs)
        _log(f"evaluating {policy.model_id} on {name}")
        got = evaluator.evaluate(
            policy,
            output_dir=rdir / f"eval_{name}",
            limit=cfg.eval.limit,
            samples=cfg.eval.samples,
            temperature=cfg.eval.temperature,
            max_new_tokens=cfg.eval.max_new_tokens,
            seed=cfg.run.seed,
        )
        metrics.update({f"{name}/{k}": v for k, v in got.items() if isinstance(v, (int, float))})
    return metrics


def _load_policy(cfg: TrainConfig, components: DomainComponents, model_path: str) -> Policy:
    return components.adapter.load(
        model_path,
        dtype=cfg.model.dtype,
        device=cfg.model.device,
        cache_dir=cfg.model.cache_dir,
        batch_size=cfg.sampling.batch_size,
    )


def run_train(cfg: TrainConfig) -> list[dict[str, Any]]:
    """Full RLAIF rounds. Returns the per-round history written to ``metrics.json``.

    With ``run.mode: online`` the rounds are online RL instead (:func:`polyrlaif.core.online.run_online`).
    """
    if cfg.run.mode == "online":
        from polyrlaif.core.online import run_online

        return run_online(cfg)
    t0 = time.time()
    domain, components, out = setup(cfg)
    _require_offline(domain, components)
    trainer = TRAINERS.get(cfg.optim.backend)(cfg.optim, model=cfg.model, seed=cfg.run.seed)
    model_path = _starting_model(cfg, components)
    history: list[dict[str, Any]] = []

    # round 0: the starting policy, so every later round has a "before" to compare with
    policy = _load_policy(cfg, components, model_path)
    history.append(
        {
            "round": 0,
            **evaluate_policy(cfg, domain, components, policy, out / "round_0"),
            **({"skipped_records": len(components.skipped)} if components.skipped else {}),
        }
    )

    for r in range(1, cfg.run.rounds + 1):
        rdir = out / f"round_{r}"
        pairs, stats = collect_feedback(cfg, components, policy, r, rdir)
        policy_model_path = policy.model_path
        _close(policy)
        if not pairs:
            _log(f"round {r}: no preference pairs (see stats); the policy is left unchanged")
            result_metrics: dict[str, float] = {}
        else:
            _log(f"round {r}: preference optimisation on {len(pairs)} pairs ({cfg.optim.backend})")
            result = trainer.train(policy_model_path, pairs, rdir / "train")
            model_path, result_metrics = result.model_path, result.metrics
        policy = _load_policy(cfg, components, model_path)
        metrics = evaluate_policy(cfg, domain, components, policy, rdir)
        history.append(
            {"round": r, **metrics, **stats, **{f"train/{k}": v for k, v in result_metrics.items()}}
        )
        write_run_metrics(out, history, keys=_headline_keys(history))
    _close(policy)

    extra = {"final_model": model_path, "seconds": round(time.time() - t0, 1)}
    write_run_metrics(out, history, extra, keys=_headline_keys(history))
    # one row per metric, one column per round: readable however long the metric names are
    rows = [
        {"metric": k, **{f"round {h['round']}": h.get(k, "") for h in history}}
        for k in _headline_keys(history)
    ]
    text = print_summary(f"{domain.name}: metrics per round (round 0 = before training)", rows)
    (out / "summary.txt").write_text(text)
    _log(f"done in {time.time() - t0:.0f}s; outputs in {out} (metrics.json, metrics.png, summary.txt)")
    return history


def _headline_keys(history: list[dict[str, Any]]) -> list[str]:
    """The metrics worth a row in the summary and a panel in the PNG: benchmark scores and status
    counts, then what the round's feedback and update did."""
    skip = ("n_problems", "n_samples", "samples_per_problem", "temperature", "n_images", "/n", "/tp", "/fp")
    skip += ("/tn", "/fn")
    keys = [k for k in history[0] if k != "round" and not k.endswith(skip)]
    keys += ["pairs_pairs", "pairs_kept", "mean_score", "unit_tests_rate"]
    keys += ["train/train_loss", "train/rewards/margins"]
    return [k for k in dict.fromkeys(keys) if any(k in h for h in history)]


def _starting_model(cfg: TrainConfig, components: DomainComponents) -> str:
    """The policy round 1 samples from: the domain's own starting model if it makes one, else the config's."""
    if components.initial_model:
        _log(f"starting policy from the domain: {components.initial_model} (model.name_or_path not used)")
        return components.initial_model
    return cfg.model.name_or_path


def run_feedback(cfg: TrainConfig) -> list[PreferencePair]:
    """Sample, judge and verify, then build pairs, and stop there (round 1 only)."""
    if cfg.run.mode != "offline":
        raise ValueError("feedback mines preference pairs offline; it needs run.mode=offline")
    domain, components, out = setup(cfg)
    _require_offline(domain, components)
    policy = _load_policy(cfg, components, _starting_model(cfg, components))
    pairs, stats = collect_feedback(cfg, components, policy, 1, out / "round_1")
    _close(policy)
    print_summary("feedback", [{"stat": k, "value": v} for k, v in stats.items()])
    _log(f"pairs written to {out / 'round_1' / 'pairs.jsonl'}")
    return pairs


def _require_offline(domain: Domain, components: DomainComponents) -> None:
    missing = [n for n in ("sampler", "score", "context") if getattr(components, n) is None]
    if missing:
        hint = "; it trains online: set run.mode=online" if components.online is not None else ""
        raise ValueError(f"domain {domain.name!r} has no offline {', '.join(missing)}{hint}")


def _close(policy: Policy) -> None:
    close = getattr(policy, "close", None)
    if callable(close):
        close()


def load_pairs(path: str | Path) -> list[PreferencePair]:
    """Read a pairs artifact back (for ``train`` from precomputed feedback)."""
    return [PreferencePair.from_dict(r, where=str(path)) for r in read_jsonl(path)]
