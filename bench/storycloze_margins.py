"""Where spoken StoryCloze moves: per kind of wrong ending, the change of each story's margin (the correct
recording's summed log-likelihood minus the incorrect one's) from round 0 to round K, for a judged run
and its coin-flip control, with a 95% bootstrap interval over stories for judged minus control.

An analysis of finished runs (their ``round_k/eval_storycloze/items.jsonl``), not a timing::

    python bench/storycloze_margins.py runs/spoken-w9/data/storycloze/sSC.jsonl \\
        runs/spoken-v9-s0 runs/spoken-v9-ctl-s0 --round 6
"""

from __future__ import annotations

import argparse
import json
import random
import statistics as st
from pathlib import Path


def _items(run: Path, k: int) -> dict[str, dict]:
    rows = (run / f"round_{k}" / "eval_storycloze" / "items.jsonl").read_text().splitlines()
    return {r["id"]: r for r in map(json.loads, rows)}


def _margin(row: dict) -> float:
    return row["correct_score"] - row["incorrect_score"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("index", type=Path, help="the world's sSC.jsonl (id, kind)")
    p.add_argument("judged", type=Path)
    p.add_argument("control", type=Path)
    p.add_argument("--round", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    kind = {r["id"]: r["kind"] for r in map(json.loads, args.index.read_text().splitlines())}
    runs = {"judged": args.judged, "control": args.control}
    before = {name: _items(run, 0) for name, run in runs.items()}
    after = {name: _items(run, args.round) for name, run in runs.items()}
    rng = random.Random(args.seed)
    print("| kind | stories | round 0 accuracy | judged: margin change (sd), accuracy | control: margin "
          "change (sd), accuracy | judged - control, margin change [95% CI] | likelihood change of the "
          "correct recording, judged / control |")  # fmt: skip
    print("|---|---:|---:|---|---|---|---|")
    for k in sorted(set(kind.values())):
        ids = [i for i in before["judged"] if kind.get(i) == k]
        change = {n: [_margin(after[n][i]) - _margin(before[n][i]) for i in ids] for n in runs}
        diff = [a - b for a, b in zip(change["judged"], change["control"], strict=True)]
        boots = sorted(st.mean(rng.choices(diff, k=len(diff))) for _ in range(2000))
        lo, hi = boots[49], boots[1949]
        acc0 = st.mean(before["judged"][i]["score"] for i in ids)
        cells = [f"{st.mean(change[n]):+.2f} ({st.pstdev(change[n]):.1f}), "
                 f"{st.mean(after[n][i]['score'] for i in ids):.3f}" for n in runs]  # fmt: skip
        drift = [
            st.mean(after[n][i]["correct_score"] - before[n][i]["correct_score"] for i in ids) for n in runs
        ]
        print(f"| {k} | {len(ids)} | {acc0:.3f} | {cells[0]} | {cells[1]} | {st.mean(diff):+.2f} "
              f"[{lo:+.2f}, {hi:+.2f}] | {drift[0]:+.1f} / {drift[1]:+.1f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
