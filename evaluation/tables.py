"""Markdown tables of metrics, and the ``metrics.json`` / ``metrics.md`` pair every evaluation writes."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from polyrlaif.core.io import atomic_write_json, atomic_write_text

__all__ = ["format_value", "markdown_table", "flatten_metrics", "write_metrics"]


def format_value(value: Any) -> str:
    """One table cell.

    Floats get four decimals (``0.4000``), one decimal from 100 up, and scientific notation below
    1e-3 or from 1e6 up, so a column of rates lines up and tiny or huge values stay readable.
    Booleans and integers print as themselves, ``None`` as an empty cell, lists and dicts as JSON.
    """
    if value is None:
        return ""
    if isinstance(value, bool) or isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        mag = abs(value)
        if mag != 0.0 and (mag < 1e-3 or mag >= 1e6):
            return f"{value:.3e}"
        if mag >= 100:
            return f"{value:.1f}"
        return f"{value:.4f}"
    if isinstance(value, (list, tuple, dict)):
        value = json.dumps(value, ensure_ascii=False, default=str)
    # A pipe would end the cell and a newline the row.
    return str(value).replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A GitHub-flavoured Markdown table.

    Args:
        rows: one mapping per row; a missing key gives an empty cell.
        columns: column order; default: every key in order of first appearance.

    Returns:
        The table, ending in a newline. Columns whose cells are all numbers are right-aligned.
        With no rows and no columns, an empty string.
    """
    cols = list(columns) if columns is not None else list(dict.fromkeys(k for r in rows for k in r))
    if not cols:
        return ""
    cells = [[format_value(r.get(c)) for c in cols] for r in rows]
    numeric = [bool(rows) and all(_is_number(r.get(c)) or r.get(c) is None for r in rows) for c in cols]
    header = [format_value(c) for c in cols]
    widths = [max([len(h), 3, *(len(row[i]) for row in cells)]) for i, h in enumerate(header)]

    def line(parts: Sequence[str]) -> str:
        return "| " + " | ".join(parts) + " |"

    out = [line([h.ljust(w) for h, w in zip(header, widths, strict=True)])]
    out.append(
        line(["-" * (w - 1) + ":" if num else "-" * w for w, num in zip(widths, numeric, strict=True)])
    )
    for row in cells:
        out.append(
            line([c.rjust(w) if num else c.ljust(w) for c, w, num in zip(row, widths, numeric, strict=True)])
        )
    return "\n".join(out) + "\n"


def flatten_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts to ``parent/child`` keys: ``{"s": {"passed": 3}}`` -> ``{"s/passed": 3}``."""
    flat: dict[str, Any] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_metrics(value, prefix=f"{name}/"))
        else:
            flat[name] = value
    return flat


def write_metrics(
    output_dir: str | os.PathLike, metrics: dict[str, Any], *, name: str = "metrics"
) -> tuple[Path, Path]:
    """Write ``<name>.json`` (the dict as is) and ``<name>.md`` (a metric/value table), atomically.

    Args:
        output_dir: directory to write into; created if missing.
        metrics: the metrics; nested dicts are flattened to ``a/b`` rows in the Markdown table.
        name: file stem.

    Returns:
        ``(json_path, md_path)``.
    """
    output_dir = Path(output_dir)
    json_path = atomic_write_json(output_dir / f"{name}.json", metrics)
    rows = [{"metric": k, "value": v} for k, v in flatten_metrics(metrics).items()]
    md_path = atomic_write_text(
        output_dir / f"{name}.md", f"# {name}\n\n" + markdown_table(rows, ["metric", "value"])
    )
    return json_path, md_path
