"""The unbiased pass@k estimator of Chen et al. (2021), "Evaluating Large Language Models Trained on Code".

With ``n`` samples per problem of which ``c`` pass, the probability that at least one of ``k`` samples
drawn without replacement passes is ``1 - C(n - c, k) / C(n, k)``. The binomials overflow floats for
large ``n``, so, as in the paper, the ratio is computed as the product
``prod_{i = n - c + 1}^{n} (1 - k / i)``, which stays in [0, 1] term by term.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["pass_at_k", "mean_pass_at_k"]


def _check(n: int, c: int, k: int) -> None:
    if n < 1:
        raise ValueError(f"pass@k needs at least one sample, got n={n}")
    if not 0 <= c <= n:
        raise ValueError(f"number correct must be in [0, n={n}], got c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"pass@k needs 1 <= k <= n, got k={k} with n={n} samples")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimate of pass@k for one problem.

    Args:
        n: samples drawn for the problem.
        c: how many of them passed.
        k: the k of pass@k; at most ``n``.

    Returns:
        ``1 - C(n - c, k) / C(n, k)``; exactly 1.0 when ``n - c < k`` (every k-subset holds a pass).

    Raises:
        ValueError: if ``n < 1``, ``c`` is outside ``[0, n]`` or ``k`` is outside ``[1, n]``.
    """
    _check(n, c, k)
    if n - c < k:
        return 1.0
    # C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k/i); summing logs keeps it exact-ish for huge n.
    log_ratio = math.fsum(math.log1p(-k / i) for i in range(n - c + 1, n + 1))
    return 1.0 - math.exp(log_ratio)


def mean_pass_at_k(counts: Sequence[tuple[int, int]], k: int) -> float:
    """pass@k of a benchmark: the mean of the per-problem estimates.

    Args:
        counts: ``(n, c)`` per problem: samples drawn and samples that passed.
        k: the k of pass@k; at most the smallest ``n``.

    Raises:
        ValueError: if ``counts`` is empty, or a problem's ``(n, c)`` is invalid for ``k``
            (the message gives the problem's index).
    """
    if not counts:
        raise ValueError("pass@k of an empty benchmark is undefined")
    total = []
    for idx, (n, c) in enumerate(counts):
        try:
            total.append(pass_at_k(int(n), int(c), k))
        except ValueError as exc:
            raise ValueError(f"problem {idx}: {exc}") from None
    return math.fsum(total) / len(total)
