"""End-of-run output: the summary table, ``metrics.json`` and a PNG of the metrics per round."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from polyrlaif.core.io import atomic_write_bytes, atomic_write_json

__all__ = [
    "PANELS_PER_PAGE",
    "plot_rounds",
    "plot_steps",
    "print_summary",
    "save_figure",
    "significant_changes",
    "write_run_metrics",
]


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


#: Panels per page of ``metrics.png``; later pages are ``metrics_p2.png``, ``metrics_p3.png``, ...
PANELS_PER_PAGE = 12


def significant_changes(
    history: Sequence[Mapping[str, Any]], key: str, direction: str | None
) -> tuple[list[int], list[int]]:
    """The rounds whose paired difference from round 0 on ``key`` is significant (its interval excludes
    0), split into ``(better, worse)`` by the metric's declared direction (``higher`` or ``lower``);
    without a direction every significant change counts as ``better``'s list, unjudged."""
    better, worse = [], []
    for h in history:
        lo, hi = h.get(f"{key}/delta_low"), h.get(f"{key}/delta_high")
        if lo is None or hi is None or not (lo > 0 or hi < 0):
            continue
        up = lo > 0
        wrong = (direction == "higher" and not up) or (direction == "lower" and up)
        (worse if wrong else better).append(h["round"])
    return better, worse


def _page_path(path: Path, page: int) -> Path:
    return path if page == 0 else path.with_name(f"{path.stem}_p{page + 1}{path.suffix}")


def plot_rounds(
    history: Sequence[Mapping[str, Any]],
    path: str | Path,
    keys: Sequence[str] | None = None,
    directions: Mapping[str, str] | None = None,
) -> list[Path]:
    """Draw each metric against the round index (round 0 = before training), every one of them.

    Twelve panels a page: ``metrics.png``, then ``metrics_p2.png`` and so on; each page's title says
    which page it is and how many there are. A requested metric with no numeric value in any round is
    named in a note at the foot of the first page instead of being dropped silently. A paired difference
    from round 0 whose interval excludes 0 is marked ``*``; when the metric declares a direction and the
    change goes the wrong way, it is marked ``!`` in red and the panel's title says so.

    Args:
        history: one mapping per round with a ``round`` key and numeric metrics.
        path: the first page's PNG file (each page written atomically).
        keys: metrics to plot; default: every numeric key except ``round``.
        directions: metric -> ``higher`` or ``lower`` (is better), for the wrong-way flag.

    Returns:
        The pages written, first page first.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path, directions = Path(path), dict(directions or {})
    keys = list(keys or [k for k in history[0] if k != "round" and isinstance(history[0][k], (int, float))])
    keys = [k for k in keys if not k.endswith(_EVIDENCE)]
    empty = [k for k in keys if not any(isinstance(h.get(k), (int, float)) for h in history)]
    keys = [k for k in keys if k not in empty]
    pages = [keys[i : i + PANELS_PER_PAGE] for i in range(0, len(keys), PANELS_PER_PAGE)] or [[]]
    rounds = [h["round"] for h in history]
    written = []
    for page, page_keys in enumerate(pages):
        ncols = min(3, max(1, len(page_keys)))
        nrows = max(1, (len(page_keys) + ncols - 1) // ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.0 * nrows + 0.6), squeeze=False)
        for ax, key in zip(axes.flat, page_keys, strict=False):
            _panel(ax, history, rounds, key, directions.get(key))
        for ax in list(axes.flat)[len(page_keys) :]:
            ax.axis("off")
        if len(pages) > 1:
            others = ", ".join(_page_path(path, i).name for i in range(len(pages)) if i != page)
            fig.suptitle(f"metrics per round, page {page + 1} of {len(pages)} (also {others})", fontsize=10)
        if page == 0 and empty:
            fig.text(
                0.01, 0.005, f"not drawn (no numeric value in any round): {', '.join(empty)}", fontsize=7
            )
        fig.tight_layout(rect=(0, 0.03, 1, 0.97))
        written.append(save_figure(fig, _page_path(path, page)))
    keep = {p.name for p in written}
    for old in path.parent.glob(f"{path.stem}_p*{path.suffix}"):  # pages a longer earlier plot left
        if old.name not in keep:
            old.unlink()
    return written


def _panel(
    ax: Any, history: Sequence[Mapping[str, Any]], rounds: list, key: str, direction: str | None
) -> None:
    values = [h.get(key, float("nan")) for h in history]
    ax.plot(rounds, values, marker="o")
    title = key
    if any(f"{key}/low" in h for h in history):  # the 95% bootstrap interval of each round's value
        lows = [h.get(f"{key}/low", v) for h, v in zip(history, values, strict=True)]
        highs = [h.get(f"{key}/high", v) for h, v in zip(history, values, strict=True)]
        ax.fill_between(rounds, lows, highs, alpha=0.2, label="95% interval")
        better, worse = significant_changes(history, key, direction)
        for r in better:  # a paired difference from round 0 whose interval excludes 0
            ax.annotate(
                "*", (r, values[rounds.index(r)]), textcoords="offset points", xytext=(0, 6), ha="center"
            )
        for r in worse:
            ax.annotate("!", (r, values[rounds.index(r)]), textcoords="offset points", xytext=(0, 6),
                        ha="center", color="red", fontweight="bold")  # fmt: skip
        if worse:
            title = f"{key}\nWORSE than round 0 ({direction} is better)"
    ax.set_title(title, fontsize=9, color="red" if "WORSE" in title else "black")
    ax.set_xlabel("round")
    ax.set_xticks(rounds)
    ax.grid(alpha=0.3)


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
        plot_rounds(
            history, output_dir / "metrics.png", keys=keys, directions=(extra or {}).get("directions")
        )
