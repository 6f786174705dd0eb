"""Bar chart of the benchmark ratios in ``docs/benchmarks.md`` (ours over the anchor; 1 = parity).

Usage::

    python bench/plot_ratios.py docs/images/benchmark_ratios.png "verifier throughput=3.40" \\
        "DPO step vs TRL=3.01" "DPO step vs TRL, speed options=2.03" --target "DPO step vs TRL=3.0"

Each bar is ``label=ratio``; ``--target label=value`` draws that bar's target as a tick.
"""

from __future__ import annotations

import argparse
import io
import sys

from polyrlaif.core.io import atomic_write_bytes


def _pairs(items: list[str]) -> dict[str, float]:
    out = {}
    for item in items:
        label, sep, value = item.rpartition("=")
        if not sep:
            raise SystemExit(f"expected label=ratio, got {item!r}")
        out[label] = float(value)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("output")
    p.add_argument("bars", nargs="+", help="label=ratio")
    p.add_argument("--target", action="append", default=[], help="label=target ratio")
    args = p.parse_args(argv)
    bars, targets = _pairs(args.bars), _pairs(args.target)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.6 * len(bars) + 1.2))
    labels = list(bars)
    ax.barh(labels, [bars[k] for k in labels], color="#4c72b0")
    for i, k in enumerate(labels):
        ax.text(bars[k], i, f" {bars[k]:.2f}x", va="center", fontsize=9)
        if k in targets:
            ax.plot([targets[k]] * 2, [i - 0.4, i + 0.4], color="#c44e52", linewidth=2)
    ax.axvline(1.0, color="grey", linestyle="--", linewidth=0.8)
    ax.invert_yaxis()
    ax.set_xlabel("ours / anchor (higher is better; red: target)")
    ax.set_xlim(0, max(list(bars.values()) + list(targets.values())) * 1.25)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(args.output, buf.getvalue())
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
