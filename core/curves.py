"""Arms of an experiment side by side, round by round: ``polyrlaif curves``.

A claim such as "the judged run beats its coin-flip control" or "screening restores what the poison
moved" is read off several runs of several settings (arms), each over its rounds. :func:`arm_curves` reads
each run's ``metrics.json`` (every round's evaluation, with the 95% bootstrap interval the run wrote) and
:func:`plot_curves` draws one panel per metric: each run a thin line with its interval band, each arm's
mean over its runs a thick line, one colour per arm. The table :func:`curve_rows` gives the arm means per
round. It reads what runs wrote; it computes no new statistics (``polyrlaif compare`` and ``polyrlaif
seeds`` give the paired differences).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from polyrlaif.core.io import InputError

__all__ = ["Arm", "arm_curves", "curve_rows", "parse_arm", "plot_curves"]


@dataclass
class Arm:
    """One setting's runs and, per run, each metric's per-round value and interval.

    Attributes:
        name: the arm's label.
        runs: the run folders.
        rounds: per run, ``{metric: [(round, value, low, high), ...]}`` (low/high ``None`` without one).
    """

    name: str
    runs: list[str]
    rounds: list[dict[str, list[tuple[int, float, float | None, float | None]]]] = field(default_factory=list)

    def mean(self, metric: str) -> list[tuple[int, float]]:
        """The mean over this arm's runs, for each round every run evaluated."""
        by_round: dict[int, list[float]] = {}
        for run in self.rounds:
            for r, v, _, _ in run.get(metric, []):
                by_round.setdefault(r, []).append(v)
        return [(r, sum(vs) / len(vs)) for r, vs in sorted(by_round.items()) if len(vs) == len(self.runs)]


def parse_arm(text: str) -> tuple[str, list[str]]:
    """``NAME=RUN[,RUN...]`` -> ``(NAME, [RUN, ...])``.

    Raises:
        InputError: no ``=``, an empty name or no run.
    """
    name, sep, runs = text.partition("=")
    folders = [r for r in runs.split(",") if r]
    if not sep or not name or not folders:
        raise InputError(f"--arm {text!r}: expected NAME=RUN[,RUN...]")
    return name, folders


def arm_curves(arms: list[tuple[str, list[str]]], metrics: list[str]) -> list[Arm]:
    """Read every run's per-round ``metrics``.

    Raises:
        InputError: a run folder without ``metrics.json``, or a metric no round of a run evaluated
            (naming the run and the metrics it has).
    """
    out = []
    for name, runs in arms:
        arm = Arm(name, runs)
        for run in runs:
            path = Path(run) / "metrics.json"
            if not path.is_file():
                raise InputError(f"{path}: no metrics.json (is {run} a finished run folder?)")
            history = json.loads(path.read_text())["rounds"]
            got: dict[str, list[tuple[int, float, float | None, float | None]]] = {}
            for metric in metrics:
                got[metric] = [
                    (int(h["round"]), float(h[metric]), h.get(f"{metric}/low"), h.get(f"{metric}/high"))
                    for h in history
                    if isinstance(h.get(metric), (int, float))
                ]
                if not got[metric]:
                    known = sorted(
                        k for k in history[0] if "/" in k and not k.rsplit("/", 1)[-1].startswith("delta")
                    )
                    raise InputError(f"{path}: no round has {metric!r}; it has e.g. {', '.join(known[:12])}")
            arm.rounds.append(got)
        out.append(arm)
    return out


def curve_rows(arms: list[Arm], metrics: list[str]) -> list[dict[str, str]]:
    """One row per arm and metric: the arm's mean over its runs at each round."""
    rows = []
    for arm in arms:
        for metric in metrics:
            row = {"arm": f"{arm.name} ({len(arm.runs)} runs)", "metric": metric}
            row.update({f"round {r}": f"{v:.4g}" for r, v in arm.mean(metric)})
            rows.append(row)
    return rows


def plot_curves(arms: list[Arm], metrics: list[str], path: str | Path, *, title: str = "") -> Path:
    """One panel per metric: each run's values per round with its 95% band (thin), each arm's mean
    (thick). Written atomically as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from polyrlaif.core.report import save_figure

    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        for colour, arm in enumerate(arms):
            c = f"C{colour}"
            for run in arm.rounds:
                pts = run[metric]
                xs, ys = [p[0] for p in pts], [p[1] for p in pts]
                ax.plot(xs, ys, color=c, lw=0.8, alpha=0.5)
                if all(p[2] is not None and p[3] is not None for p in pts):
                    ax.fill_between(xs, [p[2] for p in pts], [p[3] for p in pts], color=c, alpha=0.08)
            mean = arm.mean(metric)
            ax.plot([r for r, _ in mean], [v for _, v in mean], color=c, lw=2.2, marker="o",
                    label=f"{arm.name} (mean of {len(arm.runs)})")  # fmt: skip
        ax.set_title(metric, fontsize=9)
        ax.set_xlabel("round")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title or "each run (thin, with its 95% interval) and each arm's mean (thick)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
