"""Shared checks of the vision benchmarks' evaluation folders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from polyrlaif.core.evidence import ITEMS_FILE
from polyrlaif.core.io import read_jsonl


@pytest.fixture()
def check_items() -> Callable[[type, Path, dict[str, float]], list[dict]]:
    """``check(cls, out, metrics)``: ``out/items.jsonl`` exists with unique string ids, and
    ``cls.aggregate`` of its rows gives back every declared metric that ``evaluate`` returned (at least
    one). Returns the rows."""

    def check(cls: type, out: Path, metrics: dict[str, float]) -> list[dict]:
        rows = read_jsonl(out / ITEMS_FILE)
        ids = [r["id"] for r in rows]
        assert rows and all(isinstance(i, str) for i in ids) and len(set(ids)) == len(ids)
        again = cls.aggregate(rows)
        returned = [m for m in cls.metrics if m in metrics]
        assert returned
        for m in returned:
            assert again[m] == pytest.approx(metrics[m], nan_ok=True), m
        return rows

    return check
