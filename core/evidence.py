"""Evidence from evaluation folders: intervals per headline metric, and paired differences between two.

An evaluation folder (``round_<k>/eval_<benchmark>/``, or ``polyrlaif eval``'s output) holds the
benchmark's ``items.jsonl`` (one row per item, with an ``id``) and ``benchmark.json`` (which domain and
benchmark wrote it). The benchmark's ``aggregate(rows)`` turns rows into metrics, so every headline
metric it declares gets a bootstrap interval, and two folders evaluated on the same items get a
paired-bootstrap difference (:mod:`polyrlaif.core.significance`). ``polyrlaif compare`` and the
recipes' summaries both read them from here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from polyrlaif.core.io import InputError, atomic_write_json, read_jsonl
from polyrlaif.core.protocols import Domain, EvalRequest, Policy
from polyrlaif.core.registry import get_benchmark, get_domain
from polyrlaif.core.significance import Difference, Interval, bootstrap_intervals, paired_differences

__all__ = [
    "BENCHMARK_FILE",
    "ITEMS_FILE",
    "eval_dirs",
    "evaluation_difference",
    "evaluation_intervals",
    "run_benchmark",
]

#: One row per evaluated item, written by the benchmark.
ITEMS_FILE = "items.jsonl"
#: Which domain and benchmark wrote an evaluation folder.
BENCHMARK_FILE = "benchmark.json"


def run_benchmark(domain: Domain, name: str, policy: Policy | None, request: EvalRequest) -> dict[str, float]:
    """Run benchmark ``name`` of ``domain`` and label its folder (``benchmark.json``) for later comparison."""
    evaluator_cls = get_benchmark(domain, name)
    metrics = evaluator_cls().evaluate(policy, request)
    atomic_write_json(
        Path(request.output_dir) / BENCHMARK_FILE,
        {"domain": domain.name, "benchmark": name, "metrics": dict(evaluator_cls.metrics)},
    )
    return metrics


def _load(eval_dir: Path) -> tuple[Any, list[dict[str, Any]]]:
    label = eval_dir / BENCHMARK_FILE
    items = eval_dir / ITEMS_FILE
    for path in (label, items):
        if not path.is_file():
            raise InputError(f"{path}: missing; {eval_dir} is not an evaluation folder of this version")
    info = json.loads(label.read_text(encoding="utf-8"))
    evaluator_cls = get_benchmark(get_domain(info["domain"]), info["benchmark"])
    return evaluator_cls, read_jsonl(items, required=("id",))


def evaluation_intervals(eval_dir: str | Path, *, seed: int = 0) -> dict[str, Interval]:
    """Each declared headline metric of the folder's benchmark with its 95% bootstrap interval."""
    evaluator_cls, rows = _load(Path(eval_dir))
    if not rows:
        return {}
    totals = evaluator_cls.aggregate(rows)
    metrics = [m for m in evaluator_cls.metrics if isinstance(totals.get(m), (int, float))]
    return bootstrap_intervals(rows, evaluator_cls.aggregate, metrics, seed=seed)


def evaluation_difference(a: str | Path, b: str | Path, *, seed: int = 0) -> dict[str, Difference]:
    """``b - a`` for each declared headline metric, paired over the items both folders evaluated.

    Raises:
        InputError: the folders hold different benchmarks.
    """
    cls_a, rows_a = _load(Path(a))
    cls_b, rows_b = _load(Path(b))
    if cls_a is not cls_b:
        raise InputError(f"{a} and {b} hold different benchmarks ({cls_a.name}, {cls_b.name})")
    if not rows_a or not rows_b:
        return {}
    totals = cls_a.aggregate(rows_a)
    metrics = [m for m in cls_a.metrics if isinstance(totals.get(m), (int, float))]
    return paired_differences(rows_a, rows_b, cls_a.aggregate, metrics, seed=seed)


def eval_dirs(path: str | Path) -> dict[str, Path]:
    """Benchmark name -> evaluation folder for ``path``: an evaluation folder itself, a round folder
    (its ``eval_*``), or a run folder (the ``eval_*`` of its last round).

    Raises:
        InputError: nothing evaluated under ``path``.
    """
    path = Path(path)
    if (path / BENCHMARK_FILE).is_file():
        return {json.loads((path / BENCHMARK_FILE).read_text())["benchmark"]: path}
    rounds = sorted(
        (int(d.name.removeprefix("round_")), d)
        for d in path.glob("round_*")
        if d.is_dir() and d.name.removeprefix("round_").isdigit()
    )
    where = rounds[-1][1] if rounds else path
    found = {
        json.loads((d / BENCHMARK_FILE).read_text())["benchmark"]: d
        for d in sorted(where.glob("eval_*"))
        if (d / BENCHMARK_FILE).is_file()
    }
    if not found:
        raise InputError(f"{path}: no evaluation folder ({BENCHMARK_FILE} and {ITEMS_FILE}) found")
    return found
