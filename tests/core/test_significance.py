"""Bootstrap intervals and paired-bootstrap differences against hand-checked cases."""

from __future__ import annotations

import math
import random

import pytest

from polyrlaif.core.significance import bootstrap_interval, match_items, paired_difference


def mean_score(rows):
    return {"score": sum(r["score"] for r in rows) / len(rows)} if rows else {}


def ratio(rows):
    """A metric that is not a mean of item values: CHAIR_i's hallucinated / mentioned objects."""
    mentioned = sum(r["mentioned"] for r in rows)
    return {"ratio": sum(r["hallucinated"] for r in rows) / mentioned if mentioned else math.nan}


def _coin(n, p, seed):
    rng = random.Random(seed)
    return [{"id": str(i), "score": float(rng.random() < p)} for i in range(n)]


def test_interval_of_a_mean_matches_the_normal_approximation():
    rows = [{"id": str(i), "score": float(i % 2)} for i in range(400)]  # mean 0.5, sd 0.5
    got = bootstrap_interval(rows, mean_score, "score", seed=1)
    assert got.value == 0.5 and got.n == 400
    half = 1.96 * 0.5 / math.sqrt(400)  # 0.049
    assert got.low == pytest.approx(0.5 - half, abs=0.012) and got.high == pytest.approx(
        0.5 + half, abs=0.012
    )


def test_constant_items_have_a_point_interval_and_ratios_are_recomputed():
    rows = [{"id": str(i), "hallucinated": 1, "mentioned": 4} for i in range(30)]
    got = bootstrap_interval(rows, ratio, "ratio")
    assert (got.value, got.low, got.high) == (0.25, 0.25, 0.25)
    # one item with many objects weighs more than one with few: the ratio of sums, not a mean of ratios
    mixed = [{"id": "a", "hallucinated": 0, "mentioned": 9}, {"id": "b", "hallucinated": 1, "mentioned": 1}]
    assert bootstrap_interval(mixed, ratio, "ratio").value == 0.1


def test_identical_runs_differ_by_an_interval_around_zero():
    a = _coin(200, 0.3, seed=0)
    d = paired_difference(a, [dict(r) for r in reversed(a)], mean_score, "score")  # order does not matter
    assert d.value == 0 and d.low == 0 and d.high == 0 and d.p_value == 1.0
    assert not d.significant and d.n == 200


def test_a_shifted_run_gives_an_interval_that_excludes_zero():
    a = _coin(200, 0.3, seed=0)
    b = [{**r, "score": r["score"] + 0.1} for r in a]
    d = paired_difference(a, b, mean_score, "score")
    assert d.value == pytest.approx(0.1) and d.low == pytest.approx(0.1) and d.high == pytest.approx(0.1)
    assert d.significant and d.p_value <= 0.001


def test_the_paired_interval_matches_the_per_item_differences():
    # 40 of 200 items flip from pass to fail and 60 from fail to pass: +0.1 overall; the per-item
    # differences have sd sqrt(0.5 - 0.01) = 0.7, so the interval is 0.1 +- 1.96 * 0.7 / sqrt(200)
    a = [{"id": str(i), "score": float(i < 100)} for i in range(200)]
    b = [{"id": str(i), "score": float(40 <= i < 160)} for i in range(200)]
    d = paired_difference(a, b, mean_score, "score", seed=3)
    half = 1.96 * 0.7 / math.sqrt(200)  # 0.097
    assert d.value == pytest.approx(0.1)
    assert d.low == pytest.approx(0.1 - half, abs=0.015) and d.high == pytest.approx(0.1 + half, abs=0.015)
    # two independent 95% intervals of 0.5 and 0.6 would overlap; the paired one is about as wide as one
    alone = bootstrap_interval(b, mean_score, "score", seed=3)
    assert (d.high - d.low) < 2.1 * (alone.high - alone.low)


def test_items_are_matched_by_id_and_bad_ids_are_named():
    a = [{"id": "x", "score": 1.0}, {"id": "y", "score": 0.0}]
    b = [{"id": "y", "score": 1.0}, {"id": "z", "score": 1.0}]
    left, right = match_items(a, b)
    assert [r["id"] for r in left] == ["y"] and right[0]["score"] == 1.0
    with pytest.raises(ValueError, match="share no item"):
        match_items(a, [{"id": "q", "score": 1}])
    with pytest.raises(ValueError, match="item id 'x' appears twice"):
        match_items(a + [{"id": "x", "score": 0.0}], b)


def test_the_same_seed_gives_the_same_interval():
    rows = _coin(100, 0.5, seed=4)
    assert bootstrap_interval(rows, mean_score, "score", seed=7) == bootstrap_interval(
        rows, mean_score, "score", seed=7
    )
