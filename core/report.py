"""End-of-run output: the summary table, ``metrics.json`` and a PNG of the metrics per round."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from polyrlaif.core.io import atomic_write_bytes, atomic_write_json

__all__ = ["plot_rounds", "plot_steps", "print_summary", "save_figure", "write_run_metrics"]


#: Suffixes of the interval and paired-difference keys that belong to a metric's own panel.
_EVIDENCE = ("/low", "/high", "/delta", "/delta_low", "/delta_high", "/p")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def print_summary(title: str, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """Print a table with rich and return its plain-text form."""
    from rich.console import Console
    from rich.table import Table

    columns = list(columns or dict.fromkeys(k for r in rows for k in r))
    table = Table(title=title)
    for c in columns:
        table.add_column(c, justify="right" if c != columns[0] else "left")
    for r in rows:
        table.add_row(*(_fmt(r.get(c, "")) for c in columns))
    console = Console(record=True, width=140)
    console.print(table)
    return console.export_text()


def plot_rounds(
    history: Sequence[Mapping[str, Any]], path: str | Path, keys: Sequence[str] | None = None
) -> Path:
    """Draw each numeric metric against the round index (round 0 = before training).

    Args:
        history: one mapping per round with a ``round`` key and numeric metrics.
        path: PNG file to write (atomically).
        keys: metrics to plot; default: every numeric key except ``round``.
    """

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(keys or [k for k in history[0] if k != "round" and isinstance(history[0][k], (int, float))])
    keys = [k for k in keys if not k.endswith(_EVIDENCE)]
    keys = [k for k in keys if any(isinstance(h.get(k), (int, float)) for h in history)]
    keys = keys[:12]
    ncols = min(3, max(1, len(keys)))
    nrows = (len(keys) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.0 * nrows), squeeze=False)
    rounds = [h["round"] for h in history]
    for ax, key in zip(axes.flat, keys, strict=False):
        values = [h.get(key, float("nan")) for h in history]
        ax.plot(rounds, values, marker="o")
        if any(f"{key}/low" in h for h in history):  # the 95% bootstrap interval of each round's value
            lows = [h.get(f"{key}/low", v) for h, v in zip(history, values, strict=True)]
            highs = [h.get(f"{key}/high", v) for h, v in zip(history, values, strict=True)]
            ax.fill_between(rounds, lows, highs, alpha=0.2, label="95% interval")
            starred = [
                h["round"]
                for h in history
                if h.get(f"{key}/delta_low", 0) > 0 or h.get(f"{key}/delta_high", 0) < 0
            ]
            for r in starred:  # a paired difference from round 0 whose interval excludes 0
                ax.annotate(
                    "*", (r, values[rounds.index(r)]), textcoords="offset points", xytext=(0, 6), ha="center"
                )
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("round")
        ax.set_xticks(rounds)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys) :]:
        ax.axis("off")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_steps(
    steps: Sequence[Mapping[str, Any]],
    path: str | Path,
    keys: Sequence[str],
    *,
    title: str = "",
    boundaries: Sequence[int] = (),
) -> Path:
    """Draw metrics against the optimiser step, one panel each (online RL's reward curves).

    Args:
        steps: one mapping per step with a ``step`` key.
        path: PNG file to write (atomically).
        keys: metrics to plot, in panel order; those no step has are left out.
        title: figure title.
        boundaries: steps after which a new round began, drawn as dashed lines.
    """

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in keys if any(isinstance(s.get(k), (int, float)) for s in steps)][:12]
    ncols = min(3, max(1, len(keys)))
    nrows = max(1, (len(keys) + ncols - 1) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.0 * nrows), squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=False):
        xs = [s["step"] for s in steps if isinstance(s.get(key), (int, float))]
        ax.plot(xs, [s[key] for s in steps if isinstance(s.get(key), (int, float))], marker=".")
        for b in boundaries:
            ax.axvline(b + 0.5, color="grey", linestyle="--", linewidth=0.8)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys) :]:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def save_figure(fig: Any, path: str | Path) -> Path:
    """Write a matplotlib figure to ``path`` as a PNG (110 dpi), atomically, and close it."""
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def write_run_metrics(
    output_dir: str | Path,
    history: Sequence[Mapping[str, Any]],
    extra: Mapping | None = None,
    *,
    keys: Sequence[str] | None = None,
) -> None:
    """Write ``metrics.json`` (per-round history) and ``metrics.png`` (the ``keys`` metrics per round)."""
    output_dir = Path(output_dir)
    atomic_write_json(output_dir / "metrics.json", {"rounds": list(history), **(extra or {})})
    if history:
        plot_rounds(history, output_dir / "metrics.png", keys=keys)
