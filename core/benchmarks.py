"""Benchmark plumbing shared by the run loop and ``polyrlaif eval``: typed options and declared metrics.

An evaluator class declares ``Options`` (a dataclass of its own settings), ``metrics`` (headline metric
-> ``"higher"`` or ``"lower"``) and ``max_new_tokens`` (its generation default); see
:class:`~polyrlaif.core.protocols.BenchmarkEvaluator`. Nothing here knows any benchmark by name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

__all__ = ["declared_metrics", "make_options", "option_names", "resolve_max_new_tokens", "resolve_options"]


def option_names(evaluator_cls: Any) -> list[str]:
    """The option fields ``evaluator_cls.Options`` takes, in declaration order."""
    return [f.name for f in dataclasses.fields(evaluator_cls.Options)]


def make_options(evaluator_cls: Any, values: Mapping[str, Any], *, where: str = "") -> Any:
    """Build ``evaluator_cls.Options`` from ``values``; fields not given keep the evaluator's defaults.

    Args:
        evaluator_cls: an evaluator class (declares ``name`` and ``Options``).
        values: option name -> value.
        where: what the values came from, for the error (e.g. ``"--opt"``).

    Raises:
        ValueError: a name the benchmark does not take, listing the ones it does.
    """
    valid = option_names(evaluator_cls)
    unknown = sorted(set(values) - set(valid))
    if unknown:
        src = f" ({where})" if where else ""
        raise ValueError(
            f"benchmark {evaluator_cls.name!r} does not take option(s) {unknown}{src}; "
            f"it takes: {', '.join(valid) or '(none)'}"
        )
    return evaluator_cls.Options(**dict(values))


def declared_metrics(evaluator_cls: Any) -> dict[str, str]:
    """The headline metrics ``evaluator_cls`` declares, with their direction (``higher``/``lower``).

    Raises:
        TypeError: a direction other than ``higher`` or ``lower``.
    """
    metrics = dict(getattr(evaluator_cls, "metrics", {}) or {})
    bad = {k: v for k, v in metrics.items() if v not in ("higher", "lower")}
    if bad:
        raise TypeError(
            f"{evaluator_cls.__name__}.metrics: directions must be 'higher' or 'lower', got {bad}"
        )
    return metrics


def resolve_options(evaluator: Any, options: Any) -> Any:
    """The options an evaluator runs with: ``options``, or its ``Options()`` defaults when ``None``.

    Raises:
        TypeError: ``options`` is not an instance of the evaluator's ``Options``.
    """
    if options is None:
        return evaluator.Options()
    if not isinstance(options, evaluator.Options):
        raise TypeError(
            f"benchmark {evaluator.name!r} takes {evaluator.Options.__qualname__} options, "
            f"got {type(options).__qualname__}"
        )
    return options


def resolve_max_new_tokens(evaluator: Any, requested: int | None) -> int:
    """The generation budget: ``requested``, or the evaluator's own ``max_new_tokens`` when ``None``."""
    return int(evaluator.max_new_tokens if requested is None else requested)
