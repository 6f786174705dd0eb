"""Offline feedback for one round: sample -> verify -> judge (with the domain's context) -> score -> pairs.

Used by the ``preference`` recipe every round and by ``polyrlaif feedback``. Every stage writes its
artifact under the round's folder atomically and skips work that an interrupted run already finished.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from polyrlaif.core.config import TrainConfig
from polyrlaif.core.executor import Executor, LocalExecutor, chunk_groups
from polyrlaif.core.io import StageWriter, atomic_write_jsonl
from polyrlaif.core.judges.endpoints import check_judge_endpoints
from polyrlaif.core.log import get_logger
from polyrlaif.core.pairs import build_pairs, coin, length_balance, reverse
from polyrlaif.core.poison import caught, poison_pairs
from polyrlaif.core.protocols import OfflineFeedback, Policy
from polyrlaif.core.records import Candidate, Judgment, PreferencePair
from polyrlaif.core.resume import Level
from polyrlaif.core.run import counters, reset_counters, round_subset
from polyrlaif.core.screening import (
    RepeatedJudge,
    length_adjusted,
    repeat_scores,
    screen_pairs,
    verifier_agreement,
)

__all__ = ["FEEDBACK_KEYS", "PREFERENCE_LEVELS", "collect_feedback", "run_feedback", "scheduled"]

log = get_logger(__name__)

#: What a preference round writes, in order, and the settings each depends on (core.resume).
PREFERENCE_LEVELS = (
    Level("samples", ("model", "sampling", "domain", "data", "run.seed", "run.num_prompts", "run.mode"),
          ("candidates.jsonl", "candidates.jsonl.partial")),
    Level("judgments", ("judge", "pairs.repeats"), ("judgments.jsonl", "judgments.jsonl.partial")),
    Level("pairs", ("pairs",), ("pairs.jsonl",)),
    Level("updates", ("optim",), ("train",), carries=True),
    Level("evaluations", ("eval",), ("eval_*",)),
)  # fmt: skip

#: What the feedback stage reports per round that is worth a row in the summary.
FEEDBACK_KEYS = (
    "pairs_pairs",
    "pairs_kept",
    "pairs_extra/added",
    "pairs_extra/dropped",
    "mean_score",
    "candidates_held_back",
    "unparseable_rate",
)


#: Failure reasons that mean the judge could not be reached at all (the text before the first ``:``).
UNREACHABLE = frozenset({"connection", "timeout"})


def scheduled(values: list[float], round_idx: int) -> float | None:
    """Round ``round_idx``'s value of a per-round schedule (1-based; the last value holds); ``None``
    when the schedule is empty."""
    return float(values[min(round_idx, len(values)) - 1]) if values else None


def _quantiles(values: list[float]) -> dict[str, float]:
    """The score distribution of a round, for the summary: 10th, 50th and 90th percentiles."""
    if not values:
        return {}
    ordered = sorted(values)
    pick = {q: ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] for q in (10, 50, 90)}
    return {f"score/p{q}": v for q, v in pick.items()}


def _unparseable_rate(judges: Any) -> dict[str, float]:
    """``{"unparseable_rate": ...}``: of the answers this round's text-reading judges read (pointwise,
    pairwise: ``stats.answers``), the share no score or verdict could be read from; empty when none
    read any."""
    stats = [getattr(j, "stats", None) for j in judges]
    counted = [
        (s.answers, s.unparseable) for s in stats if hasattr(s, "answers") and hasattr(s, "unparseable")
    ]
    answers = sum(a for a, _ in counted)
    return {"unparseable_rate": sum(u for _, u in counted) / answers} if answers else {}


def _stop_on_outage(
    cfg: TrainConfig, feedback: OfflineFeedback, verdicts: dict[str, list[Judgment]], round_idx: int
) -> None:
    """Stop the run when a judge answered nothing this round because it could not be reached."""
    for judge in feedback.judges:
        got = [j for js in verdicts.values() for j in js if j.judge_id == judge.judge_id]
        reasons = Counter((j.failure or "").split(":", 1)[0] for j in got)
        if got and set(reasons) <= UNREACHABLE:
            example = next(j.failure for j in got)
            raise RuntimeError(
                f"round {round_idx}: all {len(got)} judgments of {judge.judge_id} failed ({dict(reasons)}), "
                f"e.g. {example}. Start the judge endpoint (judge.base_url={cfg.judge.base_url}, "
                f"judge.model={cfg.judge.model}) or point judge.backend/judge.base_url at a running one, "
                "then rerun the same command: finished stages are kept and the failed judgments are retried"
            )


def _verify_chunk(verifier: Any, chunk: tuple) -> list[Judgment]:
    """One executor chunk of a verifier: ``(prompts, candidates)``."""
    prompts, cands = chunk
    return verifier.verify(prompts, cands)


def _judge_chunk(judge: Any, chunk: tuple) -> list[Judgment]:
    """One executor chunk of a judge: ``(prompts, candidates, contexts)``."""
    prompts, cands, ctx = chunk
    return judge.judge(prompts, cands, ctx)


def _run_checker(
    stage: StageWriter,
    name: str,
    cands: list[Candidate],
    checker: Any,
    call: Any,
    payload: Any,
    executor: Executor,
    *,
    whole: bool = False,
) -> list[Judgment]:
    """Run one verifier or judge over the candidates it has not yet covered, and record its judgments.

    The executor checks chunks of whole prompt groups (the local one: a single chunk of them all), made
    by ``payload(candidates)``; each chunk's judgments are written as soon as it and the chunks before
    it are done, so an interrupted stage keeps them. With ``whole=True`` (judges) an unfinished checker
    sees every candidate again, since a pairwise judge must rank each prompt's full group; its cache
    replays what an earlier run already paid for.
    """
    done = stage.finished_keys
    todo = [c for c in cands if f"{name}|{c.candidate_id}" not in done]
    if todo:
        log.info(f"{name}: {len(todo)} candidates")
        work = cands if whole else todo
        parts = (
            [work]
            if executor.workers == 1
            else chunk_groups(work, lambda c: c.prompt_id, 4 * executor.workers)
        )

        def write(_: int, judgments: list[Judgment]) -> None:
            rows = [{"key": f"{name}|{j.candidate_id}", **j.to_dict()} for j in judgments]
            stage.append([r for r in rows if r["key"] not in done])

        executor.map(checker, call, [payload(p) for p in parts], desc=name, on_result=write)
    return [Judgment.from_dict(r) for r in stage.rows() if r["key"].startswith(f"{name}|")]


def collect_feedback(
    cfg: TrainConfig,
    feedback: OfflineFeedback,
    policy: Policy,
    round_idx: int,
    rdir: Path,
    *,
    retry_failures: bool = True,
    executor: Executor | None = None,
    sampler_executor: Executor | None = None,
) -> tuple[list[PreferencePair], dict[str, Any]]:
    """Sample, verify, judge and build pairs for one round. Returns the pairs and the round's stats
    (``<verifier>_rate`` for each verifier, ``candidates_held_back``, this round's judge counters).

    A candidate with a failed required judgment (a verifier that could not run, a judge that did not
    answer) enters no pair: it is held back and counted, never scored as if the judge had said 0. Every
    verifier and judge is required unless it says ``required = False`` (an advisory check whose failure
    the domain's score already accounts for).

    Args:
        retry_failures: judge again what failed in an earlier run of this round (a rerun after an
            outage); successes replay from the judge cache at no cost. The recipe turns it off for a
            round whose update already trained on its pairs, so the pairs stay what was trained on.
        executor: where verification and judging run (``run.executor``, :mod:`polyrlaif.core.executor`);
            this process when ``None``. Either writes the same judgments.
        sampler_executor: where the sampler draws its batches (``run.sample_replicas``); this process
            when ``None``.

    Raises:
        RuntimeError: every judgment of a judge failed for want of a connection (the endpoint is down);
            the message names the endpoint and what to do. Nothing is trained on nothing.
    """
    prompts = round_subset(cfg, feedback.prompts, round_idx)
    by_id = {p.prompt_id: p for p in prompts}

    # 1. sample: the newest policy answers every prompt n times, with one set of decoding settings
    # (a sampler is handed an executor only when one is asked for: a plugin's may not take one)
    where = {"executor": sampler_executor} if sampler_executor and sampler_executor.name != "local" else {}
    cands = feedback.sampler.sample(
        policy, prompts, round_idx=round_idx, out_path=rdir / "candidates.jsonl", **where
    )

    # 2. verify, then judge: judges see the verifiers' results through the domain's context hook
    stage = StageWriter(rdir / "judgments.jsonl", key="key")
    required = {c.name for c in feedback.verifiers if getattr(c, "required", True)}
    required |= {c.judge_id for c in feedback.judges if getattr(c, "required", True)}
    if retry_failures:  # what an advisory check could not decide is not retried: it would not change
        retried = stage.drop(lambda row: bool(row.get("failure")) and row.get("judge_id") in required)
        if retried:
            log.info(f"retrying {retried} failed judgments of an earlier run")
    reset_counters({judge.judge_id: judge for judge in feedback.judges})  # this round's own numbers
    verdicts: dict[str, list[Judgment]] = defaultdict(list)
    executor = executor or LocalExecutor()

    def subset(cs: list[Candidate]) -> dict[str, Any]:
        """The prompts a chunk needs (all of them for the local executor's single chunk)."""
        return by_id if executor.workers == 1 else {c.prompt_id: by_id[c.prompt_id] for c in cs}

    for v in feedback.verifiers:
        for j in _run_checker(stage, v.name, cands, v, _verify_chunk, lambda cs: (subset(cs), cs), executor):
            verdicts[j.candidate_id].append(j)

    def judge_payload(cs: list[Candidate]) -> tuple:
        ctx = [feedback.context(by_id[c.prompt_id], c, verdicts[c.candidate_id]) for c in cs]
        return subset(cs), cs, ctx

    for judge in feedback.judges:
        for j in _run_checker(
            stage, judge.judge_id, cands, judge, _judge_chunk, judge_payload, executor, whole=True
        ):
            verdicts[j.candidate_id].append(j)
    _stop_on_outage(cfg, feedback, verdicts, round_idx)
    repeated: dict[str, list[Judgment]] = defaultdict(list)  # pairs.repeats: each judge asked again
    for again in [RepeatedJudge(judge, r) for r in range(1, cfg.pairs.repeats) for judge in feedback.judges]:
        got = _run_checker(
            stage, again.judge_id, cands, again, _judge_chunk, judge_payload, executor, whole=True
        )
        for j in got:
            repeated[j.candidate_id].append(j)
    if not stage.done:
        stage.finish()

    # 3. score and pair: a candidate with a failed judgment is held back (None), counted, never a zero
    held_back = {cid for cid, js in verdicts.items() if any(j.failure and j.judge_id in required for j in js)}
    scores = {
        c.candidate_id: None
        if c.candidate_id in held_back
        else feedback.score(by_id[c.prompt_id], c, verdicts[c.candidate_id])
        for c in cands
    }
    length_slope = None
    if cfg.pairs.length_adjust:  # what length buys within a prompt's group is taken out of the scores
        scores, length_slope = length_adjusted(cands, scores)
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
        chosen_min=scheduled(cfg.pairs.chosen_min, round_idx),
        rejected_max=scheduled(cfg.pairs.rejected_max, round_idx),
        random_direction=cfg.pairs.random_direction,
    )
    extra_stats: dict[str, Any] = {}
    if feedback.extra_pairs is not None:
        extra, counts = feedback.extra_pairs(by_id, cands, verdicts, scores)
        for pair in extra:  # the domain's pairs carry the same lineage as the core's
            pair.provenance.setdefault("chosen", lineage.get(pair.chosen_id, {}))
            pair.provenance.setdefault("rejected", lineage.get(pair.rejected_id, {}))
        if cfg.pairs.random_direction:  # the control covers the domain's pairs too
            flips = [coin(p.chosen_id, p.rejected_id) for p in extra]
            extra = [reverse(p) if f else p for p, f in zip(extra, flips, strict=True)]
            counts = {**counts, "flipped": float(sum(flips))}
        pairs = [*pairs, *extra]
        extra_stats = {f"pairs_extra/{k}": v for k, v in counts.items()}
        log.info(f"{len(extra)} extra pairs from the domain's pair builder: {counts}")
    if cfg.pairs.poison:  # red team: the screens must catch these, or the update learns from them
        pairs = poison_pairs(pairs, cfg.pairs.poison, cfg.pairs.poison_kind, f"{cfg.run.seed}/{round_idx}")
    poisoned = pairs  # as the screens see them (screen_pairs returns new lists)
    screens = [*cfg.pairs.screen, *(["repeats"] if cfg.pairs.repeats > 1 else [])]
    screen_stats: dict[str, Any] = {}
    dropped: list[dict[str, Any]] = []
    if screens:  # pairs the verifiers or the repeated judgments contradict are dropped, and listed
        again = repeat_scores(
            feedback, by_id, cands, verdicts, repeated, cfg.pairs.repeats, cfg.pairs.length_adjust
        )
        pairs, dropped, screen_stats = screen_pairs(pairs, screens, verdicts, again)
        atomic_write_jsonl(rdir / "screened.jsonl", dropped)
        log.info(f"screening ({', '.join(screens)}): {len(dropped)} pairs dropped, listed in screened.jsonl")
    if cfg.pairs.poison:
        screen_stats.update(caught(poisoned, dropped))
        log.info(
            f"poison ({cfg.pairs.poison_kind}, {cfg.pairs.poison:.0%}): "
            f"{screen_stats['poison/poisoned']:.0f} pairs poisoned, "
            f"{screen_stats['poison/caught']:.0f} caught by the screens, "
            f"{screen_stats['poison/clean_dropped']:.0f} clean pairs dropped"
        )
    length_stats: dict[str, Any] = {}
    if cfg.pairs.length_balance and pairs:
        # RLAIF-V: a judge that prefers long (or short) answers teaches length, not truth
        pairs, report = length_balance(pairs, tolerance=cfg.pairs.length_tolerance)
        length_stats = {f"length/{k}": v for k, v in report.as_dict().items() if isinstance(v, (int, float))}
        log.info(
            f"length filter: {report.n_before} -> {report.n_after} pairs; mean chosen/rejected words "
            f"{report.mean_chosen_before:.1f}/{report.mean_rejected_before:.1f} -> "
            f"{report.mean_chosen_after:.1f}/{report.mean_rejected_after:.1f}"
        )
    atomic_write_jsonl(pairs_path, [p.to_dict() for p in pairs])

    failed = [j for js in verdicts.values() for j in js if j.failure]
    failures = Counter(j.failure.split(":")[0] for j in failed if j.judge_id in required)
    advisory = sum(j.judge_id not in required for j in failed)
    valid = [s for s in scores.values() if s is not None]
    stats: dict[str, Any] = {
        "candidates": len(cands),
        "mean_score": sum(valid) / len(valid) if valid else 0.0,
        **_quantiles(valid),
        **{f"pairs_{k}": v for k, v in pstats.as_dict().items()},
        "pairs_kept": len(pairs),
        **verifier_agreement(pairs, verdicts),  # the kept pairs against the verifiers, where they differ
        **extra_stats,
        **screen_stats,
        **length_stats,
        **({"length/score_per_char": length_slope} if length_slope is not None else {}),
        "judge_failures": sum(failures.values()),  # required checks only: these hold candidates back
        "advisory_failures": advisory,  # advisory checks that could not decide; nobody is held back
        "candidates_held_back": len(held_back & {c.candidate_id for c in cands}),
    }
    # e.g. calls, cache hits, unparseable answers, and a pairwise judge's disagreement rate
    stats.update(counters({judge.judge_id.split(":")[0]: judge for judge in feedback.judges}))
    stats.update(_unparseable_rate(feedback.judges))
    for v in feedback.verifiers:
        got = [
            j.score for js in verdicts.values() for j in js if j.judge_id == v.name and j.score is not None
        ]
        stats[f"{v.name}_rate"] = sum(got) / len(got) if got else 0.0
    log.info(
        f"round {round_idx}: {len(pairs)} pairs from {len(cands)} candidates; failures: {dict(failures) or 0}"
    )
    return pairs, stats


def run_feedback(cfg: TrainConfig) -> list[PreferencePair]:
    """``polyrlaif feedback``: prepare, then sample, verify, judge and build the pairs of round 1, and stop.

    The pairs land in ``<output_dir>/round_1/pairs.jsonl``, ready for ``run.mode=pairs data.pairs=...``.
    """
    from polyrlaif.core import run as kit
    from polyrlaif.core.report import print_summary

    if cfg.run.mode != "preference":
        raise ValueError("feedback mines preference pairs offline; it needs run.mode=preference")
    run = kit.setup(cfg, PREFERENCE_LEVELS)
    prepared = kit.prepare(run)
    built = kit.build(run, prepared)
    if built.offline is None:
        raise ValueError(f"domain {run.domain.name!r} has no offline feedback (sampler, judges, score)")
    check_judge_endpoints(cfg, built.offline)
    policy = kit.load_policy(run, kit.starting_model(run, built))
    pairs, stats = collect_feedback(
        cfg, built.offline, policy, 1, run.out / "round_1", executor=run.executor,
        sampler_executor=run.sampler_executor,
    )  # fmt: skip
    kit.close_policy(policy)
    run.executor.close()
    run.sampler_executor.close()
    print_summary("feedback", [{"stat": k, "value": v} for k, v in stats.items()])
    log.info(f"pairs written to {run.out / 'round_1' / 'pairs.jsonl'}")
    return pairs
