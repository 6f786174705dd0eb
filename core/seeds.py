"""The spread of a learning claim over seeds: each run's change from its round 0, side by side.

A learning claim needs more than one seed. :func:`seed_spread` takes several run folders of the same
config (seeds apart) and, for every benchmark they all evaluated, gives each run's paired difference
between round 0 and its last round (or ``round``), per declared headline metric, with the paired-bootstrap
interval and p-value of :mod:`polyrlaif.core.evidence`, plus the spread: mean, min and max of the
differences and how many runs' intervals exclude zero. ``polyrlaif seeds RUN_DIR...`` prints it and
``--plot FILE.png`` draws one panel per metric (a point and interval per run).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from polyrlaif.core.evidence import eval_dirs, evaluation_difference
from polyrlaif.core.io import InputError
from polyrlaif.core.significance import Difference

__all__ = ["SeedSpread", "plot_seed_spread", "seed_spread"]


@dataclass
class SeedSpread:
    """One benchmark metric over runs: each run's difference from its round 0.

    Attributes:
        benchmark: the benchmark's name.
        metric: the headline metric.
        runs: the run folders, in the order given.
        differences: each run's last round (or chosen round) minus its round 0, paired by item.
    """

    benchmark: str
    metric: str
    runs: list[str]
    differences: list[Difference]

    @property
    def mean(self) -> float:
        """The mean difference over runs."""
        return sum(d.value for d in self.differences) / len(self.differences)

    @property
    def significant(self) -> int:
        """How many runs' intervals exclude zero."""
        return sum(d.significant for d in self.differences)


def _round_dir(run: Path, round_idx: int | None) -> Path:
    rounds = sorted(int(d.name.removeprefix("round_")) for d in run.glob("round_*") if d.name[6:].isdigit())
    if not rounds or rounds[0] != 0 or len(rounds) < 2:
        raise InputError(f"{run}: needs round_0 and a later evaluated round (found rounds {rounds})")
    k = rounds[-1] if round_idx is None else round_idx
    if k not in rounds or k == 0:
        raise InputError(f"{run}: no round_{k} to compare with round_0 (found rounds {rounds})")
    return run / f"round_{k}"


def seed_spread(runs: list[str | Path], *, round_idx: int | None = None, seed: int = 0) -> list[SeedSpread]:
    """Per benchmark and headline metric, each run's ``round_k - round_0`` (k: the last round, or
    ``round_idx``), paired over items.

    Raises:
        InputError: a run without round 0 and a later round, or runs that share no benchmark.
    """
    pairs = []
    for run in map(Path, runs):
        later = _round_dir(run, round_idx)
        pairs.append((eval_dirs(run / "round_0"), eval_dirs(later)))
    common = [b for b in pairs[0][0] if all(b in before and b in after for before, after in pairs)]
    if not common:
        raise InputError(f"{', '.join(map(str, runs))}: no benchmark evaluated in every run's rounds")
    out = []
    for bench in common:
        diffs = [evaluation_difference(before[bench], after[bench], seed=seed) for before, after in pairs]
        for metric in diffs[0]:
            if all(metric in d for d in diffs):
                out.append(SeedSpread(bench, metric, [str(r) for r in runs], [d[metric] for d in diffs]))
    return out


def plot_seed_spread(spreads: list[SeedSpread], path: str | Path, *, title: str = "") -> Path:
    """One panel per metric: each run's difference from round 0 with its 95% paired interval; filled
    markers are significant. Written atomically as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from polyrlaif.core.report import save_figure

    n = len(spreads)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.2), squeeze=False)
    for ax, s in zip(axes[0], spreads, strict=True):
        for i, d in enumerate(s.differences):
            ax.errorbar([i], [d.value], yerr=[[d.value - d.low], [d.high - d.value]], fmt="o", capsize=4,
                        color="C0", mfc="C0" if d.significant else "white")  # fmt: skip
        ax.axhline(0.0, color="grey", lw=0.8)
        ax.axhline(s.mean, color="C1", lw=1, ls="--", label=f"mean {s.mean:+.3g}")
        ax.set_xticks(range(len(s.runs)), [Path(r).name for r in s.runs], rotation=20, fontsize=8)
        ax.set_title(f"{s.benchmark}/{s.metric}\n{s.significant} of {len(s.runs)} significant", fontsize=9)
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("last round - round 0 (95% paired CI)")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
