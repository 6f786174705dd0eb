"""Whether a run learned: bootstrap intervals for headline metrics and paired-bootstrap tests between rounds.

Every benchmark writes one row per item (``items.jsonl``: an ``id`` and the item's own numbers) and
says how rows make its metrics (``aggregate(rows) -> metrics``), so a metric that is not a plain mean
(CHAIR's object ratio, POPE's F1, pass@k) is resampled correctly: the items are resampled and the
metric recomputed, as lm-eval-harness computes its bootstrap standard errors.

- :func:`bootstrap_interval`: a metric's 95% percentile interval over resampled items.
- :func:`paired_difference`: the difference between two evaluations of the same items (matched by id),
  its paired-bootstrap interval, and a two-sided p-value; significant when the interval excludes 0.

Resampling is seeded, so a rerun reproduces every interval exactly.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "Difference",
    "Interval",
    "bootstrap_interval",
    "bootstrap_intervals",
    "match_items",
    "paired_difference",
    "paired_differences",
]

Rows = Sequence[Mapping[str, Any]]
Aggregate = Callable[[Rows], Mapping[str, float]]

#: Resamples per interval: enough for stable 95% percentile bounds at the item counts used here.
N_RESAMPLES = 1000


@dataclass(frozen=True)
class Interval:
    """A metric's value on all items and its bootstrap interval."""

    value: float
    low: float
    high: float
    n: int

    def as_dict(self) -> dict[str, float]:
        """Plain JSON."""
        return asdict(self)


@dataclass(frozen=True)
class Difference:
    """``b - a`` on the same items: the paired-bootstrap interval and two-sided p-value.

    ``significant`` is True only when the interval excludes zero.
    """

    value: float
    low: float
    high: float
    p_value: float
    n: int

    @property
    def significant(self) -> bool:
        """The interval excludes zero."""
        return self.low > 0 or self.high < 0

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON, with ``significant``."""
        return {**asdict(self), "significant": self.significant}


def _percentiles(samples: list[float], confidence: float) -> tuple[float, float]:
    finite = sorted(x for x in samples if not math.isnan(x))
    if not finite:
        return math.nan, math.nan
    tail = (1 - confidence) / 2
    lo = finite[min(len(finite) - 1, max(0, math.floor(tail * len(finite))))]
    hi = finite[min(len(finite) - 1, max(0, math.ceil((1 - tail) * len(finite)) - 1))]
    return lo, hi


def _metrics(aggregate: Aggregate, rows: Rows, names: Sequence[str]) -> list[float]:
    got = aggregate(rows)
    return [float(got[m]) if isinstance(got.get(m), (int, float)) else math.nan for m in names]


def bootstrap_intervals(
    rows: Rows,
    aggregate: Aggregate,
    metrics: Sequence[str],
    *,
    n_resamples: int = N_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Interval]:
    """Each of ``metrics`` on ``rows`` with a percentile bootstrap interval (items resampled with
    replacement; every metric from the same resamples).

    Raises:
        ValueError: no rows.
    """
    if not rows:
        raise ValueError("no items to bootstrap")
    rng = random.Random(seed)
    n = len(rows)
    samples = [
        _metrics(aggregate, [rows[rng.randrange(n)] for _ in range(n)], metrics) for _ in range(n_resamples)
    ]
    full = _metrics(aggregate, rows, metrics)
    out = {}
    for j, m in enumerate(metrics):
        lo, hi = _percentiles([s[j] for s in samples], confidence)
        out[m] = Interval(full[j], lo, hi, n)
    return out


def bootstrap_interval(rows: Rows, aggregate: Aggregate, metric: str, **kwargs: Any) -> Interval:
    """One metric's :func:`bootstrap_intervals`."""
    return bootstrap_intervals(rows, aggregate, [metric], **kwargs)[metric]


def match_items(a: Rows, b: Rows) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """The rows of ``a`` and ``b`` whose ``id`` both have, in one order.

    Raises:
        ValueError: an id repeats within one side, or the two share no id.
    """

    def by_id(rows: Rows, side: str) -> dict[str, Mapping[str, Any]]:
        out: dict[str, Mapping[str, Any]] = {}
        for r in rows:
            key = str(r["id"])
            if key in out:
                raise ValueError(f"item id {key!r} appears twice in {side}")
            out[key] = r
        return out

    left, right = by_id(a, "the first evaluation"), by_id(b, "the second evaluation")
    common = [k for k in left if k in right]
    if not common:
        raise ValueError("the two evaluations share no item: they cannot be compared item by item")
    return [left[k] for k in common], [right[k] for k in common]


def paired_differences(
    a: Rows,
    b: Rows,
    aggregate: Aggregate,
    metrics: Sequence[str],
    *,
    n_resamples: int = N_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Difference]:
    """``metric(b) - metric(a)`` for each of ``metrics``, over the items both evaluated, paired.

    The same resampled items are drawn for both sides, so what varies between items (their
    difficulty) cancels. The p-value is two-sided: twice the share of resampled differences on the
    other side of zero from the observed one (at least one resample's worth, never exactly 0).
    """
    left, right = match_items(a, b)
    rng = random.Random(seed)
    n = len(left)
    first, second = _metrics(aggregate, left, metrics), _metrics(aggregate, right, metrics)
    observed = [y - x for x, y in zip(first, second, strict=True)]
    diffs = []
    for _ in range(n_resamples):
        idx = [rng.randrange(n) for _ in range(n)]
        before = _metrics(aggregate, [left[i] for i in idx], metrics)
        after = _metrics(aggregate, [right[i] for i in idx], metrics)
        diffs.append([y - x for x, y in zip(before, after, strict=True)])
    out = {}
    for j, m in enumerate(metrics):
        lo, hi = _percentiles([d[j] for d in diffs], confidence)
        finite = [d[j] for d in diffs if not math.isnan(d[j])]
        if not finite or math.isnan(observed[j]):
            p = math.nan
        else:
            below = sum(d <= 0 for d in finite) / len(finite)
            above = sum(d >= 0 for d in finite) / len(finite)
            p = min(1.0, max(2 * min(below, above), 1 / len(finite)))
        out[m] = Difference(observed[j], lo, hi, p, n)
    return out


def paired_difference(a: Rows, b: Rows, aggregate: Aggregate, metric: str, **kwargs: Any) -> Difference:
    """One metric's :func:`paired_differences`."""
    return paired_differences(a, b, aggregate, [metric], **kwargs)[metric]
