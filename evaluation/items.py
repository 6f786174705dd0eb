"""Small helpers for a benchmark's per-item rows (``items.jsonl``) and its ``aggregate(rows)``.

A benchmark writes one row per item with a string ``id`` that names the same item in every run; the
core resamples those rows to put a bootstrap interval on each headline metric and pairs two runs' rows by
id (:mod:`polyrlaif.core.significance`). ``aggregate`` is called about a thousand times per metric on
resampled rows, so it stays plain Python arithmetic, and a ratio over nothing is NaN (undefined), never 0.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable

__all__ = ["binary_counts_metrics", "confusion", "ratio", "unique_ids"]


def unique_ids(keys: Iterable[Hashable]) -> list[str]:
    """The keys as string ids, each repeat suffixed ``#2``, ``#3``... so that every id is unique.

    The suffixes follow input order, so the same input gives the same ids in every run.

    Examples:
        ``[1, "a", "a"]`` -> ``["1", "a", "a#2"]``.
    """
    seen: dict[str, int] = {}
    used: set[str] = set()
    out = []
    for key in keys:
        base = str(key)
        k = seen.get(base, 0)
        name = base if k == 0 else f"{base}#{k + 1}"
        while name in used:  # a key that already looks like a repeat ("a#2" next to "a")
            k += 1
            name = f"{base}#{k + 1}"
        seen[base] = k + 1
        used.add(name)
        out.append(name)
    return out


def ratio(num: float, den: float) -> float:
    """``num / den``; NaN when ``den`` is 0: a share of nothing is undefined, not 0."""
    return num / den if den else math.nan


def confusion(pairs: Iterable[tuple[bool, bool]]) -> tuple[int, int, int, int]:
    """``(tp, fp, tn, fn)`` of ``(gold is positive, prediction is positive)`` pairs."""
    n = Counter(pairs)
    return n[True, True], n[False, True], n[False, False], n[True, False]


def binary_counts_metrics(tp: int, fp: int, tn: int, fn: int) -> dict[str, float]:
    """Accuracy, precision, recall and F1 from a confusion matrix's counts.

    F1 is ``2 tp / (2 tp + fp + fn)``: the harmonic mean of precision and recall wherever those are
    defined, 0 when positives exist but none is found, and NaN only with no positive label or
    prediction at all. Precision and recall are NaN where their denominator is 0.
    """
    return {
        "accuracy": ratio(tp + tn, tp + fp + tn + fn),
        "precision": ratio(tp, tp + fp),
        "recall": ratio(tp, tp + fn),
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
    }
